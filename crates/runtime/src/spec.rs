//! The OCI runtime spec (`config.json`) for a container, with Docker's defaults:
//! namespaces, mounts, masked and read-only paths, and its capability set.

use crate::error::{Result, RuntimeError};
use oci_spec::runtime::{
    Capability, LinuxBuilder, LinuxCapabilitiesBuilder, LinuxDevice, LinuxDeviceBuilder, LinuxDeviceCgroupBuilder,
    LinuxDeviceType, LinuxNamespaceBuilder, LinuxNamespaceType, LinuxResourcesBuilder, Mount, MountBuilder,
    PosixRlimitBuilder, PosixRlimitType, ProcessBuilder, RootBuilder, Spec, SpecBuilder, UserBuilder,
};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use strata_containers::ContainerConfig;
use strata_containers::MAX_ID;

/// Docker's default capabilities (moby `oci/caps/defaults.go`).
pub const DEFAULT_CAPABILITIES: [Capability; 14] = [
    Capability::Chown,
    Capability::DacOverride,
    Capability::Fsetid,
    Capability::Fowner,
    Capability::Mknod,
    Capability::NetRaw,
    Capability::Setgid,
    Capability::Setuid,
    Capability::Setfcap,
    Capability::Setpcap,
    Capability::NetBindService,
    Capability::SysChroot,
    Capability::Kill,
    Capability::AuditWrite,
];

/// The host's device nodes under /dev (not the pseudo-terminals, shared memory or
/// queues, which the container has its own of), for `--privileged`.
fn host_devices() -> Vec<LinuxDevice> {
    fn walk(dir: &Path, out: &mut Vec<LinuxDevice>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            let kind = meta.file_type();
            if kind.is_dir() {
                if !matches!(entry.file_name().to_str(), Some("pts" | "shm" | "mqueue" | "fd")) {
                    walk(&path, out);
                }
                continue;
            }
            use std::os::unix::fs::{FileTypeExt, MetadataExt};
            let typ = if kind.is_char_device() {
                LinuxDeviceType::C
            } else if kind.is_block_device() {
                LinuxDeviceType::B
            } else {
                continue;
            };
            if matches!(path.to_str(), Some("/dev/console" | "/dev/ptmx" | "/dev/tty")) {
                continue;
            }
            let rdev = meta.rdev();
            if let Ok(device) = LinuxDeviceBuilder::default()
                .path(path.clone())
                .typ(typ)
                .major(nix::sys::stat::major(rdev) as i64)
                .minor(nix::sys::stat::minor(rdev) as i64)
                .file_mode(meta.mode() & 0o7777)
                .uid(meta.uid())
                .gid(meta.gid())
                .build()
            {
                out.push(device);
            }
        }
    }
    let mut out = Vec::new();
    walk(Path::new("/dev"), &mut out);
    out
}

/// `--device`s: each host device node, as the container's `linux.devices` entry (made
/// at its path in the container's /dev) and the device cgroup's rule for it
/// (`c MAJOR:MINOR PERMISSIONS`).
pub fn mapped_devices(config: &ContainerConfig) -> Result<Vec<(LinuxDevice, String)>> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    config
        .devices
        .iter()
        .map(|d| {
            let meta = std::fs::metadata(&d.host)
                .map_err(|e| RuntimeError::io(format!("--device {}: the host device", d.host), e))?;
            let (typ, letter) = match meta.file_type() {
                t if t.is_char_device() => (LinuxDeviceType::C, 'c'),
                t if t.is_block_device() => (LinuxDeviceType::B, 'b'),
                _ => {
                    return Err(RuntimeError::Invalid(format!(
                        "--device {}: not a character or block device",
                        d.host
                    )))
                }
            };
            let (major, minor) = (nix::sys::stat::major(meta.rdev()), nix::sys::stat::minor(meta.rdev()));
            let device = LinuxDeviceBuilder::default()
                .path(PathBuf::from(&d.container))
                .typ(typ)
                .major(major as i64)
                .minor(minor as i64)
                .file_mode(meta.mode() & 0o7777)
                .uid(0u32)
                .gid(0u32)
                .build()
                .map_err(|e| RuntimeError::Invalid(format!("--device {}: {e}", d.host)))?;
            Ok((device, format!("{letter} {major}:{minor} {}", d.permissions)))
        })
        .collect()
}

