//! `wait` and its conditions (issue 16 §3): a waiter sleeps until the container changes
//! (no polling), with Docker's `not-running`, `next-exit` and `removed` (strata's
//! `--condition`); the exit code of a `--rm` container outlives it for every waiter;
//! a waiter never hangs on a container whose monitor was killed.
//!
//! Every waiter is a `strata wait` process, bounded: only a hang reaches the bound.

mod harness;

use harness::images::busybox_rootfs;
use harness::TestRoot;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Far beyond any wait here, however loaded the machine: only a hang reaches it.
const PATIENCE: Duration = Duration::from_secs(120);

fn with_busybox() -> TestRoot {
    let t = TestRoot::new();
    let tar = t.path("busybox.tar");
    busybox_rootfs(&tar);
    t.ok(&["import", "-c", "CMD [\"sh\"]", tar.to_str().unwrap(), "busybox:test"]);
    t
}

/// A container's shell that runs until `strata kill -s USR1`, then exits with `code`.
fn until_usr1(code: i32) -> String {
    format!("trap 'exit {code}' USR1; while :; do sleep 0.1; done")
}

/// `run -d` of `script` (no network: nothing here needs one); the container's ID.
fn run_detached(t: &TestRoot, extra: &[&str], name: &str, script: &str) -> String {
    let mut args = vec!["run", "-d", "--network", "none", "--name", name];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["busybox:test", "sh", "-c", script]);
    t.ok(&args).trim().to_string()
}

/// Polls `f` until it holds (bounded; never a timing check).
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < PATIENCE, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A `strata wait` running beside the test.
struct Waiter {
    child: Option<Child>,
}

impl Waiter {
    fn spawn(t: &TestRoot, args: &[&str]) -> Waiter {
        let child = t
            .cmd()
            .arg("wait")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Waiter { child: Some(child) }
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// The `fdinfo` of each descriptor the waiter holds.
    fn fdinfo(&self) -> Vec<String> {
        let dir = format!("/proc/{}/fdinfo", self.pid());
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .collect()
    }

    /// Returns once the waiter has its inotify watch on the container: from then on no
    /// change escapes it (it reads the container's state only after taking the watch).
    fn armed(self) -> Waiter {
        eventually("the waiter to watch the container", || {
            self.fdinfo().iter().any(|i| i.contains("inotify wd:")) || self.ended()
        });
        self
    }

    /// Returns once the waiter sleeps on the process `pid` (holds a pidfd of it).
    fn sleeps_on(&self, pid: i64) {
        let line = format!("\nPid:\t{pid}\n");
        eventually(&format!("the waiter to sleep on process {pid}"), || {
            self.fdinfo().iter().any(|i| i.contains(&line)) || self.ended()
        });
    }

    fn ended(&self) -> bool {
        let pid = self.pid();
        // A zombie (ended, not yet collected) counts as ended.
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| s.contains(") Z "))
    }

    /// Still waiting after a moment: a waiter that wrongly returned has ended by then.
    /// (A slow machine can only make a wrong waiter look right, never the reverse.)
    fn still_waiting(&self) -> bool {
        std::thread::sleep(Duration::from_millis(300));
        !self.ended()
    }

