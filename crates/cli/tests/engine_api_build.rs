//! Builds over the Engine API socket (issue 19): `POST /build` from both docker CLIs
//! (the classic builder: docker 28 without buildx falls back to it, `DOCKER_BUILDKIT=0`
//! asks for it), its JSON stream, hostile and truncated contexts refused with nothing
//! tagged, and `POST /build/prune` (`docker builder prune`).

mod harness;

use harness::service::{clients, request, with_busybox, HttpReply, Service};
use serde_json::Value;
use std::path::Path;

fn context(dir: &Path, dockerfile: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    std::fs::write(dir.join("hello"), "hi\n").unwrap();
}

const DOCKERFILE: &str = "FROM busybox:test\nARG X=1\nRUN echo built-$X > /f\nCOPY hello /hello\nLABEL a=b\n";

/// The messages of a streamed answer (the reply's body, chunks joined), a JSON object
/// a line.
fn messages(reply: &HttpReply) -> Vec<Value> {
    String::from_utf8_lossy(&reply.body)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

fn post_build(service: &Service, query: &str, context: &[u8]) -> HttpReply {
    service.send(&request(
        "POST",
        &format!("/v1.41/build?{query}"),
        &[("Content-Type", "application/x-tar")],
        context,
    ))
}

/// A tar with one entry whose name is written as given (`../x`, `/x`), as a hostile
/// client sends it; `tar::Builder` would refuse such names.
fn raw_entry(name: &str, data: &[u8], kind: tar::EntryType, link: Option<&str>) -> Vec<u8> {
    let mut h = tar::Header::new_old();
    h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    if let Some(target) = link {
        h.as_old_mut().linkname[..target.len()].copy_from_slice(target.as_bytes());
    }
    h.set_entry_type(kind);
    h.set_mode(0o644);
    h.set_size(data.len() as u64);
    h.set_mtime(1_600_000_000);
    h.set_cksum();
    let mut out = h.as_bytes().to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

fn dockerfile_entry() -> Vec<u8> {
    raw_entry(
        "Dockerfile",
        b"FROM busybox:test\nCOPY . /ctx\n",
        tar::EntryType::Regular,
        None,
    )
}

#[test]
fn docker_build_builds_through_the_socket_with_both_clients() {
    let t = with_busybox();
    let mut s = Service::start(&t);
    let dir = t.path("ctx");
    context(&dir, DOCKERFILE);
    // A Dockerfile from outside the context: the CLI adds it to the archive it sends,
    // which then ends without the end-of-archive blocks.
    let outside = t.path("Dockerfile.outside");
    std::fs::write(&outside, "FROM busybox:test\nCOPY hello /from-outside\n").unwrap();
    for (i, client) in clients().into_iter().enumerate() {
        s.client = client;
        for classic in [true, false] {
            let tag = format!("api-built:{i}{}", if classic { "c" } else { "d" });
            let mut cmd = s.docker_cmd(&[
                "build",
                "-t",
                &tag,
                "-t",
                &format!("{tag}x"),
                "--build-arg",
                "X=7",
                "--label",
                "l=v",
                ".",
            ]);
            cmd.current_dir(&dir);
            if classic {
                cmd.env("DOCKER_BUILDKIT", "0");
            }
            let out = cmd.output().unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "{client}: {out:?}");
            assert!(text.contains("Step 1/5 : FROM busybox:test"), "{client}: {text}");
            assert!(text.contains(&format!("Successfully tagged {tag}")), "{client}: {text}");
            let seen = s.docker_ok(&["run", "--rm", &format!("{tag}x"), "cat", "/f", "/hello"]);
            assert_eq!(seen, "built-7\nhi\n", "{client}");
            let label = s.docker_ok(&[
                "inspect",
                "-f",
                "{{index .Config.Labels \"l\"}} {{index .Config.Labels \"a\"}}",
                &tag,
            ]);
            assert_eq!(label.trim(), "v b", "{client}");
        }
        let mut cmd = s.docker_cmd(&[
            "build",
            "-q",
            "-f",
            outside.to_str().unwrap(),
            "-t",
            "api-outside:1",
            ".",
        ]);
        cmd.current_dir(&dir).env("DOCKER_BUILDKIT", "0");
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{client}: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).trim().starts_with("sha256:"),
            "{client}: {out:?}"
        );
        assert_eq!(
            s.docker_ok(&["run", "--rm", "api-outside:1", "cat", "/from-outside"]),
            "hi\n"
        );
    }
}

