//! The Engine API's image transfers and system streams, driven by the real docker 28
//! client and raw HTTP against `strata system service`, with real registries on
//! 127.0.0.1 (Debian's docker-registry, with and without token auth; the misbehaving
//! one where a transfer must stall): pull, push, login, save, load, import, commit,
//! events and search.

mod harness;

use harness::registry::{Misbehaving, Registry, Setup};
use harness::service::{clients, request, with_busybox, HttpReply, Service, BOUND};
use harness::TestRoot;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::process::Output;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// `system check` exits 0 and reports neither problems nor garbage.
fn assert_clean(t: &TestRoot) {
    let out = t.ok(&["system", "check", "--quick"]);
    assert!(
        out.contains("the store is consistent") && !out.contains("garbage:") && !out.contains("problem:"),
        "{out}"
    );
}

fn image_id(t: &TestRoot, name: &str) -> String {
    t.ok(&["inspect", "--format", "{{.Id}}", name]).trim().to_string()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A GET whose answer may be binary (the harness reads answers as text): its status
/// line and headers, and its body with the chunks of a streamed answer joined.
fn get_bytes(service: &Service, path: &str) -> (String, Vec<u8>) {
    let mut stream = UnixStream::connect(&service.socket).unwrap();
    stream.set_read_timeout(Some(BOUND)).unwrap();
    stream.write_all(&request("GET", path, &[], b"")).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("an answer");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let body = &raw[split + 4..];
    let chunked = head.to_ascii_lowercase().contains("transfer-encoding: chunked");
    (head, if chunked { dechunked(body) } else { body.to_vec() })
}

/// A chunked body's chunks, joined.
fn dechunked(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n").expect("a chunk size line");
        let size = usize::from_str_radix(std::str::from_utf8(&rest[..line_end]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&rest[line_end + 2..line_end + 2 + size]);
        rest = &rest[line_end + 2 + size + 2..];
    }
}

/// A text answer's body (the harness dechunks a streamed one).
fn body_of(reply: &HttpReply) -> Vec<u8> {
    reply.body.clone()
}

/// The JSON documents of a streamed answer, one a line.
fn messages(body: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(body)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// busybox pushed by the strata CLI to `registry` as `app:1`.
fn push_busybox(t: &TestRoot, registry: &str) -> String {
    let name = format!("{registry}/app:1");
    t.ok(&["tag", "busybox:test", &name]);
    t.ok(&["push", &name]);
    name
}

#[test]
fn docker_pull_downloads_from_a_registry_then_finds_the_image_up_to_date() {
    for client in clients() {
        docker_pull_downloads_from_a_registry_then_finds_the_image_up_to_date_with(client);
    }
}

fn docker_pull_downloads_from_a_registry_then_finds_the_image_up_to_date_with(client: &'static str) {
    let t = with_busybox();
    let reg = Registry::start(&t.path("registry"), Setup::Plain);
    let name = push_busybox(&t, &reg.addr);

    let u = TestRoot::new();
    let service = Service::start(&u).using(client);
    let out = service.docker_ok(&["pull", &name]);
    for want in [
        "1: Pulling from app",
        "Pulling fs layer",
        "Pull complete",
        "Digest: sha256:",
        &format!("Status: Downloaded newer image for {name}"),
    ] {
        assert!(out.contains(want), "{want:?} missing from:\n{out}");
    }
    // The same image as pushed, listed by the strata CLI on the service's root.
    assert_eq!(image_id(&u, &name), image_id(&t, "busybox:test"));
    let again = service.docker_ok(&["pull", &name]);
    assert!(
        again.contains(&format!("Status: Image is up to date for {name}")),
        "{again}"
    );
    assert_clean(&u);
}

#[test]
fn a_pull_of_a_missing_repository_answers_404_before_any_progress() {
    let t = TestRoot::new();
    let reg = Registry::start(&t.path("registry"), Setup::Plain);
    let service = Service::start(&t);
    let path = format!("/v1.41/images/create?fromImage={}%2Fnothing&tag=1", reg.addr);
    let missing = service.send(&request("POST", &path, &[], b""));
    assert_eq!(missing.status, 404, "{}", String::from_utf8_lossy(&missing.body));
    assert!(missing.message().contains("nothing"), "{}", missing.message());
    // The docker client reports it and fails.
    let out = service.docker(&["pull", &format!("{}/nothing:1", reg.addr)]);
    assert!(!out.status.success());
    assert!(text(&out).contains("not found"), "{}", text(&out));
    assert!(t.image_ids().is_empty());
}

#[test]
fn docker_push_needs_docker_login_on_a_token_registry() {
    for client in clients() {
        docker_push_needs_docker_login_on_a_token_registry_with(client);
    }
}

fn docker_push_needs_docker_login_on_a_token_registry_with(client: &'static str) {
    let t = with_busybox();
    let reg = Registry::start(
        &t.path("registry"),
        Setup::Bearer {
            user: "carol",
            password: "tok3n",
        },
    );
    let a = &reg.addr;
    let service = Service::start(&t).using(client);
    let name = format!("{a}/bb:1");
    service.docker_ok(&["tag", "busybox:test", &name]);

    // Anonymous tokens only pull: the refusal comes in-band, and the client fails on it.
    let anonymous = service.docker(&["push", &name]);
    assert!(!anonymous.status.success(), "{}", text(&anonymous));
    assert!(text(&anonymous).contains(&format!("The push refers to repository [{a}/bb]")));
    assert!(text(&anonymous).contains("unauthorized"), "{}", text(&anonymous));

    let wrong = service.docker_login(a, "carol", "nope");
    assert!(!wrong.status.success(), "{}", text(&wrong));
    assert!(text(&wrong).contains("401 Unauthorized"), "{}", text(&wrong));
    let login = service.docker_login(a, "carol", "tok3n");
    assert!(login.status.success(), "{}", text(&login));
    assert!(text(&login).contains("Login Succeeded"), "{}", text(&login));

    let pushed = service.docker_ok(&["push", &name]);
    assert!(pushed.contains("Pushed"), "{pushed}");
    let digest_line = pushed
        .lines()
        .find(|l| l.starts_with("1: digest: sha256:"))
        .unwrap_or_else(|| panic!("no digest line in:\n{pushed}"));
    assert!(digest_line.contains(" size: "), "{digest_line}");
    // Again: every layer is there already.
    let again = service.docker_ok(&["push", &name]);
    assert!(again.contains("Layer already exists"), "{again}");

    // Anyone pulls it anonymously through another service, on another root.
    let u = TestRoot::new();
    let other = Service::start(&u).using(client);
    other.docker_ok(&["pull", &name]);
    assert_eq!(image_id(&u, &name), image_id(&t, "busybox:test"));
}

#[test]
fn docker_pull_sends_the_credentials_of_docker_login_to_a_registry_that_wants_them() {
    for client in clients() {
        docker_pull_sends_the_credentials_of_docker_login_to_a_registry_that_wants_them_with(client);
    }
}

fn docker_pull_sends_the_credentials_of_docker_login_to_a_registry_that_wants_them_with(client: &'static str) {
    let t = with_busybox();
    let reg = Registry::start(
        &t.path("registry"),
        Setup::Basic {
            user: "dave",
            password: "s3cret",
        },
    );
    let a = &reg.addr;
    let login = t.run_with_input(&["login", a, "-u", "dave", "--password-stdin"], b"s3cret\n");
    assert!(login.status.success(), "{}", text(&login));
    let name = push_busybox(&t, a);

    // Another root, whose service never lends stored credentials: only the client's.
    let u = TestRoot::new();
    let service = Service::start(&u).using(client);
    let anonymous = service.docker(&["pull", &name]);
    assert!(!anonymous.status.success(), "{}", text(&anonymous));
    assert!(text(&anonymous).contains("unauthorized"), "{}", text(&anonymous));
    assert!(u.image_ids().is_empty());
    let login = service.docker_login(a, "dave", "s3cret");
    assert!(login.status.success(), "{}", text(&login));
    service.docker_ok(&["pull", &name]);
    assert_eq!(image_id(&u, &name), image_id(&t, "busybox:test"));
}

#[test]
fn a_push_of_an_image_not_stored_is_404() {
    let t = TestRoot::new();
    let service = Service::start(&t);
    let missing = service.http("POST", "/v1.41/images/127.0.0.1:1%2Fnothing/push?tag=1");
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.message(),
        "An image does not exist locally with the tag: 127.0.0.1:1/nothing"
    );
}

#[test]
fn docker_save_and_load_round_trip_images() {
    for client in clients() {
        docker_save_and_load_round_trip_images_with(client);
    }
}

fn docker_save_and_load_round_trip_images_with(client: &'static str) {
    let t = with_busybox();
    let service = Service::start(&t).using(client);
    let id = image_id(&t, "busybox:test");
    service.docker_ok(&["tag", "busybox:test", "second:2"]);
    let archive = t.path("saved.tar");
    service.docker_ok(&["save", "-o", archive.to_str().unwrap(), "busybox:test", "second:2"]);
    service.docker_ok(&["rmi", "busybox:test", "second:2"]);
    assert!(t.image_ids().is_empty());

    let loaded = service.docker_ok(&["load", "-i", archive.to_str().unwrap()]);
    assert!(loaded.contains("Loaded image: busybox:test"), "{loaded}");
    assert!(loaded.contains("Loaded image: second:2"), "{loaded}");
    assert_eq!(image_id(&t, "busybox:test"), id);
    assert_eq!(image_id(&t, "second:2"), id);

    // GET /images/get?names=…: one archive naming both.
    let (head, body) = get_bytes(&service, "/v1.41/images/get?names=busybox%3Atest&names=second%3A2");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("Content-Type: application/x-tar"), "{head}");
    let mut tar = tar::Archive::new(&body[..]);
    let manifest: Value = tar
        .entries()
        .unwrap()
        .map(Result::unwrap)
        .find(|e| e.path().unwrap().to_str() == Some("manifest.json"))
        .map(|mut e| {
            let mut s = String::new();
            e.read_to_string(&mut s).unwrap();
            serde_json::from_str(&s).unwrap()
        })
        .expect("manifest.json in the archive");
    let tags: Vec<&str> = manifest
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| m["RepoTags"].as_array().unwrap())
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(
        tags.contains(&"busybox:test") && tags.contains(&"second:2"),
        "{manifest}"
    );

    let missing = service.http("GET", "/v1.41/images/nothing:1/get");
    assert_eq!(missing.status, 404);
    assert!(missing.message().contains("nothing:1"), "{}", missing.message());
    assert_clean(&t);
}

