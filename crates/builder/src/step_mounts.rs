//! A `RUN` step's `--mount`s: resolved when the step is planned (sources found, the
//! cache key's text made), then made real on the host for the step's container (cache
//! directories locked, secrets written to a tmpfs, writable binds given a throwaway
//! overlay) and taken down when the step ends.
//!
//! What never reaches the store's disk: a secret's bytes (in memory, then a tmpfs that is
//! unmounted after the step) and what a step writes to a bind (an overlay's upper
//! directory, removed after the step). The cache key names secrets by id only.

use crate::builder::Builder;
use crate::error::{BuildError, Result};
use crate::instruction::Instruction;
use crate::run_mount::{self, RunMount};
use crate::view::ImageView;
use crate::words::Vars;
use std::path::{Path, PathBuf};
use strata_images::cache_mounts::{CacheMount as CacheLease, Sharing};

/// `build --secret id=ID,src=FILE|env=VAR`: the bytes, read by the front end. Never
/// printed, logged or stored.
#[derive(Clone, PartialEq, Eq)]
pub struct BuildSecret {
    pub id: String,
    pub data: Vec<u8>,
}

impl std::fmt::Debug for BuildSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BuildSecret({}, {} bytes)", self.id, self.data.len())
    }
}

/// `build --ssh ID=SOCKET`: an ssh agent's socket a step may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshAgent {
    pub id: String,
    pub socket: PathBuf,
}

/// `build --allow ENTITLEMENT`: `security.insecure` lets `RUN --security=insecure` run
/// privileged; `network.host` is granted either way (as Docker's builder grants it).
pub const ENTITLEMENTS: [&str; 2] = ["security.insecure", "network.host"];

/// A mount of a planned step: its host source found, nothing made yet.
pub(crate) enum StepMount {
    /// A host directory or file (in the context or an image view) at `target`.
    Bind {
        source: PathBuf,
        target: String,
        rw: bool,
    },
    Tmpfs {
        target: String,
        size: Option<u64>,
    },
    Cache {
        mount: run_mount::CacheMount,
        /// The `from` image's `source`, which fills a new cache.
        seed: Option<PathBuf>,
    },
    Secret(run_mount::SecretMount),
    Ssh {
        target: String,
        socket: PathBuf,
    },
}

/// A step's mounts and what they depend on.
pub(crate) struct Planned {
    pub mounts: Vec<StepMount>,
    /// What the cache key takes from the mounts: sources by image ID, secrets by id.
    pub key: String,
    /// A context bind: its files are not digested, so the step is never taken from
    /// the cache (BuildKit keys it by their content).
    pub uncached: bool,
    /// Views of the stages and images `from=` names, mounted until the step ends.
    pub views: Vec<ImageView>,
}

