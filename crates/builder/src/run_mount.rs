//! `RUN --mount=…` as BuildKit's Dockerfile frontend parses it: `bind` (from the context,
//! a stage or an image; read-only unless `rw`), `cache` (kept in the store between
//! builds), `tmpfs`, `secret` (from `build --secret`) and `ssh` (from `build --ssh`).
//! An option strata does not apply is refused by name, never dropped.

/// One `--mount` of a `RUN` step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunMount {
    Bind(BindMount),
    /// An empty tmpfs at `target`; `size` in bytes when given.
    Tmpfs {
        target: String,
        size: Option<u64>,
    },
    Cache(CacheMount),
    Secret(SecretMount),
    Ssh(SshMount),
}

/// `type=bind`: `source` in the context, or in the stage or image `from` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindMount {
    pub source: String,
    pub target: String,
    pub from: Option<String>,
    /// `rw`: the step may write there; what it writes is thrown away, as BuildKit does.
    pub rw: bool,
}

/// `type=cache`: a directory kept in the store under `id`, shared by every build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheMount {
    pub id: String,
    pub target: String,
    pub sharing: Sharing,
    /// A stage or image whose `source` fills the cache when it is first made.
    pub from: Option<String>,
    pub source: String,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub readonly: bool,
}

/// `sharing=`: how steps that use one cache at the same time share it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    /// Every user at once (the default).
    Shared,
    /// A user that finds it busy gets a new, empty cache of its own.
    Private,
    /// One user at a time; the others wait.
    Locked,
}

/// `type=secret`: the secret `build --secret id=ID` gave, as a file at `target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretMount {
    pub id: String,
    pub target: String,
    pub required: bool,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// `type=ssh`: the agent socket `build --ssh ID=SOCKET` gave, at `target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshMount {
    pub id: String,
    /// None: `/run/buildkit/ssh_agent.N`, N counting the step's ssh mounts.
    pub target: Option<String>,
    pub required: bool,
}

/// The options each type takes (BuildKit's names; `src`, `dst`, `destination`, `ro`,
/// `readonly`, `readwrite` are its aliases).
fn options_of(kind: &str) -> &'static [&'static str] {
    match kind {
        "bind" => &["target", "source", "from", "readonly", "rw"],
        "cache" => &[
            "target", "id", "sharing", "from", "source", "mode", "uid", "gid", "readonly",
        ],
        "tmpfs" => &["target", "size"],
        "secret" => &["target", "id", "required", "mode", "uid", "gid", "env"],
        "ssh" => &["target", "id", "required", "mode", "uid", "gid"],
        _ => &[],
    }
}

fn canonical(key: &str) -> &str {
    match key {
        "src" => "source",
        "dst" | "destination" => "target",
        "ro" => "readonly",
        "readwrite" => "rw",
        other => other,
    }
}

impl RunMount {
    pub fn target(&self) -> Option<&str> {
        match self {
            RunMount::Bind(b) => Some(&b.target),
            RunMount::Tmpfs { target, .. } => Some(target),
            RunMount::Cache(c) => Some(&c.target),
            RunMount::Secret(s) => Some(&s.target),
            RunMount::Ssh(s) => s.target.as_deref(),
        }
    }

    /// A relative target made absolute under the step's working directory, as BuildKit
    /// does (`target=.` is the working directory itself); `.` and `..` are resolved.
    pub fn resolve_target(&mut self, workdir: &str) {
        let target = match self {
            RunMount::Bind(b) => &mut b.target,
            RunMount::Tmpfs { target, .. } => target,
            RunMount::Cache(c) => &mut c.target,
            RunMount::Secret(s) => &mut s.target,
            RunMount::Ssh(s) => match s.target.as_mut() {
                Some(t) => t,
                None => return,
            },
        };
        if target.starts_with('/') {
            return;
        }
        let mut parts: Vec<&str> = Vec::new();
        for part in workdir.split('/').chain(target.split('/')) {
            match part {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                p => parts.push(p),
            }
        }
        *target = format!("/{}", parts.join("/"));
    }

