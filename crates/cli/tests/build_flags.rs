//! `build`'s flags for its RUN steps (issue 18): `--add-host`, `--memory`,
//! `--memory-swap`, `--cpu-shares`, `--cpu-period`, `--cpu-quota`, `--cpuset-cpus`,
//! `--shm-size`, `--ulimit` and `--security-opt` reach each RUN step's container as
//! `run`'s do; `--rm` (the default), `--rm=false` and `--force-rm` decide which step
//! containers stay, as Docker's; `--compress` changes nothing (the context is read in
//! place); `--cgroup-parent` and `--cpuset-mems` place the steps as `run`'s do;
//! `--cache-from`, `--isolation` other than `default` and
//! `--disable-content-trust=false` are refused by name with the reason.

mod harness;

use harness::service::with_busybox;
use harness::TestRoot;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Generous: a slow machine never fails a test.
const BOUND: Duration = Duration::from_secs(120);

fn context(t: &TestRoot, name: &str, dockerfile: &str) -> PathBuf {
    let dir = t.path(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    dir
}

/// A v1 cgroup file of the container (this machine's hierarchy is hybrid v1).
fn cgroup(id: &str, controller: &str, file: &str) -> String {
    let path = format!("/sys/fs/cgroup/{controller}/strata/{id}/{file}");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e} (this test reads the cgroup v1 files of the step)"))
        .trim()
        .to_string()
}

fn ids(t: &TestRoot) -> Vec<String> {
    t.ok(&["ps", "-aq", "--no-trunc"])
        .split_whitespace()
        .map(String::from)
        .collect()
}