/// `RUN --mount=…`s, each resolved where it comes from.
/// Relative targets are `workdir`'s.
pub(crate) fn plan(b: &mut Builder<'_>, ins: &Instruction, vars: &Vars, workdir: &str) -> Result<Planned> {
    let mut planned = Planned {
        mounts: Vec::new(),
        key: String::new(),
        uncached: false,
        views: Vec::new(),
    };
    let mut ssh_count = 0;
    for spec in ins.flags_named("mount") {
        let spec = b.expand(ins, spec, vars)?;
        let mut mount = RunMount::parse(&spec).map_err(|e| b.syntax(ins, e))?;
        mount.resolve_target(workdir);
        if let Some(target) = mount.target() {
            check_path(b, ins, target)?;
        }
        match mount {
            RunMount::Bind(bind) => {
                let source = match &bind.from {
                    None => {
                        planned.uncached = true;
                        planned
                            .key
                            .push_str(&format!("bind {} {} {}\0", bind.source, bind.target, bind.rw));
                        b.context
                            .bind_source(&bind.source)
                            .map_err(|e| b.syntax(ins, e.to_string()))?
                    }
                    Some(from) => {
                        // The spec was expanded whole already: not again.
                        let from = from.clone();
                        let (origin, source) = from_source(b, ins, &from, &bind.source, &mut planned)?;
                        planned
                            .key
                            .push_str(&format!("bind {origin} {} {} {}\0", bind.source, bind.target, bind.rw));
                        source
                    }
                };
                check_path(b, ins, &source.to_string_lossy())?;
                planned.mounts.push(StepMount::Bind {
                    source,
                    target: bind.target,
                    rw: bind.rw,
                });
            }
            RunMount::Tmpfs { target, size } => {
                planned.key.push_str(&format!("tmpfs {target} {size:?}\0"));
                planned.mounts.push(StepMount::Tmpfs { target, size });
            }
            RunMount::Cache(cache) => {
                let twice = planned
                    .mounts
                    .iter()
                    .any(|m| matches!(m, StepMount::Cache { mount, .. } if mount.id == cache.id));
                if twice {
                    return Err(b.syntax(
                        ins,
                        format!(
                            "RUN --mount: the cache {:?} is mounted twice in one step; mount it once",
                            cache.id
                        ),
                    ));
                }
                let seed = match &cache.from {
                    None => None,
                    Some(from) => {
                        let from = from.clone();
                        let (origin, source) = from_source(b, ins, &from, &cache.source, &mut planned)?;
                        planned.key.push_str(&format!("cache-from {origin} {}\0", cache.source));
                        Some(source)
                    }
                };
                planned.key.push_str(&format!(
                    "cache {:?} {} {:?} {:o} {} {} {}\0",
                    cache.id, cache.target, cache.sharing, cache.mode, cache.uid, cache.gid, cache.readonly
                ));
                planned.mounts.push(StepMount::Cache { mount: cache, seed });
            }
            RunMount::Secret(secret) => {
                let given = b.opts.secrets.iter().any(|s| s.id == secret.id);
                if !given && secret.required {
                    return Err(b.syntax(
                        ins,
                        format!(
                            "secret {} is required but was not given: build with --secret id={},src=FILE",
                            secret.id, secret.id
                        ),
                    ));
                }
                planned.key.push_str(&format!(
                    "secret {} {} {:o} {} {} {given}\0",
                    secret.id, secret.target, secret.mode, secret.uid, secret.gid
                ));
                if given {
                    planned.mounts.push(StepMount::Secret(secret));
                }
            }
            RunMount::Ssh(ssh) => {
                let target = ssh.target.clone().unwrap_or_else(|| {
                    ssh_count += 1;
                    format!("/run/buildkit/ssh_agent.{}", ssh_count - 1)
                });
                let agent = b.opts.ssh.iter().find(|a| a.id == ssh.id);
                planned
                    .key
                    .push_str(&format!("ssh {} {target} {}\0", ssh.id, agent.is_some()));
                match agent {
                    Some(agent) => {
                        check_path(b, ins, &agent.socket.to_string_lossy())?;
                        planned.mounts.push(StepMount::Ssh {
                            target,
                            socket: agent.socket.clone(),
                        })
                    }
                    None if ssh.required => {
                        return Err(b.syntax(
                            ins,
                            format!(
                                "ssh agent {} is required but was not given: build with --ssh {}=$SSH_AUTH_SOCK",
                                ssh.id, ssh.id
                            ),
                        ))
                    }
                    None => {}
                }
            }
        }
    }
    Ok(planned)
}

/// A container `--mount` spec is comma-separated and a `--tmpfs` one takes options after
/// a colon: a path with either cannot be mounted (a tmpfs target `/x:exec` would add
/// options the Dockerfile must not set).
fn check_path(b: &Builder<'_>, ins: &Instruction, path: &str) -> Result<()> {
    if path.contains(',') || path.contains(':') {
        return Err(b.syntax(
            ins,
            format!("RUN --mount: a path with a comma or a colon ({path}) cannot be mounted"),
        ));
    }
    Ok(())
}

/// `source` in what `from=NAME` names (a named context, a stage, an image: the builder's
/// order), resolved inside it; and what the cache key takes from it: the image's ID, or
/// for a directory context a random word (its files are not digested: never cached).
fn from_source(
    b: &mut Builder<'_>,
    ins: &Instruction,
    from: &str,
    source: &str,
    planned: &mut Planned,
) -> Result<(String, PathBuf)> {
    match b.resolve_from(ins, from)? {
        crate::named::FromSource::Context(context) => {
            planned.uncached = true;
            let path = context.bind_source(source).map_err(|e| b.syntax(ins, e.to_string()))?;
            Ok((format!("context {from}"), path))
        }
        crate::named::FromSource::Image(image) => {
            let view = ImageView::mount(b.store, Some(&image))?;
            let path = in_view(b, ins, &view, source, from)?;
            planned.views.push(view);
            Ok((image.id, path))
        }
    }
}

/// `source` in the stage or image `from` names, resolved inside it.
fn in_view(b: &Builder<'_>, ins: &Instruction, view: &ImageView, source: &str, from: &str) -> Result<PathBuf> {
    let source = if source.is_empty() { "/" } else { source };
    view.resolve(source)
        .map_err(|e| b.syntax(ins, format!("RUN --mount from={from}: {e}")))?
        .ok_or_else(|| b.syntax(ins, format!("RUN --mount from={from}: {source} not found there")))
}

/// A step's mounts as its container takes them, and the host resources behind them,
/// released on drop.
#[derive(Default)]
pub(crate) struct Live {
    /// `--mount` specs of the container.
    pub mounts: Vec<String>,
    /// `--tmpfs` specs.
    pub tmpfs: Vec<String>,
    /// `SSH_AUTH_SOCK` for the command, when an agent is mounted.
    pub env: Vec<String>,
    leases: Vec<CacheLease>,
    /// Mounted on the host: unmounted (then removed) on drop, last made first.
    host_mounts: Vec<PathBuf>,
    /// Work directories removed on drop.
    dirs: Vec<PathBuf>,
}