/// Every capability this engine holds (its bounding set), which is what `ALL` grants:
/// one it lacks could not be handed on.
pub(crate) fn all_capabilities() -> HashSet<Capability> {
    let held = caps::read(None, caps::CapSet::Bounding).unwrap_or_default();
    held.iter()
        .filter_map(|c| c.to_string().trim_start_matches("CAP_").parse::<Capability>().ok())
        .collect()
}

/// Docker's rules: `--cap-add ALL` starts from every capability, `--cap-drop ALL` from
/// none, anything else from the default set; then the drops, then the adds.
fn capabilities(config: &ContainerConfig) -> HashSet<Capability> {
    if config.privileged {
        return all_capabilities();
    }
    let parse = |names: &[String]| -> HashSet<Capability> {
        names
            .iter()
            .filter_map(|n| n.strip_prefix("CAP_").and_then(|b| b.parse().ok()))
            .collect()
    };
    let has_all = |names: &[String]| names.iter().any(|n| n == "ALL");
    let mut set: HashSet<Capability> = if has_all(&config.cap_add) {
        all_capabilities()
    } else if has_all(&config.cap_drop) {
        HashSet::new()
    } else {
        DEFAULT_CAPABILITIES.into_iter().collect()
    };
    for c in parse(&config.cap_drop) {
        set.remove(&c);
    }
    set.extend(parse(&config.cap_add));
    set
}

/// Docker's masked paths.
const MASKED: [&str; 10] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
];

/// Docker's read-only paths.
const READONLY: [&str; 5] = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

/// A user resolved against the image's /etc/passwd and /etc/group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    /// The home directory from the image's /etc/passwd ("/" when unknown), for HOME.
    pub home: String,
}

/// Most bytes of an image's /etc/passwd or /etc/group that strata reads.
const MAX_DB_BYTES: u64 = 8 << 20;

/// The image's (or running container's) `/etc/passwd` or `/etc/group`, read on the
/// host through the in-root resolver: a regular file only, never more than
/// MAX_DB_BYTES. A FIFO or device there (which would hang or flood the host) is
/// refused; a missing file reads as empty.
fn read_db(root: &strata_inroot::Root, file: &str) -> Result<String> {
    let bytes = root
        .read_regular(Path::new(file), MAX_DB_BYTES)
        .map_err(|e| refused_db(file, e))?;
    Ok(String::from_utf8_lossy(&bytes.unwrap_or_default()).into_owned())
}

fn refused_db(file: &str, e: strata_inroot::InRootError) -> RuntimeError {
    RuntimeError::Start {
        code: 125,
        message: format!("reading the container's {file}: {e}"),
    }
}

/// A user or group ID from `--user` or the image's passwd/group files, checked: a
/// malformed or out-of-range field is refused, never read as 0 (root).
fn id(text: &str, what: &str, name: &str) -> Result<u32> {
    match text.parse::<u32>() {
        Ok(n) if n <= MAX_ID => Ok(n),
        _ => Err(RuntimeError::Start {
            code: 125,
            message: format!(
                "{what} {name}: ID {text:?} is not valid: user and group IDs must be in the range 0-{MAX_ID}"
            ),
        }),
    }
}

/// Whether a passwd or group entry (`name`, `id`) is the one `wanted` names: by ID when
/// `wanted` is a number, else by name.
fn names(name: &str, id: &str, wanted: &str) -> bool {
    match wanted.parse::<u32>() {
        Ok(n) => id.parse::<u32>() == Ok(n),
        Err(_) => name == wanted,
    }
}

