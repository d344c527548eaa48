//! Containers over the Engine API: the real docker CLI (`/usr/local/bin/docker`, and
//! Debian's docker.io client where installed) runs, attaches to, execs in, waits for,
//! stops and removes containers through `strata system service`, and raw HTTP checks
//! what the CLI does not show (status codes, hijacked streams, attach before start).

mod harness;

use harness::free_port;
use harness::service::{clients, http_get, request, with_busybox, HttpReply, Service, BOUND};
use serde_json::Value;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn docker_ok(service: &Service, client: &str, args: &[&str]) -> String {
    let out = docker_cmd(service, client, args).output().unwrap();
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

fn docker_cmd(service: &Service, client: &str, args: &[&str]) -> std::process::Command {
    service.client_cmd(client, args)
}

fn status_of(service: &Service, client: &str, args: &[&str]) -> i32 {
    docker_cmd(service, client, args).status().unwrap().code().unwrap_or(-1)
}

/// Waits until `check` holds, within the generous bound.
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < BOUND, "{what}: not within {BOUND:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn docker_run_attached_prints_the_output_and_returns_the_exit_code() {
    let t = with_busybox();
    let service = Service::start(&t);
    for client in clients() {
        let out = docker_ok(
            &service,
            client,
            &["run", "--rm", "busybox:test", "sh", "-c", "echo out; echo err >&2"],
        );
        assert_eq!(out, "out\n", "{client}");
        let code = status_of(&service, client, &["run", "--rm", "busybox:test", "sh", "-c", "exit 3"]);
        assert_eq!(code, 3, "{client}: the container's exit code is the CLI's");
        let mut cmd = docker_cmd(
            &service,
            client,
            &["run", "-i", "--rm", "busybox:test", "sh", "-c", "cat; echo done"],
        );
        let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(b"typed ahead\n").unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "typed ahead\ndone\n",
            "{client}: stdin reaches the container and its end closes the container's stdin (StdinOnce)"
        );
    }
    // `--rm` removed them all; strata's own listing agrees.
    assert_eq!(t.ok(&["ps", "-aq"]).trim(), "");
}

