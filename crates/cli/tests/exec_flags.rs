//! `exec`'s flags beside `-i -t -d -e -w -u` (issue 18): `--env-file`, `--detach-keys`,
//! and everything after the container is the command's.

mod harness;

use harness::service::with_busybox;

#[test]
fn exec_reads_env_files_and_leaves_the_commands_flags_alone() {
    let t = with_busybox();
    t.ok(&["run", "-d", "--name", "box", "busybox:test", "sleep", "600"]);
    let env = t.path("env");
    std::fs::write(&env, "A=1\n# a comment\n\nB=two\n").unwrap();
    let out = t.ok(&[
        "exec",
        "--env-file",
        env.to_str().unwrap(),
        "-e",
        "C=3",
        "box",
        "sh",
        "-c",
        "echo $A $B $C",
    ]);
    assert_eq!(out, "1 two 3\n");
    // `-t`, `-e`, `-w` after the container are the command's, not exec's.
    let listing = t.ok(&["exec", "box", "ls", "-t", "-d", "/tmp"]);
    assert_eq!(listing, "/tmp\n");
    let e = t.fails(&["exec", "--detach-keys", "ctrl-", "box", "true"]);
    assert!(e.contains("ctrl-"), "an unreadable key sequence is refused: {e}");
    t.ok(&["rm", "-f", "box"]);
}

/// The effective capability mask in `grep CapEff /proc/self/status`'s output.
fn mask(line: &str) -> u64 {
    let hex = line
        .split_whitespace()
        .last()
        .unwrap_or_else(|| panic!("no mask: {line:?}"));
    u64::from_str_radix(hex, 16).unwrap()
}

#[test]
fn exec_privileged_gives_the_command_every_capability() {
    let t = with_busybox();
    t.ok(&["run", "-d", "--name", "box", "busybox:test", "sleep", "600"]);
    let host = std::fs::read_to_string("/proc/self/status").unwrap();
    let all = mask(host.lines().find(|l| l.starts_with("CapBnd:")).unwrap());
    let plain = mask(&t.ok(&["exec", "box", "grep", "CapEff", "/proc/self/status"]));
    assert_ne!(plain, all, "an ordinary exec has the container's default capabilities");
    let privileged = mask(&t.ok(&["exec", "--privileged", "box", "grep", "CapEff", "/proc/self/status"]));
    assert_eq!(privileged, all, "every capability this engine holds");
    let bounding = t.ok(&["exec", "--privileged", "box", "grep", "CapBnd", "/proc/self/status"]);
    assert_eq!(mask(&bounding), all);
    // The Engine API's exec create takes Privileged and inspect shows it.
    let service = harness::service::Service::start(&t);
    for client in harness::service::clients() {
        let out = service
            .client_cmd(
                client,
                &["exec", "--privileged", "box", "grep", "CapEff", "/proc/self/status"],
            )
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{client}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(mask(&String::from_utf8_lossy(&out.stdout)), all, "{client}");
    }
    let body = br#"{"Cmd":["true"],"Privileged":true}"#;
    let created = service.send(&harness::service::request(
        "POST",
        "/containers/box/exec",
        &[("Content-Type", "application/json")],
        body,
    ));
    assert_eq!(created.status, 201, "{}", String::from_utf8_lossy(&created.body));
    let id: serde_json::Value = serde_json::from_slice(&created.body).unwrap();
    let inspected = service.http("GET", &format!("/exec/{}/json", id["Id"].as_str().unwrap()));
    let doc: serde_json::Value = serde_json::from_slice(&inspected.body).unwrap();
    assert_eq!(doc["ProcessConfig"]["privileged"], true, "{doc}");
    t.ok(&["rm", "-f", "box"]);
}

#[test]
fn an_execd_command_has_the_containers_ulimits() {
    let t = with_busybox();
    t.ok(&[
        "run",
        "-d",
        "--name",
        "limited",
        "--ulimit",
        "nofile=1024:2048",
        "busybox:test",
        "sleep",
        "600",
    ]);
    assert_eq!(
        t.ok(&["exec", "limited", "sh", "-c", "ulimit -n; ulimit -Hn"]),
        "1024\n2048\n"
    );
    t.ok(&["rm", "-f", "limited"]);
}
