//! Which endpoint a method and an (unversioned, decoded) path name. A path that exists
//! under another method is a 405, one that does not a 404, both answered in JSON.

use crate::error::ApiError;
use crate::handlers::{build, containers, exec, images, networks, system, volumes};
use crate::refused::{self, Refusal};
use hyper::{Method, StatusCode};

pub enum Route {
    Ping {
        head: bool,
    },
    Version,
    Info,
    SystemDf,
    Image(images::Op),
    Container(containers::Op),
    Network(networks::Op),
    Volume(volumes::Op),
    Exec(exec::Op),
    Build(build::Op),
    System(system::Op),
    /// `GET /plugins`: strata has none.
    Plugins,
    Refused(Refusal),
}

/// How an endpoint takes its request's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// Never read.
    None,
    /// JSON, read whole up to a limit before the handler runs.
    Json,
    /// Read by the handler as it arrives (archives, tarballs).
    Stream,
}

impl Route {
    pub fn body(&self) -> BodyKind {
        let json = |takes| if takes { BodyKind::Json } else { BodyKind::None };
        match self {
            Route::Network(op) => json(op.takes_body()),
            Route::Volume(op) => json(op.takes_body()),
            Route::Container(op) => op.body(),
            Route::Image(op) => op.body(),
            Route::Exec(op) => op.body(),
            Route::Build(op) => op.body(),
            Route::System(op) => op.body(),
            _ => BodyKind::None,
        }
    }
}

/// The route of `method` on `path`, or Docker's 404, or a 405 naming the methods the
/// path has.
pub fn route(method: &Method, path: &str) -> Result<Route, ApiError> {
    if let Some(route) = find(method, path) {
        return Ok(route);
    }
    let allowed: Vec<&str> = [Method::GET, Method::HEAD, Method::POST, Method::PUT, Method::DELETE]
        .iter()
        .filter(|m| find(m, path).is_some())
        .map(Method::as_str)
        .collect();
    match allowed.as_slice() {
        [] => Err(ApiError::new(StatusCode::NOT_FOUND, "page not found")),
        methods => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("method {method} is not allowed on {path}: use {}", methods.join(" or ")),
        )),
    }
}

fn find(method: &Method, path: &str) -> Option<Route> {
    let fixed = match (method, path) {
        (&Method::GET, "/_ping") => Some(Route::Ping { head: false }),
        (&Method::HEAD, "/_ping") => Some(Route::Ping { head: true }),
        (&Method::GET, "/version") => Some(Route::Version),
        (&Method::GET, "/info") => Some(Route::Info),
        (&Method::GET, "/system/df") => Some(Route::SystemDf),
        (&Method::GET, "/plugins") => Some(Route::Plugins),
        (&Method::GET, "/events") => Some(Route::System(system::Op::Events)),
        (&Method::POST, "/auth") => Some(Route::System(system::Op::Auth)),
        (&Method::POST, "/commit") => Some(Route::Image(images::Op::Commit)),
        _ => None,
    };
    if fixed.is_some() {
        return fixed;
    }
    if let Some(rest) = path.strip_prefix("/images/") {
        return images::route(method, rest);
    }
    if let Some(rest) = path.strip_prefix("/containers/") {
        return containers::route(method, rest);
    }
    if let Some(rest) = path.strip_prefix("/exec/") {
        return exec::route(method, rest);
    }
    if let Some(rest) = family(path, "/build") {
        if let Some(op) = build::route(method, rest) {
            return Some(Route::Build(op));
        }
    }
    if let Some(rest) = family(path, "/networks") {
        return networks::route(method, rest);
    }
    if let Some(rest) = family(path, "/volumes") {
        return volumes::route(method, rest);
    }
    refused::route(method, path).map(Route::Refused)
}

/// The rest of `path` under `/prefix` (`""` or `/…`), if it is under it.
fn family<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    path.strip_prefix(prefix)
        .filter(|rest| rest.is_empty() || rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(method: Method, path: &str) -> Option<StatusCode> {
        route(&method, path).err().map(|e| e.status)
    }

    #[test]
    fn images_are_named_with_slashes_and_colons() {
        let Ok(Route::Image(images::Op::Inspect(name))) = route(&Method::GET, "/images/host:5000/a/b:1/json") else {
            panic!("not an inspect");
        };
        assert_eq!(name, "host:5000/a/b:1");
        let Ok(Route::Image(images::Op::Remove(name))) = route(&Method::DELETE, "/images/a/b:1") else {
            panic!("not a removal");
        };
        assert_eq!(name, "a/b:1");
    }

    #[test]
    fn misses_are_404_and_wrong_methods_405() {
        assert_eq!(status(Method::GET, "/nothing/here"), Some(StatusCode::NOT_FOUND));
        assert_eq!(status(Method::GET, "/networksx"), Some(StatusCode::NOT_FOUND));
        assert_eq!(status(Method::POST, "/info"), Some(StatusCode::METHOD_NOT_ALLOWED));
        assert_eq!(status(Method::DELETE, "/_ping"), Some(StatusCode::METHOD_NOT_ALLOWED));
        assert_eq!(status(Method::GET, "/networks/"), None);
    }

    #[test]
    fn builds_and_swarm_are_refused_never_missing() {
        for (method, path) in [
            (Method::GET, "/containers/abc/attach/ws"),
            (Method::POST, "/session"),
            (Method::GET, "/swarm"),
            (Method::POST, "/services/create"),
        ] {
            assert!(matches!(route(&method, path), Ok(Route::Refused(_))), "{method} {path}");
        }
    }
}
