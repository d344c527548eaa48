//! Image configurations: parsing (with the OCI spec's types), the configs `import`
//! writes, and Docker's `--change` instructions.

use crate::error::{ImageError, Result};
use oci_spec::image::{Arch, Config, HistoryBuilder, ImageConfiguration, ImageConfigurationBuilder, Os, RootFsBuilder};
use std::collections::HashMap;

/// Parses a config document, naming `what` in errors.
pub fn parse(bytes: &[u8], archive: &str, what: &str) -> Result<ImageConfiguration> {
    serde_json::from_slice(bytes).map_err(|e| ImageError::Invalid {
        archive: archive.to_string(),
        what: what.to_string(),
        reason: format!("not a valid image config (json): {e}"),
    })
}

/// The labels (`config.Labels`) of a config document as JSON, as the database keeps
/// them for listings: `null` when it has none (or is not JSON: it was checked before).
pub fn labels_json(bytes: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .and_then(|c| c.pointer("/config/Labels").cloned())
        .unwrap_or_default()
        .to_string()
}

/// The config of a single-layer image made by `import`.
pub fn import_config(diff_id: &str, changes: &[String], comment: &str, created: &str) -> Result<ImageConfiguration> {
    let mut config = Config::default();
    for change in changes {
        apply_change(&mut config, change)?;
    }
    let history = HistoryBuilder::default()
        .created(created.to_string())
        .comment(comment.to_string())
        .build()
        .expect("history fields are all optional");
    let rootfs = RootFsBuilder::default()
        .typ("layers")
        .diff_ids(vec![diff_id.to_string()])
        .build()
        .expect("rootfs fields are set");
    Ok(ImageConfigurationBuilder::default()
        .architecture(host_arch())
        .os(Os::Linux)
        .created(created.to_string())
        .config(config)
        .rootfs(rootfs)
        .history(vec![history])
        .build()
        .expect("required config fields are set"))
}

/// Now, formatted as Go's `time.RFC3339Nano` (trailing zeros of the fraction dropped), as
/// Docker and containers/image write it. Tools that re-encode a config (skopeo converting
/// to OCI) then reproduce our bytes exactly, so the image ID survives the conversion.
pub fn timestamp_now() -> String {
    go_rfc3339_nano(chrono::Utc::now())
}

pub fn go_rfc3339_nano(t: chrono::DateTime<chrono::Utc>) -> String {
    let full = t.format("%Y-%m-%dT%H:%M:%S%.9f").to_string();
    let trimmed = full.trim_end_matches('0').trim_end_matches('.');
    format!("{trimmed}Z")
}

/// Checks `--change` instructions without applying them to anything.
pub fn validate_changes(changes: &[String]) -> Result<()> {
    let mut scratch = Config::default();
    changes.iter().try_for_each(|c| apply_change(&mut scratch, c))
}

fn host_arch() -> Arch {
    Arch::from(strata_archive::image_archive::host_architecture())
}

fn change_err(change: &str, reason: impl Into<String>) -> ImageError {
    ImageError::Change {
        change: change.to_string(),
        reason: reason.into(),
    }
}

/// Applies one Dockerfile-style instruction, as `docker import -c` / `commit -c` do.
pub fn apply_change(config: &mut Config, change: &str) -> Result<()> {
    let change = change.trim();
    let (instruction, args) = change.split_once(char::is_whitespace).unwrap_or((change, ""));
    let args = args.trim();
    match instruction.to_ascii_uppercase().as_str() {
        "CMD" => {
            config.set_cmd(Some(command_form(args, change)?));
        }
        "ENTRYPOINT" => {
            config.set_entrypoint(Some(command_form(args, change)?));
        }
        "ENV" => {
            let mut env = config.env().clone().unwrap_or_default();
            for (k, v) in key_values(args, change)? {
                env.retain(|e| e.split_once('=').map_or(e.as_str(), |(n, _)| n) != k);
                env.push(format!("{k}={v}"));
            }
            config.set_env(Some(env));
        }
        "LABEL" => {
            let mut labels = config.labels().clone().unwrap_or_default();
            labels.extend(key_values(args, change)?);
            config.set_labels(Some(labels));
        }
        "WORKDIR" => {
            config.set_working_dir(Some(non_empty(args, change)?.to_string()));
        }
        "USER" => {
            config.set_user(Some(non_empty(args, change)?.to_string()));
        }
        "STOPSIGNAL" => {
            config.set_stop_signal(Some(non_empty(args, change)?.to_string()));
        }
        "EXPOSE" => {
            let mut ports = config.exposed_ports().clone().unwrap_or_default();
            for p in args.split_whitespace() {
                let port = if p.contains('/') { p.to_string() } else { format!("{p}/tcp") };
                let (num, proto) = port.split_once('/').expect("has a slash");
                if num.parse::<u16>().is_err() || !matches!(proto, "tcp" | "udp" | "sctp") {
                    return Err(change_err(change, format!("invalid port {p:?}")));
                }
                if !ports.contains(&port) {
                    ports.push(port);
                }
            }
            config.set_exposed_ports(Some(ports));
        }
        "VOLUME" => {
            let mut volumes = config.volumes().clone().unwrap_or_default();
            let list = if args.starts_with('[') { json_list(args, change)? } else { args.split_whitespace().map(str::to_string).collect() };
            for v in list {
                if !volumes.contains(&v) {
                    volumes.push(v);
                }
            }
            config.set_volumes(Some(volumes));
        }
        other => {
            return Err(change_err(
                change,
                format!("{other} is not supported; use CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME or WORKDIR"),
            ))
        }
    }
    Ok(())
}

