//! `strata build`: Dockerfiles built and checked by running the result; the cache;
//! `.dockerignore`; multi-stage; ONBUILD; reproducibility; bad input.

mod harness;

use harness::images::busybox_rootfs;
use harness::TestRoot;
use std::path::{Path, PathBuf};

/// A build context directory with `files` (path, content) and a Dockerfile.
fn context(t: &TestRoot, name: &str, dockerfile: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = t.path(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    for (path, content) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    dir
}

fn busybox(t: &TestRoot) {
    let tar = t.path("busybox.tar");
    busybox_rootfs(&tar);
    t.ok(&["import", tar.to_str().unwrap(), "busybox:test"]);
}

fn build(t: &TestRoot, args: &[&str], dir: &Path) -> String {
    let mut all = vec!["build"];
    all.extend_from_slice(args);
    all.push(dir.to_str().unwrap());
    t.ok(&all)
}

fn inspect(t: &TestRoot, format: &str, image: &str) -> String {
    t.ok(&["inspect", "-f", format, image]).trim().to_string()
}

#[test]
fn hello_world_from_scratch_builds_runs_and_rebuilds_from_cache() {
    let t = TestRoot::new();
    let dir = context(&t, "hello", "", &[]);
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello");
    for f in ["Dockerfile", ".dockerignore", "hello.c"] {
        std::fs::copy(example.join(f), dir.join(f)).unwrap();
    }
    harness::host(
        "gcc",
        &[
            "-static",
            "-O2",
            "-o",
            dir.join("hello").to_str().unwrap(),
            dir.join("hello.c").to_str().unwrap(),
        ],
    );
    let out = build(&t, &["-t", "hello"], &dir);
    assert!(out.starts_with("Step 1/3 : FROM scratch\n"), "{out}");
    assert!(
        out.contains("Step 2/3 : ADD hello /") && out.contains("Successfully tagged hello:latest"),
        "{out}"
    );
    let id = inspect(&t, "{{.Id}}", "hello");
    assert!(out.contains(&format!("Successfully built {}", &id[7..19])), "{out}");
    assert!(t.ok(&["run", "--rm", "hello"]).starts_with("Hello from strata!"));
    assert_eq!(inspect(&t, "{{json .Config.Cmd}}", "hello"), r#"["/hello"]"#);
    // The image holds the binary only: .dockerignore kept the source and Dockerfile out.
    let exported = t.path("hello-export.tar");
    t.ok(&["create", "--name", "peek", "hello"]);
    t.ok(&["export", "-o", exported.to_str().unwrap(), "peek"]);
    let listing = harness::host("tar", &["-tf", exported.to_str().unwrap()]);
    assert!(
        listing.contains("hello") && !listing.contains("hello.c") && !listing.contains("Dockerfile"),
        "{listing}"
    );
    t.ok(&["rm", "peek"]);

    let again = build(&t, &["-t", "hello"], &dir);
    assert_eq!(again.matches(" ---> Using cache").count(), 2, "{again}");
    assert_eq!(
        inspect(&t, "{{.Id}}", "hello"),
        id,
        "a no-op rebuild gives the same image"
    );
    assert_eq!(t.ok(&["build", "-q", dir.to_str().unwrap()]).trim(), id);
    // Intermediate images are hidden unless -a.
    assert_eq!(t.ok(&["images", "-q"]).lines().count(), 1);
    assert_eq!(t.ok(&["images", "-aq"]).lines().count(), 2);
    let history = t.ok(&["history", "hello"]);
    assert!(
        history.contains("CMD [\"/hello\"]") && history.contains("ADD file:"),
        "{history}"
    );
}

#[test]
fn steps_set_files_owners_modes_and_config_as_docker_does() {
    let t = TestRoot::new();
    busybox(&t);
    let dir = context(
        &t,
        "app",
        r#"FROM busybox:test
ARG GREETING=hello
ENV APP=/app SPACED="a b"
WORKDIR $APP
COPY --chown=nobody:nobody files/ ./files/
COPY --chmod=755 run.sh /usr/local/bin/
RUN echo "$GREETING from RUN" > /app/greeting && chmod 600 /app/greeting
RUN <<EOF
echo heredoc-$APP > /app/heredoc
EOF
COPY <<EOF /app/motd
motd for ${APP}
EOF
USER nobody
EXPOSE 8080
LABEL version=1 "quoted key"="x y"
ENTRYPOINT ["/usr/local/bin/run.sh"]
CMD ["default-arg"]
"#,
        &[
            ("files/a.txt", "A\n"),
            ("files/sub/b.txt", "B\n"),
            ("run.sh", "#!/bin/sh\necho \"args: $* user: $(id -u) dir: $(pwd)\"\n"),
        ],
    );
    let out = build(&t, &["-t", "app:1"], &dir);
    assert!(
        out.contains("Step 7/14 : RUN echo") && out.contains(" ---> Running in "),
        "{out}"
    );
    assert_eq!(
        t.ok(&["run", "--rm", "app:1"]).trim(),
        "args: default-arg user: 65534 dir: /app"
    );
    assert_eq!(
        t.ok(&["run", "--rm", "app:1", "other"]).trim(),
        "args: other user: 65534 dir: /app"
    );
    let look = |cmd: &str| t.ok(&["run", "--rm", "-u", "0", "--entrypoint", "sh", "app:1", "-c", cmd]);
    assert_eq!(
        look("cat /app/greeting /app/heredoc /app/motd"),
        "hello from RUN\nheredoc-/app\nmotd for /app\n"
    );
    assert_eq!(
        look("stat -c '%U:%G %a %n' /app/files /app/files/a.txt /app/files/sub/b.txt /usr/local/bin/run.sh /app/greeting"),
        "nobody:nobody 755 /app/files\nnobody:nobody 644 /app/files/a.txt\nnobody:nobody 644 /app/files/sub/b.txt\nroot:root 755 /usr/local/bin/run.sh\nroot:root 600 /app/greeting\n"
    );
    assert_eq!(
        look("echo $SPACED-$GREETING"),
        "a b-\n",
        "ARG values stay out of the image"
    );
    assert_eq!(
        inspect(&t, "{{.Config.WorkingDir}} {{.Config.User}}", "app:1"),
        "/app nobody"
    );
    assert_eq!(
        inspect(&t, "{{json .Config.ExposedPorts}}", "app:1"),
        r#"{"8080/tcp":{}}"#
    );
    assert_eq!(
        inspect(&t, "{{json .Config.Labels}}", "app:1"),
        r#"{"quoted key":"x y","version":"1"}"#
    );

    // A build arg changes the RUN steps, not the COPY steps before them.
    let out = build(&t, &["-t", "app:2", "--build-arg", "GREETING=hi"], &dir);
    assert_eq!(
        out.matches("Using cache").count(),
        4,
        "ENV, WORKDIR and two COPY: {out}"
    );
    let greeting = t.ok(&[
        "run",
        "--rm",
        "--entrypoint",
        "cat",
        "-u",
        "0",
        "app:2",
        "/app/greeting",
    ]);
    assert_eq!(greeting, "hi from RUN\n");

    // Changing one file invalidates exactly the steps from its COPY on.
    std::fs::write(dir.join("run.sh"), "#!/bin/sh\necho changed\n").unwrap();
    let out = build(&t, &["-t", "app:3"], &dir);
    let cached: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("Step "))
        .zip(out.split("Step ").skip(1).map(|s| s.contains("Using cache")))
        .filter(|(_, c)| *c)
        .map(|(l, _)| l)
        .collect();
    assert_eq!(cached.len(), 3, "ENV, WORKDIR, COPY files/ come from the cache: {out}");
    assert!(cached.iter().all(|l| !l.contains("run.sh")), "{out}");
    assert_eq!(t.ok(&["run", "--rm", "app:3"]).trim(), "changed");
    assert!(t.ok(&["ps", "-aq"]).trim().is_empty(), "RUN containers are removed");
}

#[test]
fn dockerignore_multi_stage_target_and_onbuild() {
    let t = TestRoot::new();
    busybox(&t);
    let dir = context(
        &t,
        "multi",
        r#"FROM busybox:test AS builder
COPY . /src/
RUN ls -A /src > /listing && echo built > /out.txt

FROM busybox:test AS broken
RUN exit 3

FROM scratch
COPY --from=builder /out.txt /listing /
COPY --from=0 /bin/busybox /bin/busybox
CMD ["/bin/busybox", "cat", "/out.txt", "/listing"]
"#,
        &[
            ("keep.txt", "k"),
            ("secret.key", "s"),
            ("logs/x.log", "l"),
            (".dockerignore", "*.key\nlogs\n"),
        ],
    );
    let out = build(&t, &["-t", "multi:1"], &dir);
    assert!(!out.contains("exit 3"), "an unneeded stage is skipped: {out}");
    assert_eq!(
        t.ok(&["run", "--rm", "multi:1"]),
        "built\n.dockerignore\nDockerfile\nkeep.txt\n"
    );
    assert_eq!(inspect(&t, "{{len .RootFS.Layers}}", "multi:1"), "2");
    build(&t, &["--target", "builder", "-t", "builder:1"], &dir);
    assert_eq!(t.ok(&["run", "--rm", "builder:1", "cat", "/out.txt"]), "built\n");
    let err = t.fails(&["build", "--target", "nope", dir.to_str().unwrap()]);
    assert!(err.contains("target stage \"nope\" could not be found"), "{err}");

    let base = context(
        &t,
        "base",
        "FROM busybox:test\nONBUILD RUN echo triggered > /onbuild.txt\n",
        &[],
    );
    build(&t, &["-t", "base:1"], &base);
    assert_eq!(
        inspect(&t, "{{json .Config.OnBuild}}", "base:1"),
        r#"["RUN echo triggered > /onbuild.txt"]"#
    );
    let child = context(&t, "child", "FROM base:1\nCMD [\"cat\", \"/onbuild.txt\"]\n", &[]);
    let out = build(&t, &["-t", "child:1"], &child);
    assert!(out.contains("# Executing 1 build trigger"), "{out}");
    assert_eq!(t.ok(&["run", "--rm", "child:1"]), "triggered\n");
    assert_eq!(
        inspect(&t, "{{json .Config.OnBuild}}", "child:1"),
        "null",
        "triggers run once"
    );
}

#[test]
fn two_clean_builds_give_the_same_digests() {
    // The same base in both stores: one saved image, loaded twice.
    let origin = TestRoot::new();
    busybox(&origin);
    let base = origin.path("base.tar");
    origin.ok(&["save", "-o", base.to_str().unwrap(), "busybox:test"]);
    let ids: Vec<(String, String)> = (0..2)
        .map(|i| {
            let t = TestRoot::new();
            t.ok(&["load", "-i", base.to_str().unwrap()]);
            let dir = context(
                &t,
                &format!("ctx{i}"),
                "FROM busybox:test\nCOPY data /data\nENV A=1\nWORKDIR /w\nRUN mkdir -p /made && echo run > /made/f\nCMD [\"/data/x\"]\n",
                &[("data/x", "payload"), ("data/y/z", "more")],
            );
            let out = t
                .cmd()
                .env("SOURCE_DATE_EPOCH", "1700000000")
                .args(["build", "-q", dir.to_str().unwrap()])
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
            (id.clone(), inspect(&t, "{{json .RootFS.Layers}}", &id))
        })
        .collect();
    assert_eq!(
        ids[0], ids[1],
        "same context, same epoch: same layers (RUN's too) and image ID"
    );
}

#[test]
fn bad_dockerfiles_fail_with_file_and_line_and_leave_nothing() {
    let t = TestRoot::new();
    busybox(&t);
    std::fs::write(t.path("outside.txt"), "x").unwrap();
    let before_images = t.ok(&["images", "-aq"]);
    let before_layers = t.entries("snapshots/committed/sha256");
    let cases: [(&str, &str); 9] = [
        ("FROM busybox:test\nFOO bar\n", "Dockerfile:2: unknown instruction: FOO"),
        (
            "FROM busybox:test\nCOPY --form=x a /\n",
            "Dockerfile:2: COPY: unknown flag: --form",
        ),
        (
            "FROM busybox:test\nRUN <<EOF\necho\n",
            "Dockerfile:2: unterminated heredoc <<EOF",
        ),
        (
            "FROM busybox:test\nENV A=\"open\n",
            "Dockerfile:2: ENV: unterminated double quote",
        ),
        (
            "FROM busybox:test\nCOPY ../outside.txt /\n",
            "forbidden path outside the build context",
        ),
        (
            "FROM busybox:test\nCOPY --from=nowhere /x /\n",
            "--from=nowhere: no stage or local image",
        ),
        (
            "ARG BASE\nFROM $BASE\n",
            "Dockerfile:2: FROM: base name ($BASE) should not be blank",
        ),
        (
            "FROM busybox:test\nCOPY missing.txt /\n",
            "Dockerfile:2: COPY: build context",
        ),
        (
            "FROM busybox:test\nRUN exit 7\n",
            "Dockerfile:2: RUN: The command '/bin/sh -c exit 7' returned a non-zero code: 7",
        ),
    ];
    for (i, (dockerfile, expected)) in cases.iter().enumerate() {
        let dir = context(&t, &format!("bad{i}"), dockerfile, &[("a", "a")]);
        // --force-rm: a failed RUN step's container goes too (Docker's default keeps it).
        let out = t.run(&["build", "--force-rm", "-t", "bad:1", dir.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{dockerfile}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{dockerfile}: expected {expected:?} in {err}");
    }
    assert!(t.run(&["inspect", "bad:1"]).status.code() == Some(1), "nothing tagged");
    assert_eq!(t.ok(&["images", "-aq"]), before_images, "no image added");
    assert_eq!(t.entries("snapshots/committed/sha256"), before_layers, "no layer added");
    assert!(t.ok(&["ps", "-aq"]).trim().is_empty(), "no container left");
    assert_eq!(t.entries("snapshots/active"), 0);
}

#[test]
fn contexts_from_stdin_archives_urls_and_the_remaining_instructions() {
    let t = TestRoot::new();
    busybox(&t);
    // A Dockerfile on stdin with no context.
    let out = t.run_with_input(&["build", "-q", "-"], b"FROM busybox:test\nRUN echo from-stdin > /f\n");
    assert!(out.status.success());
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(t.ok(&["run", "--rm", &id, "cat", "/f"]), "from-stdin\n");

    // A tar context on stdin, and ADD unpacking a local archive.
    let dir = context(
        &t,
        "tarctx",
        "FROM busybox:test\nADD bundle.tar.gz /opt/\nCOPY plain.txt /\n",
        &[("plain.txt", "plain"), ("in/a.txt", "from the archive")],
    );
    harness::host(
        "tar",
        &[
            "-czf",
            dir.join("bundle.tar.gz").to_str().unwrap(),
            "-C",
            dir.join("in").to_str().unwrap(),
            "a.txt",
        ],
    );
    let ctx_tar = t.path("ctx.tar");
    harness::host(
        "tar",
        &["-cf", ctx_tar.to_str().unwrap(), "-C", dir.to_str().unwrap(), "."],
    );
    let out = t
        .cmd()
        .args(["build", "-q", "--iidfile", t.path("iid").to_str().unwrap(), "-"])
        .stdin(std::fs::File::open(&ctx_tar).unwrap())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let id = std::fs::read_to_string(t.path("iid")).unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), id);
    assert_eq!(
        t.ok(&["run", "--rm", &id, "cat", "/opt/a.txt", "/plain.txt"]),
        "from the archiveplain"
    );

    // ADD of a URL (a server on loopback) checked by --checksum; metadata instructions.
    let www = t.path("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("remote.txt"), "remote bytes").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = std::process::Command::new("python3")
        .args(["-m", "http.server", "--bind", "127.0.0.1", &port.to_string()])
        .current_dir(&www)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let sum = harness::images::sha256(b"remote bytes");
    let dockerfile = format!(
        "FROM busybox:test\nADD --checksum={sum} http://127.0.0.1:{port}/remote.txt /srv/\nCOPY . /ctx/\nSHELL [\"/bin/sh\", \"-ec\"]\nHEALTHCHECK --interval=30s --retries=2 CMD wget -q localhost || exit 1\nSTOPSIGNAL SIGQUIT\nVOLUME /data\nENTRYPOINT echo entry\nCMD ignored\n"
    );
    // meta.Dockerfile.dockerignore applies, not .dockerignore.
    let meta = context(
        &t,
        "meta",
        &dockerfile,
        &[("keep", "k"), ("secret", "s"), (".dockerignore", "keep\n")],
    );
    std::fs::write(meta.join("meta.Dockerfile"), &dockerfile).unwrap();
    std::fs::write(meta.join("meta.Dockerfile.dockerignore"), "secret\n").unwrap();
    let out = t.ok(&[
        "build",
        "-f",
        meta.join("meta.Dockerfile").to_str().unwrap(),
        "-t",
        "meta:1",
        "--label",
        "team=build",
        meta.to_str().unwrap(),
    ]);
    assert!(out.contains("Successfully tagged meta:1"), "{out}");
    let bad = dockerfile.replace(&sum, &format!("sha256:{}", "0".repeat(64)));
    let bad_dir = context(&t, "badsum", &bad, &[]);
    let err = t.fails(&["build", bad_dir.to_str().unwrap()]);
    assert!(err.contains("checksum mismatch") || err.contains("--checksum"), "{err}");
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(
        t.ok(&["run", "--rm", "--entrypoint", "cat", "meta:1", "/srv/remote.txt"]),
        "remote bytes"
    );
    assert_eq!(
        t.ok(&["run", "--rm", "--entrypoint", "ls", "meta:1", "-A", "/ctx"]),
        ".dockerignore\nDockerfile\nkeep\nmeta.Dockerfile\nmeta.Dockerfile.dockerignore\n"
    );
    assert_eq!(inspect(&t, "{{json .Config.Shell}}", "meta:1"), r#"["/bin/sh","-ec"]"#);
    assert_eq!(
        inspect(&t, "{{json .Config.Healthcheck}}", "meta:1"),
        r#"{"Interval":30000000000,"Retries":2,"Test":["CMD-SHELL","wget -q localhost || exit 1"]}"#
    );
    assert_eq!(inspect(&t, "{{.Config.StopSignal}}", "meta:1"), "SIGQUIT");
    assert_eq!(inspect(&t, "{{json .Config.Volumes}}", "meta:1"), r#"{"/data":{}}"#);
    assert_eq!(inspect(&t, "{{json .Config.Labels}}", "meta:1"), r#"{"team":"build"}"#);
    // Shell-form ENTRYPOINT runs through SHELL and ignores CMD, as Docker's does.
    assert_eq!(
        inspect(&t, "{{json .Config.Entrypoint}}", "meta:1"),
        r#"["/bin/sh","-ec","echo entry"]"#
    );
    assert_eq!(t.ok(&["run", "--rm", "meta:1"]), "entry\n");
}

#[test]
fn squash_merges_the_added_layers_into_one_keeping_deletions() {
    let t = TestRoot::new();
    busybox(&t);
    let dir = context(
        &t,
        "squash",
        "FROM busybox:test\nRUN echo a > /a\nRUN rm /bin/vi && echo b > /b\nRUN mkdir -p /d && touch /d/x /d/y\nRUN rm -rf /d && mkdir /d && echo new > /d/only\nCOPY f /f\n",
        &[("f", "from the context")],
    );
    let base_layers: usize = inspect(&t, "{{len .RootFS.Layers}}", "busybox:test").parse().unwrap();
    let out = build(&t, &["--squash", "-t", "squashed:1"], &dir);
    assert!(out.contains("squashed 5 layers into"), "{out}");
    let layers: usize = inspect(&t, "{{len .RootFS.Layers}}", "squashed:1").parse().unwrap();
    assert_eq!(layers, base_layers + 1);
    let check = "cat /a /b /f; ls /d; test -e /bin/vi && echo vi-still-there; true";
    assert_eq!(
        t.ok(&["run", "--rm", "squashed:1", "sh", "-c", check]),
        "a\nb\nfrom the contextonly\n"
    );
    let history = t.ok(&["history", "--no-trunc", "squashed:1"]);
    assert!(history.contains("merge sha256:"), "{history}");
    assert!(t.ok(&["images", "-q"]).lines().count() >= 2);
}

#[test]
fn global_args_reach_from_only_unless_declared_again_in_the_stage() {
    let t = TestRoot::new();
    busybox(&t);
    let dir = context(
        &t,
        "args",
        "ARG TAG=test\nARG V=global\nFROM busybox:$TAG\nRUN echo \"[$V]\" > /before\nARG V\nRUN echo \"[$V]\" > /after\n",
        &[],
    );
    build(&t, &["-t", "args:1"], &dir);
    assert_eq!(
        t.ok(&["run", "--rm", "args:1", "cat", "/before", "/after"]),
        "[]\n[global]\n"
    );
    build(&t, &["-t", "args:2", "--build-arg", "V=given"], &dir);
    assert_eq!(t.ok(&["run", "--rm", "args:2", "cat", "/after"]), "[given]\n");
    let out = build(&t, &["--build-arg", "UNUSED=1"], &dir);
    assert!(
        out.contains("[Warning] One or more build-args [UNUSED] were not consumed"),
        "{out}"
    );
}

#[test]
fn garbage_collection_waits_for_a_build_in_progress() {
    let t = TestRoot::new();
    busybox(&t);
    let dir = context(
        &t,
        "slow",
        "FROM busybox:test\nENV A=1\nRUN sleep 2 && echo slow > /s\nRUN cat /s > /t\n",
        &[],
    );
    let mut child = t
        .cmd()
        .args(["build", "-q", "-t", "slow:1", dir.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the RUN container: the build is under way.
    while t.ok(&["ps", "-q"]).trim().is_empty() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the build ended before its RUN step was seen"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    t.ok(&["image", "prune", "-f"]);
    // The build lets go of its lease once its image is tagged (the process may take a
    // moment more to exit): the image is there the moment prune returns.
    let tagged = t.run(&["image", "inspect", "slow:1"]);
    assert!(
        tagged.status.success(),
        "prune returned while the build still ran: it did not wait for the lease"
    );
    assert!(child.wait().unwrap().success());
    assert_eq!(t.ok(&["run", "--rm", "slow:1", "cat", "/t"]), "slow\n");
    t.ok(&["system", "check"]);
}

#[test]
fn quiet_builds_print_the_image_id_only_and_a_failing_steps_output() {
    let t = TestRoot::new();
    busybox(&t);
    let dir = context(&t, "quiet", "FROM busybox:test\nRUN echo chatty-step-output\n", &[]);
    let out = t.run(&["build", "-q", "-t", "quiet:1", dir.to_str().unwrap()]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.trim().starts_with("sha256:") && stdout.lines().count() == 1,
        "{stdout}"
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("chatty"));
    let failing = context(
        &t,
        "failing",
        "FROM busybox:test\nRUN echo why-it-failed >&2; exit 3\n",
        &[],
    );
    let out = t.run(&["build", "-q", failing.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("why-it-failed"),
        "the failing step's output is shown: {stderr}"
    );
    assert!(stderr.contains("returned a non-zero code: 3"), "{stderr}");
}

#[test]
fn image_prune_keeps_the_build_cache_and_prune_all_removes_it() {
    let t = TestRoot::new();
    busybox(&t);
    let dir = context(
        &t,
        "cached",
        "FROM busybox:test\nRUN echo one > /1\nRUN echo two > /2\n",
        &[],
    );
    build(&t, &["-t", "cached:1"], &dir);
    // Intermediate images are parents of cached:1, not dangling.
    t.ok(&["image", "prune", "-f"]);
    let again = build(&t, &["-t", "cached:1"], &dir);
    assert_eq!(again.matches("Using cache").count(), 2, "{again}");
    t.ok(&["rmi", "cached:1"]);
    t.ok(&["image", "prune", "-a", "-f"]);
    busybox(&t); // -a took the base too: it was unused.
    let cold = build(&t, &["-t", "cached:1"], &dir);
    assert!(!cold.contains("Using cache"), "prune -a took the cache: {cold}");
}

#[test]
fn run_step_output_goes_to_the_builds_output_stream_both_streams_in_order() {
    // The builder writes a RUN step's output into the build's writer (as Docker's
    // classic builder streams it), never by pointing this process's descriptors at it.
    let t = TestRoot::new();
    busybox(&t);
    let dir = context(
        &t,
        "streams",
        "FROM busybox:test\nRUN echo first; echo second >&2; echo third\n",
        &[],
    );
    let out = t.run(&["build", "-t", "streams:1", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("first\nsecond\nthird\n"), "{stdout}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("second"));
}

#[test]
fn build_args_without_values_come_from_the_callers_environment() {
    let t = TestRoot::new();
    busybox(&t);
    let dir = context(
        &t,
        "args",
        "FROM busybox:test\nARG FROM_CALLER=default\nARG UNSET_HERE=kept\nRUN echo $FROM_CALLER $UNSET_HERE > /args\n",
        &[],
    );
    let out = t
        .cmd()
        .args([
            "build",
            "-q",
            "-t",
            "args:1",
            "--build-arg",
            "FROM_CALLER",
            "--build-arg",
            "UNSET_HERE",
        ])
        .arg(&dir)
        .env("FROM_CALLER", "from-env")
        .env_remove("UNSET_HERE")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(t.ok(&["run", "--rm", "args:1", "cat", "/args"]), "from-env kept\n");
}

/// The zombie children of process `pid`.
fn zombie_children(pid: u32) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|stat| {
            let after = &stat[stat.rfind(')').map_or(0, |i| i + 2)..];
            let mut fields = after.split(' ');
            fields.next() == Some("Z") && fields.next() == Some(pid.to_string().as_str())
        })
        .count()
}

#[test]
fn a_build_reaps_the_monitors_of_its_finished_run_steps() {
    let t = TestRoot::new();
    busybox(&t);
    let steps = "RUN true\n".repeat(6);
    let dir = context(&t, "many", &format!("FROM busybox:test\n{steps}RUN sleep 3\n"), &[]);
    let mut child = t
        .cmd()
        .args(["build", "-q", "-t", "many:1", dir.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The last step runs: six monitors have come and gone.
    let start = std::time::Instant::now();
    while !t
        .ok(&["ps", "--no-trunc", "--format", "{{.Command}}"])
        .contains("sleep 3")
    {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the build ended before its last step was seen"
        );
        assert!(
            start.elapsed() < std::time::Duration::from_secs(120),
            "the last step never ran"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // The one before the last may still be on its way out when the last is launched.
    let zombies = zombie_children(child.id());
    assert!(zombies <= 1, "{zombies} monitors of finished steps left unreaped");
    assert!(child.wait().unwrap().success());
}

/// A build whose last steps change only metadata (ENV, LABEL, CMD after COPY and RUN)
/// records a config whose rootfs lists every layer: saved, removed and loaded back it
/// is the same image and runs (the config used to keep the base's layers only, and
/// load refused it: "rootfs.diff_ids lists 1 layers but the manifest has 3").
#[test]
fn an_image_built_with_metadata_steps_after_layers_saves_and_loads_back() {
    let t = TestRoot::new();
    busybox(&t);
    let dir = context(
        &t,
        "meta",
        "FROM busybox:test\nCOPY msg.txt /msg.txt\nRUN echo built > /built\nENV SDK=1\nLABEL k=v\nCMD [\"cat\", \"/msg.txt\", \"/built\"]\n",
        &[("msg.txt", "copied\n")],
    );
    build(&t, &["-t", "meta:1"], &dir);
    let id = inspect(&t, "{{.Id}}", "meta:1");
    assert_eq!(inspect(&t, "{{len .RootFS.Layers}}", "meta:1"), "3");
    let saved = t.path("meta.tar");
    t.ok(&["save", "-o", saved.to_str().unwrap(), "meta:1"]);
    t.ok(&["rmi", "meta:1"]);
    t.ok(&["load", "-i", saved.to_str().unwrap()]);
    assert_eq!(inspect(&t, "{{.Id}}", "meta:1"), id);
    assert_eq!(t.ok(&["run", "--rm", "meta:1"]), "copied\nbuilt\n");
}