#[test]
fn docker_run_d_publishes_ports_follows_logs_and_the_container_outlives_the_service() {
    let t = with_busybox();
    let mut service = Service::start(&t);
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    let id = docker_ok(
        &service,
        clients()[0],
        &[
            "run",
            "-d",
            "--name",
            "web",
            "-p",
            &publish,
            "busybox:test",
            "sh",
            "-c",
            "echo started; exec httpd -f -p 80 -h /var/www",
        ],
    );
    let id = id.trim().to_string();
    assert_eq!(id.len(), 64, "{id}");
    let mut page = String::new();
    eventually("the published port answers", || {
        page = http_get(port).unwrap_or_default();
        page.contains("hello")
    });
    for client in clients() {
        assert_eq!(docker_ok(&service, client, &["logs", "web"]), "started\n");
        let ps = docker_ok(
            &service,
            client,
            &["ps", "--filter", "name=web", "--format", "{{.ID}} {{.Ports}}"],
        );
        assert!(
            ps.starts_with(&id[..12]) && ps.contains(&format!("127.0.0.1:{port}->80/tcp")),
            "{ps}"
        );
    }
    // The service goes away; the container and its log stay, and strata sees it run.
    service.child.kill().unwrap();
    service.child.wait().unwrap();
    assert!(http_get(port).unwrap_or_default().contains("hello"));
    assert!(t
        .ok(&["ps", "--format", "{{.Names}} {{.Status}}"])
        .starts_with("web Up"));
    let service = Service::start(&t);
    assert_eq!(docker_ok(&service, clients()[0], &["logs", "web"]), "started\n");
    // `logs -f` follows until the container stops.
    let follow = docker_cmd(&service, clients()[0], &["logs", "-f", "web"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    docker_ok(&service, clients()[0], &["stop", "-t", "1", "web"]);
    let followed = follow.wait_with_output().unwrap();
    assert!(followed.status.success());
    assert_eq!(String::from_utf8_lossy(&followed.stdout), "started\n");
    docker_ok(&service, clients()[0], &["rm", "web"]);
}

#[test]
fn docker_exec_wait_kill_stop_restart_pause_rename_and_rm_f() {
    let t = with_busybox();
    let service = Service::start(&t);
    for client in clients() {
        let name = "life";
        docker_ok(
            &service,
            client,
            &["run", "-d", "--name", name, "busybox:test", "sleep", "600"],
        );
        let hostname = docker_ok(&service, client, &["inspect", "-f", "{{.Config.Hostname}}", name]);
        let echoed = docker_ok(&service, client, &["exec", name, "sh", "-c", "echo in $HOSTNAME"]);
        assert_eq!(
            echoed,
            format!("in {hostname}"),
            "{client}: the exec runs in the container"
        );
        assert_eq!(status_of(&service, client, &["exec", name, "sh", "-c", "exit 4"]), 4);
        let mut cmd = docker_cmd(&service, client, &["exec", "-i", name, "cat"]);
        let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(b"to exec\n").unwrap();
        assert_eq!(
            String::from_utf8_lossy(&child.wait_with_output().unwrap().stdout),
            "to exec\n"
        );
        docker_ok(&service, client, &["exec", "-d", name, "touch", "/tmp/detached"]);
        eventually("the detached exec ran", || {
            status_of(&service, client, &["exec", name, "test", "-e", "/tmp/detached"]) == 0
        });
        docker_ok(&service, client, &["pause", name]);
        assert!(docker_ok(&service, client, &["ps", "--format", "{{.Status}}"]).contains("(Paused)"));
        docker_ok(&service, client, &["unpause", name]);
        docker_ok(&service, client, &["rename", name, "renamed"]);
        docker_ok(&service, client, &["restart", "-t", "1", "renamed"]);
        assert!(t
            .ok(&["ps", "--format", "{{.Names}} {{.Status}}"])
            .starts_with("renamed Up"));
        docker_ok(&service, client, &["kill", "renamed"]);
        assert_eq!(docker_ok(&service, client, &["wait", "renamed"]).trim(), "137");
        docker_ok(&service, client, &["start", "renamed"]);
        docker_ok(&service, client, &["stop", "-t", "1", "renamed"]);
        let state = docker_ok(
            &service,
            client,
            &["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "renamed"],
        );
        assert_eq!(state.trim(), "exited 137");
        docker_ok(&service, client, &["start", "renamed"]);
        docker_ok(&service, client, &["rm", "-f", "renamed"]);
        assert_eq!(t.ok(&["ps", "-aq"]).trim(), "", "{client}");
    }
}

/// Drives `CLIENT ARGS` on a pseudo-terminal: waits for each `expect` on the screen,
/// then types its `send`; returns the screen and the exit status.
const PTY_DRIVER: &str = r#"
import json, os, pty, select, sys, time
env_json, steps_json, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
steps = json.loads(steps_json)
pid, fd = pty.fork()
if pid == 0:
    os.execve(argv[0], argv, dict(os.environ, **json.loads(env_json)))
out, deadline = b'', time.time() + 60
def read_some():
    global out
    r, _, _ = select.select([fd], [], [], 0.2)
    if not r:
        return True
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        return False
    out += chunk
    return bool(chunk)
for expect, send in steps:
    while expect.encode() not in out and time.time() < deadline:
        if not read_some():
            break
    os.write(fd, send.encode())
while time.time() < deadline and read_some():
    pass
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors='replace'))
sys.stdout.write('\nSTATUS %d\n' % os.waitstatus_to_exitcode(status))
"#;

fn on_pty(service: &Service, client: &str, args: &[&str], steps: &[(&str, &str)]) -> (String, i32) {
    let env = serde_json::json!({
        "DOCKER_HOST": format!("unix://{}", service.socket.display()),
        "DOCKER_CONFIG": service.docker_config.display().to_string(),
    });
    let steps = serde_json::to_string(steps).unwrap();
    let out = std::process::Command::new("python3")
        .args(["-c", PTY_DRIVER, &env.to_string(), &steps, client])
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (screen, status) = text
        .rsplit_once("\nSTATUS ")
        .unwrap_or_else(|| panic!("no status: {text}"));
    (screen.replace('\r', ""), status.trim().parse().unwrap())
}

#[test]
fn docker_run_it_and_exec_it_work_on_a_real_terminal_and_the_detach_keys_leave_it_running() {
    let t = with_busybox();
    let service = Service::start(&t);
    for client in clients() {
        let (screen, status) = on_pty(
            &service,
            client,
            &["run", "-it", "--rm", "busybox:test", "sh"],
            &[
                ("# ", "echo pty-$((6*7)); test -t 0 && echo on-a-terminal\r"),
                ("pty-42", "exit 5\r"),
            ],
        );
        assert!(
            screen.contains("pty-42") && screen.contains("on-a-terminal\n"),
            "{client}: {screen}"
        );
        assert_eq!(status, 5, "{client}: {screen}");
        // ctrl-p ctrl-q: the container goes on; attach comes back to its shell.
        let (screen, status) = on_pty(
            &service,
            client,
            &["run", "-it", "--name", "kept", "busybox:test", "sh"],
            &[("# ", "\x10\x11")],
        );
        assert_eq!(status, 0, "{client}: {screen}");
        assert!(docker_ok(&service, client, &["ps", "--format", "{{.Names}} {{.Status}}"]).starts_with("kept Up"));
        let (screen, status) = on_pty(
            &service,
            client,
            &["exec", "-it", "kept", "sh"],
            &[("# ", "echo exec-$((2*3))\r"), ("exec-6", "exit 2\r")],
        );
        assert!(screen.contains("exec-6"), "{client}: {screen}");
        assert_eq!(status, 2, "{client}: {screen}");
        // attach finds the shell; the detach keys leave it again.
        let (screen, status) = on_pty(
            &service,
            client,
            &["attach", "kept"],
            &[("", "echo after-$((1+1))\r"), ("after-2", "\x10\x11")],
        );
        assert!(screen.contains("after-2"), "{client}: {screen}");
        assert!(screen.contains("read escape sequence"), "{client}: {screen}");
        assert_eq!(status, 1, "{client}: docker attach's status when detached");
        assert!(docker_ok(&service, client, &["ps", "--format", "{{.Names}}"]).contains("kept"));
        docker_ok(&service, client, &["rm", "-f", "kept"]);
        // ctrl-c on the terminal is the container's SIGINT, as with dockerd.
        let (screen, status) = on_pty(
            &service,
            client,
            &[
                "run",
                "-it",
                "--rm",
                "busybox:test",
                "sh",
                "-c",
                "trap 'echo got-int; exit 9' INT; echo armed; while :; do sleep 1; done",
            ],
            &[("armed", "\x03")],
        );
        assert!(screen.contains("got-int"), "{client}: {screen}");
        assert_eq!(status, 9, "{client}: {screen}");
    }
}

#[test]
fn api_errors_have_dockers_status_codes() {
    let t = with_busybox();
    let service = Service::start(&t);
    let create = |body: &str, query: &str| {
        service.send(&request(
            "POST",
            &format!("/v1.41/containers/create{query}"),
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        ))
    };
    let missing = create(r#"{"Image":"nothere:1"}"#, "");
    assert_eq!(missing.status, 404, "clients pull on a 404 and try again");
    assert!(missing.message().contains("nothere"), "{}", missing.message());
    let unsupported = create(r#"{"Image":"busybox:test","HostConfig":{"CpuCount":2}}"#, "");
    assert_eq!(unsupported.status, 400);
    assert!(
        unsupported.message().contains("HostConfig.CpuCount"),
        "{}",
        unsupported.message()
    );
    let made = create(r#"{"Image":"busybox:test","Cmd":["sleep","600"]}"#, "?name=one");
    assert_eq!(made.status, 201);
    let id = json(&made)["Id"].as_str().unwrap().to_string();
    assert_eq!(
        create(r#"{"Image":"busybox:test"}"#, "?name=one").status,
        409,
        "a name in use"
    );
    let post = |path: &str| service.send(&request("POST", &format!("/v1.41/containers/{id}/{path}"), &[], b""));
    assert_eq!(post("stop").status, 304, "stopping a created container: nothing to do");
    assert_eq!(post("kill").status, 409, "killing a container that does not run");
    assert_eq!(post("start").status, 204);
    assert_eq!(post("start").status, 304, "starting a running container: nothing to do");
    let delete = |query: &str| service.send(&request("DELETE", &format!("/v1.41/containers/{id}{query}"), &[], b""));
    assert_eq!(delete("").status, 409, "removing a running container without force");
    assert_eq!(post("wait?condition=sometime").status, 400);
    let update = service.send(&request(
        "POST",
        &format!("/v1.41/containers/{id}/update"),
        &[("Content-Type", "application/json")],
        br#"{"BlkioWeight": 300}"#,
    ));
    assert_eq!(
        update.status, 400,
        "an update strata cannot make is refused by name, not ignored"
    );
    assert!(update.message().contains("BlkioWeight"), "{}", update.message());
    assert_eq!(delete("?force=1").status, 204);
    assert_eq!(delete("").status, 404);
    assert_eq!(service.http("GET", "/v1.41/exec/feedface/json").status, 404);
}

fn json(reply: &HttpReply) -> Value {
    serde_json::from_slice(&reply.body).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&reply.body)))
}

/// Sends `raw` and returns the connection, positioned after the answer's head (status
/// and headers, returned too).
fn hijack(service: &Service, raw: &[u8]) -> (UnixStream, String) {
    let mut stream = UnixStream::connect(&service.socket).unwrap();
    stream.set_read_timeout(Some(BOUND)).unwrap();
    stream.write_all(raw).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(
            stream.read(&mut byte).unwrap(),
            1,
            "the connection closed in the head: {head:?}"
        );
        head.push(byte[0]);
    }
    (stream, String::from_utf8(head).unwrap())
}

/// The stdcopy frames of a stream, to its end: (stream, payload) pairs.
fn frames(mut stream: impl Read) -> Vec<(u8, String)> {
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let mut out = Vec::new();
    let mut at = 0;
    while raw.len() >= at + 8 {
        let len = u32::from_be_bytes([raw[at + 4], raw[at + 5], raw[at + 6], raw[at + 7]]) as usize;
        out.push((
            raw[at],
            String::from_utf8_lossy(&raw[at + 8..at + 8 + len]).into_owned(),
        ));
        at += 8 + len;
    }
    out
}

#[test]
fn an_attach_before_start_sees_all_the_output_as_stdcopy_frames() {
    let t = with_busybox();
    let service = Service::start(&t);
    let body = r#"{"Image":"busybox:test","Cmd":["sh","-c","echo first; echo second >&2; exit 7"]}"#;
    let made = service.send(&request(
        "POST",
        "/containers/create",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    ));
    let id = json(&made)["Id"].as_str().unwrap().to_string();
    let attach = request(
        "POST",
        &format!("/v1.41/containers/{id}/attach?stream=1&stdout=1&stderr=1"),
        &[("Connection", "Upgrade"), ("Upgrade", "tcp")],
        b"",
    );
    let (stream, head) = hijack(&service, &attach);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(head.contains("application/vnd.docker.multiplexed-stream"), "{head}");
    let reader = std::thread::spawn(move || frames(stream));
    let started = service.send(&request("POST", &format!("/containers/{id}/start"), &[], b""));
    assert_eq!(started.status, 204);
    let got = reader.join().unwrap();
    assert_eq!(got, [(1, "first\n".to_string()), (2, "second\n".to_string())]);
    let waited = service.send(&request("POST", &format!("/containers/{id}/wait"), &[], b""));
    assert_eq!(json(&waited)["StatusCode"], 7);
    // An attach without Upgrade gets the output as a plain body: the log, here.
    let (stream, head) = hijack(
        &service,
        &request(
            "POST",
            &format!("/containers/{id}/attach?logs=1&stdout=1&stderr=1"),
            &[],
            b"",
        ),
    );
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let body = chunked_body(stream);
    assert_eq!(
        frames(&body[..]),
        [(1, "first\n".to_string()), (2, "second\n".to_string())]
    );
}

/// The decoded body of a chunked answer.
fn chunked_body(mut stream: impl Read) -> Vec<u8> {
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    harness::service::dechunk(&raw)
}

#[test]
fn a_hijacked_stream_never_read_holds_up_neither_the_container_nor_other_clients() {
    let t = with_busybox();
    let service = Service::start(&t);
    let client = clients()[0];
    docker_ok(
        &service,
        client,
        &[
            "run",
            "-d",
            "--name",
            "loud",
            "busybox:test",
            "sh",
            "-c",
            "yes loud-line-of-output",
        ],
    );
    let attach = request(
        "POST",
        "/containers/loud/attach?stream=1&stdout=1&stderr=1",
        &[("Connection", "Upgrade"), ("Upgrade", "tcp")],
        b"",
    );
    // Attached, and never read.
    let (_unread, head) = hijack(&service, &attach);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    // The container goes on writing: its log keeps growing past what any buffer holds.
    let log_size = || {
        let path = t.ok(&["inspect", "-f", "{{.LogPath}}", "loud"]);
        std::fs::metadata(path.trim()).map(|m| m.len()).unwrap_or(0)
    };
    let before = log_size();
    eventually("the log grows past 8 MiB more", || log_size() > before + (8 << 20));
    assert!(docker_ok(&service, client, &["ps", "--format", "{{.Names}}"]).contains("loud"));
    docker_ok(&service, client, &["rm", "-f", "loud"]);
    assert_eq!(t.ok(&["ps", "-aq"]).trim(), "");
}

#[test]
fn a_client_that_goes_away_mid_attach_leaves_the_container_running_and_the_service_idle() {
    let t = with_busybox();
    let mut service = Service::start_with(&t, &["--time", "2"]);
    let client = clients()[0];
    docker_ok(
        &service,
        client,
        &["run", "-d", "--name", "calm", "busybox:test", "sleep", "600"],
    );
    let attach = request(
        "POST",
        "/containers/calm/attach?stream=1&stdin=1&stdout=1&stderr=1",
        &[("Connection", "Upgrade"), ("Upgrade", "tcp")],
        b"",
    );
    let (stream, head) = hijack(&service, &attach);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    drop(stream);
    // The session ended with its client: the service goes idle and exits by itself.
    service.wait_for_exit();
    assert!(t.ok(&["ps", "--format", "{{.Names}}"]).contains("calm"));
    t.ok(&["rm", "-f", "calm"]);
}

#[test]
fn docker_ps_filters_by_every_key_docker_documents() {
    let t = with_busybox();
    let service = Service::start(&t);
    let first = clients()[0];
    docker_ok(&service, first, &["network", "create", "fnet"]);
    docker_ok(&service, first, &["volume", "create", "fvol"]);
    docker_ok(
        &service,
        first,
        &[
            "run",
            "-d",
            "--name",
            "a1",
            "--label",
            "k=v",
            "busybox:test",
            "sleep",
            "600",
        ],
    );
    docker_ok(
        &service,
        first,
        &[
            "run",
            "-d",
            "--name",
            "a2",
            "--network",
            "fnet",
            "-v",
            "fvol:/d",
            "busybox:test",
            "sleep",
            "600",
        ],
    );
    assert_eq!(
        status_of(
            &service,
            first,
            &["run", "--name", "a3", "busybox:test", "sh", "-c", "exit 2"]
        ),
        2
    );
    let a1 = docker_ok(&service, first, &["inspect", "-f", "{{.Id}}", "a1"]);
    let id_filter = format!("id={}", &a1[..10]);
    for client in clients() {
        for (filter, expected) in [
            ("label=k=v", "a1"),
            ("name=a2", "a2"),
            ("status=exited", "a3"),
            ("ancestor=busybox:test", "a1 a2 a3"),
            ("network=fnet", "a2"),
            ("volume=fvol", "a2"),
            ("volume=/d", "a2"),
            ("exited=2", "a3"),
            ("before=a2", "a1"),
            ("since=a1", "a2 a3"),
            (id_filter.as_str(), "a1"),
        ] {
            let listed = docker_ok(
                &service,
                client,
                &["ps", "-a", "--filter", filter, "--format", "{{.Names}}"],
            );
            let mut names: Vec<&str> = listed.lines().collect();
            names.sort();
            assert_eq!(names.join(" "), expected, "{client}: ps --filter {filter}");
        }
    }
    docker_ok(&service, first, &["rm", "-f", "a1", "a2", "a3"]);
}

#[test]
fn docker_network_connect_and_disconnect_a_running_container() {
    let t = with_busybox();
    let service = Service::start(&t);
    for client in clients() {
        docker_ok(
            &service,
            client,
            &["network", "create", "--subnet", "10.77.0.0/24", "side"],
        );
        docker_ok(
            &service,
            client,
            &["run", "-d", "--name", "joined", "busybox:test", "sleep", "600"],
        );
        docker_ok(
            &service,
            client,
            &["network", "connect", "--ip", "10.77.0.9", "side", "joined"],
        );
        let networks = docker_ok(
            &service,
            client,
            &["inspect", "-f", "{{json .NetworkSettings.Networks}}", "joined"],
        );
        let networks: Value = serde_json::from_str(&networks).unwrap();
        assert_eq!(networks["side"]["IPAddress"], "10.77.0.9", "{client}: {networks}");
        let addresses = docker_ok(&service, client, &["exec", "joined", "ip", "-4", "-o", "addr"]);
        assert!(addresses.contains("10.77.0.9/24"), "{client}: {addresses}");
        let aliased = docker_cmd(
            &service,
            client,
            &["network", "connect", "--alias", "db", "bridge", "joined"],
        )
        .output()
        .unwrap();
        assert!(
            !aliased.status.success(),
            "{client}: an alias on the default bridge is refused, as Docker refuses it"
        );
        assert!(
            String::from_utf8_lossy(&aliased.stderr).contains("only for containers in user defined networks"),
            "{client}: {aliased:?}"
        );
        docker_ok(&service, client, &["network", "disconnect", "side", "joined"]);
        let networks = docker_ok(
            &service,
            client,
            &["inspect", "-f", "{{json .NetworkSettings.Networks}}", "joined"],
        );
        assert!(!networks.contains("side"), "{client}: {networks}");
        docker_ok(&service, client, &["rm", "-f", "joined"]);
        docker_ok(&service, client, &["network", "rm", "side"]);
    }
}

#[test]
fn docker_logs_follow_with_both_clients_ends_when_the_container_stops() {
    let t = with_busybox();
    let service = Service::start(&t);
    for client in clients() {
        docker_ok(
            &service,
            client,
            &[
                "run",
                "-d",
                "--name",
                "talker",
                "busybox:test",
                "sh",
                "-c",
                "echo one; echo two >&2; exec sleep 600",
            ],
        );
        let follow = docker_cmd(&service, client, &["logs", "-f", "talker"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        eventually("both lines logged", || {
            let logs = docker_cmd(&service, client, &["logs", "talker"]).output().unwrap();
            String::from_utf8_lossy(&logs.stderr).contains("two")
        });
        docker_ok(&service, client, &["stop", "-t", "1", "talker"]);
        let followed = follow.wait_with_output().unwrap();
        assert!(followed.status.success(), "{client}");
        assert_eq!(
            String::from_utf8_lossy(&followed.stdout),
            "one\n",
            "{client}: stdout demultiplexed"
        );
        assert_eq!(
            String::from_utf8_lossy(&followed.stderr),
            "two\n",
            "{client}: stderr demultiplexed"
        );
        docker_ok(&service, client, &["rm", "talker"]);
    }
}