#[test]
fn a_load_body_broken_off_midway_loads_nothing() {
    let t = with_busybox();
    let service = Service::start(&t);
    let whole = t.path("whole.tar");
    t.ok(&["save", "-o", whole.to_str().unwrap(), "busybox:test"]);
    t.ok(&["rmi", "busybox:test"]);
    let archive = std::fs::read(&whole).unwrap();

    // The request announces the whole archive, sends half and stops writing.
    let head = format!(
        "POST /v1.41/images/load HTTP/1.1\r\nHost: strata\r\nContent-Type: application/x-tar\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        archive.len()
    );
    let mut stream = UnixStream::connect(&service.socket).unwrap();
    stream.set_read_timeout(Some(BOUND)).unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&archive[..archive.len() / 2]).unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let answer = HttpReply::read(stream);
    assert!(answer.status >= 400, "status {}", answer.status);
    assert!(t.image_ids().is_empty());

    // A hostile body (not an archive at all) is refused the same way.
    let junk = service.send(&request(
        "POST",
        "/v1.41/images/load",
        &[("Content-Type", "application/x-tar")],
        &[7u8; 10_000],
    ));
    assert!(junk.status >= 400, "status {}", junk.status);
    assert!(t.image_ids().is_empty());
    assert_clean(&t);

    // The whole archive loads.
    let loaded = service.send(&request("POST", "/v1.41/images/load?quiet=1", &[], &archive));
    assert_eq!(loaded.status, 200);
    assert_eq!(
        messages(&body_of(&loaded)),
        [serde_json::json!({ "stream": "Loaded image: busybox:test\n" })]
    );
}

