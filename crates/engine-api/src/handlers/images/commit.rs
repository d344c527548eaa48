//! `POST /commit?container=&repo=&tag=&comment=&author=&pause=&changes=`: an image of
//! a container's changes through the library call `strata commit` makes
//! (`Containers::commit`), the container frozen meanwhile unless `pause=0`.

use crate::error::ApiError;
use crate::reply::Reply;
use crate::request::Call;
use hyper::StatusCode;
use serde_json::{json, Map, Value};
use strata_containers::{CommitOptions, Containers};
use strata_images::ImageStore;
use strata_runtime::lifecycle;

pub fn commit(store: &ImageStore, call: &Call) -> Result<Reply, ApiError> {
    refuse_config(call)?;
    let containers = Containers::new(store);
    let name = call.query("container").unwrap_or_default();
    if name.is_empty() {
        return Err(ApiError::invalid("no container named: pass container=NAME"));
    }
    let record = containers.resolve(name)?;
    let reference = match (
        call.query("repo").unwrap_or_default(),
        call.query("tag").unwrap_or_default(),
    ) {
        ("", _) => None,
        (repo, "") => Some(repo.to_string()),
        (repo, tag) => Some(format!("{repo}:{tag}")),
    };
    let text = |key| call.query(key).filter(|v| !v.is_empty()).map(str::to_string);
    let options = CommitOptions {
        author: text("author"),
        message: text("comment"),
        changes: call.query_all("changes").into_iter().map(str::to_string).collect(),
        reference,
    };
    // moby: an absent `pause` pauses (API 1.13 and later).
    let pause = call.query("pause").is_none() || call.flag("pause");
    let id = lifecycle::commit(&containers, &record, &options, pause)?;
    Ok(Reply::json(StatusCode::CREATED, &json!({ "Id": id })))
}

/// The body is a container config to merge into the image's (Docker's CLI sends
/// `null`). strata applies the `changes` parameter only, so a field that asks for
/// more is refused by name rather than ignored.
fn refuse_config(call: &Call) -> Result<(), ApiError> {
    let no_body = call.header("content-type").is_none()
        && call.header("transfer-encoding").is_none()
        && call.header("content-length").is_none_or(|l| l.trim() == "0");
    if no_body {
        return Ok(());
    }
    let Some(config) = call.json::<Option<Map<String, Value>>>()? else {
        return Ok(());
    };
    match config.iter().find(|(_, v)| !is_default(v)) {
        None => Ok(()),
        Some((field, _)) => Err(ApiError::invalid(format!(
            "commit: the container config field {field:?} is not applied by strata; \
             pass it as a Dockerfile instruction in changes= (docker commit --change)"
        ))),
    }
}

fn is_default(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_empty_values_are_defaults() {
        let config: Map<String, Value> = serde_json::from_str(
            r#"{"Hostname":"","Tty":false,"Cmd":null,"ExposedPorts":{},"Env":[],"StopTimeout":0}"#,
        )
        .unwrap();
        assert!(config.values().all(is_default));
        for set in [r#"["sh"]"#, "true", r#""web""#, r#"{"80/tcp":{}}"#] {
            assert!(!is_default(&serde_json::from_str(set).unwrap()), "{set}");
        }
    }
}