    /// Its status, stdout and stderr once it ends (bounded).
    fn output(mut self) -> (Option<i32>, String, String) {
        let mut child = self.child.take().unwrap();
        let start = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if start.elapsed() > PATIENCE {
                let _ = child.kill();
                let out = child.wait_with_output().unwrap();
                panic!(
                    "the waiter hung: stdout {:?}, stderr {:?}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = child.wait_with_output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Its one line of output; it must have succeeded.
    fn code(self) -> String {
        let (status, stdout, stderr) = self.output();
        assert_eq!(status, Some(0), "wait failed: {stderr}");
        stdout.trim().to_string()
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn container_pid(t: &TestRoot, name: &str) -> i64 {
    let inspect: serde_json::Value = serde_json::from_str(&t.ok(&["inspect", name])).unwrap();
    inspect[0]["State"]["Pid"].as_i64().unwrap()
}

/// The monitor of a container: its process's parent.
fn monitor_of(t: &TestRoot, name: &str) -> i64 {
    harness::parent_of(container_pid(t, name))
}

fn kill9(pid: i64) {
    assert!(Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap()
        .success());
}

#[test]
fn not_running_returns_at_once_for_a_stopped_or_created_container() {
    let t = with_busybox();
    let out = t.run(&[
        "run",
        "--network",
        "none",
        "--name",
        "done",
        "busybox:test",
        "sh",
        "-c",
        "exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(Waiter::spawn(&t, &["done"]).code(), "3");
    assert_eq!(Waiter::spawn(&t, &["--condition", "not-running", "done"]).code(), "3");
    // Never started: Docker's 0.
    t.ok(&["create", "--network", "none", "--name", "fresh", "busybox:test", "true"]);
    assert_eq!(Waiter::spawn(&t, &["fresh"]).code(), "0");
}

#[test]
fn not_running_on_a_running_container_returns_its_code_at_its_exit() {
    let t = with_busybox();
    run_detached(&t, &[], "live", &until_usr1(5));
    let waiter = Waiter::spawn(&t, &["live"]).armed();
    assert!(waiter.still_waiting(), "returned while the container ran");
    t.ok(&["kill", "-s", "USR1", "live"]);
    assert_eq!(waiter.code(), "5");
}

#[test]
fn next_exit_on_a_stopped_container_waits_for_the_exit_after_its_start() {
    let t = with_busybox();
    // 3 the first time, 4 after (the writable layer remembers).
    let script = "if [ -e /ran ]; then exit 4; fi; touch /ran; exit 3";
    let out = t.run(&[
        "run",
        "--network",
        "none",
        "--name",
        "twice",
        "busybox:test",
        "sh",
        "-c",
        script,
    ]);
    assert_eq!(out.status.code(), Some(3));
    let waiter = Waiter::spawn(&t, &["--condition", "next-exit", "twice"]).armed();
    assert!(waiter.still_waiting(), "next-exit returned the exit before it");
    t.ok(&["start", "twice"]);
    assert_eq!(waiter.code(), "4");
}

#[test]
fn every_waiter_of_an_rm_container_reads_its_exit_code_after_the_removal() {
    let t = with_busybox();
    run_detached(&t, &["--rm"], "brief", &until_usr1(7));
    // Two read it only after the removal; one may read it before.
    let removed = [
        Waiter::spawn(&t, &["--condition", "removed", "brief"]).armed(),
        Waiter::spawn(&t, &["--condition", "removed", "brief"]).armed(),
    ];
    let not_running = Waiter::spawn(&t, &["brief"]).armed();
    t.ok(&["kill", "-s", "USR1", "brief"]);
    for waiter in removed {
        assert_eq!(waiter.code(), "7");
    }
    assert_eq!(not_running.code(), "7");
    assert_eq!(t.ok(&["ps", "-aq"]), "", "removed means gone");
}

#[test]
fn removed_waits_past_the_exit_until_another_process_removes_the_container() {
    let t = with_busybox();
    run_detached(&t, &[], "kept", &until_usr1(6));
    let waiter = Waiter::spawn(&t, &["--condition", "removed", "kept"]).armed();
    t.ok(&["kill", "-s", "USR1", "kept"]);
    assert_eq!(Waiter::spawn(&t, &["kept"]).code(), "6");
    assert!(waiter.still_waiting(), "removed returned at the exit");
    t.ok(&["rm", "-f", "kept"]);
    assert_eq!(waiter.code(), "6");
}

#[test]
fn removed_returns_when_rm_f_kills_and_removes_a_running_container() {
    let t = with_busybox();
    run_detached(&t, &[], "victim", "sleep 600");
    let removed = Waiter::spawn(&t, &["--condition", "removed", "victim"]).armed();
    let not_running = Waiter::spawn(&t, &["victim"]).armed();
    t.ok(&["rm", "-f", "victim"]);
    // 137 (SIGKILL), as Docker's: `rm -f` lets the monitor record the exit before it
    // deletes the record.
    assert_eq!(removed.code(), "137");
    assert_eq!(not_running.code(), "137");
    assert_eq!(t.ok(&["ps", "-aq"]), "");
}

#[test]
fn a_waiter_returns_when_the_container_of_a_killed_monitor_ends() {
    let t = with_busybox();
    run_detached(&t, &[], "orphan", "sleep 600");
    let monitor = monitor_of(&t, "orphan");
    let container = container_pid(&t, "orphan");
    let waiter = Waiter::spawn(&t, &["orphan"]).armed();
    // It sleeps on the monitor, which records the exit...
    waiter.sleeps_on(monitor);
    kill9(monitor);
    // ...and, the monitor gone, on the container's own process, still running.
    waiter.sleeps_on(container);
    assert!(waiter.still_waiting(), "returned while the container ran");
    kill9(container);
    // Nobody could record its status: Docker's unknown.
    assert_eq!(waiter.code(), "255");
    assert!(t.ok(&["ps", "-a"]).contains("Exited (255)"));
}

#[test]
fn wait_takes_each_container_in_turn_and_reports_one_it_cannot_find() {
    let t = with_busybox();
    for (name, code) in [("first", "3"), ("second", "4")] {
        let script = format!("exit {code}");
        t.run(&[
            "run",
            "--network",
            "none",
            "--name",
            name,
            "busybox:test",
            "sh",
            "-c",
            &script,
        ]);
    }
    let (status, stdout, stderr) = Waiter::spawn(&t, &["first", "nosuch", "second"]).output();
    assert_eq!(stdout, "3\n4\n");
    assert!(stderr.contains("No such container: nosuch"), "{stderr}");
    assert_eq!(status, Some(1));
    let (status, _, stderr) = Waiter::spawn(&t, &["--condition", "stopped", "first"]).output();
    assert_ne!(status, Some(0));
    assert!(stderr.contains("next-exit"), "the conditions are listed: {stderr}");
}
