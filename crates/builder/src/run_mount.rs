//! `RUN --mount=…` (BuildKit's Dockerfile frontend): what strata implements —
//! `type=bind` from the build context (read-only, as BuildKit's default) and
//! `type=tmpfs` — and, refused by name with the reason, the rest: a mount is never
//! dropped.

/// One `--mount` of a `RUN` step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunMount {
    /// The context's `source` (a file or directory) at `target`, read-only.
    Bind { source: String, target: String },
    /// An empty tmpfs at `target`; `size` in bytes when given.
    Tmpfs { target: String, size: Option<u64> },
}

impl RunMount {
    pub fn target(&self) -> &str {
        match self {
            RunMount::Bind { target, .. } | RunMount::Tmpfs { target, .. } => target,
        }
    }

    /// `type=bind,source=src,target=/dst`, `type=tmpfs,target=/t,size=64m`.
    pub fn parse(spec: &str) -> Result<RunMount, String> {
        let fields: Vec<(&str, &str)> = spec
            .split(',')
            .filter(|f| !f.is_empty())
            .map(|f| f.split_once('=').unwrap_or((f, "")))
            .collect();
        let kind = fields.iter().find(|(k, _)| *k == "type").map_or("bind", |(_, v)| *v);
        match kind {
            "bind" | "tmpfs" => {}
            "cache" | "secret" | "ssh" => {
                return Err(format!(
                    "RUN --mount=type={kind} is not supported by strata yet; bind (from the context) \
                     and tmpfs are"
                ))
            }
            other => {
                return Err(format!(
                    "RUN --mount: unknown type {other:?} (bind, cache, tmpfs, secret, ssh)"
                ))
            }
        }
        let (mut source, mut target, mut size) = (None, None, None);
        for (key, value) in fields {
            match key {
                "type" => {}
                "source" | "src" => source = Some(value.to_string()),
                "target" | "dst" | "destination" => target = Some(value.to_string()),
                "size" if kind == "tmpfs" => size = Some(parse_size(value)?),
                "ro" | "readonly" if value.is_empty() || value == "true" => {}
                "rw" | "readwrite" | "from" | "id" | "sharing" | "mode" | "uid" | "gid" | "required" | "env" => {
                    return Err(format!(
                        "RUN --mount option {key} is not supported by strata yet (bind mounts are the \
                         context's, read-only; tmpfs takes target and size)"
                    ))
                }
                other => return Err(format!("RUN --mount: unknown option {other:?}")),
            }
        }
        let target = target
            .filter(|t| !t.is_empty())
            .ok_or_else(|| format!("RUN --mount={spec}: a target is required"))?;
        if !target.starts_with('/') {
            return Err(format!("RUN --mount target {target:?} must be an absolute path"));
        }
        Ok(match kind {
            "tmpfs" => RunMount::Tmpfs { target, size },
            _ => RunMount::Bind {
                source: source.unwrap_or_else(|| ".".into()),
                target,
            },
        })
    }
}

/// `64m`, `1g`, `4096`: BuildKit's tmpfs size.
fn parse_size(text: &str) -> Result<u64, String> {
    let lower = text.to_ascii_lowercase();
    let (digits, unit) = match lower.trim_end_matches('b').char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&lower[..i], c),
        _ => (lower.trim_end_matches('b'), ' '),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("RUN --mount size {text:?} is not a size"))?;
    let scale = match unit {
        ' ' => 1,
        'k' => 1 << 10,
        'm' => 1 << 20,
        'g' => 1 << 30,
        _ => return Err(format!("RUN --mount size {text:?} is not a size")),
    };
    Ok(n * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_parse_as_buildkits_and_the_rest_is_refused_by_name() {
        assert_eq!(
            RunMount::parse("type=bind,source=hello.txt,target=/tmp/h").unwrap(),
            RunMount::Bind {
                source: "hello.txt".into(),
                target: "/tmp/h".into()
            }
        );
        assert_eq!(
            RunMount::parse("target=/src").unwrap(),
            RunMount::Bind {
                source: ".".into(),
                target: "/src".into()
            }
        );
        assert_eq!(
            RunMount::parse("type=tmpfs,target=/t,size=64m").unwrap(),
            RunMount::Tmpfs {
                target: "/t".into(),
                size: Some(64 << 20)
            }
        );
        for (spec, words) in [
            ("type=cache,target=/root/.cache", "type=cache is not supported"),
            ("type=secret,id=x", "type=secret is not supported"),
            ("type=ssh", "type=ssh is not supported"),
            ("type=bind,source=a,target=/a,rw", "option rw is not supported"),
            ("type=bind,from=build,target=/a", "option from is not supported"),
            ("type=weird,target=/a", "unknown type"),
            ("type=bind,target=/a,colour=red", "unknown option"),
            ("type=bind,source=a", "a target is required"),
            ("type=bind,source=a,target=rel", "must be an absolute path"),
        ] {
            let e = RunMount::parse(spec).unwrap_err();
            assert!(e.contains(words), "{spec}: {e}");
        }
    }
}
