//! The Engine API service (`strata system service`) driven by the real docker CLIs
//! (`/usr/local/bin/docker`, the docker 28 client, which negotiates down to strata's
//! API version, and Debian's docker.io client, API 1.41, where installed) and by raw
//! HTTP over the socket for the error shapes. The service and `strata` commands share
//! one root, as they would on a host.

mod harness;

use harness::service::{clients, lines, request, with_busybox, HttpReply, Service, BOUND};
use harness::TestRoot;
use serde_json::Value;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn docker_version_and_info_negotiate_down_to_strata() {
    for client in clients() {
        docker_version_and_info_negotiate_down_to_strata_with(client);
    }
}

fn docker_version_and_info_negotiate_down_to_strata_with(client: &'static str) {
    let t = TestRoot::new();
    let service = Service::start(&t).using(client);
    let version = service.docker_json(&["version", "--format", "{{json .Server}}"]);
    assert_eq!(version["ApiVersion"], "1.41");
    assert_eq!(version["MinAPIVersion"], "1.24");
    assert_eq!(version["Version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(version["Os"], "linux");
    assert_eq!(version["Components"][0]["Name"], "Engine");
    let client = service.docker_ok(&["version", "--format", "{{.Client.APIVersion}}"]);
    assert_eq!(
        client.trim(),
        "1.41",
        "the client negotiates down to the server's version"
    );
    let info = service.docker_json(&["info", "--format", "{{json .}}"]);
    assert_eq!(info["Swarm"]["LocalNodeState"], "inactive");
    assert_eq!(info["DockerRootDir"], t.root().to_str().unwrap());
    assert_eq!(info["OSType"], "linux");
    let text = service.docker_ok(&["info"]);
    assert!(
        text.contains(&format!("Server Version: {}", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
}

#[test]
fn docker_lists_inspects_and_shows_the_history_of_strata_images() {
    for client in clients() {
        docker_lists_inspects_and_shows_the_history_of_strata_images_with(client);
    }
}

fn docker_lists_inspects_and_shows_the_history_of_strata_images_with(client: &'static str) {
    let t = with_busybox();
    let service = Service::start(&t).using(client);
    let id = t.image_ids().pop().unwrap();
    let ids = service.docker_ok(&["images", "-q", "--no-trunc"]);
    assert_eq!(lines(&ids), [id.as_str()]);
    let listed = service.docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(lines(&listed), ["busybox:test"]);
    let filtered = service.docker_ok(&["images", "--filter", "reference=nothing*", "-q"]);
    assert!(filtered.trim().is_empty(), "{filtered}");
    let refused = service.docker(&["images", "--filter", "color=red"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("invalid filter 'color'"));

    let ours: Value = serde_json::from_str(&t.ok(&["image", "inspect", "busybox:test"])).unwrap();
    let theirs = service.docker_json(&["image", "inspect", "busybox:test"]);
    assert_eq!(theirs, ours, "the same library document");
    assert_eq!(theirs[0]["Id"], id.as_str());

    let history = service.docker_ok(&["history", "-q", "--no-trunc", "busybox:test"]);
    let strata_history = t.ok(&["history", "-q", "--no-trunc", "busybox:test"]);
    assert_eq!(lines(&history), lines(&strata_history));
    let missing = service.docker(&["image", "inspect", "nothing:here"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("No such image"));
}

#[test]
fn docker_tags_and_removes_images_that_strata_then_sees() {
    for client in clients() {
        docker_tags_and_removes_images_that_strata_then_sees_with(client);
    }
}

fn docker_tags_and_removes_images_that_strata_then_sees_with(client: &'static str) {
    let t = with_busybox();
    let service = Service::start(&t).using(client);
    service.docker_ok(&["tag", "busybox:test", "example.com/tools/box:1"]);
    let listed = t.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(listed.contains("example.com/tools/box:1"), "{listed}");

    let removed = service.docker_ok(&["rmi", "example.com/tools/box:1"]);
    assert_eq!(lines(&removed), ["Untagged: example.com/tools/box:1"]);
    let listed = t.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(lines(&listed), ["busybox:test"]);

    let missing = service.docker(&["rmi", "nothing:here"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("No such image"));

    // The last name goes with the image itself.
    let id = t.image_ids().pop().unwrap();
    let removed = service.docker_ok(&["rmi", "busybox:test"]);
    assert!(removed.contains("Untagged: busybox:test"), "{removed}");
    assert!(removed.contains(&format!("Deleted: {id}")), "{removed}");
    assert!(t.image_ids().is_empty());
}

#[test]
fn docker_ps_and_inspect_show_containers_strata_creates_beside_the_service() {
    for client in clients() {
        docker_ps_and_inspect_show_containers_strata_creates_beside_the_service_with(client);
    }
}

fn docker_ps_and_inspect_show_containers_strata_creates_beside_the_service_with(client: &'static str) {
    let t = with_busybox();
    let service = Service::start(&t).using(client);
    assert!(service.docker_ok(&["ps", "-a", "-q"]).trim().is_empty());
    // Created from the CLI while the service runs on the same root.
    let id = t.ok(&["create", "--name", "web", "--label", "team=front", "busybox:test"]);
    let id = id.trim();
    t.ok(&["create", "--name", "db", "busybox:test"]);

    let all = service.docker_ok(&["ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Names}} {{.State}}"]);
    assert!(lines(&all).contains(&format!("{id} web created").as_str()), "{all}");
    assert_eq!(lines(&all).len(), 2, "{all}");
    assert!(service.docker_ok(&["ps", "-q"]).trim().is_empty(), "none is running");
    let filtered = service.docker_ok(&["ps", "-a", "--filter", "label=team=front", "--format", "{{.Names}}"]);
    assert_eq!(lines(&filtered), ["web"]);
    let newest = service.docker_ok(&["ps", "-a", "-n", "1", "--format", "{{.Names}}"]);
    assert_eq!(lines(&newest), ["db"]);
    let sized = service.docker_ok(&["ps", "-a", "-s", "--filter", "name=web", "--format", "{{.Size}}"]);
    assert!(sized.contains("virtual"), "{sized}");

    let ours: Value = serde_json::from_str(&t.ok(&["container", "inspect", "web"])).unwrap();
    let theirs = service.docker_json(&["inspect", "web"]);
    assert_eq!(theirs[0]["Id"], id);
    assert_eq!(theirs[0]["Name"], "/web");
    assert_eq!(theirs[0]["Config"]["Labels"]["team"], "front");
    assert_eq!(theirs[0]["State"], ours[0]["State"]);
    let missing = service.docker(&["container", "inspect", "nothing"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("No such container"));
}

#[test]
fn docker_manages_networks_and_volumes_on_the_strata_root() {
    for client in clients() {
        docker_manages_networks_and_volumes_on_the_strata_root_with(client);
    }
}

fn docker_manages_networks_and_volumes_on_the_strata_root_with(client: &'static str) {
    let t = TestRoot::new();
    let service = Service::start(&t).using(client);
    let id = service.docker_ok(&["network", "create", "--label", "team=web", "backend"]);
    let id = id.trim();
    assert_eq!(id.len(), 64, "{id}");
    let names = service.docker_ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert_eq!(lines(&names), ["backend", "bridge", "host", "none"]);
    let custom = service.docker_ok(&["network", "ls", "--filter", "type=custom", "-q", "--no-trunc"]);
    assert_eq!(lines(&custom), [id]);
    assert!(t.ok(&["network", "ls"]).contains("backend"), "the CLI sees it");
    let inspected = service.docker_json(&["network", "inspect", "backend"]);
    assert_eq!(inspected[0]["Id"], id);
    assert_eq!(inspected[0]["Labels"]["team"], "web");
    let ours: Value = serde_json::from_str(&t.ok(&["network", "inspect", "backend"])).unwrap();
    assert_eq!(inspected, ours);
    let refused = service.docker(&["network", "create", "--ipv6", "v6"]);
    assert!(!refused.status.success());
    // IPv6 needs its subnet: strata has no default IPv6 pool.
    let refusal = String::from_utf8_lossy(&refused.stderr);
    assert!(
        refusal.contains("EnableIPv6") && refusal.contains("needs an IPv6"),
        "{refusal}"
    );
    service.docker_ok(&["network", "rm", "backend"]);
    assert!(!t.ok(&["network", "ls"]).contains("backend"));
    let predefined = service.docker(&["network", "rm", "bridge"]);
    assert!(!predefined.status.success());

    assert_eq!(service.docker_ok(&["volume", "create", "data"]).trim(), "data");
    let anonymous = service.docker_ok(&["volume", "create"]);
    let anonymous = anonymous.trim();
    let listed = service.docker_ok(&["volume", "ls", "-q"]);
    let mut expected = vec!["data", anonymous];
    expected.sort();
    assert_eq!(lines(&listed), expected);
    let named = service.docker_ok(&["volume", "ls", "-q", "--filter", "name=dat"]);
    assert_eq!(lines(&named), ["data"]);
    assert!(t.ok(&["volume", "ls", "-q"]).contains("data"), "the CLI sees it");
    let inspected = service.docker_json(&["volume", "inspect", "data"]);
    let ours: Value = serde_json::from_str(&t.ok(&["volume", "inspect", "data"])).unwrap();
    assert_eq!(inspected, ours);
    assert_eq!(inspected[0]["Driver"], "local");
    service.docker_ok(&["volume", "rm", "data"]);
    let gone = service.docker(&["volume", "inspect", "data"]);
    assert!(!gone.status.success());
    assert!(String::from_utf8_lossy(&gone.stderr)
        .to_lowercase()
        .contains("no such volume"));
    assert!(!t.ok(&["volume", "ls", "-q"]).contains("data"));
}

#[test]
fn volume_labels_are_kept_listed_filtered_and_pruned_by() {
    for client in clients() {
        volume_labels_are_kept_listed_filtered_and_pruned_by_with(client);
    }
}

fn volume_labels_are_kept_listed_filtered_and_pruned_by_with(client: &'static str) {
    let t = TestRoot::new();
    let service = Service::start(&t).using(client);
    service.docker_ok(&[
        "volume",
        "create",
        "--label",
        "project=demo",
        "--label",
        "tier",
        "web-data",
    ]);
    t.ok(&["volume", "create", "--label", "project=other", "cli-data"]);
    let labels = service.docker_ok(&["volume", "inspect", "-f", "{{json .Labels}}", "web-data"]);
    assert_eq!(labels.trim(), r#"{"project":"demo","tier":""}"#);
    let ours = t.ok(&["volume", "inspect", "-f", "{{json .Labels}}", "cli-data"]);
    assert_eq!(ours.trim(), r#"{"project":"other"}"#, "the CLI's --label");
    let demo = service.docker_ok(&["volume", "ls", "-q", "--filter", "label=project=demo"]);
    assert_eq!(lines(&demo), ["web-data"]);
    // API 1.41's prune takes named volumes too; the label keeps "web-data" out of it.
    let pruned = service.docker_ok(&["volume", "prune", "-f", "--filter", "label!=project=demo"]);
    assert!(pruned.contains("cli-data") && !pruned.contains("web-data"), "{pruned}");
    assert_eq!(lines(&t.ok(&["volume", "ls", "-q"])), ["web-data"]);
}

#[test]
fn docker_system_df_counts_what_the_root_holds() {
    for client in clients() {
        docker_system_df_counts_what_the_root_holds_with(client);
    }
}

fn docker_system_df_counts_what_the_root_holds_with(client: &'static str) {
    let t = with_busybox();
    let service = Service::start(&t).using(client);
    t.ok(&["create", "--name", "web", "busybox:test"]);
    t.ok(&["volume", "create", "data"]);
    let rows = service.docker_ok(&["system", "df", "--format", "{{.Type}} {{.TotalCount}} {{.Active}}"]);
    let rows = lines(&rows);
    assert!(rows.contains(&"Images 1 1"), "{rows:?}");
    assert!(rows.contains(&"Containers 1 0"), "{rows:?}");
    assert!(rows.contains(&"Local Volumes 1 0"), "{rows:?}");
    let verbose = service.docker_ok(&["system", "df", "-v"]);
    assert!(
        verbose.contains("busybox") && verbose.contains("web") && verbose.contains("data"),
        "{verbose}"
    );
}

#[test]
fn docker_prunes_images_networks_and_volumes() {
    for client in clients() {
        docker_prunes_images_networks_and_volumes_with(client);
    }
}

fn docker_prunes_images_networks_and_volumes_with(client: &'static str) {
    let t = with_busybox();
    let service = Service::start(&t).using(client);
    // An untagged image: the same layer under another config.
    let tar = t.path("busybox.tar");
    t.ok(&["import", "-c", "CMD [\"true\"]", tar.to_str().unwrap()]);
    assert_eq!(t.image_ids().len(), 2);
    let pruned = service.docker_ok(&["image", "prune", "-f"]);
    assert!(
        pruned.contains("Deleted Images:") && pruned.contains("deleted: sha256:"),
        "{pruned}"
    );
    assert_eq!(t.image_ids().len(), 1, "the tagged image stays");

    service.docker_ok(&["network", "create", "spare"]);
    let pruned = service.docker_ok(&["network", "prune", "-f"]);
    assert_eq!(lines(&pruned), ["Deleted Networks:", "spare"]);

    t.ok(&["create", "--name", "user", "-v", "kept:/data", "busybox:test"]);
    service.docker_ok(&["volume", "create", "unused"]);
    let pruned = service.docker_ok(&["volume", "prune", "-f"]);
    assert!(pruned.contains("unused") && !pruned.contains("kept"), "{pruned}");
    assert_eq!(lines(&t.ok(&["volume", "ls", "-q"])), ["kept"]);
}

#[test]
fn errors_answer_in_dockers_shape_and_codes() {
    let t = TestRoot::new();
    let service = Service::start(&t);
    let unknown = service.http("GET", "/no/such/endpoint");
    assert_eq!((unknown.status, unknown.message().as_str()), (404, "page not found"));
    let versioned_unknown = service.http("GET", "/v1.41/nothing");
    assert_eq!(versioned_unknown.status, 404);

    let wrong_method = service.http("POST", "/version");
    assert_eq!(wrong_method.status, 405);
    assert!(wrong_method.message().contains("GET"));

    let too_new = service.http("GET", "/v1.99/info");
    assert_eq!(too_new.status, 400);
    assert_eq!(
        too_new.message(),
        "client version 1.99 is too new. Maximum supported API version is 1.41"
    );
    let too_old = service.http("GET", "/v1.12/version");
    assert_eq!(too_old.status, 400);
    assert!(too_old
        .message()
        .contains("is too old. Minimum supported API version is 1.24"));
    assert_eq!(service.http("GET", "/v1.24/version").status, 200);

    for path in ["/session", "/v1.41/session", "/grpc"] {
        let build = service.http("POST", path);
        assert_eq!(build.status, 501, "{path}");
        assert!(build.message().contains("BuildKit's session API"), "{path}");
    }
    let later = service.http("GET", "/distribution/busybox/json");
    assert_eq!(later.status, 501);
    assert!(later.message().contains("not implemented"));
    for (method, path) in [
        ("GET", "/swarm"),
        ("GET", "/services"),
        ("POST", "/secrets/create"),
        ("GET", "/nodes"),
    ] {
        let swarm = service.http(method, path);
        assert_eq!(swarm.status, 503, "{method} {path}");
        assert!(
            swarm.message().starts_with("This node is not a swarm manager."),
            "{path}"
        );
    }
    let plugins = service.http("GET", "/plugins");
    assert_eq!((plugins.status, plugins.body.as_slice()), (200, &b"[]"[..]));
    let missing = service.http("GET", "/containers/nothing/json");
    assert_eq!(missing.status, 404);
    assert!(missing.message().contains("No such container: nothing"));
}

#[test]
fn ping_answers_get_and_head_with_the_negotiation_headers() {
    let t = TestRoot::new();
    let service = Service::start(&t);
    for method in ["GET", "HEAD"] {
        let ping = service.http(method, "/_ping");
        assert_eq!(ping.status, 200, "{method}");
        for (name, value) in [
            ("Api-Version", "1.41"),
            ("Ostype", "linux"),
            ("Docker-Experimental", "false"),
            ("Builder-Version", "1"),
            ("Cache-Control", "no-cache, no-store, must-revalidate"),
            ("Pragma", "no-cache"),
        ] {
            assert_eq!(ping.header(name), Some(value), "{method} {name}");
        }
        let body: &[u8] = if method == "GET" { b"OK" } else { b"" };
        assert_eq!(ping.body, body, "{method}");
    }
    assert_eq!(service.http("HEAD", "/_ping").header("Content-Length"), Some("0"));
    assert_eq!(service.http("GET", "/v1.30/_ping").status, 200);
}

#[test]
fn json_bodies_are_checked_and_bounded() {
    let t = TestRoot::new();
    let service = Service::start(&t);
    let json = [("Content-Type", "application/json")];
    let malformed = service.send(&request("POST", "/volumes/create", &json, b"{\"Name\": "));
    assert_eq!(malformed.status, 400);
    assert!(
        malformed.message().starts_with("invalid JSON"),
        "{}",
        malformed.message()
    );
    let wrong_type = service.send(&request(
        "POST",
        "/volumes/create",
        &[("Content-Type", "text/plain")],
        b"{}",
    ));
    assert_eq!(wrong_type.status, 400);
    assert!(wrong_type.message().contains("must be 'application/json'"));
    let wrong_shape = service.send(&request("POST", "/networks/create", &json, b"[1, 2]"));
    assert_eq!(wrong_shape.status, 400);

    // A declared length over the limit is refused before the body is sent.
    let declared = b"POST /networks/create HTTP/1.1\r\nHost: strata\r\nContent-Type: application/json\r\n\
                     Content-Length: 2000000\r\nConnection: close\r\n\r\n";
    let oversized = service.send(declared);
    assert_eq!(oversized.status, 413);
    assert!(oversized.message().contains("larger than"));

    // A chunked body is cut off at the limit.
    let stream = UnixStream::connect(&service.socket).unwrap();
    stream.set_read_timeout(Some(BOUND)).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        let head = b"POST /volumes/create HTTP/1.1\r\nHost: strata\r\nContent-Type: application/json\r\n\
                     Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
        let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, " ".repeat(64 * 1024));
        // The service stops reading at the limit: later writes may fail, as they should.
        let _ = writer.write_all(head);
        for _ in 0..40 {
            if writer.write_all(chunk.as_bytes()).is_err() {
                break;
            }
        }
    });
    let chunked = HttpReply::read(stream);
    sender.join().unwrap();
    assert_eq!(chunked.status, 413);
    assert!(t.ok(&["volume", "ls", "-q"]).trim().is_empty(), "nothing was made");
}

#[test]
fn an_idle_service_exits_after_its_time_but_not_during_a_request() {
    let t = TestRoot::new();
    let mut service = Service::start_with(&t, &["--time", "1"]);
    // A request whose body comes slowly is in flight all along: no exit meanwhile.
    let body = br#"{"Name":"slow"}"#;
    let mut stream = UnixStream::connect(&service.socket).unwrap();
    stream.set_read_timeout(Some(BOUND)).unwrap();
    let whole = request("POST", "/volumes/create", &[("Content-Type", "application/json")], body);
    let (first, rest) = whole.split_at(whole.len() - 5);
    stream.write_all(first).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        service.child.try_wait().unwrap().is_none(),
        "exited during a request: {}",
        service.log_text()
    );
    stream.write_all(rest).unwrap();
    let created = HttpReply::read(stream);
    assert_eq!(created.status, 201, "{}", String::from_utf8_lossy(&created.body));
    let answered = Instant::now();
    let exited = service.wait_for_exit();
    assert!(
        exited.duration_since(answered) >= Duration::from_millis(900),
        "exited {:?} after the last request, before its time",
        exited.duration_since(answered)
    );
    assert!(!service.socket.exists(), "the socket file goes with the service");
    assert_eq!(t.ok(&["volume", "ls", "-q"]).trim(), "slow");
}

#[test]
fn the_socket_is_0660_and_refuses_users_outside_its_group() {
    let t = TestRoot::new();
    // Other users may pass through the test directory, so only the socket's own mode
    // decides.
    std::fs::set_permissions(t.dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    let service = Service::start(&t);
    let meta = std::fs::metadata(&service.socket).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);
    let as_nobody = |gid: u32| {
        service
            .docker_cmd(&["version", "--format", "{{.Server.APIVersion}}"])
            .env("DOCKER_CONFIG", "/nonexistent-docker-config")
            .uid(65534)
            .gid(gid)
            .output()
            .unwrap()
    };
    let refused = as_nobody(65534);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("permission denied"), "{stderr}");
    // The socket's group may connect.
    let member = as_nobody(meta.gid());
    assert!(member.status.success(), "{}", String::from_utf8_lossy(&member.stderr));
    assert_eq!(String::from_utf8_lossy(&member.stdout).trim(), "1.41");
}

#[test]
fn a_socket_passed_by_systemd_is_served_and_left_in_place() {
    let t = TestRoot::new();
    let socket = t.path("activated.sock");
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&listener);
    // As systemd does: the socket at descriptor 3, LISTEN_PID the service's own PID
    // (the shell execs strata, keeping its PID).
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg("LISTEN_PID=$$ exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_strata"))
        .args(["--root", t.root().to_str().unwrap(), "system", "service", "--time", "0"])
        .arg("unix:///nonexistent/ignored.sock")
        .env("LISTEN_FDS", "1");
    // SAFETY: only dup2 and fcntl, which are async-signal-safe, run between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            // dup2 onto itself would keep close-on-exec: clear it instead.
            let placed = match fd {
                3 => libc::fcntl(3, libc::F_SETFD, 0),
                _ => libc::dup2(fd, 3),
            };
            match placed {
                -1 => Err(std::io::Error::last_os_error()),
                _ => Ok(()),
            }
        });
    }
    let mut service = Service::spawn(&t, cmd, socket.clone());
    drop(listener);
    assert_eq!(
        service
            .docker_ok(&["version", "--format", "{{.Server.APIVersion}}"])
            .trim(),
        "1.41"
    );
    assert!(!Path::new("/nonexistent/ignored.sock").exists());
    let _ = service.child.kill();
    let _ = service.child.wait();
    assert!(socket.exists(), "systemd's socket file stays");
}

#[test]
fn tcp_is_served_only_when_allowed_and_with_a_warning() {
    let t = TestRoot::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let uri = format!("tcp://127.0.0.1:{port}");
    let refused = t.fails(&["system", "service", &uri]);
    assert!(refused.contains("--allow-tcp"), "{refused}");

    let mut cmd = t.cmd();
    cmd.args(["system", "service", "--time", "0", "--allow-tcp", &uri]);
    let log = t.path("service.log");
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let stream = loop {
        if let Ok(s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            break s;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "{}",
            std::fs::read_to_string(&log).unwrap()
        );
        assert!(start.elapsed() < BOUND);
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut writer = stream.try_clone().unwrap();
    writer.write_all(&request("GET", "/_ping", &[], b"")).unwrap();
    let ping = HttpReply::read(stream);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!((ping.status, ping.body.as_slice()), (200, &b"OK"[..]));
    let warning = std::fs::read_to_string(&log).unwrap();
    assert!(warning.contains("without authentication"), "{warning}");
}
