//! The mounts of a container's root: the spec's mounts, the standard devices, the
//! switch to the new root, and the masked and read-only paths.

use super::child::{ChildError, Fail};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::{makedev, Mode, SFlag};
use oci_spec::runtime::{Mount, Spec};
use std::os::fd::AsFd;
use std::path::Path;
use strata_inroot::Root;

/// Flags and filesystem data a mount's option list stands for.
fn parse_options(options: &[String]) -> (MsFlags, MsFlags, String) {
    let mut flags = MsFlags::empty();
    let mut propagation = MsFlags::empty();
    let mut data = Vec::new();
    for o in options {
        match o.as_str() {
            "ro" => flags |= MsFlags::MS_RDONLY,
            "rw" => flags &= !MsFlags::MS_RDONLY,
            "nosuid" => flags |= MsFlags::MS_NOSUID,
            "nodev" => flags |= MsFlags::MS_NODEV,
            "noexec" => flags |= MsFlags::MS_NOEXEC,
            "sync" => flags |= MsFlags::MS_SYNCHRONOUS,
            "bind" => flags |= MsFlags::MS_BIND,
            "rbind" => flags |= MsFlags::MS_BIND | MsFlags::MS_REC,
            "relatime" => flags |= MsFlags::MS_RELATIME,
            "strictatime" => flags |= MsFlags::MS_STRICTATIME,
            "noatime" => flags |= MsFlags::MS_NOATIME,
            "nodiratime" => flags |= MsFlags::MS_NODIRATIME,
            "private" => propagation |= MsFlags::MS_PRIVATE,
            "rprivate" => propagation |= MsFlags::MS_PRIVATE | MsFlags::MS_REC,
            "slave" => propagation |= MsFlags::MS_SLAVE,
            "rslave" => propagation |= MsFlags::MS_SLAVE | MsFlags::MS_REC,
            "shared" => propagation |= MsFlags::MS_SHARED,
            "rshared" => propagation |= MsFlags::MS_SHARED | MsFlags::MS_REC,
            other => data.push(other.to_string()),
        }
    }
    (flags, propagation, data.join(","))
}

/// Performs one of the spec's mounts inside the container's root. The destination is
/// resolved inside the root (an image's symlinks cannot lead it to the host) and the
/// mount goes onto the resolved object itself, through its `/proc/self/fd` path.
pub fn mount_entry(root: &Root, m: &Mount) -> Result<(), ChildError> {
    let options = m.options().clone().unwrap_or_default();
    let (flags, propagation, data) = parse_options(&options);
    let typ = m.typ().clone().unwrap_or_default();
    let is_bind = flags.contains(MsFlags::MS_BIND) || typ == "bind";
    let what = || {
        format!(
            "mounting {} on {}",
            m.source().as_ref().map_or("none".into(), |s| s.display().to_string()),
            m.destination().display()
        )
    };
    let source = m.source().clone().unwrap_or_else(|| typ.clone().into());
    let target = root
        .mount_target(m.destination(), !is_bind || source.is_dir())
        .fail(125, what())?;
    let dest = target.proc_path();
    if is_bind {
        let bind = MsFlags::MS_BIND | (flags & MsFlags::MS_REC);
        mount(Some(&source), &dest, None::<&str>, bind, None::<&str>).fail(125, what())?;
        // Bind mounts take their flags (ro, nosuid, …) only on a remount.
        let extra = flags & !(MsFlags::MS_BIND | MsFlags::MS_REC);
        if !extra.is_empty() {
            // The fd names the directory under the new mount: reach the mount itself.
            let mounted = root.resolve(m.destination()).fail(125, what())?;
            mount(
                None::<&str>,
                &mounted.proc_path(),
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | extra,
                None::<&str>,
            )
            .fail(125, what())?;
        }
    } else {
        let data = (!data.is_empty()).then_some(data.as_str());
        mount(Some(&source), &dest, Some(typ.as_str()), flags, data).fail(125, what())?;
    }
    if !propagation.is_empty() {
        let mounted = root.resolve(m.destination()).fail(125, what())?;
        mount(
            None::<&str>,
            &mounted.proc_path(),
            None::<&str>,
            propagation,
            None::<&str>,
        )
        .fail(125, what())?;
    }
    Ok(())
}

/// Makes a device node named `name` in the directory `dir` with exactly `mode`; false
/// if something is there already.
fn make_node(
    dir: &std::fs::File,
    name: &str,
    kind: SFlag,
    mode: Mode,
    dev: nix::libc::dev_t,
) -> Result<bool, ChildError> {
    match nix::sys::stat::mknodat(dir.as_fd(), name, kind, mode, dev) {
        Ok(()) => {}
        Err(nix::errno::Errno::EEXIST) => return Ok(false),
        Err(e) => return Err(e).fail(125, format!("creating /dev/{name}")),
    }
    // mknod's mode is subject to the umask.
    nix::sys::stat::fchmodat(dir.as_fd(), name, mode, nix::sys::stat::FchmodatFlags::NoFollowSymlink)
        .or_else(|e| match e {
            // Kernels before 6.6 have no fchmodat2: the node was just made, by us.
            nix::errno::Errno::EOPNOTSUPP | nix::errno::Errno::ENOSYS => {
                nix::sys::stat::fchmodat(dir.as_fd(), name, mode, nix::sys::stat::FchmodatFlags::FollowSymlink)
            }
            e => Err(e),
        })
        .fail(125, format!("chmod /dev/{name}"))?;
    Ok(true)
}

