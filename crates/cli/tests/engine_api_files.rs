//! A container's files and statistics over the Engine API (`system service`), driven by
//! both docker clients this machine has: docker 28 (`/usr/local/bin/docker`) and
//! Debian's docker.io 20.10 (`/usr/bin/docker`, API 1.41), plus raw HTTP for hostile
//! archives and for what the clients do not show. Containers are made with the strata
//! CLI on the same root.

mod harness;

use harness::service::{request, with_busybox, Service, BOUND};
use harness::TestRoot;
use serde_json::Value;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Both docker clients: every client test runs with each.
const CLIENTS: [&str; 2] = ["/usr/local/bin/docker", "/usr/bin/docker"];

fn docker(t: &TestRoot, service: &Service, client: &str, args: &[&str]) -> Output {
    Command::new(client)
        .args(args)
        .env("DOCKER_HOST", format!("unix://{}", service.socket.display()))
        .env("DOCKER_CONFIG", t.path("docker-config"))
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{client}: {e} (scripts/test.sh installs docker.io for /usr/bin/docker)"))
}

fn docker_ok(t: &TestRoot, service: &Service, client: &str, args: &[&str]) -> String {
    let out = docker(t, service, client, args);
    assert!(
        out.status.success(),
        "{client} {args:?} failed ({}):\nstdout: {}\nstderr: {}\nservice log: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        service.log_text()
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A raw answer, its body as bytes (chunked bodies decoded).
struct Answer {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(": ")?;
            n.eq_ignore_ascii_case(name).then(|| v.to_string())
        })
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

fn call(service: &Service, method: &str, path: &str, body: &[u8]) -> Answer {
    let headers: &[(&str, &str)] = match body.is_empty() {
        true => &[],
        false => &[("Content-Type", "application/x-tar")],
    };
    let mut stream = UnixStream::connect(&service.socket).unwrap();
    stream.set_read_timeout(Some(BOUND)).unwrap();
    stream.write_all(&request(method, path, headers, body)).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("an answer");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let mut body = raw[split + 4..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    Answer { status, head, body }
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(line_end) = raw.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size = usize::from_str_radix(std::str::from_utf8(&raw[..line_end]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[line_end + 2..line_end + 2 + size]);
        raw = &raw[line_end + 2 + size + 2..];
    }
}

/// The names in a tar.
fn tar_names(tar: &[u8]) -> Vec<String> {
    tar::Archive::new(tar)
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect()
}

/// A tar whose entry names and link targets are written exactly as given (the tar
/// crate's builder refuses `..` and absolute names, which these tests need to send).
enum Entry<'a> {
    File(&'a str, &'a [u8]),
    Symlink(&'a str, &'a str),
    HardLink(&'a str, &'a str),
}

fn raw_tar(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in entries {
        let (name, kind, link, data): (&str, tar::EntryType, &str, &[u8]) = match entry {
            Entry::File(n, d) => (n, tar::EntryType::Regular, "", d),
            Entry::Symlink(n, l) => (n, tar::EntryType::Symlink, l, b""),
            Entry::HardLink(n, l) => (n, tar::EntryType::Link, l, b""),
        };
        let mut h = tar::Header::new_old();
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        h.set_entry_type(kind);
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        h.set_mtime(0);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

/// A host directory an attack aims at, and what it held before.
struct Witness {
    dir: std::path::PathBuf,
}

impl Witness {
    fn new(t: &TestRoot) -> Witness {
        let dir = t.path("witness");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("keep"), b"host file\n").unwrap();
        Witness { dir }
    }

    fn path(&self) -> String {
        self.dir.to_str().unwrap().to_string()
    }

    fn assert_untouched(&self, what: &str) {
        let names: Vec<String> = std::fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            ["keep"],
            "{what} wrote into the host directory {}",
            self.dir.display()
        );
        let keep = self.dir.join("keep");
        assert_eq!(std::fs::read(&keep).unwrap(), b"host file\n", "{what}");
        assert_eq!(
            std::fs::metadata(&keep).unwrap().nlink(),
            1,
            "{what} linked the host file"
        );
    }
}

/// A busybox container running `sleep`, made by the strata CLI.
fn running(t: &TestRoot, name: &str) {
    t.ok(&[
        "run",
        "-d",
        "--name",
        name,
        "--network",
        "none",
        "busybox:test",
        "sleep",
        "1000",
    ]);
}

/// Whether anything of the container is mounted (a stopped container's root is
/// mounted for a copy and unmounted after).
fn mounted(t: &TestRoot, name: &str) -> bool {
    let id = t.ok(&["inspect", "--format", "{{.Id}}", name]);
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    mounts.lines().any(|l| l.contains(id.trim()))
}

#[test]
fn docker_top_diff_and_export_of_strata_containers() {
    let t = with_busybox();
    let service = Service::start(&t);
    running(&t, "web");
    t.ok(&["exec", "web", "sh", "-c", "echo hi > /tmp/new && rm /etc/group"]);
    t.ok(&["create", "--name", "idle", "busybox:test"]);
    for client in CLIENTS {
        let top = docker_ok(&t, &service, client, &["top", "web"]);
        assert!(top.lines().next().unwrap().contains("PID"), "{client}: {top}");
        assert!(top.contains("sleep 1000"), "{client}: {top}");
        let custom = docker_ok(&t, &service, client, &["top", "web", "-o", "pid,args"]);
        assert!(custom.lines().next().unwrap().contains("COMMAND"), "{client}: {custom}");
        let refused = docker(&t, &service, client, &["top", "idle"]);
        assert!(!refused.status.success());
        assert!(
            String::from_utf8_lossy(&refused.stderr).contains("is not running"),
            "{client}: {refused:?}"
        );

        let diff = docker_ok(&t, &service, client, &["diff", "web"]);
        let diff: Vec<&str> = diff.lines().collect();
        for change in ["C /etc", "D /etc/group", "C /tmp", "A /tmp/new"] {
            assert!(diff.contains(&change), "{client}: {change} missing from {diff:?}");
        }

        let exported = t.path("web.tar");
        docker_ok(
            &t,
            &service,
            client,
            &["export", "-o", exported.to_str().unwrap(), "web"],
        );
        let names = tar_names(&std::fs::read(&exported).unwrap());
        assert!(names.iter().any(|n| n.ends_with("bin/busybox")), "{client}: {names:?}");
        assert!(names.iter().any(|n| n.ends_with("tmp/new")));
        assert!(!names.iter().any(|n| n.ends_with("etc/group")));
        let stopped = t.path("idle.tar");
        docker_ok(
            &t,
            &service,
            client,
            &["export", "-o", stopped.to_str().unwrap(), "idle"],
        );
        assert!(tar_names(&std::fs::read(&stopped).unwrap())
            .iter()
            .any(|n| n.ends_with("etc/group")));
    }
    let answer = call(&service, "GET", "/containers/idle/top", b"");
    assert_eq!(answer.status, 409, "{}", String::from_utf8_lossy(&answer.body));
    let changes = call(&service, "GET", "/containers/web/changes", b"").json();
    assert!(changes
        .as_array()
        .unwrap()
        .contains(&serde_json::json!({"Path": "/etc/group", "Kind": 2})));
    assert!(changes
        .as_array()
        .unwrap()
        .contains(&serde_json::json!({"Path": "/tmp/new", "Kind": 1})));
    assert_eq!(call(&service, "GET", "/containers/nothing/export", b"").status, 404);
}

#[test]
fn docker_cp_copies_files_and_directories_both_ways_running_or_stopped() {
    let t = with_busybox();
    let service = Service::start(&t);
    running(&t, "web");
    t.ok(&["create", "--name", "idle", "busybox:test"]);
    let host_dir = t.path("site");
    std::fs::create_dir_all(host_dir.join("sub")).unwrap();
    std::fs::write(host_dir.join("sub/page.html"), b"<p>page</p>\n").unwrap();
    std::fs::write(t.path("note.txt"), b"a note\n").unwrap();
    for (n, client) in CLIENTS.iter().enumerate() {
        let out = t.path(&format!("out-{n}"));
        std::fs::create_dir_all(&out).unwrap();
        // Into a running container: a file into a directory, a directory as a new name.
        docker_ok(
            &t,
            &service,
            client,
            &["cp", t.path("note.txt").to_str().unwrap(), "web:/tmp/"],
        );
        assert_eq!(t.ok(&["exec", "web", "cat", "/tmp/note.txt"]), "a note\n");
        let site = format!("web:/tmp/site-{n}");
        docker_ok(&t, &service, client, &["cp", host_dir.to_str().unwrap(), &site]);
        let page = format!("/tmp/site-{n}/sub/page.html");
        assert_eq!(t.ok(&["exec", "web", "cat", &page]), "<p>page</p>\n");
        // Out of it: a file, a directory.
        docker_ok(&t, &service, client, &["cp", "web:/etc/passwd", out.to_str().unwrap()]);
        let passwd = std::fs::read_to_string(out.join("passwd")).unwrap();
        assert!(
            passwd.starts_with("root:x:0:0:root:/root:/bin/sh\n"),
            "{client}: {passwd}"
        );
        docker_ok(&t, &service, client, &["cp", "web:/var/www", out.to_str().unwrap()]);
        assert_eq!(std::fs::read(out.join("www/index.html")).unwrap(), b"<h1>hello</h1>\n");

        // A stopped container: its root is mounted for the copy, and unmounted after.
        docker_ok(
            &t,
            &service,
            client,
            &["cp", t.path("note.txt").to_str().unwrap(), "idle:/note"],
        );
        docker_ok(&t, &service, client, &["cp", host_dir.to_str().unwrap(), "idle:/var/"]);
        assert!(
            !mounted(&t, "idle"),
            "{client}: the stopped container's root stays mounted"
        );
        let back = out.join("back");
        docker_ok(&t, &service, client, &["cp", "idle:/note", back.to_str().unwrap()]);
        assert_eq!(std::fs::read(&back).unwrap(), b"a note\n");
        docker_ok(&t, &service, client, &["cp", "idle:/var/site", out.to_str().unwrap()]);
        assert_eq!(std::fs::read(out.join("site/sub/page.html")).unwrap(), b"<p>page</p>\n");
        assert!(!mounted(&t, "idle"));

        let missing = docker(&t, &service, client, &["cp", "web:/nothing", out.to_str().unwrap()]);
        assert!(!missing.status.success());
        // docker 28 says it its own way after the 404 of the path's stat.
        let said = String::from_utf8_lossy(&missing.stderr);
        assert!(
            said.contains("Could not find the file /nothing") || said.contains("No such container:path: web:/nothing"),
            "{client}: {said}"
        );
    }
}

/// Decodes standard base64 (the stat header), with no crate for it in the tests.
fn unbase64(text: &str) -> Vec<u8> {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.bytes().filter(|c| *c != b'=') {
        bits = (bits << 6) | alphabet.iter().position(|a| *a == c).unwrap() as u32;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    out
}

#[test]
fn archive_head_and_get_answer_dockers_path_stat() {
    let t = with_busybox();
    let service = Service::start(&t);
    running(&t, "web");
    t.ok(&["exec", "web", "ln", "-s", "../var/www", "/tmp/site"]);
    let stat = |path: &str| -> Value {
        let answer = call(&service, "HEAD", &format!("/containers/web/archive?path={path}"), b"");
        assert_eq!(answer.status, 200, "{path}: {}", answer.head);
        let header = answer.header("X-Docker-Container-Path-Stat").expect("the stat header");
        serde_json::from_slice(&unbase64(&header)).unwrap()
    };
    let www = stat("/var/www");
    assert_eq!(www["name"], "www");
    assert_eq!(
        www["mode"].as_u64().unwrap(),
        (1 << 31) | 0o755,
        "a directory, in Go's FileMode"
    );
    let link = stat("/tmp/site");
    assert_eq!(link["linkTarget"], "/var/www");
    assert_eq!(link["mode"].as_u64().unwrap() & (1 << 27), 1 << 27, "a symlink");
    let file = stat("/var/www/index.html");
    assert_eq!(
        (file["name"].as_str(), file["size"].as_u64()),
        (Some("index.html"), Some(15))
    );
    assert!(file["mtime"].as_str().unwrap().contains('T'));

    let answer = call(&service, "GET", "/containers/web/archive?path=/var/www", b"");
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("Content-Type").as_deref(), Some("application/x-tar"));
    assert!(answer.header("X-Docker-Container-Path-Stat").is_some());
    assert_eq!(tar_names(&answer.body), ["www/", "www/index.html"]);
    assert_eq!(
        call(&service, "HEAD", "/containers/web/archive?path=/nothing", b"").status,
        404
    );
    let missing = call(&service, "GET", "/containers/web/archive?path=/nothing", b"");
    assert_eq!(missing.status, 404);
    assert!(missing.json()["message"]
        .as_str()
        .unwrap()
        .contains("Could not find the file /nothing"));
    assert_eq!(call(&service, "GET", "/containers/web/archive", b"").status, 400);
    let into_file = call(
        &service,
        "PUT",
        "/containers/web/archive?path=/etc/passwd",
        &raw_tar(&[Entry::File("x", b"x")]),
    );
    assert_eq!(into_file.status, 400, "extraction point is not a directory");
    let into_missing = call(
        &service,
        "PUT",
        "/containers/web/archive?path=/nothing",
        &raw_tar(&[Entry::File("x", b"x")]),
    );
    assert_eq!(into_missing.status, 404);
}

/// Puts `tar` into the running container `web` at `path`; returns the status.
fn put(service: &Service, path: &str, tar: &[u8]) -> u16 {
    call(service, "PUT", &format!("/containers/web/archive?path={path}"), tar).status
}

#[test]
fn archive_entries_with_dotdot_are_refused_and_absolute_ones_land_under_the_destination_never_on_the_host() {
    let t = with_busybox();
    let service = Service::start(&t);
    running(&t, "web");
    let witness = Witness::new(&t);
    let dotdot = format!("../../../../../../../../../..{}/evil", witness.path());
    for name in [dotdot.as_str(), "tmp/../../evil"] {
        let status = put(&service, "/tmp", &raw_tar(&[Entry::File(name, b"owned\n")]));
        assert_eq!(status, 400, "{name} was not refused");
        witness.assert_untouched(name);
    }
    let listed = t.ok(&["exec", "web", "find", "/", "-xdev", "-name", "evil"]);
    assert!(listed.trim().is_empty(), "{listed}");
    // Docker takes an absolute name from the destination (testcontainers sends them).
    let absolute = format!("{}/evil", witness.path());
    let status = put(&service, "/tmp", &raw_tar(&[Entry::File(&absolute, b"inside\n")]));
    assert_eq!(status, 200);
    witness.assert_untouched(&absolute);
    let landed = t.ok(&["exec", "web", "cat", &format!("/tmp{absolute}")]);
    assert_eq!(landed, "inside\n");
}

#[test]
fn an_archive_symlink_entry_is_never_written_through() {
    let t = with_busybox();
    let service = Service::start(&t);
    running(&t, "web");
    let witness = Witness::new(&t);
    let to_host = witness.path();
    let up = "../../../../../../../../../..".to_string() + &witness.path();
    for target in [to_host.as_str(), up.as_str()] {
        let tar = raw_tar(&[Entry::Symlink("esc", target), Entry::File("esc/evil", b"owned\n")]);
        assert_eq!(
            put(&service, "/tmp", &tar),
            400,
            "a file through the link {target} was not refused"
        );
        witness.assert_untouched(target);
    }
}

#[test]
fn an_archive_hard_link_to_a_host_file_or_an_outside_path_is_refused() {
    let t = with_busybox();
    let service = Service::start(&t);
    running(&t, "web");
    let witness = Witness::new(&t);
    let keep = format!("{}/keep", witness.path());
    let up = format!("../../../../../../../../../..{keep}");
    for target in [keep.as_str(), up.as_str(), "etc/passwd"] {
        let tar = raw_tar(&[Entry::HardLink("stolen", target)]);
        assert_eq!(
            put(&service, "/tmp", &tar),
            400,
            "a hard link to {target} was not refused"
        );
        witness.assert_untouched(target);
    }
    // A hard link to an earlier file of the same archive is what tars carry: kept.
    let tar = raw_tar(&[Entry::File("a", b"same\n"), Entry::HardLink("b", "a")]);
    assert_eq!(put(&service, "/tmp", &tar), 200);
    assert_eq!(t.ok(&["exec", "web", "stat", "-c", "%h", "/tmp/b"]).trim(), "2");
}

#[test]
fn archive_paths_through_container_symlinks_stay_inside_the_container() {
    let t = with_busybox();
    let service = Service::start(&t);
    running(&t, "web");
    let witness = Witness::new(&t);
    let to_witness = witness.path();
    t.ok(&["exec", "web", "ln", "-s", "/", "/tmp/root"]);
    t.ok(&["exec", "web", "ln", "-s", "../../../../../../../..", "/tmp/up"]);
    t.ok(&["exec", "web", "ln", "-s", &to_witness, "/tmp/wit"]);
    // Reading: the container's own files, never the host's.
    for path in ["/tmp/root/etc/passwd", "/tmp/up/etc/passwd"] {
        let answer = call(&service, "GET", &format!("/containers/web/archive?path={path}"), b"");
        assert_eq!(answer.status, 200, "{path}");
        let mut archive = tar::Archive::new(&answer.body[..]);
        let mut entry = archive.entries().unwrap().next().unwrap().unwrap();
        let mut content = String::new();
        entry.read_to_string(&mut content).unwrap();
        assert!(
            content.starts_with("root:x:0:0:root:/root:/bin/sh\nnobody"),
            "{path}: {content}"
        );
    }
    let host_file = call(&service, "GET", "/containers/web/archive?path=/tmp/wit/keep", b"");
    assert_eq!(host_file.status, 404, "the host's file was read");
    // Writing: into the container's directories, or nowhere.
    let tar = raw_tar(&[Entry::File("planted", b"inside\n")]);
    assert_eq!(put(&service, "/tmp/wit", &tar), 404);
    witness.assert_untouched("a PUT through /tmp/wit");
    let name = format!("planted-{}", std::process::id());
    let tar = raw_tar(&[Entry::File(&name, b"inside\n")]);
    assert_eq!(put(&service, "/tmp/up/tmp", &tar), 200);
    assert!(!Path::new("/tmp").join(&name).exists(), "written into the host's /tmp");
    assert_eq!(t.ok(&["exec", "web", "cat", &format!("/tmp/{name}")]), "inside\n");
    assert_eq!(put(&service, "/tmp/root/var", &tar), 200);
    assert_eq!(t.ok(&["exec", "web", "cat", &format!("/var/{name}")]), "inside\n");
}

#[test]
fn docker_stats_no_stream_shows_the_containers_figures() {
    let t = with_busybox();
    let service = Service::start(&t);
    running(&t, "web");
    t.ok(&["create", "--name", "idle", "busybox:test"]);
    for client in CLIENTS {
        let format = "{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}|{{.PIDs}}";
        let row = docker_ok(
            &t,
            &service,
            client,
            &["stats", "--no-stream", "--format", format, "web"],
        );
        let fields: Vec<&str> = row.trim().split('|').collect();
        assert_eq!(fields[0], "web", "{client}: {row}");
        assert!(fields[1].ends_with('%'), "{client}: {row}");
        assert!(!fields[2].starts_with("0B"), "{client}: memory in use: {row}");
        assert!(fields[3].parse::<u64>().unwrap() >= 1, "{client}: {row}");
    }
    let doc = call(&service, "GET", "/containers/web/stats?stream=false", b"").json();
    assert_eq!(doc["name"], "/web");
    assert!(doc["cpu_stats"]["system_cpu_usage"].as_u64().unwrap() > 0, "{doc}");
    assert!(doc["cpu_stats"]["online_cpus"].as_u64().unwrap() >= 1);
    assert!(
        doc["precpu_stats"]["system_cpu_usage"].as_u64().unwrap() > 0,
        "two readings: {doc}"
    );
    assert!(doc["memory_stats"]["limit"].as_u64().unwrap() > 0);
    assert!(doc["pids_stats"]["current"].as_u64().unwrap() >= 1);
    assert!(doc["blkio_stats"].get("io_service_bytes_recursive").is_some());
    let idle = call(&service, "GET", "/containers/idle/stats?stream=false", b"").json();
    assert_eq!(idle["read"], "0001-01-01T00:00:00Z", "{idle}");
    assert_eq!(idle["cpu_stats"]["cpu_usage"]["total_usage"], 0);
    assert_eq!(idle["name"], "/idle");
}

/// The threads of the service producing streamed JSON answers (named `api-` and the
/// content type, cut to 15 bytes by the kernel).
fn json_producers(service: &Service) -> usize {
    let tasks = format!("/proc/{}/task", service.child.id());
    std::fs::read_dir(tasks)
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.unwrap().path().join("comm")).ok())
        .filter(|comm| comm.trim() == "api-application")
        .count()
}

