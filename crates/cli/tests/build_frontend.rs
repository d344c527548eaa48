//! BuildKit's Dockerfile frontend syntax (issue 20, first slice): `# syntax=` naming
//! docker/dockerfile, `RUN --mount=type=bind` from the context (read-only, resolved inside
//! it) and `type=tmpfs`, `RUN --security=sandbox`; every other flag refused by name,
//! never dropped (`RUN --mount=type=cache`, `ADD --keep-git-dir`, …); build_copy.rs
//! has COPY/ADD's flags.

mod harness;

use harness::service::with_busybox;
use harness::TestRoot;
use std::path::PathBuf;

fn context(t: &TestRoot, name: &str, dockerfile: &str) -> PathBuf {
    let dir = t.path(name);
    std::fs::create_dir_all(dir.join("src/sub")).unwrap();
    std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    std::fs::write(dir.join("hello.txt"), "hello from the context\n").unwrap();
    std::fs::write(dir.join("src/a.txt"), "a\n").unwrap();
    std::fs::write(dir.join("src/sub/b.txt"), "b\n").unwrap();
    dir
}

fn build(t: &TestRoot, tag: &str, dir: &std::path::Path) -> String {
    t.ok(&["build", "-q", "-t", tag, dir.to_str().unwrap()])
}

#[test]
fn run_mount_bind_shows_the_context_read_only_and_tmpfs_leaves_nothing() {
    let t = with_busybox();
    let dir = context(
        &t,
        "mounts",
        "# syntax=docker/dockerfile:1.7\n\
         FROM busybox:test\n\
         RUN --mount=type=bind,source=hello.txt,target=/tmp/h cat /tmp/h > /copied\n\
         RUN --mount=type=bind,target=/ctx find /ctx/src -type f | sort > /listing\n\
         RUN --mount=type=bind,source=hello.txt,target=/tmp/h sh -c 'echo x > /tmp/h' 2> /write-error; test -s /write-error\n\
         RUN --mount=type=tmpfs,target=/scratch,size=1m sh -c 'echo big > /scratch/f; grep \" /scratch \" /proc/mounts > /seen'\n\
         RUN --security=sandbox true\n",
    );
    build(&t, "mounts:1", &dir);
    let look = |cmd: &str| t.ok(&["run", "--rm", "mounts:1", "sh", "-c", cmd]);
    assert_eq!(look("cat /copied"), "hello from the context\n");
    assert_eq!(look("cat /listing"), "/ctx/src/a.txt\n/ctx/src/sub/b.txt\n");
    assert!(
        look("cat /write-error").contains("Read-only file system"),
        "a bind is read-only"
    );
    assert!(look("cat /seen").contains("tmpfs"), "the tmpfs was mounted");
    assert_eq!(
        look("ls /scratch | wc -l").trim(),
        "0",
        "nothing of the tmpfs is in the image"
    );
    assert_eq!(
        look("cat /tmp/h | wc -c").trim(),
        "0",
        "nothing of the bound file is in the image"
    );
    // A bound file's content is not digested: the step runs again when it changes.
    std::fs::write(dir.join("hello.txt"), "changed\n").unwrap();
    build(&t, "mounts:2", &dir);
    assert_eq!(t.ok(&["run", "--rm", "mounts:2", "cat", "/copied"]), "changed\n");
}

#[test]
fn run_mount_bind_cannot_reach_outside_the_context_or_its_excluded_files() {
    let t = with_busybox();
    let secret_dir = t.path("outside");
    std::fs::create_dir_all(&secret_dir).unwrap();
    std::fs::write(secret_dir.join("secret"), "outside the context\n").unwrap();
    let dir = context(&t, "escape", "FROM busybox:test\n");
    std::os::unix::fs::symlink(&secret_dir, dir.join("link")).unwrap();
    std::os::unix::fs::symlink("../../outside", dir.join("src/up")).unwrap();
    std::fs::write(dir.join(".dockerignore"), "src/sub/b.txt\n").unwrap();
    for (mount, words) in [
        (
            "source=../outside,target=/m",
            "forbidden path outside the build context",
        ),
        ("source=link/secret,target=/m", "not found in build context"),
        ("source=src/up/secret,target=/m", "not found in build context"),
        ("source=src,target=/m", "which .dockerignore leaves out"),
        ("source=src/sub/b.txt,target=/m", "excluded by .dockerignore"),
    ] {
        std::fs::write(
            dir.join("Dockerfile"),
            format!("FROM busybox:test\nRUN --mount=type=bind,{mount} cat /m/secret /m\n"),
        )
        .unwrap();
        let e = t.fails(&["build", "-t", "escape:1", dir.to_str().unwrap()]);
        assert!(e.contains(words), "{mount}: {e}");
        assert!(!e.contains("outside the context\n"), "{mount}: read the secret: {e}");
    }
    assert!(!t.ok(&["images"]).contains("escape"), "nothing tagged");
}

#[test]
fn flags_and_frontends_strata_does_not_apply_are_refused_by_name() {
    let t = with_busybox();
    let dir = context(&t, "refused", "FROM busybox:test\n");
    for (dockerfile, words) in [
        (
            "RUN --mount=type=secret,id=token,env=TOKEN true",
            "type=secret,env= is not supported",
        ),
        ("RUN --mount=type=ssh,mode=0666 true", "type=ssh,mode= is not supported"),
        (
            "RUN --mount=type=tmpfs,target=/t,from=x true",
            "option from does not apply to type=tmpfs",
        ),
        (
            "RUN --mount=type=cache,target=/c,colour=red true",
            "unknown option \"colour\" for type=cache",
        ),
        ("RUN --mount=type=volume,target=/v true", "unknown type"),
        (
            "RUN --security=insecure true",
            "RUN --security=insecure needs the build to allow it",
        ),
        (
            "RUN --network=bridge true",
            "RUN --network=bridge: BuildKit takes default, none or host",
        ),
        (
            "ADD --keep-git-dir=true https://example.invalid/r.git /r",
            "ADD --keep-git-dir is not supported",
        ),
    ] {
        std::fs::write(dir.join("Dockerfile"), format!("FROM busybox:test\n{dockerfile}\n")).unwrap();
        let e = t.fails(&["build", "-t", "refused:1", dir.to_str().unwrap()]);
        assert!(e.contains(words), "{dockerfile}: {e}");
        assert!(e.contains("Dockerfile:2"), "{dockerfile}: the line is named: {e}");
    }
    std::fs::write(
        dir.join("Dockerfile"),
        "# syntax=example.com/frontend:1\nFROM busybox:test\n",
    )
    .unwrap();
    let e = t.fails(&["build", "-t", "refused:1", dir.to_str().unwrap()]);
    assert!(e.contains("another frontend image is not supported"), "{e}");
    assert!(!t.ok(&["images"]).contains("refused"), "nothing tagged");
}
