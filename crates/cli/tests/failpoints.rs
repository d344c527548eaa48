//! Crash injection: the process aborts at every failure point of import, load, commit,
//! rmi, tag, pull (from a real registry) and build (STRATA_FAILPOINT), many times over. After each crash the store checks
//! clean, no partial image is listed, and the command succeeds when run again.
//! The failure points exist only in builds with `--features strata/failpoints`.
#![cfg(feature = "failpoints")]

mod harness;

use harness::images::{busybox_rootfs, docker_archive, layer, noise, E};
use harness::registry::{Registry, Setup};
use harness::TestRoot;

/// Every failure point strata has.
use strata_images::failpoint::ALL as POINTS;
const ROUNDS: usize = 13;

fn crash(t: &TestRoot, point: &str, args: &[&str]) {
    let out = t.cmd().args(args).env("STRATA_FAILPOINT", point).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains(&format!("failpoint {point}")),
        "{args:?} did not reach failpoint {point} ({}): {stderr}",
        out.status
    );
}

fn consistent(t: &TestRoot, point: &str) {
    let check = t.run(&["system", "check", "--quick"]);
    assert!(
        check.status.success(),
        "after {point}: {}",
        String::from_utf8_lossy(&check.stdout)
    );
    for id in t.image_ids() {
        t.ok(&["save", "-o", "/dev/null", &id]);
    }
}

fn has_image(t: &TestRoot, name: &str) -> bool {
    t.run(&["inspect", "--type", "image", name]).status.success()
}

#[test]
fn a_crash_at_any_failure_point_leaves_the_store_consistent() {
    let t = TestRoot::new();
    let rootfs = t.path("rootfs.tar");
    busybox_rootfs(&rootfs);
    let archive = t.path("app.tar");
    let layers = vec![
        layer(&[E::File("a", &noise(50_000, 1))]),
        layer(&[E::File("b", &noise(50_000, 2))]),
    ];
    std::fs::write(&archive, docker_archive(&layers, "app:1", "2024-01-01T00:00:00Z")).unwrap();
    let (rootfs, archive) = (rootfs.to_str().unwrap(), archive.to_str().unwrap());
    t.ok(&["import", rootfs, "base:1"]);
    t.ok(&["create", "--name", "cc", "base:1", "sh", "-c", "true"]);
    let registry = Registry::start(&t.path("registry"), Setup::Plain);
    let remote = format!("{}/pushed:1", registry.addr);
    // An image of its own for the registry: no other family holds its layers, so every
    // pull downloads them.
    let pushed = t.path("pushed.tar");
    let own = vec![layer(&[E::File("c", &noise(80_000, 3))])];
    std::fs::write(&pushed, docker_archive(&own, "pushed:1", "2024-01-01T00:00:00Z")).unwrap();
    t.ok(&["load", "-q", "-i", pushed.to_str().unwrap()]);
    t.ok(&["tag", "pushed:1", &remote]);
    t.ok(&["push", "-q", &remote]);
    t.ok(&["rmi", "pushed:1", &remote]);
    let context = t.path("context");
    std::fs::create_dir_all(&context).unwrap();
    std::fs::write(context.join("f"), "file").unwrap();
    let context = context.to_str().unwrap();
    let mut crashes = 0;
    for _ in 0..ROUNDS {
        for point in POINTS {
            let family = point.split(':').next().unwrap();
            match family {
                "import" => {
                    crash(&t, point, &["import", rootfs, "imp:1"]);
                    consistent(&t, point);
                    t.ok(&["import", rootfs, "imp:1"]);
                }
                "load" => {
                    if has_image(&t, "app:1") {
                        t.ok(&["rmi", "app:1"]);
                    }
                    crash(&t, point, &["load", "-q", "-i", archive]);
                    consistent(&t, point);
                    assert!(!has_image(&t, "app:1"), "a partial image is listed after {point}");
                    t.ok(&["load", "-q", "-i", archive]);
                }
                "commit" => {
                    crash(&t, point, &["commit", "cc", "com:1"]);
                    consistent(&t, point);
                    t.ok(&["commit", "cc", "com:1"]);
                }
                "remove" => {
                    if !has_image(&t, "app:1") {
                        t.ok(&["load", "-q", "-i", archive]);
                    }
                    crash(&t, point, &["rmi", "app:1"]);
                    consistent(&t, point);
                    assert!(!has_image(&t, "app:1"), "the record goes first: {point}");
                    t.ok(&["load", "-q", "-i", archive]);
                }
                "tag" => {
                    crash(&t, point, &["tag", "base:1", "other:x"]);
                    consistent(&t, point);
                    assert!(!has_image(&t, "other:x"));
                    t.ok(&["tag", "base:1", "other:x"]);
                    t.ok(&["rmi", "other:x"]);
                }
                "pull" => {
                    if has_image(&t, &remote) {
                        t.ok(&["rmi", &remote]);
                    }
                    crash(&t, point, &["pull", "-q", &remote]);
                    consistent(&t, point);
                    assert!(!has_image(&t, &remote), "a partial image is listed after {point}");
                    t.ok(&["pull", "-q", &remote]);
                }
                "build" => {
                    // A new RUN each round, so the step is not a cache hit.
                    let dockerfile = format!("FROM base:1\nRUN echo {crashes} > /n\nCOPY f /f\n");
                    std::fs::write(t.path("context/Dockerfile"), dockerfile).unwrap();
                    crash(&t, point, &["build", "-q", "-t", "built:1", context]);
                    consistent(&t, point);
                    let id = t.ok(&["build", "-q", "-t", "built:1", context]);
                    assert_eq!(t.ok(&["inspect", "-f", "{{.Id}}", "built:1"]), id);
                    assert!(
                        t.ok(&["ps", "-aq"]).lines().count() <= 1,
                        "only cc: build containers are gone"
                    );
                }
                other => panic!("unknown failpoint family {other}"),
            }
            crashes += 1;
        }
        // Leftovers of the crashes are garbage that GC removes; then nothing is left.
        t.ok(&["system", "check", "--quick", "--repair"]);
    }
    eprintln!("{crashes} injected crashes, each followed by a clean check and a successful retry");
    assert!(crashes >= 200);
    let check = t.ok(&["system", "check"]);
    assert!(!check.contains("garbage"), "{check}");
}