#[test]
fn a_failed_build_reports_in_band_and_tags_nothing() {
    let t = with_busybox();
    let mut s = Service::start(&t);
    let dir = t.path("bad");
    context(&dir, "FROM busybox:test\nRUN echo step-ran; exit 3\n");
    for client in clients() {
        s.client = client;
        let mut cmd = s.docker_cmd(&["build", "-t", "api-bad:1", "."]);
        cmd.current_dir(&dir).env("DOCKER_BUILDKIT", "0");
        let out = cmd.output().unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.status.success(), "{client}: {all}");
        assert!(
            all.contains("step-ran") && all.contains("returned a non-zero code: 3"),
            "{client}: {all}"
        );
        assert!(
            !s.docker_ok(&["images"]).contains("api-bad"),
            "{client}: nothing tagged"
        );
    }
    // A Dockerfile error is the answer's status, before any output.
    let mut tar = raw_entry(
        "Dockerfile",
        b"FROM busybox:test\nNOTANINSTRUCTION x\n",
        tar::EntryType::Regular,
        None,
    );
    tar.extend_from_slice(&[0u8; 1024]);
    let reply = post_build(&s, "t=api-bad:2", &tar);
    let all = format!("{} {}", reply.status, String::from_utf8_lossy(&reply.body));
    assert!(reply.status == 400 || all.contains("errorDetail"), "{all}");
    assert!(all.contains("NOTANINSTRUCTION"), "{all}");
}

