//! A killed command leaves the store consistent, and concurrent commands on one root
//! neither fail spuriously nor corrupt it.

mod harness;

use harness::images::{docker_archive, layer, noise, E};
use harness::TestRoot;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::Duration;

/// Every listed image is complete: its layer directories exist and every blob it needs
/// can be read back (save reads them all).
fn assert_consistent(t: &TestRoot) {
    for id in t.image_ids() {
        let doc: serde_json::Value = serde_json::from_str(&t.ok(&["inspect", &id])).unwrap();
        let data = &doc[0]["GraphDriver"]["Data"];
        let mut dirs: Vec<&str> = vec![data["UpperDir"].as_str().unwrap()];
        if let Some(lower) = data["LowerDir"].as_str() {
            dirs.extend(lower.split(':'));
        }
        assert_eq!(dirs.len(), doc[0]["RootFS"]["Layers"].as_array().unwrap().len(), "{id}");
        for d in dirs {
            assert!(
                std::path::Path::new(d).is_dir(),
                "image {id} lists a missing layer directory {d}"
            );
        }
        t.ok(&["save", "-o", "/dev/null", &id]);
    }
}

fn no_leftovers(t: &TestRoot) {
    for dir in ["content/ingest", "snapshots/unpack", "snapshots/trash", "tmp"] {
        let n = t.entries(dir);
        assert_eq!(n, 0, "{dir} still has {n} entries after prune");
    }
}

fn big_archive(t: &TestRoot, name: &str, tag: &str, seed: u64) -> PathBuf {
    let layers: Vec<Vec<u8>> = (0..3)
        .map(|i| {
            let files: Vec<(String, Vec<u8>)> = (0..40)
                .map(|f| (format!("d{i}/f{f}"), noise(200_000, seed * 100 + i * 10 + f)))
                .collect();
            let entries: Vec<E<'_>> = files.iter().map(|(n, d)| E::File(n, d)).collect();
            layer(&entries)
        })
        .collect();
    let path = t.path(name);
    std::fs::write(&path, docker_archive(&layers, tag, "2024-01-01T00:00:00Z")).unwrap();
    path
}

fn kill_after(mut child: Child, delay: Duration) -> bool {
    std::thread::sleep(delay);
    let killed = child.try_wait().unwrap().is_none();
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
    killed
}

#[test]
fn sigkill_at_any_moment_of_load_import_or_rmi_leaves_a_consistent_store() {
    let t = TestRoot::new();
    let archive = big_archive(&t, "big.tar", "big:1", 1);
    let rootfs = t.path("rootfs.tar");
    std::fs::write(&rootfs, layer(&[E::File("payload", &noise(8 << 20, 9))])).unwrap();
    // Kill moments spread over how long a load takes on this machine (measured, so the
    // test holds on fast and slow machines alike).
    let probe = t.path("probe-root");
    let started = std::time::Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_strata"))
        .args([
            "--root",
            probe.to_str().unwrap(),
            "load",
            "-q",
            "-i",
            archive.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let span = started.elapsed().as_micros().max(1000) as u64;
    let mut killed = 0;
    let mut runs = 0;
    for round in 0..36u64 {
        let delay = Duration::from_micros(span * ((round * 7) % 12) / 12);
        let args: Vec<String> = match round % 3 {
            0 => vec!["load".into(), "-q".into(), "-i".into(), archive.display().to_string()],
            1 => vec![
                "import".into(),
                rootfs.display().to_string(),
                format!("imported:{round}"),
            ],
            _ => {
                // Something to remove: make sure big:1 exists, then kill its removal.
                t.ok(&["load", "-q", "-i", archive.to_str().unwrap()]);
                vec!["rmi".into(), "big:1".into()]
            }
        };
        let child = t
            .cmd()
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        runs += 1;
        if kill_after(child, delay) {
            killed += 1;
        }
        assert_consistent(&t);
        let check = t.run(&["system", "check", "--quick"]);
        assert!(
            check.status.success(),
            "after a kill: {}",
            String::from_utf8_lossy(&check.stdout)
        );
        // Whatever was killed, running the command again succeeds.
        if round % 3 == 0 {
            t.ok(&["load", "-q", "-i", archive.to_str().unwrap()]);
            assert_consistent(&t);
        }
    }
    t.ok(&["system", "prune", "-a", "-f"]);
    no_leftovers(&t);
    assert!(t.image_ids().is_empty());
    assert_eq!(t.entries("snapshots/committed/sha256"), 0);
    assert_eq!(t.entries("content/blobs/sha256"), 0);
    eprintln!("{killed} of {runs} commands were killed mid-flight");
    assert!(
        killed >= 1,
        "no command was interrupted ({killed}/{runs}): the test would prove nothing"
    );
}

#[test]
fn concurrent_loads_imports_and_removals_on_one_root() {
    let t = TestRoot::new();
    let a = big_archive(&t, "a.tar", "a:1", 2);
    let b = big_archive(&t, "b.tar", "b:1", 3);
    let rootfs = t.path("rootfs.tar");
    std::fs::write(&rootfs, layer(&[E::File("x", &noise(1 << 20, 4))])).unwrap();
    for round in 0..3 {
        let mut children = Vec::new();
        for i in 0..8 {
            let args: Vec<String> = match i % 4 {
                0 => vec!["load".into(), "-q".into(), "-i".into(), a.display().to_string()],
                1 => vec!["load".into(), "-q".into(), "-i".into(), b.display().to_string()],
                2 => vec![
                    "import".into(),
                    rootfs.display().to_string(),
                    format!("imp:{round}-{i}"),
                ],
                _ => vec!["images".into()],
            };
            children.push((
                args.clone(),
                t.cmd()
                    .args(&args)
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap(),
            ));
        }
        // Removals racing with the loads: they may find nothing yet (a clear error), or
        // remove the image; neither may corrupt anything.
        let rmi = t
            .cmd()
            .args(["rmi", "a:1"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        for (args, child) in children {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let out = rmi.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() || err.contains("No such image"), "rmi: {err}");
        assert_consistent(&t);
    }
    t.ok(&["load", "-q", "-i", a.to_str().unwrap()]);
    let ids = t.image_ids();
    // a, b, and six imports (each has its own creation time, so its own ID).
    assert_eq!(ids.len(), 2 + 6, "{ids:?}");
    t.ok(&["system", "prune", "-a", "-f"]);
    no_leftovers(&t);
}