fn non_empty<'a>(args: &'a str, change: &str) -> Result<&'a str> {
    if args.is_empty() {
        Err(change_err(change, "the instruction needs an argument"))
    } else {
        Ok(args)
    }
}

/// Exec form (`["sh", "-c", "x"]`) as is; shell form wrapped in `/bin/sh -c`.
fn command_form(args: &str, change: &str) -> Result<Vec<String>> {
    if args.starts_with('[') {
        json_list(args, change)
    } else {
        Ok(vec![
            "/bin/sh".into(),
            "-c".into(),
            non_empty(args, change)?.to_string(),
        ])
    }
}

fn json_list(args: &str, change: &str) -> Result<Vec<String>> {
    serde_json::from_str(args).map_err(|e| change_err(change, format!("not a JSON array of strings: {e}")))
}

/// `k=v k2="v 2"` pairs, or the legacy single `k v` form.
fn key_values(args: &str, change: &str) -> Result<HashMap<String, String>> {
    let words = shell_words(args);
    if words.is_empty() {
        return Err(change_err(change, "the instruction needs key=value arguments"));
    }
    if !words[0].contains('=') {
        let (k, v) = args
            .split_once(char::is_whitespace)
            .ok_or_else(|| change_err(change, "expected KEY=VALUE or KEY VALUE"))?;
        return Ok(HashMap::from([(k.to_string(), v.trim().to_string())]));
    }
    words
        .iter()
        .map(|w| {
            w.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| change_err(change, format!("{w:?} is not KEY=VALUE")))
        })
        .collect()
}

/// Splits on whitespace, honouring double and single quotes (no other escapes but `\"`).
fn shell_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') if chars.peek() == Some(&'"') => cur.push(chars.next().expect("peeked")),
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(changes: &[&str]) -> Config {
        let mut c = Config::default();
        for ch in changes {
            apply_change(&mut c, ch).unwrap();
        }
        c
    }

    #[test]
    fn timestamps_drop_trailing_zeros_like_go() {
        use chrono::TimeZone;
        let t = chrono::Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).unwrap();
        assert_eq!(go_rfc3339_nano(t), "2024-05-01T10:00:00Z");
        let t = t + chrono::Duration::nanoseconds(120_000_000);
        assert_eq!(go_rfc3339_nano(t), "2024-05-01T10:00:00.12Z");
        let t = t + chrono::Duration::nanoseconds(5);
        assert_eq!(go_rfc3339_nano(t), "2024-05-01T10:00:00.120000005Z");
    }

    #[test]
    fn changes_table() {
        let c = apply(&[
            r#"CMD ["sh"]"#,
            "ENTRYPOINT /entry.sh --flag",
            "ENV A=1 B=\"two words\"",
            "ENV A=3",
            "ENV LEGACY some value",
            "WORKDIR /srv",
            "USER nobody:nogroup",
            "EXPOSE 80 53/udp",
            "LABEL org.x=y",
            r#"VOLUME ["/data"]"#,
            "STOPSIGNAL SIGINT",
        ]);
        assert_eq!(c.cmd().as_deref(), Some(&["sh".to_string()][..]));
        assert_eq!(
            c.entrypoint().clone().unwrap(),
            vec!["/bin/sh", "-c", "/entry.sh --flag"]
        );
        let env = c.env().clone().unwrap();
        assert!(
            env.contains(&"A=3".to_string()) && !env.contains(&"A=1".to_string()),
            "{env:?}"
        );
        assert!(env.contains(&"B=two words".to_string()), "{env:?}");
        assert!(env.contains(&"LEGACY=some value".to_string()), "{env:?}");
        assert_eq!(c.working_dir().as_deref(), Some("/srv"));
        assert_eq!(c.user().as_deref(), Some("nobody:nogroup"));
        assert_eq!(c.exposed_ports().clone().unwrap(), vec!["80/tcp", "53/udp"]);
        assert_eq!(c.labels().clone().unwrap()["org.x"], "y");
        assert_eq!(c.volumes().clone().unwrap(), vec!["/data"]);
        assert_eq!(c.stop_signal().as_deref(), Some("SIGINT"));
    }

    #[test]
    fn bad_changes_are_refused_with_the_reason() {
        for (change, reason) in [
            ("RUN echo", "not supported"),
            ("CMD [sh", "JSON array"),
            ("EXPOSE http", "invalid port"),
            ("WORKDIR", "needs an argument"),
        ] {
            let err = apply_change(&mut Config::default(), change).unwrap_err().to_string();
            assert!(err.contains(reason), "{change}: {err}");
        }
    }
}
