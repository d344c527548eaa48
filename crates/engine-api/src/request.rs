//! What a handler gets of a request: the query parameters (decoded as Go's `r.Form`
//! does), its headers, and a JSON body read up to a limit or a body to read as it comes.

use crate::error::ApiError;
use crate::stream::BodyReader;
use hyper::body::Bytes;
use hyper::header::{HeaderMap, CONTENT_TYPE};
use hyper::StatusCode;
use serde::de::DeserializeOwned;
use std::sync::Mutex;
use strata_images::FilterArgs;

/// The most bytes a JSON request body may have: far more than any create request
/// needs, far less than a client could make the service hold.
pub const MAX_JSON_BODY: usize = 1 << 20;

pub struct Call {
    query: Vec<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
    stream: Mutex<Option<BodyReader>>,
}

/// A request's body as the server read it.
pub enum Content {
    /// Read whole (up to [`MAX_JSON_BODY`]); empty when the endpoint takes none.
    Json(Bytes),
    /// Left to the handler to read as it arrives.
    Stream(BodyReader),
}

impl Call {
    pub fn new(query: Option<&str>, headers: HeaderMap, content: Content) -> Self {
        let (body, stream) = match content {
            Content::Json(bytes) => (bytes, None),
            Content::Stream(reader) => (Bytes::new(), Some(reader)),
        };
        Call {
            query: query.map(parse_query).unwrap_or_default(),
            headers,
            body,
            stream: Mutex::new(stream),
        }
    }

    /// A header's value, if it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The streamed body, once (endpoints that route as [`crate::router::BodyKind::Stream`]).
    pub fn body_reader(&self) -> Result<BodyReader, ApiError> {
        self.stream
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .ok_or_else(|| ApiError::internal("the request body was already read"))
    }

    /// The first value of a query parameter, as Go's `r.Form.Get`.
    pub fn query(&self, key: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Every value of a repeated query parameter (`names=a&names=b`), in order.
    pub fn query_all(&self, key: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// moby's `BoolValue`: absent, empty, `0`, `no`, `false` and `none` are false.
    pub fn flag(&self, key: &str) -> bool {
        let value = self.query(key).unwrap_or_default().trim().to_ascii_lowercase();
        !matches!(value.as_str(), "" | "0" | "no" | "false" | "none")
    }

    /// An integer parameter; absent or empty is `None`.
    pub fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.query(key).map(str::trim) {
            None | Some("") => Ok(None),
            Some(text) => text
                .parse()
                .map(Some)
                .map_err(|_| ApiError::invalid(format!("invalid value for {key}: {text:?} is not an integer"))),
        }
    }

    /// The `filters` parameter, Docker's JSON.
    pub fn filters(&self) -> Result<FilterArgs, ApiError> {
        Ok(FilterArgs::from_json(self.query("filters").unwrap_or_default())?)
    }

    /// The body as JSON of type `T`, checked as moby's `CheckForJSON` and decoder do.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        let media_type = self.header(CONTENT_TYPE.as_str()).unwrap_or_default();
        let essence = media_type.split(';').next().unwrap_or_default().trim();
        let no_type_no_body = media_type.is_empty() && self.body.is_empty();
        if !no_type_no_body && !essence.eq_ignore_ascii_case("application/json") {
            return Err(ApiError::invalid(format!(
                "unsupported Content-Type header ({media_type}): must be 'application/json'"
            )));
        }
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::invalid("got EOF while reading request body"));
        }
        serde_json::from_slice(&self.body).map_err(|e| ApiError::invalid(format!("invalid JSON: {e}")))
    }
}

/// The answer to a body over [`MAX_JSON_BODY`].
pub fn body_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("request body is larger than {MAX_JSON_BODY} bytes, the most strata reads for a JSON body"),
    )
}

/// `a=1&b=x%20y`: pairs in order, `+` a space, `%XX` a byte.
fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(&k.replace('+', " ")), decode(&v.replace('+', " ")))
        })
        .collect()
}

/// Percent-decoding; a `%` not followed by two hex digits stays as it is.
pub fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(query: &str, content_type: Option<&str>, body: &str) -> Call {
        let mut headers = HeaderMap::new();
        if let Some(t) = content_type {
            headers.insert(CONTENT_TYPE, t.parse().unwrap());
        }
        Call::new(Some(query), headers, Content::Json(Bytes::from(body.to_string())))
    }

    #[test]
    fn queries_decode_like_go_forms() {
        let c = call("all=1&filters=%7B%22a%22%3A%5B%22b+c%22%5D%7D&size=false&x", None, "");
        assert!(c.flag("all"));
        assert!(!c.flag("size"));
        assert!(!c.flag("absent"));
        assert_eq!(c.query("filters"), Some(r#"{"a":["b c"]}"#));
        assert_eq!(c.filters().unwrap().values("a").collect::<Vec<_>>(), ["b c"]);
        assert_eq!(c.query("x"), Some(""));
        assert_eq!(decode("100%"), "100%");
    }

    #[test]
    fn json_bodies_are_checked_like_mobys() {
        let ok: serde_json::Value = call("", Some("application/json; charset=utf-8"), r#"{"Name":"a"}"#)
            .json()
            .unwrap();
        assert_eq!(ok["Name"], "a");
        let wrong_type = call("", Some("text/plain"), "{}")
            .json::<serde_json::Value>()
            .unwrap_err();
        assert!(wrong_type
            .message
            .contains("unsupported Content-Type header (text/plain)"));
        let empty = call("", None, "").json::<serde_json::Value>().unwrap_err();
        assert_eq!(empty.message, "got EOF while reading request body");
        let broken = call("", Some("application/json"), "{")
            .json::<serde_json::Value>()
            .unwrap_err();
        assert!(broken.message.starts_with("invalid JSON"), "{}", broken.message);
        assert_eq!(broken.status, StatusCode::BAD_REQUEST);
    }
}