#[test]
fn docker_import_reads_a_tarball_from_the_request_body() {
    for client in clients() {
        docker_import_reads_a_tarball_from_the_request_body_with(client);
    }
}

fn docker_import_reads_a_tarball_from_the_request_body_with(client: &'static str) {
    let t = TestRoot::new();
    let service = Service::start(&t).using(client);
    let tar = t.path("busybox.tar");
    harness::images::busybox_rootfs(&tar);
    let out = service.docker_ok(&[
        "import",
        "-c",
        "CMD [\"echo\", \"imported\"]",
        "-m",
        "from the API",
        tar.to_str().unwrap(),
        "imported:1",
    ]);
    let id = out.trim();
    assert!(id.starts_with("sha256:"), "{out}");
    assert_eq!(image_id(&t, "imported:1"), id);
    assert_eq!(t.ok(&["run", "--rm", "imported:1"]).trim(), "imported");
    let history = t.ok(&["history", "--format", "{{.Comment}}", "imported:1"]);
    assert!(history.contains("from the API"), "{history}");

    let wrong = service.http("POST", "/v1.41/images/create?fromSrc=ftp%3A%2F%2Fx%2Fy.tar");
    assert_eq!(wrong.status, 400);
    assert!(wrong.message().contains("fromSrc"), "{}", wrong.message());
}