/// `user[:group]`, each a name or a number, as Docker resolves them in the image.
pub fn resolve_user(rootfs: &Path, spec: &str) -> Result<ResolvedUser> {
    let root = strata_inroot::Root::open(rootfs).map_err(|e| refused_db("/etc/passwd", e))?;
    let passwd = read_db(&root, "/etc/passwd")?;
    let group = read_db(&root, "/etc/group")?;
    let (user, grp) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let user = if user.is_empty() { "0" } else { user };
    // A number is always a UID, as in runc: an entry *named* "1000" with UID 0 must not
    // make `-u 1000` root.
    let entry = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 4 && names(f[0], f[2], user));
    let home = entry
        .as_ref()
        .and_then(|f| f.get(5))
        .filter(|h| !h.is_empty())
        .map_or("/".to_string(), |h| h.to_string());
    let (uid, mut gid, name) = match (&entry, user.parse::<u32>()) {
        (Some(f), _) => (
            id(f[2], "user", user)?,
            id(f[3], "group of user", user)?,
            Some(f[0].to_string()),
        ),
        (None, Ok(_)) => (id(user, "user", user)?, 0, None),
        (None, Err(_)) => {
            return Err(RuntimeError::Start {
                code: 125,
                message: format!("unable to find user {user}: no matching entries in passwd file"),
            })
        }
    };
    let groups: Vec<Vec<&str>> = group
        .lines()
        .map(|l| l.split(':').collect())
        .filter(|f: &Vec<&str>| f.len() >= 3)
        .collect();
    if let Some(g) = grp {
        gid = match (groups.iter().find(|f| names(f[0], f[2], g)), g.parse::<u32>()) {
            (Some(f), _) => id(f[2], "group", g)?,
            (None, Ok(_)) => id(g, "group", g)?,
            (None, Err(_)) => {
                return Err(RuntimeError::Start {
                    code: 125,
                    message: format!("unable to find group {g}: no matching entries in group file"),
                })
            }
        };
    }
    let additional_gids = match (&name, grp) {
        (Some(n), None) => groups
            .iter()
            .filter(|f| f.get(3).is_some_and(|m| m.split(',').any(|x| x == n)))
            .map(|f| id(f[2], "group", f[0]))
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .filter(|g| *g != gid)
            .collect(),
        _ => Vec::new(),
    };
    Ok(ResolvedUser {
        uid,
        gid,
        additional_gids,
        home,
    })
}

/// The process's rlimits: the engine's open-files limit, then `--ulimit`s over it.
fn rlimits(ulimits: &[strata_containers::resources::Ulimit]) -> Result<Vec<oci_spec::runtime::PosixRlimit>> {
    let (soft, hard) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap_or((1024, 1024));
    let mut out = Vec::new();
    if !ulimits.iter().any(|u| u.name == "nofile") {
        out.push(
            PosixRlimitBuilder::default()
                .typ(PosixRlimitType::RlimitNofile)
                .soft(soft)
                .hard(hard)
                .build()
                .expect("rlimit"),
        );
    }
    let limit = |n: i64| if n < 0 { u64::MAX } else { n as u64 };
    for u in ulimits {
        let typ: PosixRlimitType =
            serde_json::from_value(serde_json::json!(format!("RLIMIT_{}", u.name.to_uppercase())))
                .map_err(|_| RuntimeError::Invalid(format!("--ulimit {}: not a resource the runtime knows", u.name)))?;
        out.push(
            PosixRlimitBuilder::default()
                .typ(typ)
                .soft(limit(u.soft))
                .hard(limit(u.hard))
                .build()
                .expect("rlimit"),
        );
    }
    Ok(out)
}

/// `--ipc host`: the host's /dev/shm bound over the container's own (its namespace is
/// the host's already: none of its own was asked for).
pub fn host_ipc(spec: &mut Spec) {
    let mounts = spec.mounts().clone().unwrap_or_default().into_iter().map(|m| {
        if m.destination() == Path::new("/dev/shm") {
            bind("/dev/shm", Path::new("/dev/shm"), false)
        } else {
            m
        }
    });
    spec.set_mounts(Some(mounts.collect()));
}

/// `--init`: strata's init, bind-mounted read-only where Docker mounts its own, runs
/// the container's command as its child.
pub fn with_init(spec: &mut Spec, init: &Path) {
    let mut mounts = spec.mounts().clone().unwrap_or_default();
    mounts.push(bind(strata_init::PATH_IN_CONTAINER, init, true));
    spec.set_mounts(Some(mounts));
    if let Some(process) = spec.process_mut() {
        let mut args = vec![strata_init::PATH_IN_CONTAINER.to_string(), "--".to_string()];
        args.extend(process.args().clone().unwrap_or_default());
        process.set_args(Some(args));
    }
}

/// `--group-add` groups: numbers as they are, names from the container's /etc/group.
pub fn resolve_groups(rootfs: &Path, wanted: &[String]) -> Result<Vec<u32>> {
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let root = strata_inroot::Root::open(rootfs).map_err(|e| refused_db("/etc/group", e))?;
    let group = read_db(&root, "/etc/group")?;
    wanted
        .iter()
        .map(|g| {
            let entry = group
                .lines()
                .map(|l| l.split(':').collect::<Vec<_>>())
                .find(|f| f.len() >= 3 && names(f[0], f[2], g));
            match (entry, g.parse::<u32>()) {
                (Some(f), _) => id(f[2], "group", g),
                (None, Ok(_)) => id(g, "group", g),
                (None, Err(_)) => Err(RuntimeError::Start {
                    code: 125,
                    message: format!("unable to find group {g}: no matching entries in group file"),
                }),
            }
        })
        .collect()
}

