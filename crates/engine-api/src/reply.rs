//! What a handler answers, and how it goes on the wire: JSON (serialized on the worker
//! thread that made it), text or nothing, with the headers every answer carries.

use crate::error::ApiError;
use crate::versions::API_VERSION;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use serde::Serialize;

pub struct Reply {
    pub status: StatusCode,
    content_type: Option<&'static str>,
    headers: Vec<(&'static str, &'static str)>,
    body: Bytes,
}

impl Reply {
    pub fn json(status: StatusCode, value: &impl Serialize) -> Reply {
        // Serializing plain data into memory cannot fail.
        let body = serde_json::to_vec(value).expect("API documents serialize");
        Reply {
            status,
            content_type: Some("application/json"),
            headers: Vec::new(),
            body: Bytes::from(body),
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
            body: Bytes::new(),
        }
    }

    pub fn text(status: StatusCode, text: &'static str) -> Reply {
        Reply {
            status,
            content_type: Some("text/plain; charset=utf-8"),
            headers: Vec::new(),
            body: Bytes::from_static(text.as_bytes()),
        }
    }

    /// Docker's error document.
    pub fn error(e: &ApiError) -> Reply {
        Self::json(e.status, &serde_json::json!({ "message": e.message }))
    }

    pub fn header(mut self, name: &'static str, value: &'static str) -> Reply {
        self.headers.push((name, value));
        self
    }

    /// The response, with the headers moby's version middleware sets on every answer.
    pub fn into_response(self) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(self.body));
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
            headers.insert(name, HeaderValue::from_static(value));
        }
        response
    }
}

const SERVER: &str = concat!("strata/", env!("CARGO_PKG_VERSION"), " (linux)");
