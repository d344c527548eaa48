//! Host safety against hostile images and containers (issue 15): host-side operations
//! on a container's root resolve paths inside it (openat2 RESOLVE_IN_ROOT) and work on
//! what they resolved. Each test watches a host directory the attack aims at.

mod harness;

use harness::images::busybox_rootfs;
#[cfg(feature = "race-points")]
use harness::race::Paused;
use harness::TestRoot;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

/// The busybox rootfs with `extra` entries appended (later entries replace earlier ones
/// of the same path when applied).
fn busybox_with(t: &TestRoot, tag: &str, extra: &[(&str, tar::EntryType, &str)]) {
    let plain = t.path("busybox.tar");
    if !plain.exists() {
        busybox_rootfs(&plain);
    }
    let mut out = tar::Builder::new(Vec::new());
    let mut source = tar::Archive::new(std::fs::File::open(&plain).unwrap());
    for entry in source.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().into_owned();
        if extra.iter().any(|(p, _, _)| Path::new(p) == path) {
            continue;
        }
        let mut header = entry.header().clone();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
        out.append_data(&mut header, &path, &data[..]).unwrap();
    }
    for (path, kind, target) in extra {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(*kind);
        h.set_mode(if *kind == tar::EntryType::Directory {
            0o755
        } else {
            0o644
        });
        h.set_size(0);
        if *kind == tar::EntryType::Symlink {
            h.set_link_name(target).unwrap();
        }
        out.append_data(&mut h, path, &[][..]).unwrap();
    }
    let tar = t.path(&format!("{}.tar", tag.replace(':', "-")));
    std::fs::write(&tar, out.into_inner().unwrap()).unwrap();
    t.ok(&["import", tar.to_str().unwrap(), tag]);
}

/// A host directory an attack aims at, and what it held before.
struct Witness {
    dir: PathBuf,
}

impl Witness {
    fn new(t: &TestRoot, name: &str) -> Witness {
        let dir = t.path(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("keep"), b"host file\n").unwrap();
        Witness { dir }
    }

    fn assert_untouched(&self, what: &str) {
        let mut names: Vec<String> = std::fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["keep"],
            "{what} wrote into the host directory {}",
            self.dir.display()
        );
        assert_eq!(std::fs::read(self.dir.join("keep")).unwrap(), b"host file\n", "{what}");
    }
}