impl Live {
    /// Whether the step's container binds what only lives as long as the step: a locked
    /// cache directory, the secrets' tmpfs, a writable bind's overlay or copy.
    pub fn binds_step_resources(&self) -> bool {
        !self.leases.is_empty() || !self.host_mounts.is_empty() || !self.dirs.is_empty()
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        for dir in self.host_mounts.iter().rev() {
            let _ = strata_runtime::rootfs::unmount(dir);
        }
        for dir in self.dirs.iter().rev() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Makes `mounts` real for one run of the step.
pub(crate) fn make_live(b: &Builder<'_>, mounts: &[StepMount]) -> Result<Live> {
    let mut live = Live::default();
    let mut secrets: Option<PathBuf> = None;
    // Caches are locked first, in the order of their ids (two builds that lock the same
    // two `locked` caches never wait for each other crosswise); the mounts then keep the
    // Dockerfile's order (a cache may sit inside a bind).
    let mut caches: Vec<(&run_mount::CacheMount, &Option<PathBuf>)> = mounts
        .iter()
        .filter_map(|m| match m {
            StepMount::Cache { mount, seed } => Some((mount, seed)),
            _ => None,
        })
        .collect();
    caches.sort_by(|a, b| a.0.id.cmp(&b.0.id));
    let mut leases = std::collections::HashMap::new();
    for (mount, seed) in caches {
        let mut fill = |dir: &Path| fill_cache(dir, mount, seed.as_deref());
        let sharing = match mount.sharing {
            run_mount::Sharing::Shared => Sharing::Shared,
            run_mount::Sharing::Private => Sharing::Private,
            run_mount::Sharing::Locked => Sharing::Locked,
        };
        let lease = b.store.cache_mount(&mount.id, sharing, &mut fill)?;
        check_host_path(lease.path())?;
        leases.insert(mount.id.clone(), lease);
    }
    for mount in mounts {
        match mount {
            StepMount::Bind {
                source,
                target,
                rw: false,
            } => live.mounts.push(bind(source, target, true)),
            StepMount::Bind {
                source,
                target,
                rw: true,
            } => {
                let writable = throwaway_copy(b, &mut live, source)?;
                live.mounts.push(bind(&writable, target, false));
            }
            StepMount::Tmpfs { target, size } => live.tmpfs.push(match size {
                Some(size) => format!("{target}:size={size}"),
                None => target.clone(),
            }),
            StepMount::Cache { mount, .. } => {
                // Each id is mounted once per step (checked when planned).
                if let Some(lease) = leases.remove(&mount.id) {
                    live.mounts.push(bind(lease.path(), &mount.target, mount.readonly));
                    live.leases.push(lease);
                }
            }
            StepMount::Secret(secret) => {
                let dir = match &secrets {
                    Some(dir) => dir.clone(),
                    None => {
                        let dir = secrets_tmpfs(b, &mut live)?;
                        secrets = Some(dir.clone());
                        dir
                    }
                };
                let file = write_secret(b, &dir, secret)?;
                live.mounts.push(bind(&file, &secret.target, true));
            }
            StepMount::Ssh { target, socket } => {
                live.mounts.push(bind(socket, target, true));
                if !live.env.iter().any(|e| e.starts_with("SSH_AUTH_SOCK=")) {
                    live.env.push(format!("SSH_AUTH_SOCK={target}"));
                }
            }
        }
    }
    Ok(live)
}

fn bind(source: &Path, target: &str, readonly: bool) -> String {
    let spec = format!("type=bind,source={},target={target}", source.display());
    if readonly {
        spec + ",readonly"
    } else {
        spec
    }
}

fn check_host_path(path: &Path) -> Result<()> {
    if path.to_string_lossy().contains(',') {
        return Err(BuildError::io(
            "mounting a build cache",
            std::io::Error::other(format!(
                "the store's path {} has a comma: it cannot be mounted",
                path.display()
            )),
        ));
    }
    Ok(())
}

/// A new cache's directory: `mode`, `uid`, `gid` as given, or filled from its `from`.
fn fill_cache(dir: &Path, mount: &run_mount::CacheMount, seed: Option<&Path>) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    match seed {
        Some(seed) if seed.is_dir() => strata_containers::volumes::copy_tree(seed, dir),
        Some(seed) => Err(std::io::Error::other(format!(
            "{} in the from= image is not a directory",
            seed.display()
        ))),
        None => {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mount.mode & 0o7777))?;
            std::os::unix::fs::lchown(dir, Some(mount.uid), Some(mount.gid))
        }
    }
}

