//! 16 processes at once on one store for 60 s (`STRATA_SOAK_SECS` to change it), mixing
//! pull (from a real registry), load, import, run, commit, tag, rmi, build and prune.
//! The only failures allowed are Docker's documented conflicts; afterwards the store
//! checks clean and every image saves.

mod harness;

use harness::images::{busybox_rootfs, docker_archive, layer, noise, E};
use harness::registry::{Registry, Setup};
use harness::TestRoot;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const WORKERS: usize = 16;

/// Errors a command may end with when another one got there first, as Docker's.
const CONFLICTS: [&str; 4] = ["conflict:", "No such image", "No such container", "is being used by"];

#[test]
fn sixteen_processes_mixing_every_command_for_a_minute() {
    let t = TestRoot::new();
    let secs: u64 = std::env::var("STRATA_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let rootfs = t.path("rootfs.tar");
    busybox_rootfs(&rootfs);
    t.ok(&["import", rootfs.to_str().unwrap(), "busybox:soak"]);
    let archive = t.path("app.tar");
    let layers = vec![
        layer(&[E::File("a", &noise(200_000, 1))]),
        layer(&[E::File("b", &noise(200_000, 2))]),
    ];
    std::fs::write(&archive, docker_archive(&layers, "app:1", "2024-01-01T00:00:00Z")).unwrap();
    let registry = Registry::start(&t.path("registry"), Setup::Plain);
    let remote = format!("{}/soak:1", registry.addr);
    t.ok(&["load", "-q", "-i", archive.to_str().unwrap()]);
    t.ok(&["tag", "app:1", &remote]);
    t.ok(&["push", "-q", &remote]);
    let context = t.path("context");
    std::fs::create_dir_all(&context).unwrap();
    std::fs::write(context.join("f"), "soak").unwrap();
    std::fs::write(
        context.join("Dockerfile"),
        "FROM busybox:soak\nCOPY f /f\nRUN cat /f > /g\n",
    )
    .unwrap();

    let deadline = Instant::now() + Duration::from_secs(secs);
    let ops = AtomicUsize::new(0);
    let conflicts = AtomicUsize::new(0);
    let (rootfs, archive, context) = (
        rootfs.to_str().unwrap(),
        archive.to_str().unwrap(),
        context.to_str().unwrap(),
    );
    std::thread::scope(|s| {
        for w in 0..WORKERS {
            let (t, remote, ops, conflicts) = (&t, &remote, &ops, &conflicts);
            s.spawn(move || {
                let mut i = 0;
                while Instant::now() < deadline {
                    let mine = format!("w{w}:{i}");
                    let container = format!("c{w}-{i}");
                    let steps: Vec<Vec<String>> = match (w + i) % 8 {
                        0 => vec![vec!["pull".into(), "-q".into(), remote.clone()]],
                        1 => vec![vec!["load".into(), "-q".into(), "-i".into(), archive.into()]],
                        2 => vec![
                            vec!["import".into(), rootfs.into(), mine.clone()],
                            vec!["rmi".into(), mine.clone()],
                        ],
                        3 => vec![vec!["run".into(), "--rm".into(), "busybox:soak".into(), "true".into()]],
                        4 => vec![
                            vec![
                                "run".into(),
                                "--name".into(),
                                container.clone(),
                                "busybox:soak".into(),
                                "sh".into(),
                                "-c".into(),
                                format!("echo {w} > /x"),
                            ],
                            vec!["commit".into(), container.clone(), mine.clone()],
                            vec!["rm".into(), container.clone()],
                            vec!["rmi".into(), mine.clone()],
                        ],
                        5 => vec![
                            vec!["tag".into(), "app:1".into(), mine.clone()],
                            vec!["rmi".into(), mine.clone()],
                        ],
                        6 => vec![vec![
                            "build".into(),
                            "-q".into(),
                            "-t".into(),
                            mine.clone(),
                            context.into(),
                        ]],
                        _ => vec![vec!["image".into(), "prune".into(), "-f".into()]],
                    };
                    for args in steps {
                        let args: Vec<&str> = args.iter().map(String::as_str).collect();
                        let out = t.run(&args);
                        ops.fetch_add(1, Ordering::Relaxed);
                        if !out.status.success() {
                            let err = String::from_utf8_lossy(&out.stderr);
                            assert!(
                                CONFLICTS.iter().any(|c| err.contains(c)),
                                "worker {w}: strata {args:?} failed: {err}"
                            );
                            conflicts.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    i += 1;
                }
            });
        }
    });
    let check = t.run(&["system", "check"]);
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
    for id in t.image_ids() {
        t.ok(&["save", "-o", "/dev/null", &id]);
    }
    eprintln!(
        "{} operations by {WORKERS} processes in {secs} s, {} documented conflicts",
        ops.load(Ordering::Relaxed),
        conflicts.load(Ordering::Relaxed)
    );
    assert!(ops.load(Ordering::Relaxed) >= WORKERS);
}
