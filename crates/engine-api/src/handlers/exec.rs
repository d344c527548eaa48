//! Exec instances: `POST /containers/{id}/exec` (create), `/exec/{id}/start`
//! (hijacked, or detached), `/exec/{id}/resize` and `/exec/{id}/json`, through
//! `strata_runtime::exec` as `strata exec`.

use crate::error::ApiError;
use crate::refused::Refusal;
use crate::reply::Reply;
use crate::request::Call;
use crate::router::{BodyKind, Route};
use hyper::Method;
use strata_containers::Containers;

pub enum Op {
    Create(String),
    Start(String),
    Resize(String),
    Inspect(String),
}

impl Op {
    pub fn body(&self) -> BodyKind {
        match self {
            Op::Create(_) | Op::Start(_) => BodyKind::Json,
            Op::Resize(_) | Op::Inspect(_) => BodyKind::None,
        }
    }
}

/// `rest`: the path after `/exec/`.
pub fn route(method: &Method, rest: &str) -> Option<Route> {
    let parts: Vec<&str> = rest.split('/').collect();
    let op = match (method, parts.as_slice()) {
        (&Method::POST, [id, "start"]) => Op::Start(id.to_string()),
        (&Method::POST, [id, "resize"]) => Op::Resize(id.to_string()),
        (&Method::GET, [id, "json"]) => Op::Inspect(id.to_string()),
        _ => return None,
    };
    Some(Route::Exec(op))
}

pub fn handle(_containers: &Containers<'_>, _op: Op, _call: &Call) -> Result<Reply, ApiError> {
    Err(Refusal::NotYet("exec").error())
}