/// HOME from the user's passwd entry unless the environment sets it (as runc does).
fn with_home(env: &[String], user: &ResolvedUser) -> Vec<String> {
    let mut env = env.to_vec();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", user.home));
    }
    env
}

fn mount(dest: &str, typ: &str, source: &str, options: &[&str]) -> Mount {
    MountBuilder::default()
        .destination(dest)
        .typ(typ)
        .source(source)
        .options(options.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .build()
        .expect("mount fields are set")
}

/// A user's `-v`/`--mount` bind (also how `cp` shows a stopped container's volumes).
pub(crate) fn bind(dest: &str, source: &Path, readonly: bool) -> Mount {
    let mut options = vec!["rbind", "rprivate"];
    if readonly {
        options.push("ro");
    }
    mount(dest, "bind", &source.to_string_lossy(), &options)
}

/// The spec for `config`, whose bundle directory is `bundle` (rootfs at `bundle/rootfs`).
/// `netns`: a prepared network namespace to join; without one the container gets a new,
/// loopback-only namespace (or the host's with `--network host`).
pub fn build(config: &ContainerConfig, bundle: &Path, user: &ResolvedUser, netns: Option<&Path>) -> Result<Spec> {
    let host_network = config.network == "host";
    // Docker's default /dev/shm is 64 MiB; --shm-size changes it.
    let shm_size = format!(
        "size={}k",
        config.resources.shm_size.map_or(65536, |b| (b + 1023) / 1024)
    );
    let mut mounts = vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"]),
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
        ),
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", &shm_size],
        ),
        mount("/dev/mqueue", "mqueue", "mqueue", &["nosuid", "noexec", "nodev"]),
    ];
    // sysfs can only be mounted by the owner of the network namespace.
    mounts.push(if host_network {
        bind("/sys", Path::new("/sys"), true)
    } else {
        let access = if config.privileged { "rw" } else { "ro" };
        mount("/sys", "sysfs", "sysfs", &["nosuid", "noexec", "nodev", access])
    });
    for file in ["hostname", "hosts", "resolv.conf"] {
        mounts.push(bind(&format!("/etc/{file}"), &bundle.join(file), false));
    }
    for b in &config.binds {
        mounts.push(bind(&b.destination, Path::new(&b.source), b.readonly));
    }
    for t in &config.tmpfs {
        let (dest, extra) = t.split_once(':').unwrap_or((t.as_str(), ""));
        let mut options = vec!["nosuid", "nodev", "noexec"];
        options.extend(extra.split(',').filter(|o| !o.is_empty()));
        mounts.push(mount(dest, "tmpfs", "tmpfs", &options));
    }
    let caps = capabilities(config);
    // Docker's order: the profile's capability rules look at the bounding set.
    let seccomp =
        crate::seccomp::for_container(config, &caps).map_err(|message| RuntimeError::Start { code: 125, message })?;
    let capabilities = LinuxCapabilitiesBuilder::default()
        .bounding(caps.clone())
        .effective(caps.clone())
        .permitted(caps)
        // Explicitly empty: the builder's defaults would add runc's three.
        .inheritable(HashSet::new())
        .ambient(HashSet::new())
        .build()
        .expect("capability sets are set");
    let rlimits = rlimits(&config.resources.ulimits)?;
    let process = ProcessBuilder::default()
        .terminal(config.tty)
        .args(config.args())
        .env(with_home(&config.env, user))
        .cwd(PathBuf::from(&config.working_dir))
        .user(
            UserBuilder::default()
                .uid(user.uid)
                .gid(user.gid)
                .additional_gids(user.additional_gids.clone())
                .build()
                .expect("user"),
        )
        .capabilities(capabilities)
        .rlimits(rlimits)
        .no_new_privileges(config.no_new_privileges)
        .build()
        .expect("process fields are set");
    let mut process = process;
    process.set_oom_score_adj(config.oom_score_adj.map(|a| a as i32));
    let mut kinds = vec![LinuxNamespaceType::Mount];
    // `--uts host`, `--pid host`, `--ipc host`: the host's namespaces (none of the
    // container's own). Another container's are joined by path (`shared_namespaces`).
    if !config.namespaces.uts_host {
        kinds.push(LinuxNamespaceType::Uts);
    }
    if config.pid_mode.as_deref() != Some("host") {
        kinds.push(LinuxNamespaceType::Pid);
    }
    if config.ipc_mode.as_deref() != Some("host") {
        kinds.push(LinuxNamespaceType::Ipc);
    }
    if config.namespaces.cgroupns_private {
        kinds.push(LinuxNamespaceType::Cgroup);
    }
    if !host_network {
        kinds.push(LinuxNamespaceType::Network);
    }
    let namespaces: Vec<_> = kinds
        .into_iter()
        .map(|k| {
            let mut b = LinuxNamespaceBuilder::default().typ(k);
            if let (LinuxNamespaceType::Network, Some(path)) = (k, netns) {
                b = b.path(path);
            }
            b.build().expect("namespace")
        })
        .collect();
    // --privileged: nothing masked or read-only, every host device, no device filter.
    let (masked, readonly): (&[&str], &[&str]) = if config.privileged {
        (&[], &[])
    } else {
        (&MASKED, &READONLY)
    };
    let mut linux = LinuxBuilder::default()
        .namespaces(namespaces)
        .masked_paths(masked.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .readonly_paths(readonly.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .sysctl(
            config
                .sysctls
                .clone()
                .into_iter()
                .collect::<std::collections::HashMap<_, _>>(),
        )
        .build()
        .expect("linux fields are set");
    linux.set_seccomp(seccomp);
    let mapped = mapped_devices(config)?;
    if !mapped.is_empty() && !config.privileged {
        linux.set_devices(Some(mapped.into_iter().map(|(device, _)| device).collect()));
    }
    if config.privileged {
        linux.set_devices(Some(host_devices()));
        let allow_all = LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .access("rwm")
            .build()
            .expect("device rule");
        let resources = LinuxResourcesBuilder::default()
            .devices(vec![allow_all])
            .build()
            .expect("resources");
        linux.set_resources(Some(resources));
    }
    Ok(SpecBuilder::default()
        .version("1.0.2")
        .root(
            RootBuilder::default()
                .path("rootfs")
                .readonly(config.read_only)
                .build()
                .expect("root"),
        )
        .hostname(config.hostname.clone())
        .domainname(config.domainname.clone())
        .mounts(mounts)
        .process(process)
        .linux(linux)
        .build()
        .expect("spec fields are set"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rootfs() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::fs::write(
            dir.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nweb:x:33:33::/var/www:/bin/false\n1000:x:0:0::/root:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("etc/group"),
            "root:x:0:\nwww:x:33:\nstaff:x:50:web,other\n77:x:0:\n",
        )
        .unwrap();
        dir
    }

    #[test]
    fn a_user_or_group_name_that_looks_like_a_number_never_shadows_the_id() {
        let r = rootfs();
        let u = resolve_user(r.path(), "1000").unwrap();
        assert_eq!(
            (u.uid, u.gid),
            (1000, 0),
            "1000 is UID 1000, not the entry named 1000 (UID 0)"
        );
        assert_eq!(resolve_user(r.path(), "33:77").unwrap().gid, 77);
        // A number with a leading zero is the same UID, with its entry's group.
        let padded = resolve_user(r.path(), "033").unwrap();
        assert_eq!((padded.uid, padded.gid, padded.home.as_str()), (33, 33, "/var/www"));
    }

    #[test]
    fn users_resolve_by_name_or_number_with_groups() {
        let r = rootfs();
        let u = |s: &str| resolve_user(r.path(), s);
        assert_eq!(
            u("").unwrap(),
            ResolvedUser {
                uid: 0,
                gid: 0,
                additional_gids: vec![],
                home: "/root".into()
            }
        );
        assert_eq!(
            u("web").unwrap(),
            ResolvedUser {
                uid: 33,
                gid: 33,
                additional_gids: vec![50],
                home: "/var/www".into()
            }
        );
        assert_eq!(
            u("web:staff").unwrap(),
            ResolvedUser {
                uid: 33,
                gid: 50,
                additional_gids: vec![],
                home: "/var/www".into()
            }
        );
        assert_eq!(
            u("1234:55").unwrap(),
            ResolvedUser {
                uid: 1234,
                gid: 55,
                additional_gids: vec![],
                home: "/".into()
            }
        );
        assert!(u("nobody-here")
            .unwrap_err()
            .to_string()
            .contains("unable to find user nobody-here"));
        assert!(u("web:nogroup")
            .unwrap_err()
            .to_string()
            .contains("unable to find group"));
    }
}
