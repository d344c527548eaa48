//! Oracle tests: the same bundle (strata's config.json over the same mounted root) run
//! by strata's runtime and by runc; what the container observes must be the same.

mod harness;

use harness::images::busybox_rootfs;
use harness::TestRoot;

/// What a container can see of itself, one fact per line.
const OBSERVE: &str = "echo pid=$$; hostname; id; pwd; ulimit -n; \
    grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp:)' /proc/self/status; \
    env | grep -v -E '^(HOSTNAME|SHLVL|PWD|OLDPWD|_)=' | sort; \
    ls /sys/class/net | sort; ls /dev | sort | tr '\\n' ' '; echo; \
    mount | cut -d' ' -f1-6 | sort; \
    touch /probe 2>&1 | cut -d: -f3; wc -c < /proc/timer_list";

fn observe(t: &TestRoot, runtime: &str, flags: &[&str]) -> String {
    let mut args = vec!["run", "--rm", "--runtime", runtime];
    args.extend_from_slice(flags);
    args.extend(["busybox:oracle", "sh", "-c", OBSERVE]);
    let out = t.run(&args);
    assert!(
        out.status.success(),
        "{runtime} {flags:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    mask_ids(&String::from_utf8(out.stdout).unwrap())
}

/// Each run is a new container: its ID (the default hostname, the layer paths) differs
/// by design, so runs of 12 or more hex digits are masked before comparing.
fn mask_ids(text: &str) -> String {
    let mut out = String::new();
    let mut run = String::new();
    for c in text.chars().chain(std::iter::once('\n')) {
        if c.is_ascii_hexdigit() && !c.is_ascii_uppercase() {
            run.push(c);
            continue;
        }
        out.push_str(if run.len() >= 12 { "<id>" } else { &run });
        run.clear();
        out.push(c);
    }
    out.pop();
    out
}

#[test]
fn strata_and_runc_show_the_container_the_same_world() {
    let t = TestRoot::new();
    let tar = t.path("busybox.tar");
    busybox_rootfs(&tar);
    t.ok(&["import", tar.to_str().unwrap(), "busybox:oracle"]);
    let host = t.path("shared");
    std::fs::create_dir(&host).unwrap();
    let bind = format!("{}:/shared:ro", host.display());
    let configurations: Vec<Vec<&str>> = vec![
        vec![],
        vec!["-u", "nobody"],
        vec!["-u", "65534:0"],
        vec!["--hostname", "oracle", "-e", "A=1", "-e", "B=two words", "-w", "/tmp"],
        vec!["--read-only"],
        vec!["--network", "host"],
        vec!["--network", "none", "--tmpfs", "/scratch:size=1m"],
        vec!["-v", &bind],
    ];
    for flags in &configurations {
        let ours = observe(&t, "strata", flags);
        let theirs = observe(&t, "runc", flags);
        assert!(ours.contains("pid=1"), "{ours}");
        assert_eq!(ours, theirs, "strata and runc differ for {flags:?}");
    }
}
