//! scripts/fuzz.sh on a machine without nightly Rust: with `RUSTUP_TOOLCHAIN=stable` it
//! must not use nightly (nor try to install it), and must either fuzz with what is there
//! (stable cargo-fuzz with RUSTC_BOOTSTRAP=1) or say in one line why it skipped; either
//! way it exits 0. The first run builds the fuzz workspace (fuzz/target), which is slow.

use std::path::Path;
use std::process::Command;

#[test]
fn fuzz_script_falls_back_to_stable_without_nightly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let corpus = tempfile::tempdir().unwrap();
    let out = Command::new("bash")
        .arg(root.join("scripts/fuzz.sh"))
        .args(["2", "reference"])
        .current_dir(&root)
        .env("RUSTUP_TOOLCHAIN", "stable")
        .env("STRATA_FUZZ_CORPUS", corpus.path())
        // The script must set RUSTC_BOOTSTRAP itself; it clears the package variables
        // `cargo test` leaves here (CARGO, CARGO_MANIFEST_DIR, ...).
        .env_remove("RUSTC_BOOTSTRAP")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .expect("run bash scripts/fuzz.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let shown = format!("stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(out.status.success(), "fuzz.sh failed ({}):\n{shown}", out.status);

    let lines: Vec<&str> = stdout.lines().collect();
    let skips: Vec<&&str> = lines.iter().filter(|l| l.starts_with("fuzz: skipped: ")).collect();
    if !skips.is_empty() {
        // A skip is one clear line and nothing else on stdout.
        assert_eq!(lines.len(), 1, "a skip is a single line:\n{shown}");
        assert!(!skips[0].contains("nightly ("), "skipped after using nightly:\n{shown}");
        return;
    }

    // The mode line: the chosen stable toolchain with RUSTC_BOOTSTRAP=1, never nightly.
    let mode = lines
        .iter()
        .find(|l| l.starts_with("fuzz: ") && l.contains("building with"))
        .unwrap_or_else(|| panic!("no mode line:\n{shown}"));
    assert!(
        mode.contains("RUSTUP_TOOLCHAIN=stable; building with stable (rustc ") && mode.contains("RUSTC_BOOTSTRAP=1"),
        "unexpected mode line {mode:?}:\n{shown}"
    );
    assert!(!mode.contains("-nightly"), "nightly rustc used: {mode:?}");

    // The run of the reference target, with a positive count of executions.
    let run = lines
        .iter()
        .find_map(|l| l.strip_prefix("fuzz reference: "))
        .unwrap_or_else(|| panic!("no line for the reference target:\n{shown}"));
    let n: u64 = run
        .split_once(" executions")
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or_else(|| panic!("no count of executions in {run:?}:\n{shown}"));
    assert!(n > 0, "no executions of the reference target:\n{shown}");
    assert!(run.ends_with("no crash"), "{run:?}");
}