#[test]
fn the_build_stream_has_dockers_messages_and_takes_a_compressed_context() {
    let t = with_busybox();
    let s = Service::start(&t);
    let mut tar = raw_entry(
        "Dockerfile",
        b"FROM busybox:test\nCOPY x /x\n",
        tar::EntryType::Regular,
        None,
    );
    tar.extend(raw_entry("x", b"payload", tar::EntryType::Regular, None));
    tar.extend_from_slice(&[0u8; 1024]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    let gz = gz.finish().unwrap();
    let reply = post_build(&s, "t=api-gz:1&q=1", &gz);
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    let all = messages(&reply);
    let id = all
        .iter()
        .find_map(|m| m["aux"]["ID"].as_str())
        .unwrap_or_else(|| panic!("no aux ID in {all:?}"))
        .to_string();
    assert!(id.starts_with("sha256:"), "{id}");
    // Quiet: the ID is the only text.
    let text: String = all.iter().filter_map(|m| m["stream"].as_str()).collect();
    assert_eq!(text.trim(), id);
    let listed = t.ok(&["inspect", "-f", "{{.Id}}", "api-gz:1"]);
    assert_eq!(listed.trim(), id);
    // Without q, each line of the builder's output is a stream message.
    let reply = post_build(&s, "t=api-gz:2&labels=%7B%22k%22%3A%22v%22%7D&buildargs=%7B%7D", &tar);
    let all = messages(&reply);
    let text: String = all.iter().filter_map(|m| m["stream"].as_str()).collect();
    assert!(
        text.contains("Step 2/2 : COPY x /x") && text.contains("Successfully tagged api-gz:2"),
        "{text}"
    );
    // Docker's lines, without strata's timings: docker-py's images.build takes the ID
    // only from a "Successfully built ID" message that ends with it.
    let id = all.iter().find_map(|m| m["aux"]["ID"].as_str()).unwrap();
    let short = &id["sha256:".len()..][..12];
    let lines: Vec<&str> = all.iter().filter_map(|m| m["stream"].as_str()).collect();
    assert!(
        lines.contains(&format!("Successfully built {short}\n").as_str()),
        "{lines:?}"
    );
    let hex12 = |s: &str| s.len() == 12 && s.bytes().all(|b| b.is_ascii_hexdigit());
    assert!(
        lines
            .iter()
            .filter_map(|l| l.strip_prefix(" ---> "))
            .all(|rest| rest == "Using cache\n" || rest.strip_suffix('\n').is_some_and(hex12)),
        "{lines:?}"
    );
    // What strata cannot do is refused by name before the body is read.
    for (query, words) in [
        ("remote=https://example.invalid/ctx.tar", "remote build contexts"),
        ("version=2", "BuildKit builds (version=2)"),
        ("cachefrom=%5B%22app%3A1%22%5D", "--cache-from"),
        ("t=Bad%20Tag", "invalid tag"),
    ] {
        let reply = post_build(&s, query, &tar);
        let body = String::from_utf8_lossy(&reply.body).to_string();
        assert!(
            reply.status == 400 || body.contains("errorDetail"),
            "{query}: {} {body}",
            reply.status
        );
        assert!(body.contains(words), "{query}: {body}");
    }
}

#[test]
fn hostile_or_truncated_contexts_are_refused_and_nothing_is_tagged() {
    let t = with_busybox();
    let s = Service::start(&t);
    let marker = format!("strata-build-escape-{}", std::process::id());
    let above = t.root().parent().unwrap().join(&marker);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "dot-dot",
            raw_entry(&format!("../../../../{marker}"), b"x", tar::EntryType::Regular, None),
        ),
        (
            "absolute",
            raw_entry(&format!("/tmp/{marker}"), b"x", tar::EntryType::Regular, None),
        ),
        ("through-a-link", {
            let mut t = raw_entry("up", b"", tar::EntryType::Symlink, Some("/tmp"));
            t.extend(raw_entry(&format!("up/{marker}"), b"x", tar::EntryType::Regular, None));
            t
        }),
        ("truncated", {
            let mut t = raw_entry("big", &vec![7u8; 4096], tar::EntryType::Regular, None);
            t.truncate(512 + 1000);
            t
        }),
    ];
    for (i, (what, entries)) in cases.into_iter().enumerate() {
        let mut tar = dockerfile_entry();
        tar.extend(entries);
        if what != "truncated" {
            tar.extend_from_slice(&[0u8; 1024]);
        }
        let reply = post_build(&s, &format!("t=api-hostile:{i}"), &tar);
        let body = String::from_utf8_lossy(&reply.body).to_string();
        assert!(
            reply.status != 200 || body.contains("errorDetail"),
            "{what}: accepted: {} {body}",
            reply.status
        );
        let reason = if what == "truncated" {
            "truncated"
        } else {
            "unpacking the context archive"
        };
        assert!(body.contains(reason), "{what}: {body}");
        assert!(!Path::new(&format!("/tmp/{marker}")).exists(), "{what}: landed in /tmp");
        assert!(!above.exists(), "{what}: landed above the store");
        assert!(!t.ok(&["images"]).contains("api-hostile"), "{what}: nothing tagged");
    }
}

#[test]
fn builder_prune_removes_the_build_cache_and_keeps_what_was_built() {
    let t = with_busybox();
    let mut s = Service::start(&t);
    let dir = t.path("ctx");
    context(&dir, DOCKERFILE);
    let mut cmd = s.docker_cmd(&["build", "-q", "-t", "api-cached:1", "."]);
    cmd.current_dir(&dir).env("DOCKER_BUILDKIT", "0");
    assert!(cmd.output().unwrap().status.success());
    let reply = s.send(&request("POST", "/v1.41/build/prune", &[], b""));
    assert_eq!(reply.status, 200);
    let answer: Value = serde_json::from_slice(&reply.body).unwrap();
    let deleted = answer["CachesDeleted"].as_array().map_or(0, Vec::len);
    assert!(deleted >= 2, "the intermediate images of the steps: {answer}");
    assert!(answer["SpaceReclaimed"].as_u64().is_some(), "{answer}");
    assert_eq!(s.docker_ok(&["run", "--rm", "api-cached:1", "cat", "/f"]), "built-1\n");
    // The cache is gone: the same build runs its steps again.
    let mut cmd = s.docker_cmd(&["build", "-t", "api-cached:2", "."]);
    cmd.current_dir(&dir).env("DOCKER_BUILDKIT", "0");
    let again = String::from_utf8_lossy(&cmd.output().unwrap().stdout).to_string();
    assert!(
        again.contains("Running in") && !again.contains("Using cache"),
        "{again}"
    );
    // strata's own command calls the same library function.
    let pruned = t.ok(&["builder", "prune", "-f"]);
    assert!(
        pruned.starts_with("Deleted build cache objects:\nsha256:") && pruned.contains("Total reclaimed space"),
        "{pruned}"
    );
    assert_eq!(s.docker_ok(&["run", "--rm", "api-cached:2", "cat", "/f"]), "built-1\n");
    for client in clients() {
        s.client = client;
        let out = s.docker(&["builder", "prune", "-f"]);
        assert!(out.status.success(), "{client}: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Total reclaimed space"),
            "{client}: {out:?}"
        );
    }
}