/// A writable bind's throwaway: an overlay over a directory (the writes land in an
/// upper directory removed after the step), a copy of a file.
fn throwaway_copy(b: &Builder<'_>, live: &mut Live, source: &Path) -> Result<PathBuf> {
    let io = |e: std::io::Error| BuildError::io(format!("making a writable bind of {}", source.display()), e);
    let layers = b.store.work_path("bindrw", "");
    std::fs::create_dir(&layers).map_err(io)?;
    live.dirs.push(layers.clone());
    if !source.is_dir() {
        return copy_regular_file(source, &layers.join("file")).map_err(io);
    }
    if source.to_string_lossy().contains(':') {
        return Err(io(std::io::Error::other(
            "a path with a colon cannot be an overlay's lower directory; bind it read-only",
        )));
    }
    for dir in ["upper", "work"] {
        std::fs::create_dir(layers.join(dir)).map_err(io)?;
    }
    // The mount point is a work path of its own, not inside `layers`: garbage
    // collection after a crash detaches a leftover mount at a work path's top before
    // removing it, and must never walk into a mounted overlay.
    let merged = b.store.work_path("bindrw", "");
    std::fs::create_dir(&merged).map_err(io)?;
    live.dirs.push(merged.clone());
    let overlay = strata_snapshots::Mount {
        kind: "overlay".into(),
        source: "overlay".into(),
        options: vec![
            format!("lowerdir={}", source.display()),
            format!("upperdir={}", layers.join("upper").display()),
            format!("workdir={}", layers.join("work").display()),
        ],
    };
    strata_runtime::rootfs::mount_all(&[overlay], &merged)?;
    live.host_mounts.push(merged.clone());
    Ok(merged)
}

/// A writable bind's copy of a file: a regular file only (opened without following a
/// link or blocking on a FIFO a stage left there), its mode and owner kept.
fn copy_regular_file(source: &Path, copy: &Path) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
    let flags = nix::fcntl::OFlag::O_NOFOLLOW | nix::fcntl::OFlag::O_NONBLOCK;
    let mut from = std::fs::File::options()
        .read(true)
        .custom_flags(flags.bits())
        .open(source)?;
    let meta = from.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other(format!(
            "{} is not a regular file or directory; only those can be bound with rw",
            source.display()
        )));
    }
    let mut to = std::fs::File::create_new(copy)?;
    std::io::copy(&mut from, &mut to)?;
    std::os::unix::fs::fchown(&to, Some(meta.uid()), Some(meta.gid()))?;
    to.set_permissions(std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    Ok(copy.to_path_buf())
}

/// The step's secrets' home: a tmpfs only root can enter, so their bytes never reach
/// a disk; unmounted when the step ends (and by garbage collection after a crash).
fn secrets_tmpfs(b: &Builder<'_>, live: &mut Live) -> Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = b.store.work_path("secrets", "");
    let io = |e: std::io::Error| BuildError::io("making the secrets' tmpfs", e);
    std::fs::DirBuilder::new().mode(0o700).create(&dir).map_err(io)?;
    live.dirs.push(dir.clone());
    let bytes: usize = b.opts.secrets.iter().map(|s| s.data.len() + 4096).sum();
    let flags = nix::mount::MsFlags::MS_NOSUID | nix::mount::MsFlags::MS_NODEV | nix::mount::MsFlags::MS_NOEXEC;
    nix::mount::mount(
        Some("tmpfs"),
        &dir,
        Some("tmpfs"),
        flags,
        Some(format!("mode=0700,size={}", bytes + 65536).as_str()),
    )
    .map_err(|e| io(e.into()))?;
    live.host_mounts.push(dir.clone());
    Ok(dir)
}

fn write_secret(b: &Builder<'_>, dir: &Path, secret: &run_mount::SecretMount) -> Result<PathBuf> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let Some(given) = b.opts.secrets.iter().find(|s| s.id == secret.id) else {
        return Err(BuildError::io(
            format!("secret {}", secret.id),
            std::io::Error::other("not given"),
        ));
    };
    let io = |e: std::io::Error| BuildError::io(format!("writing secret {} to its tmpfs", secret.id), e);
    // Named by position, not id: an id is the user's text, never a path.
    let count = std::fs::read_dir(dir).map_err(io)?.count();
    let path = dir.join(format!("secret-{count}"));
    let mut file = std::fs::File::options()
        .write(true)
        .create_new(true)
        .mode(secret.mode & 0o7777)
        .open(&path)
        .map_err(io)?;
    file.write_all(&given.data).map_err(io)?;
    std::os::unix::fs::fchown(&file, Some(secret.uid), Some(secret.gid)).map_err(io)?;
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(secret.mode & 0o7777))
        .map_err(io)?;
    Ok(path)
}
