//! Build outputs and named contexts (issue 20, BuildKit-era builds): `build -o` as
//! BuildKit's local and tar exporters (the result's files, no image loaded or tagged),
//! written without following a symlink out of the destination; `--build-context` with a
//! directory (its own `.dockerignore`) or `docker-image://`, in place of a stage or an
//! image of its name; `--metadata-file` and `--iidfile`; and every output or context
//! strata does not have refused by name, on the command line and over the Engine API.

mod harness;

use harness::service::{request, with_busybox, Service};
use harness::TestRoot;
use std::path::{Path, PathBuf};

/// A context directory with a Dockerfile and a few files.
fn context(t: &TestRoot, name: &str, dockerfile: &str) -> PathBuf {
    let dir = t.path(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    std::fs::write(dir.join("hello.txt"), "hello\n").unwrap();
    dir
}

/// `FROM scratch AS export` holding what a busybox stage made under /out.
fn exporting(script: &str) -> String {
    format!(
        "FROM busybox:test AS build\n\
         RUN mkdir -p /out && cd /out && {script}\n\
         FROM scratch AS export\n\
         COPY --from=build /out /\n"
    )
}

/// A tar's entries as `path` (directories with a trailing `/`, links as `path -> target`).
fn listing(tar_bytes: &[u8]) -> Vec<String> {
    let mut archive = tar::Archive::new(tar_bytes);
    let mut out: Vec<String> = archive
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let path = e.path().unwrap().to_string_lossy().trim_end_matches('/').to_string();
            match e.header().entry_type() {
                tar::EntryType::Directory => format!("{path}/"),
                tar::EntryType::Symlink => format!("{path} -> {}", e.link_name().unwrap().unwrap().display()),
                _ => path,
            }
        })
        .collect();
    out.sort();
    out
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn output_local_writes_the_result_files_into_the_directory_and_loads_no_image() {
    let t = with_busybox();
    let dir = context(
        &t,
        "app",
        &exporting("echo app > app && mkdir sub && echo nested > sub/n && ln -s app link"),
    );
    let images_before = t.ok(&["images", "-q"]);
    let out = t.path("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("keep"), "the user's\n").unwrap();
    std::fs::write(out.join("app"), "old\n").unwrap();
    let printed = t.ok(&["build", "-o", s(&out), s(&dir)]);
    assert!(printed.contains("Successfully exported to"), "{printed}");
    assert_eq!(std::fs::read_to_string(out.join("app")).unwrap(), "app\n", "replaced");
    assert_eq!(std::fs::read_to_string(out.join("sub/n")).unwrap(), "nested\n");
    assert_eq!(std::fs::read_link(out.join("link")).unwrap(), Path::new("app"));
    assert_eq!(
        std::fs::read_to_string(out.join("keep")).unwrap(),
        "the user's\n",
        "merged into"
    );
    assert_eq!(t.ok(&["images", "-q"]), images_before, "no image loaded or tagged");
    // --target and the long form: that stage's whole filesystem.
    let whole = t.path("whole");
    t.ok(&[
        "build",
        "-q",
        "--target",
        "build",
        "--output",
        &format!("type=local,dest={}", s(&whole)),
        s(&dir),
    ]);
    assert_eq!(std::fs::read_to_string(whole.join("out/app")).unwrap(), "app\n");
    assert!(whole.join("bin/busybox").is_file(), "the base image's files too");
    // A relative dest is taken from where the command runs.
    let cwd = t.path("cwd");
    std::fs::create_dir_all(&cwd).unwrap();
    let out = t
        .cmd()
        .current_dir(&cwd)
        .args(["build", "-q", "-o", "rel", s(&dir)])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(cwd.join("rel/app").is_file());
}

#[test]
fn output_tar_goes_to_a_file_atomically_or_to_stdout() {
    let t = with_busybox();
    let dir = context(&t, "app", &exporting("echo app > app && mkdir sub && ln -s app link"));
    let expected = ["app", "link -> app", "sub/"];
    let file = t.path("dist/result.tar");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    t.ok(&["build", "-q", "-o", &format!("type=tar,dest={}", s(&file)), s(&dir)]);
    assert_eq!(listing(&std::fs::read(&file).unwrap()), expected);
    let names: Vec<String> = std::fs::read_dir(file.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["result.tar"], "no temporary file left beside it");
    for flags in [&["-o", "-"][..], &["-q", "--output", "type=tar,dest=-"][..]] {
        let mut args = vec!["build"];
        args.extend_from_slice(flags);
        args.push(s(&dir));
        let out = t.run(&args);
        assert!(
            out.status.success(),
            "{flags:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(listing(&out.stdout), expected, "{flags:?}: stdout is the tar alone");
        let stderr = String::from_utf8_lossy(&out.stderr);
        if flags.contains(&"-q") {
            assert!(stderr.trim().starts_with("sha256:"), "the ID on stderr: {stderr}");
        } else {
            assert!(stderr.contains("Step 1/4"), "progress on stderr: {stderr}");
        }
    }
}

#[test]
fn output_local_never_writes_through_a_symlink_out_of_the_destination() {
    let t = with_busybox();
    let outside = t.path("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let dest = t.path("dest");
    // The first result holds a symlink pointing out of the destination…
    let first = context(&t, "first", &exporting(&format!("ln -s {} escape", s(&outside))));
    t.ok(&["build", "-q", "-o", s(&dest), s(&first)]);
    assert_eq!(std::fs::read_link(dest.join("escape")).unwrap(), outside);
    // …and the user's own link does the same; the next result writes files under both
    // names.
    std::os::unix::fs::symlink(&outside, dest.join("hostlink")).unwrap();
    std::os::unix::fs::symlink(outside.join("f"), dest.join("filelink")).unwrap();
    let second = context(
        &t,
        "second",
        &exporting(
            "mkdir escape hostlink && echo pwned > escape/f && echo pwned > hostlink/f && echo pwned > filelink",
        ),
    );
    t.ok(&["build", "-q", "-o", s(&dest), s(&second)]);
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        0,
        "nothing landed outside the destination"
    );
    for name in ["escape", "hostlink"] {
        let meta = std::fs::symlink_metadata(dest.join(name)).unwrap();
        assert!(meta.is_dir(), "{name}: the link was replaced by the directory");
        assert_eq!(std::fs::read_to_string(dest.join(name).join("f")).unwrap(), "pwned\n");
    }
    assert!(std::fs::symlink_metadata(dest.join("filelink")).unwrap().is_file());
    // The same result as a tar keeps the link as a link entry, nothing followed.
    let out = t.run(&["build", "-o", "-", s(&first)]);
    assert!(out.status.success());
    assert_eq!(listing(&out.stdout), [format!("escape -> {}", s(&outside))]);
}

#[test]
fn outputs_strata_does_not_have_are_refused_by_name() {
    let t = with_busybox();
    let dir = context(&t, "app", &exporting("echo app > app"));
    let out = t.path("out");
    for (flags, words) in [
        (
            vec!["-o", "type=docker,dest=/tmp/x.tar"],
            "--output is not supported by strata's build: type=docker (an image archive)",
        ),
        (vec!["-o", "type=oci,dest=/tmp/x.tar"], "type=oci (an image archive)"),
        (vec!["-o", "type=registry"], "type=registry is not supported"),
        (vec!["-o", "type=image,push=true"], "strata push"),
        (vec!["-o", "type=local,dest=-"], "not a stream"),
        (
            vec!["-o", "type=local,dest=o,compression=zstd"],
            "the attribute compression",
        ),
        (vec!["-o", "a", "-o", "b"], "more than one output"),
        (vec!["-t", "named:1", "-o", s(&out)], "--tag is not supported"),
        (vec!["--label", "a=b", "-o", "-"], "--label is not supported"),
    ] {
        let mut args = vec!["build"];
        args.extend(flags.iter().copied());
        args.push(s(&dir));
        let err = t.fails(&args);
        assert!(err.contains(words), "{flags:?}: {err}");
    }
    assert!(!out.exists(), "a refused build writes nothing");
    assert!(!Path::new("/tmp/x.tar").exists());
    // type=image is the default, with more names; type=cacheonly tags nothing.
    t.ok(&["build", "-q", "-o", "type=image,name=img:named", s(&dir)]);
    assert!(t.ok(&["images"]).contains("img"));
    let before = t.ok(&["images", "-q"]);
    let other = context(&t, "other", &exporting("echo other > other"));
    t.ok(&["build", "-q", "-o", "type=cacheonly", s(&other)]);
    assert_eq!(t.ok(&["images", "-q"]), before);
}

#[test]
fn named_contexts_stand_in_for_stages_and_images_and_keep_their_own_dockerignore() {
    let t = with_busybox();
    let lib = t.path("lib");
    std::fs::create_dir_all(lib.join("sub")).unwrap();
    std::fs::write(lib.join("a.txt"), "from lib\n").unwrap();
    std::fs::write(lib.join("sub/b.txt"), "b\n").unwrap();
    std::fs::write(lib.join("secret.txt"), "left out\n").unwrap();
    std::fs::write(lib.join(".dockerignore"), "secret.txt\n").unwrap();
    let dir = context(
        &t,
        "app",
        "FROM busybox:test AS lib\n\
         RUN echo the stage ran > /stage-ran\n\
         FROM alpine:3.99\n\
         COPY --from=lib . /lib/\n\
         COPY --from=lib *.txt /globbed/\n\
         COPY --from=base /bin/busybox /bb\n",
    );
    let printed = t.ok(&[
        "build",
        "-t",
        "named:1",
        "--build-context",
        &format!("lib={}", s(&lib)),
        "--build-context",
        "alpine:3.99=docker-image://busybox:test",
        "--build-context",
        "base=docker-image://busybox:test",
        "--build-context",
        "unused=docker-image://busybox:test",
        s(&dir),
    ]);
    assert!(
        !printed.contains("the stage ran"),
        "the stage a context replaces is skipped"
    );
    assert!(printed.contains("build contexts [unused] were not used"), "{printed}");
    let look = |cmd: &str| t.ok(&["run", "--rm", "named:1", "sh", "-c", cmd]);
    assert_eq!(
        look("cd /lib && find . -type f | sort"),
        "./.dockerignore\n./a.txt\n./sub/b.txt\n",
        "the named directory, its .dockerignore applied (and copied, as the main context's)"
    );
    assert_eq!(look("ls /globbed"), "a.txt\n");
    assert_eq!(look("test -e /stage-ran || echo no stage"), "no stage\n");
    assert_eq!(
        look("cmp /bb /bin/busybox && echo same"),
        "same\n",
        "FROM alpine:3.99 is busybox"
    );
    // A source outside the named directory is refused as the main context's is.
    std::os::unix::fs::symlink("/etc", lib.join("etc")).unwrap();
    let escape = context(&t, "escape", "FROM busybox:test\nCOPY --from=lib ../outside /x\n");
    let err = t.fails(&["build", "--build-context", &format!("lib={}", s(&lib)), s(&escape)]);
    assert!(err.contains("forbidden path outside the build context"), "{err}");
}

#[test]
fn named_contexts_strata_does_not_have_are_refused_by_name_and_from_a_directory_is_its_files() {
    let t = with_busybox();
    let dir = context(&t, "app", "FROM src\n");
    for (spec, words) in [
        ("src=oci-layout:///tmp/layout", "(oci-layout://) is not supported"),
        ("src=https://github.com/moby/buildkit.git", "a URL context"),
        ("src=git@github.com:moby/buildkit.git", "a git context is not supported"),
        ("src=target:base", "Bake's"),
        ("src", "expected NAME=VALUE"),
    ] {
        let err = t.fails(&["build", "--build-context", spec, s(&dir)]);
        assert!(
            err.contains("--build-context is not supported by strata's build") && err.contains(words),
            "{spec}: {err}"
        );
    }
    let missing = t.fails(&[
        "build",
        "--build-context",
        &format!("src={}", s(&t.path("nope"))),
        s(&dir),
    ]);
    assert!(missing.contains("src="), "{missing}");
    // FROM a directory context: its files (.dockerignore applied) are the root filesystem.
    let lib = t.path("lib");
    std::fs::create_dir_all(lib.join("sub")).unwrap();
    std::fs::write(lib.join("sub/a.txt"), "a\n").unwrap();
    std::fs::write(lib.join("secret.txt"), "left out\n").unwrap();
    std::fs::write(lib.join(".dockerignore"), "secret.txt\n.dockerignore\n").unwrap();
    let out = t.path("out");
    t.ok(&[
        "build",
        "-q",
        "--build-context",
        &format!("src={}", s(&lib)),
        "-o",
        s(&out),
        s(&dir),
    ]);
    let mut files: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["sub"]);
    assert_eq!(std::fs::read_to_string(out.join("sub/a.txt")).unwrap(), "a\n");
}

#[test]
fn metadata_file_and_iidfile_describe_the_built_image() {
    let t = with_busybox();
    let dir = context(&t, "app", "FROM busybox:test\nCOPY hello.txt /\n");
    let (meta, iid) = (t.path("meta.json"), t.path("iid"));
    t.ok(&[
        "build",
        "-q",
        "-t",
        "meta:1",
        "--iidfile",
        s(&iid),
        "--metadata-file",
        s(&meta),
        s(&dir),
    ]);
    let id = std::fs::read_to_string(&iid).unwrap();
    assert_eq!(id, t.ok(&["inspect", "--format", "{{.Id}}", "meta:1"]).trim());
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&meta).unwrap()).unwrap();
    assert_eq!(json["containerimage.config.digest"], id.as_str());
    assert_eq!(json["image.name"], "docker.io/library/meta:1");
    let digest = json["containerimage.digest"].as_str().unwrap();
    assert!(digest.starts_with("sha256:") && digest != id, "{json}");
    assert_eq!(json["containerimage.descriptor"]["digest"], digest);
    assert!(json["containerimage.descriptor"]["size"].as_u64().unwrap() > 0);
    assert!(json["containerimage.descriptor"]["mediaType"]
        .as_str()
        .unwrap()
        .contains("manifest"));
    // An output that exports no image has nothing of an image to describe.
    t.ok(&[
        "build",
        "-q",
        "-o",
        s(&t.path("files")),
        "--metadata-file",
        s(&meta),
        s(&dir),
    ]);
    assert_eq!(std::fs::read_to_string(&meta).unwrap().trim(), "{}");
}