/// A read that a signal to the test process (another test's child ending) may interrupt.
fn read_some(stream: &mut UnixStream, buf: &mut [u8]) -> usize {
    loop {
        match stream.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other.unwrap(),
        }
    }
}

#[test]
fn a_streamed_stats_whose_client_goes_away_ends_its_producer() {
    let t = with_busybox();
    let service = Service::start(&t);
    running(&t, "web");
    let mut stream = UnixStream::connect(&service.socket).unwrap();
    stream.set_read_timeout(Some(BOUND)).unwrap();
    stream
        .write_all(&request("GET", "/containers/web/stats", &[], b""))
        .unwrap();
    // Two documents, a second apart.
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while String::from_utf8_lossy(&seen).matches("\"read\":").count() < 2 {
        let n = read_some(&mut stream, &mut buf);
        assert!(n > 0, "the stream ended: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    assert!(String::from_utf8_lossy(&seen).starts_with("HTTP/1.1 200"));
    assert_eq!(json_producers(&service), 1);
    drop(stream);
    let start = Instant::now();
    while json_producers(&service) > 0 {
        assert!(start.elapsed() < BOUND, "the stats producer outlived its client");
        std::thread::sleep(Duration::from_millis(50));
    }
    // A stream ends by itself when the container stops.
    let mut stream = UnixStream::connect(&service.socket).unwrap();
    stream.set_read_timeout(Some(BOUND)).unwrap();
    stream
        .write_all(&request("GET", "/containers/web/stats", &[], b""))
        .unwrap();
    assert!(read_some(&mut stream, &mut buf) > 0);
    t.ok(&["kill", "web"]);
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).unwrap();
    assert!(rest.ends_with(b"0\r\n\r\n"), "the stream ended with its last chunk");
}
