//! Commands that need a host program (`nft` for bridge networks, `runc` for
//! `--runtime runc`) name it and its Debian package when it is missing, before they
//! change anything. The program is hidden from strata in a private mount namespace (an
//! empty, non-executable file bound over it), so the host keeps it.

mod harness;

use harness::images::busybox_rootfs;
use harness::TestRoot;
use std::process::{Command, Output};

use strata_host_programs::SEARCH_DIRS;

/// Runs strata with `args` where `programs` cannot be found.
fn without(t: &TestRoot, programs: &[&str], args: &[&str]) -> Output {
    let blank = t.path("blank");
    std::fs::write(&blank, b"").unwrap();
    let mut script = String::from("set -e\n");
    for program in programs {
        for dir in SEARCH_DIRS {
            let path = format!("{dir}/{program}");
            if std::path::Path::new(&path).exists() {
                script.push_str(&format!(
                    "mount --bind '{}' \"$(readlink -f {path})\"\n",
                    blank.display()
                ));
            }
        }
    }
    script.push_str("exec \"$@\"\n");
    let strata = t.cmd();
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "sh", "-c", &script, "sh"])
        .arg(strata.get_program());
    cmd.args(strata.get_args()).args(args);
    for (k, v) in strata.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    cmd.stdin(std::process::Stdio::null()).output().unwrap()
}

fn with_busybox() -> TestRoot {
    let t = TestRoot::new();
    let tar = t.path("busybox.tar");
    busybox_rootfs(&tar);
    t.ok(&["import", tar.to_str().unwrap(), "busybox:test"]);
    t
}

fn refused(out: &Output, program: &str, package: &str) {
    assert!(!out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{program} is needed for")), "{err}");
    assert!(err.contains(&format!("apt-get install {package}")), "{err}");
}

#[test]
fn a_missing_nft_is_named_before_a_container_or_network_is_made() {
    let t = with_busybox();
    let networks = t.ok(&["network", "ls", "-q"]);
    let run = without(&t, &["nft"], &["run", "--rm", "busybox:test", "true"]);
    refused(&run, "nft", "nftables");
    assert_eq!(run.status.code(), Some(125), "Docker's status for an engine failure");
    refused(
        &without(&t, &["nft"], &["create", "busybox:test", "true"]),
        "nft",
        "nftables",
    );
    refused(&without(&t, &["nft"], &["network", "create", "n1"]), "nft", "nftables");
    assert_eq!(t.ok(&["ps", "-a", "-q"]), "", "no container was left");
    assert_eq!(t.ok(&["network", "ls", "-q"]), networks, "no network was made");
    // A container made while nft was there names it when started without it.
    t.ok(&["create", "--name", "later", "busybox:test", "true"]);
    refused(&without(&t, &["nft"], &["start", "-a", "later"]), "nft", "nftables");
    let state = t.ok(&["inspect", "-f", "{{.State.Status}}", "later"]);
    assert_eq!(state.trim(), "created", "the refused start changed nothing");
    // Without a bridge, nft is not needed.
    let out = without(
        &t,
        &["nft"],
        &["run", "--rm", "--network", "none", "busybox:test", "echo", "fine"],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "fine");
    t.ok(&["system", "check"]);
}

#[test]
fn a_missing_runc_is_named_before_a_container_is_made() {
    let t = with_busybox();
    let args = [
        "run",
        "--rm",
        "--network",
        "none",
        "--runtime",
        "runc",
        "busybox:test",
        "true",
    ];
    refused(&without(&t, &["runc"], &args), "runc", "runc");
    assert_eq!(t.ok(&["ps", "-a", "-q"]), "", "no container was left");
    t.ok(&[
        "create",
        "--name",
        "later",
        "--network",
        "none",
        "--runtime",
        "runc",
        "busybox:test",
        "true",
    ]);
    refused(&without(&t, &["runc"], &["start", "-a", "later"]), "runc", "runc");
    let state = t.ok(&["inspect", "-f", "{{.State.Status}}", "later"]);
    assert_eq!(state.trim(), "created");
    t.ok(&["system", "check"]);
}