/// The devices every container has (OCI runtime spec, "Default Devices"), and the
/// conventional links in `/dev`, made in the root's /dev as resolved inside it.
pub fn create_devices(root: &Root) -> Result<(), ChildError> {
    let dev = root
        .dir_fd(Path::new("/dev"))
        .fail(125, "opening the container's /dev")?;
    for (name, major, minor) in [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ] {
        let mode = Mode::from_bits_truncate(0o666);
        make_node(&dev, name, SFlag::S_IFCHR, mode, makedev(major, minor))?;
    }
    for (link, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
        ("core", "/proc/kcore"),
    ] {
        // As runc: /dev/core only where the kernel has /proc/kcore.
        if link == "core" && !Path::new("/proc/kcore").exists() {
            continue;
        }
        match nix::unistd::symlinkat(target, dev.as_fd(), link) {
            Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
            Err(e) => return Err(e).fail(125, format!("linking /dev/{link}")),
        }
    }
    Ok(())
}

/// Makes `rootfs` the root: pivot_root with the old root stacked on the new one and
/// detached at once (runc's trick: no directory is needed for the old root).
pub fn pivot_root(rootfs: &Path) -> Result<(), ChildError> {
    nix::unistd::chdir(rootfs).fail(125, "entering the container root")?;
    nix::unistd::pivot_root(".", ".").fail(125, "pivot_root")?;
    umount2(".", MntFlags::MNT_DETACH).fail(125, "detaching the old root")?;
    nix::unistd::chdir("/").fail(125, "chdir /")
}

/// The spec's `linux.devices` (the host's, for `--privileged`), made under the new /dev
/// (resolved inside the root) with their modes and owners; ones already there are left.
pub fn create_spec_devices(root: &Root, spec: &Spec) -> Result<(), ChildError> {
    let devices = spec
        .linux()
        .as_ref()
        .and_then(|l| l.devices().clone())
        .unwrap_or_default();
    for device in devices {
        let Ok(relative) = device.path().strip_prefix("/dev") else {
            continue;
        };
        let (Some(parent), Some(name)) = (relative.parent(), relative.file_name().and_then(|n| n.to_str())) else {
            continue;
        };
        let dir = root
            .dir_fd(&Path::new("/dev").join(parent))
            .fail(125, format!("creating the directory of {}", device.path().display()))?;
        let kind = match device.typ() {
            oci_spec::runtime::LinuxDeviceType::B => SFlag::S_IFBLK,
            _ => SFlag::S_IFCHR,
        };
        let mode = Mode::from_bits_truncate(device.file_mode().unwrap_or(0o600));
        let dev = makedev(device.major() as u64, device.minor() as u64);
        if !make_node(&dir, name, kind, mode, dev)? {
            continue;
        }
        nix::unistd::fchownat(
            dir.as_fd(),
            name,
            device.uid().map(nix::unistd::Uid::from_raw),
            device.gid().map(nix::unistd::Gid::from_raw),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .fail(125, format!("chown {}", device.path().display()))?;
    }
    Ok(())
}

/// Hides masked paths (bind of /dev/null, or an empty read-only tmpfs for directories)
/// and makes the read-only paths read-only. Paths the image lacks are skipped.
pub fn mask_and_protect(spec: &Spec) -> Result<(), ChildError> {
    let linux = spec.linux().clone().unwrap_or_default();
    for path in linux.masked_paths().clone().unwrap_or_default() {
        let p = Path::new(&path);
        let result = match std::fs::metadata(p) {
            Err(_) => continue,
            Ok(m) if m.is_dir() => mount(Some("tmpfs"), p, Some("tmpfs"), MsFlags::MS_RDONLY, None::<&str>),
            Ok(_) => mount(Some("/dev/null"), p, None::<&str>, MsFlags::MS_BIND, None::<&str>),
        };
        result.fail(125, format!("masking {path}"))?;
    }
    for path in linux.readonly_paths().clone().unwrap_or_default() {
        let p = Path::new(&path);
        if !p.exists() {
            continue;
        }
        mount(
            Some(p),
            p,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .fail(125, format!("protecting {path}"))?;
        let ro = MsFlags::MS_BIND
            | MsFlags::MS_REMOUNT
            | MsFlags::MS_RDONLY
            | MsFlags::MS_NOSUID
            | MsFlags::MS_NODEV
            | MsFlags::MS_NOEXEC;
        mount(None::<&str>, p, None::<&str>, ro, None::<&str>).fail(125, format!("protecting {path}"))?;
    }
    Ok(())
}

/// Remounts the root read-only (`--read-only`).
pub fn readonly_root() -> Result<(), ChildError> {
    let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
    mount(None::<&str>, "/", None::<&str>, flags, None::<&str>).fail(125, "remounting / read-only")
}
