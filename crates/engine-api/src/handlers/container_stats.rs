//! `/containers/{id}/stats` (one-shot and streamed, from cgroups) and `/top`.

use crate::error::ApiError;
use crate::refused::Refusal;
use crate::reply::Reply;
use crate::request::Call;
use crate::router::BodyKind;
use hyper::Method;
use strata_containers::Containers;

pub enum Op {
    NotYet(&'static str),
}

impl Op {
    pub fn body(&self) -> BodyKind {
        BodyKind::None
    }
}

/// `action`: the path after `/containers/{id}/`.
pub fn route(method: &Method, _id: &str, action: &[&str]) -> Option<Op> {
    match (method, action) {
        (&Method::GET, ["top" | "stats"]) => Some(Op::NotYet("a container's processes and statistics")),
        _ => None,
    }
}

pub fn handle(_containers: &Containers<'_>, op: Op, _call: &Call) -> Result<Reply, ApiError> {
    match op {
        Op::NotYet(what) => Err(Refusal::NotYet(what).error()),
    }
}