    /// The stage or image a bind or cache mount's `from=` names.
    pub fn from(&self) -> Option<&str> {
        match self {
            RunMount::Bind(b) => b.from.as_deref(),
            RunMount::Cache(c) => c.from.as_deref(),
            _ => None,
        }
    }

    /// `type=bind,source=src,target=/dst`, `type=cache,target=/root/.cache,id=pip`, ….
    pub fn parse(spec: &str) -> Result<RunMount, String> {
        let mut fields = Vec::new();
        let mut kind = "bind";
        for field in spec.split(',').filter(|f| !f.is_empty()) {
            let (key, value) = field.split_once('=').map_or((field, None), |(k, v)| (k, Some(v)));
            let key = key.trim().to_ascii_lowercase();
            if key == "type" {
                kind = value.unwrap_or("");
                continue;
            }
            fields.push((canonical(&key).to_string(), value.map(str::to_string)));
        }
        let allowed = options_of(kind);
        if allowed.is_empty() {
            return Err(format!(
                "RUN --mount: unknown type {kind:?} (bind, cache, tmpfs, secret, ssh)"
            ));
        }
        let mut options = Options::default();
        for (key, value) in fields {
            if !allowed.contains(&key.as_str()) {
                return Err(
                    if options_of("bind")
                        .iter()
                        .chain(options_of("cache"))
                        .chain(options_of("tmpfs"))
                        .chain(options_of("secret"))
                        .any(|k| *k == key)
                    {
                        format!(
                            "RUN --mount: option {key} does not apply to type={kind} (it takes {})",
                            allowed.join(", ")
                        )
                    } else {
                        format!(
                            "RUN --mount: unknown option {key:?} for type={kind} (it takes {})",
                            allowed.join(", ")
                        )
                    },
                );
            }
            options.set(&key, value)?;
        }
        options.into_mount(kind, spec)
    }
}

#[derive(Default)]
struct Options {
    values: std::collections::BTreeMap<String, Option<String>>,
}

impl Options {
    fn set(&mut self, key: &str, value: Option<String>) -> Result<(), String> {
        if self.values.insert(key.to_string(), value).is_some() {
            return Err(format!("RUN --mount: option {key} is given twice"));
        }
        Ok(())
    }

    fn text(&self, key: &str) -> Option<String> {
        self.values.get(key).map(|v| v.clone().unwrap_or_default())
    }

    /// `rw`, `rw=true`, `rw=false`.
    fn flag(&self, key: &str) -> Result<bool, String> {
        match self.values.get(key) {
            None => Ok(false),
            Some(None) => Ok(true),
            Some(Some(v)) => match v.to_ascii_lowercase().as_str() {
                "true" | "1" => Ok(true),
                "false" | "0" => Ok(false),
                _ => Err(format!("RUN --mount option {key}={v}: true or false")),
            },
        }
    }

    fn number(&self, key: &str, radix: u32, default: u32) -> Result<u32, String> {
        match self.text(key) {
            None => Ok(default),
            Some(v) => {
                u32::from_str_radix(&v, radix).map_err(|_| format!("RUN --mount option {key}={v}: not a number"))
            }
        }
    }

    fn target(&self, spec: &str, required: bool) -> Result<Option<String>, String> {
        match self.text("target").filter(|t| !t.is_empty()) {
            // A relative target is the working directory's (BuildKit's, and Docker's Go
            // guide binds the context with `target=.`): resolve_target makes it absolute.
            Some(t) => Ok(Some(t)),
            None if required => Err(format!("RUN --mount={spec}: a target is required")),
            None => Ok(None),
        }
    }

