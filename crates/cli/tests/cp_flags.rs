//! `cp -a/--archive` and `cp -L/--follow-link` (issue 18), as Docker's: into the
//! container the host's owners are kept, and with `-a` everything is the container
//! user's; out of it the files are the caller's, and with `-a` keep the container's
//! owners; a symlink given as the source is copied as a link, with `-L` followed.

mod harness;

use harness::service::with_busybox;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

fn owners(path: &Path) -> (u32, u32) {
    let m = std::fs::symlink_metadata(path).unwrap();
    (m.uid(), m.gid())
}

#[test]
fn cp_out_gives_the_callers_owners_and_with_archive_the_containers() {
    let t = with_busybox();
    t.ok(&[
        "run",
        "--name",
        "src",
        "busybox:test",
        "sh",
        "-c",
        "mkdir /d && echo x > /d/f && chown -R 1234:5678 /d && ln -s /d/f /link && chown -h 1234:5678 /link",
    ]);
    let probe = t.path("probe");
    std::fs::write(&probe, "").unwrap();
    let caller = owners(&probe);
    assert_ne!(caller, (1234, 5678));
    let out = t.path("out");
    std::fs::create_dir(&out).unwrap();
    t.ok(&["cp", "src:/d", out.join("plain").to_str().unwrap()]);
    assert_eq!(owners(&out.join("plain")), caller);
    assert_eq!(owners(&out.join("plain/f")), caller);
    t.ok(&["cp", "-a", "src:/d", out.join("archived").to_str().unwrap()]);
    assert_eq!(owners(&out.join("archived")), (1234, 5678));
    assert_eq!(owners(&out.join("archived/f")), (1234, 5678));
    assert_eq!(std::fs::read_to_string(out.join("archived/f")).unwrap(), "x\n");
    // A link given as the source: the link itself, its owners kept with -a only.
    t.ok(&["cp", "src:/link", out.join("plain-link").to_str().unwrap()]);
    assert_eq!(owners(&out.join("plain-link")), caller);
    t.ok(&["cp", "-a", "src:/link", out.join("archived-link").to_str().unwrap()]);
    assert_eq!(owners(&out.join("archived-link")), (1234, 5678));
    assert_eq!(
        std::fs::read_link(out.join("archived-link")).unwrap(),
        Path::new("/d/f")
    );
}

#[test]
fn cp_out_copies_a_source_link_as_a_link_and_with_follow_link_its_target() {
    let t = with_busybox();
    t.ok(&[
        "run",
        "--name",
        "src",
        "busybox:test",
        "sh",
        "-c",
        "echo inside > /target && ln -s /target /link",
    ]);
    let out = t.path("out");
    std::fs::create_dir(&out).unwrap();
    t.ok(&["cp", "src:/link", out.to_str().unwrap()]);
    let link = out.join("link");
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("/target"));
    std::fs::remove_file(&link).unwrap();
    t.ok(&["cp", "-L", "src:/link", out.to_str().unwrap()]);
    assert!(
        std::fs::symlink_metadata(&link).unwrap().is_file(),
        "the target, under the link's name"
    );
    assert_eq!(std::fs::read_to_string(&link).unwrap(), "inside\n");
    // Followed inside the container's root: an absolute link to a host path that the
    // container lacks is not found, never the host's file.
    t.ok(&[
        "run",
        "--name",
        "trap",
        "busybox:test",
        "ln",
        "-s",
        "/etc/shadow",
        "/steal",
    ]);
    let e = t.fails(&[
        "cp",
        "--follow-link",
        "trap:/steal",
        out.join("stolen").to_str().unwrap(),
    ]);
    assert!(e.contains("/steal"), "{e}");
    assert!(!out.join("stolen").exists());
}

#[test]
fn cp_in_keeps_the_hosts_owners_and_with_archive_gives_the_containers_user() {
    let t = with_busybox();
    t.ok(&[
        "run",
        "-d",
        "--name",
        "box",
        "--user",
        "nobody",
        "busybox:test",
        "sleep",
        "600",
    ]);
    let file = t.path("note");
    std::fs::write(&file, "note\n").unwrap();
    std::os::unix::fs::chown(&file, Some(4321), Some(8765)).unwrap();
    let stat = |path: &str| t.ok(&["exec", "box", "stat", "-c", "%u:%g", path]);
    t.ok(&["cp", file.to_str().unwrap(), "box:/tmp/plain"]);
    assert_eq!(stat("/tmp/plain"), "4321:8765\n");
    t.ok(&["cp", "-a", file.to_str().unwrap(), "box:/tmp/archived"]);
    assert_eq!(stat("/tmp/archived"), "65534:65534\n", "the container's user, nobody");
    // -L: a host link given as the source is followed, under its own name.
    let link = t.path("link");
    std::os::unix::fs::symlink(&file, &link).unwrap();
    t.ok(&["cp", link.to_str().unwrap(), "box:/tmp/"]);
    assert_eq!(
        t.ok(&["exec", "box", "readlink", "/tmp/link"]),
        format!("{}\n", file.display())
    );
    t.ok(&["exec", "-u", "0", "box", "rm", "/tmp/link"]);
    t.ok(&["cp", "-L", link.to_str().unwrap(), "box:/tmp/"]);
    assert_eq!(t.ok(&["exec", "box", "cat", "/tmp/link"]), "note\n");
    t.ok(&["rm", "-f", "box"]);
}
