//! Container state across processes: several strata processes on one root run, create,
//! start, commit and remove containers while others prune containers and images. A
//! container being created, started, committed, exported or copied is never taken
//! away under it; the only failures are the documented conflicts (an operation on a
//! container another process removed answers "No such container").

mod harness;

use harness::images::busybox_rootfs;
use harness::TestRoot;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn with_busybox() -> TestRoot {
    let t = TestRoot::new();
    let tar = t.path("busybox.tar");
    busybox_rootfs(&tar);
    t.ok(&["import", "-c", "CMD [\"sh\"]", tar.to_str().unwrap(), "busybox:test"]);
    t
}

/// What the loops saw: iterations, documented conflicts, and failures.
#[derive(Default)]
struct Tally {
    runs: Vec<(String, usize)>,
    conflicts: usize,
    failures: Vec<String>,
}

/// A conflict the issue documents: the container was removed by another process.
fn is_documented_conflict(stderr: &str) -> bool {
    stderr.contains("No such container")
}

#[test]
fn prunes_beside_runs_creates_and_commits_fail_nothing_but_documented_conflicts() {
    let t = Arc::new(with_busybox());
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Mutex::new(Tally::default()));
    type Step = fn(&TestRoot, usize) -> Vec<Vec<String>>;
    // Each loop: the commands of one iteration; each must succeed, or fail only with a
    // documented conflict where `may_conflict`.
    let loops: Vec<(&str, bool, Step)> = vec![
        ("run --rm A", false, |_, _| {
            vec![strings(&["run", "--rm", "busybox:test", "echo", "hi"])]
        }),
        ("run --rm B", false, |_, _| {
            vec![strings(&["run", "--rm", "busybox:test", "echo", "hi"])]
        }),
        ("create/start/rm", true, |_, i| {
            let name = format!("csr-{i}");
            vec![
                strings(&["create", "--name", &name, "busybox:test", "true"]),
                strings(&["start", "-a", &name]),
                strings(&["rm", &name]),
            ]
        }),
        ("commit", true, |_, i| {
            let name = format!("commit-{i}");
            vec![
                strings(&["run", "--name", &name, "busybox:test", "sh", "-c", "echo x > /x"]),
                strings(&["commit", &name]),
                strings(&["rm", &name]),
            ]
        }),
        ("container prune", false, |_, _| {
            vec![strings(&["container", "prune", "-f"])]
        }),
        ("image prune", false, |_, _| vec![strings(&["image", "prune", "-f"])]),
    ];
    let threads: Vec<_> = loops
        .into_iter()
        .map(|(label, may_conflict, step)| {
            let (t, stop, tally) = (t.clone(), stop.clone(), tally.clone());
            std::thread::spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    for args in step(&t, i) {
                        let out = t.cmd().args(&args).output().unwrap();
                        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
                        let mut tally = tally.lock().unwrap();
                        if out.status.success() {
                            if args[0] == "run" && args.contains(&"echo".to_string()) {
                                let stdout = String::from_utf8_lossy(&out.stdout);
                                if stdout != "hi\n" {
                                    tally.failures.push(format!("{label}: printed {stdout:?}"));
                                }
                            }
                        } else if may_conflict && is_documented_conflict(&stderr) {
                            tally.conflicts += 1;
                            break;
                        } else {
                            tally.failures.push(format!("{label}: {args:?}: {}", stderr.trim()));
                            break;
                        }
                    }
                    i += 1;
                }
                tally.lock().unwrap().runs.push((label.to_string(), i));
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(30));
    stop.store(true, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(600);
    for th in threads {
        assert!(Instant::now() < deadline, "the loops did not stop");
        th.join().unwrap();
    }
    let tally = tally.lock().unwrap();
    assert!(
        tally.failures.is_empty(),
        "{} failures (iterations {:?}, {} documented conflicts):\n{}",
        tally.failures.len(),
        tally.runs,
        tally.conflicts,
        tally.failures.join("\n")
    );
    assert!(tally.runs.iter().all(|(_, n)| *n > 0), "{:?}", tally.runs);
    eprintln!("iterations {:?}, documented conflicts {}", tally.runs, tally.conflicts);
    // Nothing half removed, nothing left mounted, and the store checks clean.
    t.ok(&["container", "prune", "-f"]);
    assert_eq!(t.ok(&["ps", "-aq"]), "");
    t.ok(&["system", "check"]);
    let store = t.root().display().to_string();
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&store), "mounts left in the store:\n{mounts}");
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}
