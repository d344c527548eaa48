//! Regression tests for defects found from outside (issue 14): each failed on the code
//! before its fix. Named after what they guard.

mod harness;

use harness::images::busybox_rootfs;
use harness::TestRoot;
use std::path::{Path, PathBuf};

fn with_busybox() -> TestRoot {
    let t = TestRoot::new();
    let tar = t.path("busybox.tar");
    busybox_rootfs(&tar);
    t.ok(&["import", "-c", "CMD [\"sh\"]", tar.to_str().unwrap(), "busybox:test"]);
    t
}

fn context(t: &TestRoot, name: &str, dockerfile: &str) -> PathBuf {
    let dir = t.path(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    dir
}

fn build_fails(t: &TestRoot, tag: &str, dir: &Path) -> String {
    let out = t.run(&["build", "-t", tag, dir.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "build should fail cleanly (exit 1, no signal): {out:?}"
    );
    let images = t.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(!images.contains(tag), "a failed build tagged {tag}: {images}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn user_and_group_ids_above_2_31_minus_1_are_refused_never_run_as_root() {
    let t = with_busybox();
    for user in ["4294967295", "2147483648", "0:4294967295", "99999999999"] {
        let out = t.run(&["run", "--rm", "-u", user, "busybox:test", "id"]);
        assert_eq!(out.status.code(), Some(125), "--user {user}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("0-2147483647"), "--user {user}: {err}");
    }
    // The highest valid ID runs as itself.
    let id = t.ok(&["run", "--rm", "-u", "2147483647:2147483647", "busybox:test", "id", "-u"]);
    assert_eq!(id.trim(), "2147483647");
    // The same through the image's passwd and group files.
    t.ok(&[
        "run",
        "--name",
        "edit",
        "busybox:test",
        "sh",
        "-c",
        "echo evil:x:4294967295:0::/:/bin/sh >> /etc/passwd; echo bad:x:notanumber:0::/:/bin/sh >> /etc/passwd; \
         echo huge:x:4294967295: >> /etc/group",
    ]);
    t.ok(&["commit", "edit", "hostile:ids"]);
    for user in ["evil", "root:huge", "bad"] {
        let out = t.run(&["run", "--rm", "-u", user, "hostile:ids", "id"]);
        assert_eq!(out.status.code(), Some(125), "-u {user}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("0-2147483647"), "-u {user}: {err}");
    }
}

#[test]
fn rm_of_an_empty_name_or_a_slash_removes_nothing() {
    let t = with_busybox();
    t.ok(&["create", "--name", "keep", "busybox:test", "true"]);
    for name in ["", "/", "//", " "] {
        let err = t.fails(&["rm", "-f", name]);
        assert!(err.contains("No such container"), "rm -f {name:?}: {err}");
    }
    let left = t.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(left.trim(), "keep");
    // A real ID prefix still works.
    let id = t.ok(&["inspect", "-f", "{{.Id}}", "keep"]);
    t.ok(&["rm", &id.trim()[..4]]);
}

#[test]
fn an_invalid_stop_signal_is_refused_at_create_and_stop_still_stops() {
    let t = with_busybox();
    t.ok(&["create", "--name", "base", "busybox:test", "true"]);
    t.ok(&["commit", "-c", "STOPSIGNAL SIGBOGUS", "base", "bad:signal"]);
    let err = t.fails(&["create", "bad:signal"]);
    assert!(err.contains("invalid stop signal \"SIGBOGUS\""), "{err}");
    let out = t.run(&["run", "--rm", "bad:signal", "true"]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert_eq!(t.ok(&["ps", "-a", "-q"]).lines().count(), 1, "nothing was created");

    // A container recorded before signals were checked: stop falls back to SIGTERM, SIGKILL.
    t.ok(&["run", "-d", "--name", "old", "busybox:test", "sleep", "1000"]);
    let db = rusqlite::Connection::open(t.root().join("metadata.db")).unwrap();
    let config: String = db
        .query_row("SELECT config FROM containers WHERE name = 'old'", [], |r| r.get(0))
        .unwrap();
    let mut config: serde_json::Value = serde_json::from_str(&config).unwrap();
    config["stop_signal"] = "SIGBOGUS".into();
    db.execute(
        "UPDATE containers SET config = ?1 WHERE name = 'old'",
        [config.to_string()],
    )
    .unwrap();
    drop(db);
    t.ok(&["stop", "-t", "1", "old"]);
    let state = t.ok(&["inspect", "-f", "{{.State.Status}}", "old"]);
    assert_eq!(state.trim(), "exited");
}

#[test]
fn tmpfs_takes_only_tmpfs_options_never_a_bind_of_the_current_directory() {
    let t = with_busybox();
    for spec in ["/x:bind", "/x:rbind", "/x:size=1m,bind", "/x:bogus=1", "/x:private"] {
        let out = t.run(&["run", "--rm", "--tmpfs", spec, "busybox:test", "ls", "/x"]);
        assert_eq!(out.status.code(), Some(125), "--tmpfs {spec}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("is not a tmpfs option"), "--tmpfs {spec}: {err}");
    }
    let mounts = t.ok(&[
        "run",
        "--rm",
        "--tmpfs",
        "/x:size=1m,mode=0750,noexec,uid=5",
        "busybox:test",
        "grep",
        " /x ",
        "/proc/mounts",
    ]);
    assert!(mounts.starts_with("tmpfs /x tmpfs"), "{mounts}");
    assert!(mounts.contains("size=1024k") && mounts.contains("mode=750"), "{mounts}");
}

#[test]
fn an_image_config_over_the_read_limit_is_refused_at_build_and_flagged_by_check() {
    let t = with_busybox();
    let big = "x".repeat(1 << 20);
    let labels: String = (0..5).map(|i| format!("LABEL big{i}={big}\n")).collect();
    let dir = context(&t, "big", &format!("FROM busybox:test\n{labels}"));
    let err = build_fails(&t, "big:config", &dir);
    assert!(err.contains("over the 4194304-byte limit"), "{err}");
    t.ok(&["system", "check"]);

    // A store written before the limit was enforced: check must not call it consistent.
    let base = t.ok(&["inspect", "-f", "{{.Id}}", "busybox:test"]).trim().to_string();
    let mut config: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            t.root()
                .join("content/blobs/sha256")
                .join(base.trim_start_matches("sha256:")),
        )
        .unwrap(),
    )
    .unwrap();
    config["config"]["Labels"] = serde_json::json!({ "big": "y".repeat(5 << 20) });
    let bytes = serde_json::to_vec(&config).unwrap();
    let id = harness::images::sha256(&bytes);
    std::fs::write(
        t.root()
            .join("content/blobs/sha256")
            .join(id.trim_start_matches("sha256:")),
        &bytes,
    )
    .unwrap();
    let db = rusqlite::Connection::open(t.root().join("metadata.db")).unwrap();
    db.execute_batch(&format!(
        "INSERT INTO images (id, manifest_digest, manifest_media_type, created, size, added_at) \
           SELECT '{id}', manifest_digest, manifest_media_type, created, size, added_at \
           FROM images WHERE id = '{base}';
         INSERT INTO image_layers SELECT '{id}', position, chain_id, blob_digest FROM image_layers \
           WHERE image_id = '{base}';
         UPDATE layers SET refcount = refcount + 1 \
           WHERE chain_id IN (SELECT chain_id FROM image_layers WHERE image_id = '{base}');"
    ))
    .unwrap();
    drop(db);
    let check = t.run(&["system", "check"]);
    assert!(!check.status.success(), "check called the store consistent");
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(out.contains("over the 4194304-byte limit"), "{out}");
}

#[test]
fn deeply_nested_substitutions_fail_with_file_and_line_not_a_crash() {
    let t = with_busybox();
    let depth = 100_000;
    let word = format!("{}x{}", "${A:-".repeat(depth), "}".repeat(depth));
    let dir = context(&t, "nested", &format!("FROM busybox:test\nENV B={word}\n"));
    let err = build_fails(&t, "nested:1", &dir);
    assert!(err.contains("Dockerfile:2"), "{err}");
    assert!(err.contains("nested more than 64 deep"), "{err}");
}

#[test]
fn volume_of_the_root_directory_is_refused_at_build() {
    let t = with_busybox();
    for (i, line) in [
        "VOLUME /",
        "VOLUME [\"/\"]",
        "VOLUME /data /",
        "VOLUME /a/..",
        "VOLUME //",
    ]
    .iter()
    .enumerate()
    {
        let dir = context(&t, &format!("v{i}"), &format!("FROM busybox:test\n{line}\n"));
        let err = build_fails(&t, &format!("volume:{i}"), &dir);
        assert!(err.contains("Dockerfile:2"), "{line}: {err}");
        assert!(err.contains("the root directory cannot be a volume"), "{line}: {err}");
    }
    // A real volume still builds and runs.
    let dir = context(&t, "ok", "FROM busybox:test\nVOLUME /data\n");
    t.ok(&["build", "-t", "volume:ok", dir.to_str().unwrap()]);
    t.ok(&["run", "--rm", "volume:ok", "ls", "-d", "/data"]);
}

#[test]
fn invalid_stopsignal_in_a_dockerfile_is_refused_at_build() {
    let t = with_busybox();
    let dir = context(&t, "sig", "FROM busybox:test\nSTOPSIGNAL SIGNOPE\n");
    let err = build_fails(&t, "sig:1", &dir);
    assert!(
        err.contains("Dockerfile:2") && err.contains("invalid signal \"SIGNOPE\""),
        "{err}"
    );
}

/// More containers than there are adjective_surname pairs: every drawn name that is taken
/// is drawn again; none surfaces as a conflict.
#[test]
fn drawn_names_are_drawn_again_when_taken_never_a_conflict() {
    let t = with_busybox();
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let cmd_root = t.root();
            std::thread::spawn(move || {
                for _ in 0..350 {
                    let out = std::process::Command::new(env!("CARGO_BIN_EXE_strata"))
                        .arg("--root")
                        .arg(&cmd_root)
                        .args(["create", "--network", "none", "busybox:test", "true"])
                        .output()
                        .unwrap();
                    assert!(
                        out.status.success(),
                        "create without --name failed: {}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
            })
        })
        .collect();
    for th in threads {
        th.join().unwrap();
    }
    let names = t.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    let names: Vec<&str> = names.lines().collect();
    assert_eq!(names.len(), 700);
    let unique: std::collections::BTreeSet<&&str> = names.iter().collect();
    assert_eq!(unique.len(), 700, "names are unique");
}

/// `strata images | head`: a listing whose reader is gone ends as docker's and every C
/// tool's do, killed by SIGPIPE with nothing on stderr (it panicked: "failed printing to
/// stdout: Broken pipe", exit 101; `images -q` said "Error: Broken pipe", exit 1).
#[test]
fn a_listing_into_a_closed_pipe_ends_quietly_by_sigpipe_not_a_panic() {
    use std::os::unix::process::ExitStatusExt;
    let t = with_busybox();
    for args in [
        &["images"][..],
        &["images", "-q"],
        &["inspect", "busybox:test"],
        &["ps", "-a"],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = t
            .cmd()
            .args(args)
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        assert_eq!(out.status.signal(), Some(libc::SIGPIPE), "strata {args:?}: {out:?}");
        assert!(
            out.stderr.is_empty(),
            "strata {args:?} said: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // An error that is not about standard output is still reported.
    let e = t.fails(&["inspect", "no-such-image"]);
    assert!(e.contains("no-such-image"), "{e}");
}
