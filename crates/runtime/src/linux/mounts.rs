//! The mounts of a container's root: the spec's mounts, the standard devices, the
//! switch to the new root, and the masked and read-only paths.

use super::child::{ChildError, Fail};
use super::path::secure_join;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::{makedev, mknod, Mode, SFlag};
use oci_spec::runtime::{Mount, Spec};
use std::os::unix::fs::symlink;
use std::path::Path;

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

/// Performs one of the spec's mounts inside `rootfs`.
pub fn mount_entry(rootfs: &Path, m: &Mount) -> Result<(), ChildError> {
    let dest = secure_join(rootfs, m.destination()).fail(
        125,
        format!("resolving mount destination {}", m.destination().display()),
    )?;
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
    if is_bind {
        let source = m.source().clone().unwrap_or_default();
        if source.is_dir() {
            std::fs::create_dir_all(&dest).fail(125, what())?;
        } else {
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent).fail(125, what())?;
            }
            if !dest.exists() {
                std::fs::write(&dest, b"").fail(125, what())?;
            }
        }
        let bind = MsFlags::MS_BIND | (flags & MsFlags::MS_REC);
        mount(Some(&source), &dest, None::<&str>, bind, None::<&str>).fail(125, what())?;
        // Bind mounts take their flags (ro, nosuid, …) only on a remount.
        let extra = flags & !(MsFlags::MS_BIND | MsFlags::MS_REC);
        if !extra.is_empty() {
            mount(
                None::<&str>,
                &dest,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | extra,
                None::<&str>,
            )
            .fail(125, what())?;
        }
    } else {
        std::fs::create_dir_all(&dest).fail(125, what())?;
        let source = m.source().clone().unwrap_or_else(|| typ.clone().into());
        let data = (!data.is_empty()).then_some(data.as_str());
        mount(Some(&source), &dest, Some(typ.as_str()), flags, data).fail(125, what())?;
    }
    if !propagation.is_empty() {
        mount(None::<&str>, &dest, None::<&str>, propagation, None::<&str>).fail(125, what())?;
    }
    Ok(())
}

/// Makes a device node with exactly `mode`; false if one is there already.
fn make_node(path: &Path, kind: SFlag, mode: Mode, dev: nix::libc::dev_t) -> Result<bool, ChildError> {
    match mknod(path, kind, mode, dev) {
        Ok(()) => {}
        Err(nix::errno::Errno::EEXIST) => return Ok(false),
        Err(e) => return Err(e).fail(125, format!("creating {}", path.display())),
    }
    // mknod's mode is subject to the umask.
    nix::sys::stat::fchmodat(
        nix::fcntl::AT_FDCWD,
        path,
        mode,
        nix::sys::stat::FchmodatFlags::FollowSymlink,
    )
    .fail(125, format!("chmod {}", path.display()))?;
    Ok(true)
}

/// The devices every container has (OCI runtime spec, "Default Devices"), and the
/// conventional links in `/dev`.
pub fn create_devices(rootfs: &Path) -> Result<(), ChildError> {
    let dev = rootfs.join("dev");
    for (name, major, minor) in [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ] {
        let mode = Mode::from_bits_truncate(0o666);
        make_node(&dev.join(name), SFlag::S_IFCHR, mode, makedev(major, minor))?;
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
        match symlink(target, dev.join(link)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
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
/// with their modes and owners; ones already there are left.
pub fn create_spec_devices(rootfs: &Path, spec: &Spec) -> Result<(), ChildError> {
    let devices = spec
        .linux()
        .as_ref()
        .and_then(|l| l.devices().clone())
        .unwrap_or_default();
    for device in devices {
        let Ok(relative) = device.path().strip_prefix("/dev") else {
            continue;
        };
        let path = rootfs.join("dev").join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).fail(125, format!("creating {}", parent.display()))?;
        }
        let kind = match device.typ() {
            oci_spec::runtime::LinuxDeviceType::B => SFlag::S_IFBLK,
            _ => SFlag::S_IFCHR,
        };
        let mode = Mode::from_bits_truncate(device.file_mode().unwrap_or(0o600));
        let dev = makedev(device.major() as u64, device.minor() as u64);
        if !make_node(&path, kind, mode, dev)? {
            continue;
        }
        let owner = (
            device.uid().map(nix::unistd::Uid::from_raw),
            device.gid().map(nix::unistd::Gid::from_raw),
        );
        nix::unistd::chown(&path, owner.0, owner.1).fail(125, format!("chown {}", device.path().display()))?;
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