#[test]
fn docker_commit_makes_an_image_of_a_container_strata_ran() {
    for client in clients() {
        docker_commit_makes_an_image_of_a_container_strata_ran_with(client);
    }
}

fn docker_commit_makes_an_image_of_a_container_strata_ran_with(client: &'static str) {
    let t = with_busybox();
    t.ok(&[
        "run",
        "--name",
        "maker",
        "busybox:test",
        "sh",
        "-c",
        "echo made > /made.txt",
    ]);
    let service = Service::start(&t).using(client);
    let out = service.docker_ok(&[
        "commit",
        "-a",
        "Ann <ann@example.com>",
        "-m",
        "made a file",
        "-c",
        "CMD [\"cat\", \"/made.txt\"]",
        "maker",
        "made:1",
    ]);
    let id = out.trim();
    assert!(id.starts_with("sha256:"), "{out}");
    assert_eq!(image_id(&t, "made:1"), id);
    assert_eq!(t.ok(&["run", "--rm", "made:1"]).trim(), "made");
    let inspected = service.docker_json(&["image", "inspect", "made:1"]);
    assert_eq!(inspected[0]["Author"], "Ann <ann@example.com>");
    assert_eq!(inspected[0]["Comment"], "made a file");

    // A config body asking for what strata does not apply is refused by name.
    let refused = service.send(&request(
        "POST",
        "/v1.41/commit?container=maker&repo=other",
        &[("Content-Type", "application/json")],
        br#"{"Cmd":["true"],"Tty":false}"#,
    ));
    assert_eq!(refused.status, 400);
    assert!(refused.message().contains("\"Cmd\""), "{}", refused.message());
    let missing = service.http("POST", "/v1.41/commit?container=nobody");
    assert_eq!(missing.status, 404);
    assert_clean(&t);
}

#[test]
fn docker_events_shows_what_was_just_done() {
    for client in clients() {
        docker_events_shows_what_was_just_done_with(client);
    }
}

fn docker_events_shows_what_was_just_done_with(client: &'static str) {
    let t = with_busybox();
    let service = Service::start(&t).using(client);
    let since = unix_now().to_string();
    service.docker_ok(&["tag", "busybox:test", "evented:1"]);
    t.ok(&["run", "--rm", "--name", "brief", "busybox:test", "true"]);
    service.docker_ok(&["rmi", "evented:1"]);
    let until = (unix_now() + 1).to_string();

    let all = service.docker_ok(&["events", "--since", &since, "--until", &until, "--format", "{{json .}}"]);
    let events = messages(all.as_bytes());
    let seen = |kind: &str, action: &str| events.iter().any(|e| e["Type"] == kind && e["Action"] == action);
    for (kind, action) in [
        ("image", "tag"),
        ("image", "untag"),
        ("container", "create"),
        ("container", "start"),
        ("container", "die"),
    ] {
        assert!(seen(kind, action), "no {kind} {action} in:\n{all}");
    }
    let tagged = events.iter().find(|e| e["Action"] == "tag").unwrap();
    assert_eq!(tagged["Actor"]["Attributes"]["name"], "evented:1");
    assert_eq!(tagged["status"], "tag");
    assert!(tagged["timeNano"].as_i64().unwrap() >= since.parse::<i64>().unwrap() * 1_000_000_000);

    let images_only = service.docker_ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "type=image",
        "--format",
        "{{.Type}}",
    ]);
    assert!(!images_only.is_empty());
    assert!(images_only.lines().all(|l| l == "image"), "{images_only}");

    let bad = service.http(
        "GET",
        "/v1.41/events?filters=%7B%22colour%22%3A%7B%22red%22%3Atrue%7D%7D",
    );
    assert_eq!(bad.status, 400);
}