    fn into_mount(self, kind: &str, spec: &str) -> Result<RunMount, String> {
        Ok(match kind {
            "bind" => {
                let rw = self.flag("rw")?;
                if rw && self.flag("readonly")? {
                    return Err(format!("RUN --mount={spec}: rw and readonly contradict each other"));
                }
                RunMount::Bind(BindMount {
                    target: self.target(spec, true)?.unwrap_or_default(),
                    source: self.text("source").unwrap_or_default(),
                    from: self.text("from").filter(|f| !f.is_empty()),
                    rw,
                })
            }
            "tmpfs" => RunMount::Tmpfs {
                target: self.target(spec, true)?.unwrap_or_default(),
                size: self.text("size").map(|s| parse_size(&s)).transpose()?,
            },
            "cache" => {
                let target = self.target(spec, true)?.unwrap_or_default();
                let sharing = match self.text("sharing").as_deref() {
                    None | Some("shared") => Sharing::Shared,
                    Some("private") => Sharing::Private,
                    Some("locked") => Sharing::Locked,
                    Some(other) => {
                        return Err(format!(
                            "RUN --mount: sharing={other} is not a sharing mode (shared, private, locked)"
                        ))
                    }
                };
                RunMount::Cache(CacheMount {
                    id: self
                        .text("id")
                        .filter(|i| !i.is_empty())
                        .unwrap_or_else(|| target.clone()),
                    sharing,
                    from: self.text("from").filter(|f| !f.is_empty()),
                    source: self.text("source").unwrap_or_default(),
                    mode: self.number("mode", 8, 0o755)?,
                    uid: self.number("uid", 10, 0)?,
                    gid: self.number("gid", 10, 0)?,
                    readonly: self.flag("readonly")?,
                    target,
                })
            }
            "secret" => {
                if self.values.contains_key("env") {
                    return Err(
                        "RUN --mount=type=secret,env= is not supported by strata: a step's environment \
                         is kept in the store's database, where a secret must never be; read the secret \
                         from its file (/run/secrets/ID by default)"
                            .into(),
                    );
                }
                let target = self.target(spec, false)?;
                let id = self
                    .text("id")
                    .filter(|i| !i.is_empty())
                    .or_else(|| target.as_deref().and_then(|t| t.rsplit('/').next()).map(str::to_string))
                    .filter(|i| !i.is_empty())
                    .ok_or_else(|| format!("RUN --mount={spec}: a secret needs an id or a target"))?;
                RunMount::Secret(SecretMount {
                    target: target.unwrap_or_else(|| format!("/run/secrets/{id}")),
                    required: self.flag("required")?,
                    mode: self.number("mode", 8, 0o400)?,
                    uid: self.number("uid", 10, 0)?,
                    gid: self.number("gid", 10, 0)?,
                    id,
                })
            }
            _ => {
                for key in ["mode", "uid", "gid"] {
                    if self.values.contains_key(key) {
                        return Err(format!(
                            "RUN --mount=type=ssh,{key}= is not supported by strata: the agent's own \
                             socket is bound in, with its owner and mode; run the step as a user that \
                             can reach it, or leave the option out"
                        ));
                    }
                }
                RunMount::Ssh(SshMount {
                    target: self.target(spec, false)?,
                    id: self
                        .text("id")
                        .filter(|i| !i.is_empty())
                        .unwrap_or_else(|| "default".into()),
                    required: self.flag("required")?,
                })
            }
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
    n.checked_mul(scale)
        .ok_or_else(|| format!("RUN --mount size {text:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bind(source: &str, target: &str, from: Option<&str>, rw: bool) -> RunMount {
        RunMount::Bind(BindMount {
            source: source.into(),
            target: target.into(),
            from: from.map(str::to_string),
            rw,
        })
    }

    #[test]
    fn relative_targets_are_the_working_directorys() {
        for (target, workdir, resolved) in [
            (".", "/src", "/src"),
            ("out", "/src/", "/src/out"),
            ("./a/../b", "/", "/b"),
            ("../up", "/src/app", "/src/up"),
            ("/abs", "/src", "/abs"),
        ] {
            let mut mount = RunMount::parse(&format!("type=bind,target={target}")).unwrap();
            mount.resolve_target(workdir);
            assert_eq!(mount.target(), Some(resolved), "{target} in {workdir}");
        }
    }

    #[test]
    fn bind_and_tmpfs_mounts_parse_as_buildkits() {
        assert_eq!(
            RunMount::parse("type=bind,source=hello.txt,target=/tmp/h").unwrap(),
            bind("hello.txt", "/tmp/h", None, false)
        );
        assert_eq!(RunMount::parse("target=/src").unwrap(), bind("", "/src", None, false));
        assert_eq!(
            RunMount::parse("type=bind,from=build,src=/out,dst=/o,rw").unwrap(),
            bind("/out", "/o", Some("build"), true)
        );
        assert_eq!(
            RunMount::parse("type=bind,target=/o,readwrite=false").unwrap(),
            bind("", "/o", None, false)
        );
        assert_eq!(
            RunMount::parse("type=tmpfs,target=/t,size=64m").unwrap(),
            RunMount::Tmpfs {
                target: "/t".into(),
                size: Some(64 << 20)
            }
        );
    }

    #[test]
    fn cache_secret_and_ssh_mounts_take_buildkits_defaults() {
        assert_eq!(
            RunMount::parse("type=cache,target=/root/.cache").unwrap(),
            RunMount::Cache(CacheMount {
                id: "/root/.cache".into(),
                target: "/root/.cache".into(),
                sharing: Sharing::Shared,
                from: None,
                source: String::new(),
                mode: 0o755,
                uid: 0,
                gid: 0,
                readonly: false,
            })
        );
        let RunMount::Cache(c) = RunMount::parse(
            "type=cache,id=npm,target=/n,sharing=locked,mode=0700,uid=1000,gid=100,from=base,source=/seed",
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(
            (
                c.id.as_str(),
                c.sharing,
                c.mode,
                c.uid,
                c.gid,
                c.from.as_deref(),
                c.source.as_str()
            ),
            ("npm", Sharing::Locked, 0o700, 1000, 100, Some("base"), "/seed")
        );
        assert_eq!(
            RunMount::parse("type=secret,id=token").unwrap(),
            RunMount::Secret(SecretMount {
                id: "token".into(),
                target: "/run/secrets/token".into(),
                required: false,
                mode: 0o400,
                uid: 0,
                gid: 0,
            })
        );
        let RunMount::Secret(s) = RunMount::parse("type=secret,target=/root/.npmrc,required").unwrap() else {
            panic!()
        };
        assert_eq!((s.id.as_str(), s.required), (".npmrc", true));
        assert_eq!(
            RunMount::parse("type=ssh").unwrap(),
            RunMount::Ssh(SshMount {
                id: "default".into(),
                target: None,
                required: false
            })
        );
    }

    #[test]
    fn an_unknown_type_or_option_is_refused_by_name() {
        for (spec, words) in [
            ("type=weird,target=/a", "unknown type \"weird\""),
            (
                "type=bind,target=/a,colour=red",
                "unknown option \"colour\" for type=bind",
            ),
            ("type=tmpfs,target=/a,id=x", "option id does not apply to type=tmpfs"),
            (
                "type=bind,target=/a,sharing=locked",
                "option sharing does not apply to type=bind",
            ),
            (
                "type=cache,target=/a,sharing=sometimes",
                "sharing=sometimes is not a sharing mode",
            ),
            ("type=cache,target=/a,mode=rwx", "mode=rwx: not a number"),
            ("type=secret,id=x,env=TOKEN", "type=secret,env= is not supported"),
            ("type=ssh,uid=1000", "type=ssh,uid= is not supported"),
            ("type=secret", "a secret needs an id or a target"),
            ("type=bind,source=a", "a target is required"),
            ("type=cache,id=x", "a target is required"),
            ("type=bind,target=/a,rw,ro", "rw and readonly contradict"),
            ("type=bind,target=/a,target=/b", "option target is given twice"),
            ("type=bind,target=/a,rw=maybe", "rw=maybe: true or false"),
        ] {
            let e = RunMount::parse(spec).unwrap_err();
            assert!(e.contains(words), "{spec}: {e}");
        }
    }
}