/// Runs strata with `args`, killing it if it has not ended after a generous bound: a
/// hang is the failure these tests look for, never a slow machine.
fn bounded(t: &TestRoot, args: &[&str]) -> Output {
    let mut child = t
        .cmd()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(120) {
            child.kill().unwrap();
            panic!("strata {args:?} hung (killed after 120 s)");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn an_image_whose_dev_links_to_a_host_directory_never_gets_devices_made_there() {
    let t = TestRoot::new();
    let absolute = Witness::new(&t, "witness-abs");
    let relative = Witness::new(&t, "witness-rel");
    let up = format!("../../../../../../../..{}", relative.dir.display());
    // The link's target exists inside the image too, as the host's path.
    let mut inside = vec![];
    for witness in [&absolute, &relative] {
        let rel = witness.dir.strip_prefix("/").unwrap();
        for ancestor in rel.ancestors().filter(|a| !a.as_os_str().is_empty()) {
            inside.push(format!("{}/", ancestor.display()));
        }
    }
    let dirs: Vec<(&str, tar::EntryType, &str)> = inside
        .iter()
        .rev()
        .map(|d| (d.as_str(), tar::EntryType::Directory, ""))
        .collect();
    let mut abs_entries = dirs.clone();
    abs_entries.push(("dev", tar::EntryType::Symlink, absolute.dir.to_str().unwrap()));
    busybox_with(&t, "hostile:dev-abs", &abs_entries);
    let mut rel_entries = dirs.clone();
    rel_entries.push(("dev", tar::EntryType::Symlink, &up));
    busybox_with(&t, "hostile:dev-rel", &rel_entries);
    for (image, witness) in [("hostile:dev-abs", &absolute), ("hostile:dev-rel", &relative)] {
        // The link resolves inside the container's root: the container still gets its /dev.
        let out = t.ok(&["run", "--rm", image, "sh", "-c", "echo x > /dev/null && ls /dev/"]);
        assert!(out.contains("null") && out.contains("urandom"), "{image}: {out}");
        witness.assert_untouched(image);
    }
    // Dangling inside the image: refused with the path named, the host untouched.
    let dangling = Witness::new(&t, "witness-dangling");
    busybox_with(
        &t,
        "hostile:dev-dangling",
        &[("dev", tar::EntryType::Symlink, dangling.dir.to_str().unwrap())],
    );
    let out = t.run(&["run", "--rm", "hostile:dev-dangling", "true"]);
    if !out.status.success() {
        assert!(String::from_utf8_lossy(&out.stderr).contains("/dev"), "{out:?}");
    }
    dangling.assert_untouched("hostile:dev-dangling");
    t.ok(&["system", "check"]);
}

#[test]
fn hostile_passwd_and_group_files_are_never_read_from_the_host_nor_hang() {
    let t = TestRoot::new();
    let plain = t.path("busybox.tar");
    busybox_rootfs(&plain);
    t.ok(&["import", plain.to_str().unwrap(), "busybox:test"]);
    // The lookup itself works through the container's root.
    t.ok(&["run", "-d", "--name", "plain", "busybox:test", "sleep", "1000"]);
    assert_eq!(t.ok(&["exec", "-u", "nobody", "plain", "id", "-u"]).trim(), "65534");
    t.ok(&["rm", "-f", "plain"]);
    // A running container replaces its files with a device that never ends and a FIFO
    // that never answers (busybox's mknod; CAP_MKNOD is in Docker's default set).
    for (name, script) in [
        ("zero", "rm /etc/passwd && mknod /etc/passwd c 1 5"),
        ("fifo", "rm /etc/group && mkfifo /etc/group"),
        ("link", "rm /etc/passwd && ln -s /proc/self/root/etc/shadow /etc/passwd"),
    ] {
        t.ok(&["run", "-d", "--name", name, "busybox:test", "sleep", "1000"]);
        t.ok(&["exec", name, "sh", "-c", script]);
        let out = bounded(&t, &["exec", "-u", "nobody", name, "id"]);
        assert!(!out.status.success(), "{name}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        // The link leads into the container's own /proc, where strata has no `self`:
        // no passwd file, so no such user; never the host's shadow file.
        let why = if name == "link" {
            "unable to find user nobody"
        } else {
            "is not a regular file"
        };
        assert!(err.contains(why), "{name}: {err}");
        t.ok(&["rm", "-f", name]);
    }
    // An image whose /etc/passwd is a FIFO: run fails at once, and nothing stays mounted.
    busybox_with(&t, "hostile:fifo", &[("etc/passwd", tar::EntryType::Fifo, "")]);
    let out = bounded(&t, &["run", "--name", "fifo-image", "hostile:fifo", "true"]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is not a regular file"),
        "{out:?}"
    );
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let root = t.root();
    assert!(
        !mounts.lines().any(|l| l.contains(root.to_str().unwrap())),
        "the refused container is still mounted"
    );
    t.ok(&["rm", "fifo-image"]);
    t.ok(&["system", "check"]);
}

/// `COPY --from` an image with a link to an absolute path (`/abs -> /etc`) whose target
/// holds a symlink loop where the host has a file: the resolver once gave up on the
/// loop and joined the path plainly, so the host's kernel followed `/abs` to the host's
/// /etc and the host's file went into the built image.
#[test]
fn copy_from_an_image_with_a_symlink_loop_never_copies_host_files() {
    let t = TestRoot::new();
    busybox_with(
        &t,
        "hostile:copyfrom",
        &[
            ("abs", tar::EntryType::Symlink, "/etc"),
            ("etc/hostname", tar::EntryType::Symlink, "hostname"),
        ],
    );
    t.ok(&["import", t.path("busybox.tar").to_str().unwrap(), "busybox:test"]);
    let dir = t.path("ctx");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM busybox:test\nCOPY --from=hostile:copyfrom /abs/hostname /stolen\n",
    )
    .unwrap();
    let out = t.run(&["build", "-t", "stolen:1", dir.to_str().unwrap()]);
    assert!(!out.status.success(), "the build copied something: {out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Dockerfile:2") && err.contains("/abs/hostname"), "{err}");
    assert!(err.contains("Too many levels of symbolic links"), "{err}");
    assert!(!t.ok(&["images"]).contains("stolen"));
    // The link itself resolves inside the image: its own /etc/passwd is copied.
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM busybox:test\nCOPY --from=hostile:copyfrom /abs/passwd /copied\n",
    )
    .unwrap();
    t.ok(&["build", "-t", "copied:1", dir.to_str().unwrap()]);
    let copied = t.ok(&["run", "--rm", "copied:1", "cat", "/copied"]);
    assert!(copied.starts_with("root:x:0:0:root:/root:/bin/sh\nnobody"), "{copied}");
}

/// `cp HOSTDIR CONTAINER:/d/` while the running container swaps the directory cp just
/// made for a symlink to a host directory: cp works through the descriptor of what it
/// made, so it fails rather than writing on the host. The pause point (a test-only
/// feature) holds cp between making the directory and filling it.
#[cfg(feature = "race-points")]
#[test]
fn cp_into_a_container_that_swaps_the_new_directory_for_a_symlink_never_writes_on_the_host() {
    let t = TestRoot::new();
    let plain = t.path("busybox.tar");
    busybox_rootfs(&plain);
    t.ok(&["import", plain.to_str().unwrap(), "busybox:test"]);
    let witness = Witness::new(&t, "witness-cp");
    let source = t.path("payload");
    std::fs::create_dir_all(&source).unwrap();
    std::fs::write(source.join("evil"), b"payload\n").unwrap();
    t.ok(&["run", "-d", "--name", "racer", "busybox:test", "sleep", "1000"]);
    t.ok(&["exec", "racer", "mkdir", "/d"]);
    let cp = Paused::start(&t, "cp:created", &["cp", source.to_str().unwrap(), "racer:/d/"]);
    // The container swaps the directory cp made for a link to the host's witness.
    let link = format!("mv /d/payload /d/moved && ln -s {} /d/payload", witness.dir.display());
    t.ok(&["exec", "racer", "sh", "-c", &link]);
    let out = cp.resume();
    assert!(!out.status.success(), "cp wrote through the swapped-in link: {out:?}");
    witness.assert_untouched("cp into a racing container");
    t.ok(&["rm", "-f", "racer"]);
}
