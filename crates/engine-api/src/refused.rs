//! The answers for what strata's API does not serve: swarm mode (never), builds over the
//! socket (a later version), and the endpoints of the next slice (container processes,
//! pulls, pushes, loads and saves). Each is a clear error, never a 404 or a hang.

use crate::error::ApiError;
use hyper::{Method, StatusCode};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Swarm mode's endpoints, answered as by a Docker engine that is no manager.
    Swarm,
    /// BuildKit's `/session` and `/grpc`.
    Build,
    /// Plugin management: strata has no plugins.
    Plugins,
    /// An endpoint of the next slice; names what it does.
    NotYet(&'static str),
}

impl Refusal {
    pub fn error(self) -> ApiError {
        match self {
            Refusal::Swarm => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" \
                 to connect this node to swarm and try again.",
            ),
            Refusal::Build => ApiError::not_implemented(
                "BuildKit's session API (/session, /grpc) is not supported by strata: build with the \
                 classic builder (POST /build; DOCKER_BUILDKIT=0, or a docker CLI without buildx)",
            ),
            Refusal::Plugins => ApiError::not_implemented("strata has no plugins: plugin management is not supported"),
            Refusal::NotYet(what) => ApiError::not_implemented(format!(
                "{what} is not implemented in strata's Engine API yet; use the strata command line meanwhile"
            )),
        }
    }
}

/// The swarm-mode endpoints (every method), builds, and the system endpoints of the
/// next slice. `path` is unversioned.
pub fn route(method: &Method, path: &str) -> Option<Refusal> {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or_default();
    let refusal = match (first, method) {
        ("swarm" | "services" | "nodes" | "secrets" | "configs" | "tasks", _) => Refusal::Swarm,
        ("session" | "grpc", &Method::POST) => Refusal::Build,
        ("plugins", _) if path != "/plugins" => Refusal::Plugins,
        ("distribution", &Method::GET) if path.ends_with("/json") => Refusal::NotYet("registry distribution inspect"),
        _ => return None,
    };
    Some(refusal)
}