#[test]
fn the_engine_apis_outputs_parameter_is_refused_by_name() {
    let t = with_busybox();
    let s = Service::start(&t);
    let outputs = "%5B%7B%22Type%22%3A%22moby%22%2C%22Attrs%22%3A%7B%22type%22%3A%22local%22%7D%7D%5D";
    let reply = s.send(&request(
        "POST",
        &format!("/v1.41/build?t=api-out:1&outputs={outputs}"),
        &[("Content-Type", "application/x-tar")],
        &[0u8; 1024],
    ));
    assert_eq!(reply.status, 400, "{}", reply.message());
    assert!(
        reply.message().contains("the build parameter outputs") && reply.message().contains("strata build --output"),
        "{}",
        reply.message()
    );
    assert!(!t.ok(&["images"]).contains("api-out"));
}

#[test]
fn a_docker_image_context_missing_from_the_store_is_pulled_as_a_base_image() {
    use harness::registry::{Registry, Setup};
    let t = with_busybox();
    let reg = Registry::start(&t.path("registry"), Setup::Plain);
    let remote = format!("{}/bb:ctx", reg.addr);
    t.ok(&["tag", "busybox:test", &remote]);
    t.ok(&["push", &remote]);
    t.ok(&["rmi", &remote]);
    let dir = context(
        &t,
        "app",
        "FROM base\nCOPY --from=tools /bin/busybox /bb\nRUN echo ok > /ok\n",
    );
    t.ok(&[
        "build",
        "-q",
        "-t",
        "pulled:1",
        "--build-context",
        &format!("base=docker-image://{remote}"),
        "--build-context",
        &format!("tools=docker-image://{remote}"),
        s(&dir),
    ]);
    assert!(t.ok(&["images"]).contains(&format!("{}/bb", reg.addr)), "pulled");
    assert_eq!(t.ok(&["run", "--rm", "pulled:1", "cat", "/ok"]), "ok\n");
}
