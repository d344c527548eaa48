//! BuildKit's Dockerfile frontend (issue 20): `COPY/ADD --exclude`, `COPY --parents`,
//! `--chmod` (octal and symbolic) and `--chown` in every COPY/ADD form, `ADD
//! --checksum`, `ADD --unpack`, Git sources refused by name, heredocs as BuildKit runs
//! them, and the automatic platform ARGs with `--platform` limited to this machine.

mod harness;

use harness::service::with_busybox;
use harness::TestRoot;
use std::path::{Path, PathBuf};

/// A context directory `name` holding `files` (path, content) and the Dockerfile.
fn context(t: &TestRoot, name: &str, dockerfile: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = t.path(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    for (path, content) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    dir
}

fn build(t: &TestRoot, tag: &str, dir: &Path) -> String {
    t.ok(&["build", "-q", "-t", tag, dir.to_str().unwrap()])
}

fn sh(t: &TestRoot, image: &str, script: &str) -> String {
    t.ok(&["run", "--rm", image, "sh", "-c", script])
}

/// Files under each directory, sorted, relative to `/`.
fn files(t: &TestRoot, image: &str, dirs: &str) -> String {
    sh(t, image, &format!("cd / && find {dirs} -type f | sort"))
}

/// A loopback HTTP server (python3's) on `dir`, killed when dropped.
struct Http {
    child: std::process::Child,
    port: u16,
}

impl Http {
    fn serve(dir: &Path) -> Http {
        let port = harness::free_port();
        let child = std::process::Command::new("python3")
            .args(["-m", "http.server", "--bind", "127.0.0.1", &port.to_string()])
            .current_dir(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Http { child, port }
    }

    fn url(&self, file: &str) -> String {
        format!("http://127.0.0.1:{}/{file}", self.port)
    }
}

impl Drop for Http {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn copy_exclude_leaves_matching_files_out_of_directories_wildcards_and_stages() {
    let t = with_busybox();
    let dir = context(
        &t,
        "exclude",
        "# syntax=docker/dockerfile:1.7-labs\n\
         FROM busybox:test AS stage\n\
         COPY src/ /staged/\n\
         FROM busybox:test\n\
         COPY --exclude=*.log src/ /top/\n\
         COPY --exclude=**/*.log --exclude=skip src/ /deep/\n\
         COPY --exclude=*.txt --exclude=*.md hom* /hom/\n\
         COPY --from=stage --exclude=**/*.log /staged/ /fromstage/\n\
         COPY --from=stage --exclude=b.* /staged/*.* /fromglob/\n\
         ADD --exclude=*.log src/ /added/\n",
        &[
            ("src/a.txt", "a"),
            ("src/b.log", "b"),
            ("src/sub/c.txt", "c"),
            ("src/sub/d.log", "d"),
            ("src/skip/e.txt", "e"),
            ("home.txt", "h"),
            ("home.md", "h"),
            ("homer.bin", "h"),
        ],
    );
    build(&t, "exclude:1", &dir);
    assert_eq!(
        files(&t, "exclude:1", "top deep hom fromstage fromglob added"),
        "added/a.txt\nadded/skip/e.txt\nadded/sub/c.txt\nadded/sub/d.log\n\
         deep/a.txt\ndeep/sub/c.txt\n\
         fromglob/a.txt\n\
         fromstage/a.txt\nfromstage/skip/e.txt\nfromstage/sub/c.txt\n\
         hom/homer.bin\n\
         top/a.txt\ntop/skip/e.txt\ntop/sub/c.txt\ntop/sub/d.log\n",
        "*.log is matched from the source directory (nested logs stay), **/*.log everywhere, \
         a directory pattern drops the whole directory, wildcard matches are tested too"
    );
}

#[test]
fn copy_parents_keeps_source_directories_with_wildcards_and_the_pivot() {
    let t = with_busybox();
    let dir = context(
        &t,
        "parents",
        "# syntax=docker/dockerfile:1\n\
         FROM busybox:test AS stage\n\
         COPY src/ /app/src/\n\
         FROM busybox:test\n\
         COPY --parents src/a/keep.txt /p/\n\
         COPY --parents ./x/*/f.txt /dst/\n\
         COPY --parents ./x/./y/*.txt /pivot/\n\
         COPY --parents src/**/*.txt /deep/\n\
         COPY --parents src/a /dir/\n\
         COPY --from=stage --parents /app/./src/a/keep.txt /staged/\n\
         COPY --from=stage --parents /app/./src/*/keep.txt /stagedglob/\n\
         COPY --parents=false src/a/keep.txt /flat/\n\
         COPY --parents --exclude=src/r --exclude=**/keep.txt src /pe/\n\
         COPY --parents --exclude=x/two ./x/*/f.txt /pe2/\n\
         COPY ./x/one/f.txt ./x/two/f.txt /collide/\n",
        &[
            ("src/a/keep.txt", "keep"),
            ("src/q.txt", "q"),
            ("src/r/s.txt", "s"),
            ("x/one/f.txt", "one"),
            ("x/two/f.txt", "two"),
            ("x/two/g.txt", "g"),
            ("x/y/a.txt", "ya"),
            ("x/y/b.txt", "yb"),
        ],
    );
    build(&t, "parents:1", &dir);
    assert_eq!(
        files(
            &t,
            "parents:1",
            "p dst pivot deep dir staged stagedglob flat collide pe pe2"
        ),
        "collide/f.txt\n\
         deep/src/a/keep.txt\ndeep/src/q.txt\ndeep/src/r/s.txt\n\
         dir/src/a/keep.txt\n\
         dst/x/one/f.txt\ndst/x/two/f.txt\n\
         flat/keep.txt\n\
         p/src/a/keep.txt\n\
         pe/src/q.txt\n\
         pe2/x/one/f.txt\n\
         pivot/y/a.txt\npivot/y/b.txt\n\
         staged/src/a/keep.txt\n\
         stagedglob/src/a/keep.txt\n"
    );
    assert_eq!(
        sh(&t, "parents:1", "cat /dst/x/one/f.txt /dst/x/two/f.txt /collide/f.txt"),
        "onetwotwo",
        "with --parents same-named files do not collide; without, the last one wins (BuildKit)"
    );
}

#[test]
fn chmod_and_chown_apply_to_every_copy_and_add_form() {
    let t = with_busybox();
    let www = t.path("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("remote.txt"), "remote\n").unwrap();
    let server = Http::serve(&www);
    let remote = server.url("remote.txt");
    let dockerfile = format!(
        "FROM busybox:test AS stage\n\
         RUN echo staged > /s.txt && chmod 600 /s.txt\n\
         FROM busybox:test\n\
         RUN echo 'app:x:1234:2345::/:/bin/sh' >> /etc/passwd && echo 'grp:x:3456:' >> /etc/group\n\
         COPY --chmod=751 --chown=app:grp f.txt /plain/f.txt\n\
         COPY --chmod=u+x,go-r --chown=app tool.sh /sym/tool.sh\n\
         COPY --chmod=u=rwX,go=rX dir/ /symdir/\n\
         COPY --from=stage --chmod=644 --chown=1:2 /s.txt /from/s.txt\n\
         COPY --chmod=700 --chown=app:grp <<EOF /heredoc/h.sh\n\
         echo hi\n\
         EOF\n\
         ADD --chmod=640 --chown=app:grp bundle.tar /tar/\n\
         ADD --chmod=755 --chown=app:grp {remote} /url/remote\n\
         ADD --chmod=+x {remote} /url/sym\n\
         ADD {remote} /url/plain\n"
    );
    let dir = context(
        &t,
        "modes",
        &dockerfile,
        &[
            ("f.txt", "f"),
            ("tool.sh", "echo tool"),
            ("dir/run", "x"),
            ("dir/data", "d"),
            ("m/m.txt", "m"),
        ],
    );
    let set = |p: &str, mode: u32| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.join(p), std::fs::Permissions::from_mode(mode)).unwrap();
    };
    set("f.txt", 0o644);
    set("tool.sh", 0o644);
    set("dir/run", 0o700);
    set("dir/data", 0o600);
    harness::host(
        "tar",
        &[
            "--owner=7",
            "--group=8",
            "--mode=0604",
            "-cf",
            dir.join("bundle.tar").to_str().unwrap(),
            "-C",
            dir.join("m").to_str().unwrap(),
            "m.txt",
        ],
    );
    build(&t, "modes:1", &dir);
    let stat = sh(
        &t,
        "modes:1",
        "cd / && stat -c '%a %u %g %n' plain/f.txt sym/tool.sh symdir symdir/run symdir/data from/s.txt \
         heredoc/h.sh tar/m.txt url/remote url/sym url/plain",
    );
    assert_eq!(
        stat,
        "751 1234 3456 plain/f.txt\n\
         700 1234 1234 sym/tool.sh\n\
         755 0 0 symdir\n\
         755 0 0 symdir/run\n\
         644 0 0 symdir/data\n\
         644 1 2 from/s.txt\n\
         700 1234 3456 heredoc/h.sh\n\
         604 1234 3456 tar/m.txt\n\
         755 1234 3456 url/remote\n\
         711 0 0 url/sym\n\
         600 0 0 url/plain\n",
        "octal and symbolic --chmod on files, directories, --from, heredocs and downloads; an \
         unpacked archive keeps its members' modes and takes --chown (BuildKit); a user alone \
         gives its number as the group"
    );
    std::fs::write(dir.join("Dockerfile"), "FROM busybox:test\nCOPY --chmod=u+q f.txt /f\n").unwrap();
    let e = t.fails(&["build", dir.to_str().unwrap()]);
    assert!(e.contains("--chmod=u+q: expected an octal mode"), "{e}");
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM busybox:test\nCOPY --chown=nosuchuser f.txt /f\n",
    )
    .unwrap();
    let e = t.fails(&["build", dir.to_str().unwrap()]);
    assert!(e.contains("--chown") && e.contains("nosuchuser"), "{e}");
}

#[test]
fn add_checksum_and_unpack_check_downloads_and_a_mismatch_tags_nothing() {
    let t = with_busybox();
    let www = t.path("www");
    std::fs::create_dir_all(www.join("m")).unwrap();
    std::fs::write(www.join("remote.txt"), "remote bytes").unwrap();
    std::fs::write(www.join("m/member.txt"), "member").unwrap();
    harness::host(
        "tar",
        &[
            "-czf",
            www.join("bundle.tar.gz").to_str().unwrap(),
            "-C",
            www.join("m").to_str().unwrap(),
            "member.txt",
        ],
    );
    let server = Http::serve(&www);
    let sum = harness::images::sha256(b"remote bytes");
    let good = format!(
        "FROM busybox:test\n\
         ADD --checksum={sum} {} /srv/\n\
         ADD --unpack=true {} /unpacked/\n\
         ADD {} /packed/\n\
         COPY bundle.tar.gz /ctx/\n\
         ADD --unpack=false bundle.tar.gz /kept/\n\
         ADD bundle.tar.gz /local/\n",
        server.url("remote.txt"),
        server.url("bundle.tar.gz"),
        server.url("bundle.tar.gz"),
    );
    let dir = context(&t, "sums", &good, &[]);
    std::fs::copy(www.join("bundle.tar.gz"), dir.join("bundle.tar.gz")).unwrap();
    build(&t, "sums:1", &dir);
    assert_eq!(sh(&t, "sums:1", "cat /srv/remote.txt"), "remote bytes");
    assert_eq!(
        files(&t, "sums:1", "unpacked packed kept local"),
        "kept/bundle.tar.gz\nlocal/member.txt\npacked/bundle.tar.gz\nunpacked/member.txt\n",
        "a download is unpacked only with --unpack=true, a local archive unless --unpack=false"
    );

    let cases = [
        (
            format!(
                "ADD --checksum=sha256:{} {} /srv/",
                "0".repeat(64),
                server.url("remote.txt")
            ),
            "checksum mismatch".to_string(),
        ),
        (
            format!("ADD --checksum={sum} bundle.tar.gz /srv/"),
            "--checksum can't be specified for non-HTTP(S) sources".to_string(),
        ),
        (
            format!("ADD --checksum=sha256:abc {} /srv/", server.url("remote.txt")),
            "64 lower-case hex digits".to_string(),
        ),
        (
            format!("ADD --checksum=md5:abc {} /srv/", server.url("remote.txt")),
            "unsupported digest algorithm md5".to_string(),
        ),
        (
            "ADD --unpack=maybe bundle.tar.gz /x/".to_string(),
            "--unpack=maybe: expected true or false".to_string(),
        ),
    ];
    for (line, words) in cases {
        std::fs::write(dir.join("Dockerfile"), format!("FROM busybox:test\n{line}\n")).unwrap();
        let e = t.fails(&["build", "-t", "bad:1", dir.to_str().unwrap()]);
        assert!(e.contains(&words), "{line}: {e}");
        assert!(e.contains("Dockerfile:2"), "{line}: the line is named: {e}");
    }
    assert!(!t.ok(&["images"]).contains("bad"), "nothing tagged");
}

#[test]
fn add_of_git_sources_and_keep_git_dir_are_refused_by_name() {
    let t = with_busybox();
    let dir = context(&t, "git", "FROM busybox:test\n", &[]);
    for (line, words) in [
        ("ADD https://github.com/x/y.git /y", "ADD of a Git repository"),
        ("ADD git@github.com:x/y.git /y", "ADD of a Git repository"),
        ("ADD https://github.com/x/y.git#v1.0:docs /y", "ADD of a Git repository"),
        ("ADD git://example.invalid/r /r", "ADD of a Git repository"),
        (
            "ADD --keep-git-dir=true https://github.com/x/y.git /y",
            "ADD --keep-git-dir is not supported",
        ),
        ("ADD --parents a /b/", "ADD: unknown flag: --parents"),
    ] {
        std::fs::write(dir.join("Dockerfile"), format!("FROM busybox:test\n{line}\n")).unwrap();
        let e = t.fails(&["build", "-t", "git:1", dir.to_str().unwrap()]);
        assert!(e.contains(words), "{line}: {e}");
        assert!(e.contains("Dockerfile:2"), "{line}: {e}");
    }
    assert!(!t.ok(&["images"]).contains("git"), "nothing tagged");
}

#[test]
fn heredocs_run_and_copy_as_buildkit_runs_them() {
    let t = with_busybox();
    let dir = context(
        &t,
        "heredocs",
        "# syntax=docker/dockerfile:1\n\
         FROM busybox:test\n\
         ARG NAME=world\n\
         ENV GREETING=hello\n\
         RUN <<EOF\n\
         echo \"$GREETING $NAME\" > /plain\n\
         echo second line >> /plain\n\
         EOF\n\
         RUN <<EOF\n\
         #!/bin/awk -f\n\
         BEGIN { print \"awk ran this\" > \"/shebang\" }\n\
         EOF\n\
         RUN mkdir /out && chmod 777 /out\n\
         USER nobody\n\
         RUN <<EOF\n\
         #!/bin/sh\n\
         id -u > /out/who\n\
         EOF\n\
         USER root\n\
         RUN sh <<EOF > /stdin\n\
         echo from stdin $NAME\n\
         EOF\n\
         RUN cat <<A > /multi-a && cat <<B > /multi-b\n\
         first $NAME\n\
         A\n\
         second\n\
         B\n\
         RUN <<-EOF\n\
         \techo tabs stripped > /tabs\n\
         \tEOF\n\
         RUN <<\"EOF\"\n\
         echo \"$NAME\" > /bare-quoted\n\
         EOF\n\
         RUN cat <<\"EOF\" > /quoted\n\
         literal $NAME\n\
         EOF\n\
         COPY <<EOF /copied\n\
         copy $NAME $GREETING\n\
         EOF\n\
         COPY <<\"EOF\" /copied-literal\n\
         copy $NAME\n\
         EOF\n\
         COPY <<a <<b /files/\n\
         file a\n\
         a\n\
         file b\n\
         b\n",
        &[],
    );
    build(&t, "heredocs:1", &dir);
    let show = |f: &str| sh(&t, "heredocs:1", &format!("cat {f}"));
    assert_eq!(
        show("/plain"),
        "hello world\nsecond line\n",
        "the heredoc is the script"
    );
    assert_eq!(
        show("/shebang"),
        "awk ran this\n",
        "a #! line runs the heredoc through that interpreter"
    );
    assert_eq!(show("/out/who"), "65534\n", "a USER step runs a #! heredoc too");
    assert_eq!(
        show("/stdin"),
        "from stdin world\n",
        "a command reads the heredoc on stdin"
    );
    assert_eq!(show("/multi-a /multi-b"), "first world\nsecond\n");
    assert_eq!(show("/tabs"), "tabs stripped\n", "<<- strips leading tabs");
    assert_eq!(show("/quoted"), "literal $NAME\n", "a quoted delimiter is not expanded");
    assert_eq!(
        show("/bare-quoted"),
        "world\n",
        "a heredoc that is the whole RUN is the script: BuildKit ignores its quotes and the shell \
         expands the build arg"
    );
    assert_eq!(show("/copied"), "copy world hello\n", "COPY expands ARG and ENV");
    assert_eq!(show("/copied-literal"), "copy $NAME\n");
    assert_eq!(show("/files/a /files/b"), "file a\nfile b\n");
    assert_eq!(
        sh(&t, "heredocs:1", "ls -a /dev /dev/shm | grep -c heredoc || true").trim(),
        "0",
        "the script file is not in the image"
    );
}

fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

#[test]
fn platform_args_are_this_machines_and_other_platforms_are_refused_by_name() {
    let t = with_busybox();
    let arch = host_arch();
    let here = format!("linux/{arch}");
    let dir = context(
        &t,
        "platform",
        "ARG BASE=busybox:test\n\
         FROM --platform=$BUILDPLATFORM $BASE AS build\n\
         ARG TARGETPLATFORM\n\
         ARG TARGETOS\n\
         ARG TARGETARCH\n\
         ARG TARGETVARIANT\n\
         ARG BUILDPLATFORM\n\
         ARG BUILDOS\n\
         ARG BUILDARCH\n\
         ARG BUILDVARIANT\n\
         RUN echo \"$TARGETPLATFORM $TARGETOS $TARGETARCH [$TARGETVARIANT] $BUILDPLATFORM $BUILDOS $BUILDARCH [$BUILDVARIANT]\" > /platform\n\
         FROM --platform=$TARGETPLATFORM busybox:test\n\
         COPY --from=build /platform /platform\n\
         RUN echo \"[$TARGETARCH]\" > /undeclared\n",
        &[],
    );
    build(&t, "platform:1", &dir);
    assert_eq!(
        sh(&t, "platform:1", "cat /platform /undeclared"),
        format!("{here} linux {arch} [] {here} linux {arch} []\n[]\n"),
        "the automatic ARGs are global; a stage sees one after `ARG NAME`"
    );
    let mut spellings = vec![here.clone(), arch.to_string(), "linux".to_string()];
    if arch == "amd64" {
        spellings.push("linux/x86_64".into());
    }
    for platform in &spellings {
        t.ok(&["build", "-q", "--platform", platform, dir.to_str().unwrap()]);
    }
    let other = if arch == "amd64" { "linux/arm64" } else { "linux/amd64" };
    let e = t.fails(&["build", "--platform", other, "-t", "other:1", dir.to_str().unwrap()]);
    assert!(e.contains("no emulation") && e.contains(other), "{e}");
    let list = format!("{here},{other}");
    let e = t.fails(&["build", "--platform", &list, "-t", "other:1", dir.to_str().unwrap()]);
    assert!(e.contains("multi-platform builds are not supported"), "{e}");
    for (from, words) in [
        (format!("FROM --platform={other} busybox:test"), "no emulation"),
        (
            format!("FROM --platform={list} busybox:test"),
            "multi-platform builds are not supported",
        ),
    ] {
        std::fs::write(dir.join("Dockerfile"), format!("ARG X\n{from}\n")).unwrap();
        let e = t.fails(&["build", "-t", "other:1", dir.to_str().unwrap()]);
        assert!(e.contains(words) && e.contains("Dockerfile:2"), "{from}: {e}");
    }
    assert!(!t.ok(&["images"]).contains("other"), "nothing tagged");
}

#[test]
fn engine_api_build_platform_goes_through_the_same_check() {
    let t = with_busybox();
    let service = harness::service::Service::start(&t);
    let other = if host_arch() == "amd64" {
        "linux/arm64"
    } else {
        "linux/amd64"
    };
    let reply = service.http("POST", &format!("/build?platform={}", other.replace('/', "%2F")));
    assert_eq!(reply.status, 400, "{}", String::from_utf8_lossy(&reply.body));
    assert!(reply.message().contains("no emulation"), "{}", reply.message());
    let list = format!("linux%2F{}%2Clinux%2Fs390x", host_arch());
    let reply = service.http("POST", &format!("/build?platform={list}"));
    assert_eq!(reply.status, 400);
    assert!(
        reply.message().contains("multi-platform builds are not supported"),
        "{}",
        reply.message()
    );
}

#[test]
fn chown_names_come_from_the_images_passwd_through_its_links_never_the_hosts() {
    let t = with_busybox();
    // The image's /etc/passwd is a link climbing far above its root: resolved inside
    // the image it is /real/passwd; resolved on the host it would be the host's file.
    let dir = context(
        &t,
        "names",
        "FROM busybox:test\n\
         RUN mkdir /real && echo 'web:x:4321:4321::/:/bin/sh' > /real/passwd && \
         ln -sf ../../../../../../real/passwd /etc/passwd\n\
         COPY --chown=web f.txt /f.txt\n",
        &[("f.txt", "f")],
    );
    build(&t, "names:1", &dir);
    assert_eq!(sh(&t, "names:1", "stat -c '%u %g' /f.txt"), "4321 4321\n");
    // `daemon` is in the host's passwd, not in the image's.
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM busybox:test\nCOPY --chown=daemon f.txt /f.txt\n",
    )
    .unwrap();
    let e = t.fails(&["build", dir.to_str().unwrap()]);
    assert!(e.contains("unable to find user daemon"), "{e}");
}
