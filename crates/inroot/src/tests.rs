use super::*;
use std::os::unix::fs::symlink;

fn tree() -> (tempfile::TempDir, Root) {
    let dir = tempfile::tempdir().unwrap();
    let root_dir = dir.path().join("root");
    std::fs::create_dir_all(root_dir.join("real/dir")).unwrap();
    std::fs::create_dir_all(root_dir.join("etc")).unwrap();
    std::fs::write(root_dir.join("etc/passwd"), "root:x:0:0::/:/bin/sh\n").unwrap();
    symlink("/etc", root_dir.join("abs")).unwrap();
    symlink("../../../../..", root_dir.join("up")).unwrap();
    symlink("real/dir", root_dir.join("rel")).unwrap();
    symlink("loop", root_dir.join("loop")).unwrap();
    let root = Root::open(&root_dir).unwrap();
    (dir, root)
}

fn read(root: &Root, path: &str) -> Option<String> {
    root.read_regular(Path::new(path), 1 << 20)
        .unwrap()
        .map(|b| String::from_utf8(b).unwrap())
}

#[test]
fn symlinks_resolve_inside_the_root() {
    let (_dir, root) = tree();
    assert_eq!(read(&root, "/abs/passwd").unwrap(), "root:x:0:0::/:/bin/sh\n");
    assert_eq!(read(&root, "up/etc/passwd").unwrap(), "root:x:0:0::/:/bin/sh\n");
    assert_eq!(read(&root, "../../etc/passwd").unwrap(), "root:x:0:0::/:/bin/sh\n");
    assert!(read(&root, "/abs/shadow").is_none(), "the host's /etc is never reached");
    assert!(matches!(
        root.resolve(Path::new("loop/x")),
        Err(InRootError::Resolve { .. })
    ));
}

#[test]
fn directories_and_mount_targets_are_made_inside_the_root() {
    let (dir, root) = tree();
    let made = root.mkdir_all(Path::new("/abs/made/here"), 0o755).unwrap();
    assert_eq!(made.kind().unwrap(), Kind::Dir);
    assert!(dir.path().join("root/etc/made/here").is_dir());
    let target = root.mount_target(Path::new("/rel/file"), false).unwrap();
    assert_eq!(target.kind().unwrap(), Kind::File);
    assert!(dir.path().join("root/real/dir/file").is_file());
    assert!(target.proc_path().starts_with("/proc/self/fd/"));
}

#[test]
fn only_regular_files_are_read_and_never_more_than_the_limit() {
    let (dir, root) = tree();
    let r = dir.path().join("root");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        r.join("fifo"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        r.join("zero"),
        rustix::fs::FileType::CharacterDevice,
        rustix::fs::Mode::from_raw_mode(0o644),
        rustix::fs::makedev(1, 5),
    )
    .unwrap();
    symlink("/zero", r.join("etc/group")).unwrap();
    for path in ["/fifo", "/zero", "/etc/group", "/real"] {
        assert!(
            matches!(
                root.read_regular(Path::new(path), 100),
                Err(InRootError::NotRegular { .. })
            ),
            "{path}"
        );
    }
    std::fs::write(r.join("big"), vec![b'x'; 101]).unwrap();
    assert!(matches!(
        root.read_regular(Path::new("/big"), 100),
        Err(InRootError::TooLarge { .. })
    ));
    assert_eq!(root.read_regular(Path::new("/big"), 101).unwrap().unwrap().len(), 101);
}
