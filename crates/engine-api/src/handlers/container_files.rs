//! `/containers/{id}/archive` (GET, HEAD, PUT: `docker cp` both ways), `/export` and
//! `/changes`: a container's files, through the same safe resolver as `strata cp`.

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
    let what = match (method, action) {
        (&Method::GET, ["changes" | "export"]) => "a container's changes and export",
        (&Method::GET | &Method::HEAD | &Method::PUT, ["archive"]) => "copying files to and from a container",
        _ => return None,
    };
    Some(Op::NotYet(what))
}

pub fn handle(_containers: &Containers<'_>, op: Op, _call: &Call) -> Result<Reply, ApiError> {
    match op {
        Op::NotYet(what) => Err(Refusal::NotYet(what).error()),
    }
}