/// The service's threads whose name starts with `prefix` (Linux keeps 15 bytes).
fn threads_named(service: &Service, prefix: &str) -> usize {
    let tasks = format!("/proc/{}/task", service.child.id());
    std::fs::read_dir(tasks)
        .unwrap()
        .flatten()
        .filter(|task| std::fs::read_to_string(task.path().join("comm")).is_ok_and(|c| c.starts_with(prefix)))
        .count()
}

/// Waits, within the generous bound, until `done` holds.
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < BOUND, "{what} did not happen within {BOUND:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn an_events_client_that_goes_away_ends_its_stream() {
    let t = with_busybox();
    let service = Service::start(&t);
    // The producer thread of a streamed JSON answer is named `api-application/json`.
    let producers = || threads_named(&service, "api-application");
    assert_eq!(producers(), 0);
    let mut stream = UnixStream::connect(&service.socket).unwrap();
    stream.set_read_timeout(Some(BOUND)).unwrap();
    stream.write_all(&request("GET", "/v1.41/events", &[], b"")).unwrap();
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    // A new event arrives on the open stream.
    t.ok(&["tag", "busybox:test", "followed:1"]);
    let mut line = String::new();
    while !line.contains("followed:1") {
        line.clear();
        assert!(reader.read_line(&mut line).unwrap() > 0, "the stream ended");
    }
    assert_eq!(producers(), 1);
    // The client goes away while nothing happens: the follow ends by itself.
    drop(reader);
    eventually("the events producer ending", || producers() == 0);
}

#[test]
fn a_client_that_disconnects_mid_pull_leaves_nothing_half_made() {
    let t = TestRoot::new();
    // Its only blob stops halfway and stalls for 30 s the first time it is sent.
    let registry = Misbehaving::start(&t.path("registry"), "stall-once");
    let service = Service::start(&t);
    let path = format!("/v1.41/images/create?fromImage={}%2Fslow&tag=1", registry.addr);
    let mut stream = UnixStream::connect(&service.socket).unwrap();
    stream.set_read_timeout(Some(BOUND)).unwrap();
    stream.write_all(&request("POST", &path, &[], b"")).unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    while !line.contains("Downloading") {
        line.clear();
        assert!(reader.read_line(&mut line).unwrap() > 0, "the pull ended early");
    }
    drop(reader);
    // check takes the store lock the pull holds: it runs once the pull has given up.
    assert_clean(&t);
    assert!(t.image_ids().is_empty(), "{:?}", t.image_ids());
    let log = service.log_text();
    assert!(log.contains("a pull stopped: the API client went away"), "{log}");
    // Nothing left in the way: a client that stays gets the image.
    let pulled = service.docker_ok(&["pull", &format!("{}/slow:1", registry.addr)]);
    assert!(pulled.contains("Downloaded newer image"), "{pulled}");
    assert_clean(&t);
}

#[test]
fn docker_search_finds_repositories_in_a_registry_catalog() {
    let t = with_busybox();
    let reg = Registry::start(&t.path("registry"), Setup::Plain);
    push_busybox(&t, &reg.addr);
    let service = Service::start(&t);
    let out = service.docker_ok(&["search", &format!("{}/ap", reg.addr)]);
    assert!(out.contains(&format!("{}/app", reg.addr)), "{out}");
    let no_term = service.http("GET", "/v1.41/images/search");
    assert_eq!(no_term.status, 400);
}