#[test]
fn the_projects_hello_example_builds_through_the_socket_with_both_clients() {
    let t = with_busybox();
    let mut s = Service::start(&t);
    let dir = t.path("hello");
    std::fs::create_dir_all(&dir).unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello");
    for f in ["Dockerfile", ".dockerignore", "hello.c"] {
        std::fs::copy(example.join(f), dir.join(f)).unwrap();
    }
    let binary = dir.join("hello");
    harness::host(
        "gcc",
        &[
            "-static",
            "-O2",
            "-o",
            binary.to_str().unwrap(),
            dir.join("hello.c").to_str().unwrap(),
        ],
    );
    for (i, client) in clients().into_iter().enumerate() {
        s.client = client;
        let tag = format!("hello-api:{i}");
        let mut cmd = s.docker_cmd(&["build", "-t", &tag, "."]);
        cmd.current_dir(&dir);
        let out = cmd.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{client}: {out:?}");
        assert!(text.contains("Step 1/3 : FROM scratch"), "{client}: {text}");
        let ran = s.docker_ok(&["run", "--rm", &tag]);
        assert!(ran.starts_with("Hello from strata!\n"), "{client}: {ran}");
    }
}

#[test]
fn a_base_image_is_pulled_with_the_credentials_of_x_registry_config() {
    use harness::registry::{Registry, Setup};
    let t = with_busybox();
    let reg = Registry::start(
        &t.path("registry"),
        Setup::Basic {
            user: "erin",
            password: "b4se",
        },
    );
    let login = t.run_with_input(&["login", &reg.addr, "-u", "erin", "--password-stdin"], b"b4se\n");
    assert!(login.status.success(), "{login:?}");
    let base = format!("{}/base:1", reg.addr);
    t.ok(&["tag", "busybox:test", &base]);
    t.ok(&["push", &base]);
    // Another root, whose service never lends stored credentials: only the client's.
    let u = harness::TestRoot::new();
    let mut s = Service::start(&u);
    let dir = u.path("ctx");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("Dockerfile"), format!("FROM {base}\nRUN echo built > /f\n")).unwrap();
    for client in clients() {
        s.client = client;
        let _ = s.docker(&["logout", &reg.addr]);
        let mut cmd = s.docker_cmd(&["build", "-t", "from-registry:1", "."]);
        cmd.current_dir(&dir).env("DOCKER_BUILDKIT", "0");
        let anonymous = cmd.output().unwrap();
        let all = format!("{anonymous:?}");
        assert!(
            !anonymous.status.success() && all.contains("unauthorized"),
            "{client}: {all}"
        );
        let login = s.docker_login(&reg.addr, "erin", "b4se");
        assert!(login.status.success(), "{client}: {login:?}");
        let mut cmd = s.docker_cmd(&["build", "-t", "from-registry:1", "."]);
        cmd.current_dir(&dir).env("DOCKER_BUILDKIT", "0");
        let built = cmd.output().unwrap();
        assert!(built.status.success(), "{client}: {built:?}");
        assert_eq!(s.docker_ok(&["run", "--rm", "from-registry:1", "cat", "/f"]), "built\n");
        s.docker_ok(&["rmi", "-f", "from-registry:1", &base]);
    }
}
