//! Every container runs under its monitor, foreground ones too: the command that ran it
//! can die and the container goes on, its exit code and log kept; the command's
//! signals reach the container (Docker's sig-proxy).

mod harness;

use harness::images::busybox_rootfs;
use harness::TestRoot;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn with_busybox() -> TestRoot {
    let t = TestRoot::new();
    let tar = t.path("busybox.tar");
    busybox_rootfs(&tar);
    t.ok(&["import", "-c", "CMD [\"sh\"]", tar.to_str().unwrap(), "busybox:test"]);
    t
}

/// Waits (bounded, generously) until `inspect` of `name` shows `wanted`.
fn wait_for(t: &TestRoot, name: &str, template: &str, wanted: &str) -> String {
    let start = Instant::now();
    loop {
        let out = t.run(&["inspect", "-f", template, name]);
        let got = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if got == wanted {
            return got;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "{name}: {template} stayed {got:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn killing_the_foreground_run_leaves_the_container_to_its_monitor_which_keeps_the_exit_code() {
    let t = with_busybox();
    let flag = "/tmp/go";
    let mut cli = t
        .cmd()
        .args(["run", "--name", "fg", "busybox:test", "sh", "-c"])
        .arg(format!(
            "echo started; while [ ! -e {flag} ]; do sleep 0.05; done; echo done; exit 7"
        ))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(&t, "fg", "{{.State.Running}}", "true");
    cli.kill().unwrap();
    cli.wait().unwrap();
    // The container outlived the command; another process sees it run, then exit.
    assert_eq!(t.ok(&["inspect", "-f", "{{.State.Running}}", "fg"]).trim(), "true");
    t.ok(&["exec", "fg", "touch", flag]);
    wait_for(&t, "fg", "{{.State.Status}}", "exited");
    assert_eq!(t.ok(&["inspect", "-f", "{{.State.ExitCode}}", "fg"]).trim(), "7");
    assert!(t.ok(&["ps", "-a", "--format", "{{.Status}}"]).starts_with("Exited (7)"));
    // Its monitor kept the log, the part printed after the command died included.
    assert_eq!(t.ok(&["logs", "fg"]), "started\ndone\n");
    t.ok(&["rm", "fg"]);
}

#[test]
fn the_foreground_run_passes_its_signals_to_the_container() {
    let t = with_busybox();
    let cli = t
        .cmd()
        .args(["run", "--rm", "--name", "trapper", "busybox:test", "sh", "-c"])
        .arg("trap 'echo got TERM; exit 42' TERM; echo ready; while true; do sleep 0.05; done")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(&t, "trapper", "{{.State.Running}}", "true");
    // The shell installs its trap before it prints: wait for that line in the log.
    let start = Instant::now();
    while !t.run(&["logs", "trapper"]).stdout.starts_with(b"ready") {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the container never got ready"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(cli.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let out = cli.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(42), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ready\ngot TERM\n");
    // `--rm`: gone once the command has returned.
    assert_eq!(t.ok(&["ps", "-aq"]), "");
}

#[test]
fn the_foreground_run_keeps_streams_input_and_exit_codes_as_docker() {
    let t = with_busybox();
    let out = t.run(&[
        "run",
        "--rm",
        "busybox:test",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
    let echoed = t.run_with_input(&["run", "--rm", "-i", "busybox:test", "cat"], b"through stdin\n");
    assert_eq!(String::from_utf8_lossy(&echoed.stdout), "through stdin\n");
    let missing = t.run(&["run", "--rm", "busybox:test", "no-such-program"]);
    assert_eq!(missing.status.code(), Some(127));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no-such-program"));
    // `start -a` goes through a monitor too, and its exit code is the container's.
    t.ok(&[
        "create",
        "--name",
        "later",
        "busybox:test",
        "sh",
        "-c",
        "echo again; exit 5",
    ]);
    let started = t.run(&["start", "-a", "later"]);
    assert_eq!(started.status.code(), Some(5));
    assert_eq!(String::from_utf8_lossy(&started.stdout), "again\n");
    assert_eq!(t.ok(&["logs", "later"]), "again\n");
    t.ok(&["rm", "later"]);
}

/// What a client of the library saw of a session: stdout, stderr, the end.
fn session_of(attachment: strata_runtime::attach::Attachment) -> (Vec<u8>, Vec<u8>, strata_runtime::attach::Ended) {
    let keys = strata_runtime::detach_keys::DetachKeys::parse(strata_runtime::detach_keys::DEFAULT).unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut window = || None;
    let io = strata_runtime::attach::ClientIo {
        input: None,
        stdout: &mut out,
        stderr: &mut err,
        window: &mut window,
        hangup: None,
    };
    let ended = attachment
        .session(strata_runtime::attach::Mode::default(), io, &keys)
        .unwrap();
    (out, err, ended)
}

#[test]
fn two_clients_attached_before_the_start_see_all_output_and_the_exit_code() {
    let t = with_busybox();
    // What it prints at once would be lost to a client that attached after the start.
    t.ok(&[
        "create",
        "--name",
        "early",
        "busybox:test",
        "sh",
        "-c",
        "echo first; echo oops >&2; echo second; exit 4",
    ]);
    let store = strata_images::ImageStore::open(&t.root()).unwrap();
    let containers = strata_containers::Containers::new(&store);
    let record = containers.resolve("early").unwrap();
    let exe = std::path::PathBuf::from(env!("CARGO_BIN_EXE_strata"));
    let launcher = strata_runtime::monitor::Exec(&exe);
    let a = strata_runtime::monitor::attach_waiting(&containers, &record, &launcher, None).unwrap();
    let b = strata_runtime::monitor::attach_waiting(&containers, &record, &launcher, None).unwrap();
    // Both attached; nothing runs until asked.
    assert_eq!(t.ok(&["inspect", "-f", "{{.State.Status}}", "early"]).trim(), "created");
    let sessions: Vec<_> = [a, b]
        .into_iter()
        .map(|s| std::thread::spawn(move || session_of(s)))
        .collect();
    assert_eq!(t.ok(&["start", "early"]).trim(), "early");
    for session in sessions {
        let (out, err, ended) = session.join().unwrap();
        assert_eq!(String::from_utf8_lossy(&out), "first\nsecond\n");
        assert_eq!(String::from_utf8_lossy(&err), "oops\n");
        assert_eq!(ended, strata_runtime::attach::Ended::Exited(4));
    }
    assert_eq!(t.ok(&["inspect", "-f", "{{.State.ExitCode}}", "early"]).trim(), "4");
}

#[test]
fn a_monitor_held_back_for_a_start_that_never_comes_ends_once_its_clients_leave() {
    let t = with_busybox();
    t.ok(&["create", "--name", "idle", "busybox:test", "true"]);
    let store = strata_images::ImageStore::open(&t.root()).unwrap();
    let containers = strata_containers::Containers::new(&store);
    let record = containers.resolve("idle").unwrap();
    let exe = std::path::PathBuf::from(env!("CARGO_BIN_EXE_strata"));
    let attachment =
        strata_runtime::monitor::attach_waiting(&containers, &record, &strata_runtime::monitor::Exec(&exe), None)
            .unwrap();
    let socket = t.root().join("containers").join(&record.id).join("attach.sock");
    assert!(socket.exists());
    drop(attachment);
    // Its monitor goes, and the container stays as it was: created, removable.
    let start = Instant::now();
    while socket.exists() {
        assert!(start.elapsed() < Duration::from_secs(120), "the monitor stayed");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(t.ok(&["inspect", "-f", "{{.State.Status}}", "idle"]).trim(), "created");
    t.ok(&["rm", "idle"]);
}

#[test]
fn two_start_a_at_once_both_end_with_the_containers_exit_code() {
    let t = with_busybox();
    t.ok(&[
        "create",
        "--name",
        "both",
        "busybox:test",
        "sh",
        "-c",
        "sleep 1; echo done; exit 6",
    ]);
    let spawn = || {
        t.cmd()
            .args(["start", "-a", "both"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (first, second) = (spawn(), spawn());
    for child in [first, second] {
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(6));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "done\n");
    }
}

/// The stored execs of container `name`, read through the library.
fn execs_of(t: &TestRoot, name: &str) -> Vec<strata_runtime::exec::ExecRecord> {
    let store = strata_images::ImageStore::open(&t.root()).unwrap();
    let containers = strata_containers::Containers::new(&store);
    let record = containers.resolve(name).unwrap();
    let dir = t.root().join("containers").join(&record.id).join("execs");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".json").map(str::to_string))
        .map(|id| strata_runtime::exec::inspect(&containers, &id).unwrap())
        .collect()
}

#[test]
fn every_exec_has_an_id_and_a_stored_state_kept_when_its_cli_is_killed() {
    let t = with_busybox();
    t.ok(&["run", "-d", "--name", "host", "busybox:test", "sleep", "600"]);
    let done = t.run(&["exec", "host", "sh", "-c", "exit 3"]);
    assert_eq!(done.status.code(), Some(3));
    let execs = execs_of(&t, "host");
    assert_eq!(execs.len(), 1);
    assert_eq!(execs[0].exit_code, Some(3));
    assert!(!execs[0].running);
    assert_eq!(execs[0].options.command, ["sh", "-c", "exit 3"]);
    // The CLI killed while its exec runs: the exec's monitor records the exit.
    let flag = "/tmp/exec-go";
    let mut cli = t
        .cmd()
        .args([
            "exec",
            "host",
            "sh",
            "-c",
            &format!("until [ -e {flag} ]; do sleep 0.05; done; exit 4"),
        ])
        .spawn()
        .unwrap();
    let start = Instant::now();
    let running = loop {
        if let Some(e) = execs_of(&t, "host").into_iter().find(|e| e.running) {
            break e;
        }
        assert!(start.elapsed() < Duration::from_secs(120), "the exec never ran");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(running.pid.is_some());
    cli.kill().unwrap();
    cli.wait().unwrap();
    t.ok(&["exec", "host", "touch", flag]);
    let store = strata_images::ImageStore::open(&t.root()).unwrap();
    let containers = strata_containers::Containers::new(&store);
    loop {
        let now = strata_runtime::exec::inspect(&containers, &running.id).unwrap();
        if !now.running {
            assert_eq!(now.exit_code, Some(4));
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the exec's exit was never recorded"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(strata_runtime::exec::inspect(&containers, "0123abcd").is_err());
    t.ok(&["rm", "-f", "host"]);
}

#[test]
fn an_exec_started_by_the_library_reads_its_input_and_ends_with_its_code() {
    let t = with_busybox();
    t.ok(&["run", "-d", "--name", "host", "busybox:test", "sleep", "600"]);
    let store = strata_images::ImageStore::open(&t.root()).unwrap();
    let containers = strata_containers::Containers::new(&store);
    let record = containers.resolve("host").unwrap();
    let options = strata_runtime::exec::ExecOptions {
        command: vec!["sh".into(), "-c".into(), "cat; echo to-err >&2; exit 5".into()],
        interactive: true,
        ..Default::default()
    };
    let exec = strata_runtime::exec::create(&containers, &record, &options).unwrap();
    assert!(!exec.running && exec.exit_code.is_none());
    let exe = std::path::PathBuf::from(env!("CARGO_BIN_EXE_strata"));
    let keys = strata_runtime::detach_keys::DetachKeys::parse(strata_runtime::detach_keys::DEFAULT).unwrap();
    // The input: a pipe whose writer is gone once the text is in.
    let (reader, mut writer) = std::io::pipe().unwrap();
    std::io::Write::write_all(&mut writer, b"typed\n").unwrap();
    drop(writer);
    let mut input = reader;
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut window = || None;
    let io = strata_runtime::attach::ClientIo {
        input: Some(&mut input),
        stdout: &mut out,
        stderr: &mut err,
        window: &mut window,
        hangup: None,
    };
    let ended =
        strata_runtime::exec::start_attached(&containers, &exec, &strata_runtime::monitor::Exec(&exe), io, &keys)
            .unwrap();
    assert_eq!(ended, strata_runtime::attach::Ended::Exited(5));
    assert_eq!(String::from_utf8_lossy(&out), "typed\n");
    assert_eq!(String::from_utf8_lossy(&err), "to-err\n");
    let after = strata_runtime::exec::inspect(&containers, &exec.id).unwrap();
    assert_eq!(after.exit_code, Some(5));
    // Started once only, as Docker's.
    assert!(strata_runtime::exec::start_detached(&containers, &exec, &strata_runtime::monitor::Exec(&exe)).is_err());
    t.ok(&["rm", "-f", "host"]);
}
