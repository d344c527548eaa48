//! What a handler answers, and how it goes on the wire: JSON (serialized on the worker
//! thread that made it), text, nothing, a streamed body, or a hijacked session; with
//! the headers every answer carries.

use crate::error::ApiError;
use crate::hijack::Session;
use crate::stream::{self, Chunks, Headers};
use crate::versions::API_VERSION;
use hyper::body::Bytes;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use serde::Serialize;

pub struct Reply {
    pub status: StatusCode,
    content_type: Option<&'static str>,
    headers: Vec<(&'static str, HeaderValue)>,
    pub(crate) payload: Payload,
}

/// An answer's body.
pub enum Payload {
    Whole(Bytes),
    /// Written by a producer as it goes; the first chunk, when it was waited for.
    Streamed {
        first: Option<Bytes>,
        rest: Chunks,
    },
    /// A session on the connection itself, once the server has answered the upgrade
    /// (or, for a client that did not ask for one, with its output as the body).
    Hijacked(Session),
}

impl Reply {
    pub fn json(status: StatusCode, value: &impl Serialize) -> Reply {
        // Serializing plain data into memory cannot fail.
        let body = serde_json::to_vec(value).expect("API documents serialize");
        Reply {
            status,
            content_type: Some("application/json"),
            headers: Vec::new(),
            payload: Payload::Whole(Bytes::from(body)),
        }
    }

    pub fn ok(value: &impl Serialize) -> Reply {
        Self::json(StatusCode::OK, value)
    }

    pub fn empty(status: StatusCode) -> Reply {
        Reply {
            status,
            content_type: None,
            headers: Vec::new(),
            payload: Payload::Whole(Bytes::new()),
        }
    }

    pub fn text(status: StatusCode, text: &'static str) -> Reply {
        Reply {
            status,
            content_type: Some("text/plain; charset=utf-8"),
            headers: Vec::new(),
            payload: Payload::Whole(Bytes::from_static(text.as_bytes())),
        }
    }

    /// A body `produce` writes on a thread of its own (see [`stream::produce`]).
    pub fn streamed(
        content_type: &'static str,
        headers: Headers,
        produce: impl FnOnce(&mut stream::ChannelWriter) -> Result<(), ApiError> + Send + 'static,
    ) -> Result<Reply, ApiError> {
        let (first, rest) = stream::produce(content_type, headers, produce)?;
        Ok(Reply {
            status: StatusCode::OK,
            content_type: Some(content_type),
            headers: Vec::new(),
            payload: Payload::Streamed { first, rest },
        })
    }

    /// A hijacked session of `content_type` (raw or multiplexed).
    pub fn hijacked(content_type: &'static str, session: Session) -> Reply {
        Reply {
            status: StatusCode::OK,
            content_type: Some(content_type),
            headers: Vec::new(),
            payload: Payload::Hijacked(session),
        }
    }

    /// Docker's error document.
    pub fn error(e: &ApiError) -> Reply {
        Self::json(e.status, &serde_json::json!({ "message": e.message }))
    }

    pub fn header(mut self, name: &'static str, value: &'static str) -> Reply {
        self.headers.push((name, HeaderValue::from_static(value)));
        self
    }

    /// A header whose value is made per answer (`X-Docker-Container-Path-Stat`); a
    /// value that is no valid header text is left out.
    pub fn header_value(mut self, name: &'static str, value: String) -> Reply {
        match HeaderValue::try_from(value) {
            Ok(value) => self.headers.push((name, value)),
            Err(e) => log::warn!("header {name} left out: {e}"),
        }
        self
    }

    /// The response with `body`, and the headers moby's version middleware sets on
    /// every answer.
    pub fn into_response<B>(self, body: B) -> Response<B> {
        let mut response = Response::new(body);
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        if let Some(t) = self.content_type {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(t));
        }
        headers.insert(
            "Api-Version",
            HeaderValue::from_str(&API_VERSION.to_string()).expect("ASCII"),
        );
        headers.insert("Ostype", HeaderValue::from_static("linux"));
        headers.insert("Server", HeaderValue::from_static(SERVER));
        for (name, value) in self.headers {
            headers.insert(name, value);
        }
        response
    }
}

const SERVER: &str = concat!("strata/", env!("CARGO_PKG_VERSION"), " (linux)");
