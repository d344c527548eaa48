//! The library called from many threads of one process at once, as a long-lived
//! service calls it: containers created, started (under monitors the library launches
//! by re-running strata's binary, never by forking this multi-threaded process), waited
//! for, their logs read and removed, execs run in another container, beside listings,
//! with no failure and a store that checks clean after.

mod harness;

use harness::images::busybox_rootfs;
use harness::TestRoot;
use std::ops::ControlFlow;
use strata_containers::{Containers, CreateOptions};
use strata_runtime::{exec, lifecycle, logs, monitor, wait};

const THREADS: usize = 6;
const ROUNDS: usize = 3;

/// An exec in the long-running container `host`: its output and exit code.
fn one_exec(containers: &Containers<'_>, launcher: &monitor::Exec<'_>, name: &str) {
    let host = containers.resolve("host").unwrap();
    let options = exec::ExecOptions {
        command: vec!["sh".into(), "-c".into(), format!("echo exec {name}; exit 2")],
        ..Default::default()
    };
    let created = exec::create(containers, &host, &options).unwrap();
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
    let ended = exec::start_attached(containers, &created, launcher, io, &keys).unwrap();
    assert_eq!(ended, strata_runtime::attach::Ended::Exited(2));
    assert_eq!(String::from_utf8_lossy(&out), format!("exec {name}\n"));
    assert_eq!(exec::inspect(containers, &created.id).unwrap().exit_code, Some(2));
}

fn one_container(containers: &Containers<'_>, launcher: &monitor::Exec<'_>, name: &str) {
    let options = CreateOptions {
        image: "busybox:test".into(),
        cmd: vec!["sh".into(), "-c".into(), format!("echo hello from {name}; exit 3")],
        network: Some("none".into()),
        ..Default::default()
    };
    let record = containers.create(&options).unwrap();
    monitor::spawn(containers, &record, launcher).unwrap();
    assert_eq!(
        wait::wait(containers, &record, wait::WaitCondition::NotRunning).unwrap(),
        3
    );
    let mut out = Vec::new();
    let mut sink = |entry: logs::LogEntry| {
        out.extend_from_slice(&entry.bytes);
        ControlFlow::Continue(())
    };
    logs::read_logs(containers, &record, &logs::LogOptions::default(), &mut sink).unwrap();
    assert_eq!(String::from_utf8_lossy(&out), format!("hello from {name}\n"));
    lifecycle::remove(containers, &record, false, true).unwrap();
}

#[test]
fn create_start_wait_logs_and_rm_from_many_threads_at_once() {
    let t = TestRoot::new();
    let tar = t.path("busybox.tar");
    busybox_rootfs(&tar);
    t.ok(&["import", "-c", "CMD [\"sh\"]", tar.to_str().unwrap(), "busybox:test"]);
    t.ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "host",
        "busybox:test",
        "sleep",
        "600",
    ]);
    let store = strata_images::ImageStore::open(&t.root()).unwrap();
    let exe = std::path::PathBuf::from(env!("CARGO_BIN_EXE_strata"));
    let launcher = monitor::Exec(&exe);
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|n| {
                let (store, launcher) = (&store, &launcher);
                scope.spawn(move || {
                    let containers = Containers::new(store);
                    for round in 0..ROUNDS {
                        one_container(&containers, launcher, &format!("t{n}r{round}"));
                        one_exec(&containers, launcher, &format!("t{n}r{round}"));
                    }
                })
            })
            .collect();
        // Listings go on beside them, as `ps` requests would.
        scope.spawn(|| {
            let containers = Containers::new(&store);
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                lifecycle::reconcile(&containers).unwrap();
            }
        });
        let joined: Vec<_> = workers.into_iter().map(|w| w.join()).collect();
        // Set before any failure is raised: the scope waits for the listing thread.
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        for outcome in joined {
            if let Err(panic) = outcome {
                std::panic::resume_unwind(panic);
            }
        }
    });
    t.ok(&["rm", "-f", "host"]);
    assert_eq!(t.ok(&["ps", "-aq"]), "");
    t.ok(&["system", "check"]);
}