#[test]
fn build_flags_reach_the_run_steps_containers() {
    let t = with_busybox();
    // The step records what it sees, then waits (for the test to read its cgroups
    // from the host) until /go appears.
    let dir = context(
        &t,
        "limits",
        "FROM busybox:test\n\
         RUN cat /etc/hosts > /hosts; ulimit -n > /nofile; ulimit -Hn >> /nofile; \
         df -k /dev/shm | tail -1 > /shm; grep Seccomp: /proc/self/status > /seccomp; \
         until [ -e /go ]; do sleep 0.05; done\n",
    );
    let mut build = t
        .cmd()
        .args([
            "build",
            "-q",
            "-t",
            "limits:1",
            "--add-host",
            "db.example:10.1.2.3",
            "--ulimit",
            "nofile=1024:2048",
            "--shm-size",
            "32m",
            "--security-opt",
            "seccomp=unconfined",
            "-m",
            "64m",
            "--memory-swap",
            "128m",
            "-c",
            "512",
            "--cpu-quota",
            "50000",
            "--cpu-period",
            "100000",
            "--cpuset-cpus",
            "0",
            dir.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let id = loop {
        if let Some(id) = t.ok(&["ps", "-q", "--no-trunc"]).split_whitespace().next() {
            break id.to_string();
        }
        if let Some(status) = build.try_wait().unwrap() {
            let out = build.wait_with_output().unwrap();
            panic!(
                "the build ended ({status}) before its RUN step was seen: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(start.elapsed() < BOUND, "no RUN step container after {BOUND:?}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mib = 1u64 << 20;
    assert_eq!(cgroup(&id, "memory", "memory.limit_in_bytes"), (64 * mib).to_string());
    assert_eq!(
        cgroup(&id, "memory", "memory.memsw.limit_in_bytes"),
        (128 * mib).to_string()
    );
    assert_eq!(cgroup(&id, "cpu", "cpu.shares"), "512");
    assert_eq!(cgroup(&id, "cpu", "cpu.cfs_quota_us"), "50000");
    assert_eq!(cgroup(&id, "cpu", "cpu.cfs_period_us"), "100000");
    assert_eq!(cgroup(&id, "cpuset", "cpuset.cpus"), "0");
    t.ok(&["exec", &id, "touch", "/go"]);
    let out = build.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let seen = |file: &str| t.ok(&["run", "--rm", "limits:1", "cat", file]);
    assert!(seen("/hosts").contains("10.1.2.3\tdb.example"), "{}", seen("/hosts"));
    assert_eq!(seen("/nofile"), "1024\n2048\n");
    let shm_kib: u64 = seen("/shm").split_whitespace().nth(1).unwrap().parse().unwrap();
    assert_eq!(shm_kib, 32 * 1024, "/dev/shm of 32m");
    assert_eq!(
        seen("/seccomp").split_whitespace().last(),
        Some("0"),
        "unconfined: no filter"
    );
    // Without the flags, the step has the defaults.
    let plain = context(
        &t,
        "plain",
        "FROM busybox:test\nRUN grep Seccomp: /proc/self/status > /seccomp\n",
    );
    t.ok(&["build", "-q", "-t", "plain:1", plain.to_str().unwrap()]);
    let filtered = t.ok(&["run", "--rm", "plain:1", "cat", "/seccomp"]);
    assert_eq!(
        filtered.split_whitespace().last(),
        Some("2"),
        "the default profile: a filter"
    );
}

#[test]
fn build_rm_and_force_rm_decide_which_step_containers_stay() {
    let t = with_busybox();
    let good = context(&t, "good", "FROM busybox:test\nRUN echo a > /a\nRUN echo b > /b\n");
    let bad = context(&t, "bad", "FROM busybox:test\nRUN echo a > /a\nRUN exit 3\n");
    let good = good.to_str().unwrap();
    let bad = bad.to_str().unwrap();

    // --rm (the default): each step's container is removed once the step succeeded.
    let out = t.ok(&["build", "--no-cache", good]);
    assert_eq!(out.matches("Removing intermediate container ").count(), 2, "{out}");
    assert!(ids(&t).is_empty(), "{:?}", ids(&t));
    t.ok(&["build", "--no-cache", "--rm=true", good]);
    assert!(ids(&t).is_empty());

    // --rm=false: they stay, stopped.
    let out = t.ok(&["build", "--no-cache", "--rm=false", good]);
    assert!(!out.contains("Removing intermediate container"), "{out}");
    assert_eq!(ids(&t).len(), 2);
    let states = t.ok(&["ps", "-a", "--format", "{{.State}}"]);
    assert_eq!(states, "exited\nexited\n");
    for id in ids(&t) {
        t.ok(&["rm", &id]);
    }

    // A failed step's container stays by default (as Docker's, to look into), the
    // steps before it are removed.
    let e = t.fails(&["build", "--no-cache", bad]);
    assert!(e.contains("returned a non-zero code: 3"), "{e}");
    let kept = ids(&t);
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(t.ok(&["inspect", "-f", "{{.State.ExitCode}}", &kept[0]]), "3\n");
    t.ok(&["rm", &kept[0]]);

    // --force-rm: it goes too.
    t.fails(&["build", "--no-cache", "--force-rm", bad]);
    assert!(ids(&t).is_empty(), "{:?}", ids(&t));
    // --force-rm with --rm=false still removes every one (Docker: force-rm implies rm).
    t.ok(&["build", "--no-cache", "--rm=false", "--force-rm", good]);
    assert!(ids(&t).is_empty());
    t.ok(&["system", "check"]);
}

#[test]
fn build_refuses_what_it_cannot_apply_by_name_and_accepts_compress() {
    let t = with_busybox();
    let dir = context(&t, "ctx", "FROM busybox:test\nRUN echo hi > /hi\n");
    let dir = dir.to_str().unwrap();
    for (flags, words) in [
        (
            &["--cache-from", "app:previous"][..],
            "--cache-from is not supported by strata's build",
        ),
        (
            &["--cache-to", "type=local,dest=/tmp/c"][..],
            "--cache-to is not supported by strata's build",
        ),
        (&["--isolation", "hyperv"][..], "--isolation hyperv is not supported"),
        (
            &["--disable-content-trust=false"][..],
            "--disable-content-trust=false is not supported",
        ),
        (&["--cgroup-parent", "../up"][..], "invalid --cgroup-parent"),
        (&["--memory-swap", "128m"][..], "--memory-swap needs --memory"),
        (&["--cpu-shares", "1"][..], "--cpu-shares must be at least 2"),
        (&["--ulimit", "files=10"][..], "unknown resource"),
        (&["--rm=maybe"][..], "--rm"),
    ] {
        let mut args = vec!["build"];
        args.extend_from_slice(flags);
        args.push(dir);
        let e = t.fails(&args);
        assert!(e.contains(words), "{flags:?}: {e}");
    }
    assert!(ids(&t).is_empty(), "a refused build runs no step");
    // --compress: nothing is sent anywhere, so nothing to compress; the same image.
    let plain = t.ok(&["build", "-q", dir]);
    let compressed = t.ok(&["build", "-q", "--compress", dir]);
    assert_eq!(plain, compressed);
}

#[test]
fn build_cgroup_parent_and_cpuset_mems_reach_the_run_steps() {
    if !std::path::Path::new("/sys/fs/cgroup/cpuset/cpuset.mems").exists() {
        eprintln!("skipped: the v1 files this test reads are not here");
        return;
    }
    let t = with_busybox();
    let parent = format!("strata-build-parent-{}", std::process::id());
    let dir = context(
        &t,
        "placed",
        "FROM busybox:test\nRUN cat /proc/self/cgroup > /cgroup; cat /sys/fs/cgroup/cpuset/cpuset.mems > /mems 2>/dev/null; true\n",
    );
    t.ok(&[
        "build",
        "-q",
        "-t",
        "placed:1",
        "--cgroup-parent",
        &parent,
        "--cpuset-mems",
        "0",
        "--isolation",
        "default",
        dir.to_str().unwrap(),
    ]);
    let seen = t.ok(&["run", "--rm", "placed:1", "cat", "/cgroup"]);
    assert!(
        seen.contains(&format!("/{parent}/")),
        "the step ran under the parent: {seen}"
    );
    for controller in [
        "memory", "cpu", "pids", "freezer", "devices", "cpuacct", "blkio", "cpuset",
    ] {
        let _ = std::fs::remove_dir(format!("/sys/fs/cgroup/{controller}/{parent}"));
    }
}
