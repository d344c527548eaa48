//! The hostile-input corpus (tests/hostile/generate.py): every case is refused with a
//! clear error naming the reason, nothing is written outside the store, and the store
//! is left exactly as it was. The controls the cases derive from are all accepted.

mod harness;

use harness::TestRoot;
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(serde::Deserialize)]
struct Case {
    name: String,
    file: String,
    command: String,
    #[serde(default)]
    expect: String,
}

fn corpus(t: &TestRoot) -> PathBuf {
    let out = t.path("corpus");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/hostile/generate.py");
    harness::host("python3", &[script.to_str().unwrap(), out.to_str().unwrap()]);
    out
}

fn run_case(t: &TestRoot, dir: &Path, command: &str, file: &str) -> std::process::Output {
    let path = dir.join(file);
    let path = path.to_str().unwrap();
    match command {
        "import" => t.run(&["import", path, "hostile/imported:1"]),
        "load" => t.run(&["load", "-i", path]),
        // A Dockerfile and its context as a tar on stdin.
        "build" => t
            .cmd()
            .args(["build", "-t", "hostile/built:1", "-"])
            .stdin(std::fs::File::open(path).unwrap())
            .output()
            .unwrap(),
        other => panic!("unknown command {other}"),
    }
}

/// Files a successful escape would create: beside the layer directories, in the test
/// directory, and the absolute targets the corpus names.
fn escape_witnesses(t: &TestRoot) -> Vec<PathBuf> {
    let mut w = vec![
        PathBuf::from("/etc/cron.d/evil"),
        PathBuf::from("/tmp/evil"),
        PathBuf::from("/tmp/x"),
        PathBuf::from("/evil"),
        t.path("evil"),
    ];
    for sub in [
        "snapshots/unpack",
        "snapshots/committed/sha256",
        "snapshots",
        "content",
        "tmp",
        "",
    ] {
        w.push(t.root().join(sub).join("evil"));
    }
    w
}

#[test]
fn every_hostile_case_is_refused_and_changes_nothing() {
    let t = TestRoot::new();
    let dir = corpus(&t);
    // A store with an image in it, so "unchanged" means something.
    let base = dir.join("controls/import_basic.tar");
    t.ok(&["import", base.to_str().unwrap(), "existing:1"]);
    let before_listing = t.store_listing();
    let before_images = t.ok(&[
        "images",
        "-a",
        "--no-trunc",
        "--format",
        "{{.Repository}}:{{.Tag}} {{.ID}}",
    ]);
    let cases: Vec<Case> = serde_json::from_slice(&std::fs::read(dir.join("cases.json")).unwrap()).unwrap();
    assert!(
        cases.len() >= 40,
        "the corpus should hold at least 40 cases, has {}",
        cases.len()
    );
    let witnesses: Vec<_> = escape_witnesses(&t).into_iter().filter(|w| !w.exists()).collect();
    let mut failures = Vec::new();
    for case in &cases {
        let out = run_case(&t, &dir, &case.command, &case.file);
        let stderr = String::from_utf8_lossy(&out.stderr).to_lowercase();
        if out.status.success() {
            failures.push(format!("{}: was accepted", case.name));
        } else if out.status.code() != Some(1) {
            failures.push(format!(
                "{}: exit status {:?}, expected 1",
                case.name,
                out.status.code()
            ));
        } else if !stderr.contains(&case.expect) {
            failures.push(format!(
                "{}: error lacks {:?}: {}",
                case.name,
                case.expect,
                stderr.trim()
            ));
        } else if !stderr.lines().last().unwrap_or_default().starts_with("error: ") {
            failures.push(format!("{}: not a clear error line: {}", case.name, stderr.trim()));
        }
        if t.store_listing() != before_listing {
            failures.push(format!("{}: the store changed on disk", case.name));
        }
        for w in &witnesses {
            if w.exists() {
                failures.push(format!("{}: wrote {} outside the store", case.name, w.display()));
                let _ = std::fs::remove_file(w);
            }
        }
    }
    assert_eq!(
        t.ok(&[
            "images",
            "-a",
            "--no-trunc",
            "--format",
            "{{.Repository}}:{{.Tag}} {{.ID}}"
        ]),
        before_images
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases misbehaved:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn the_valid_controls_are_accepted() {
    let t = TestRoot::new();
    let dir = corpus(&t);
    let controls: Vec<Case> = serde_json::from_slice(&std::fs::read(dir.join("controls.json")).unwrap()).unwrap();
    for c in &controls {
        let out = run_case(&t, &dir, &c.command, &c.file);
        assert!(
            out.status.success(),
            "control {} refused: {}",
            c.name,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The loaded controls are real images: their files are there.
    let listing = Command::new("sh")
        .arg("-c")
        .arg(format!("ls {}/snapshots/committed/sha256 | wc -l", t.root().display()))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&listing.stdout).trim().parse::<u32>().unwrap() >= 2);
}

/// A gzip layer of `mib` MiB of zeros: a few KiB on the wire.
fn zero_bomb(mib: usize) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size((mib << 20) as u64);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut header, "zeros", std::io::repeat(0).take((mib << 20) as u64))
        .unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&tar.into_inner().unwrap()).unwrap();
    gz.finish().unwrap()
}

#[test]
fn decompression_bombs_stop_at_the_configured_layer_size() {
    use std::io::Read as _;
    let t = TestRoot::new();
    let bomb = zero_bomb(64);
    assert!(bomb.len() < 200 << 10, "the bomb is small: {}", bomb.len());
    let file = t.path("bomb.tar.gz");
    std::fs::write(&file, &bomb).unwrap();
    t.ok(&["images"]);
    let before = t.store_listing();
    let limited = |args: &[&str]| t.cmd().env("STRATA_MAX_LAYER_SIZE", "16m").args(args).output().unwrap();
    let out = limited(&["import", file.to_str().unwrap(), "bomb:1"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("decompression bomb limit"), "{err}");
    let archive = t.path("bomb-image.tar");
    let raw_layer = {
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&bomb[..]).read_to_end(&mut plain).unwrap();
        plain
    };
    std::fs::write(
        &archive,
        harness::images::docker_archive(&[raw_layer], "bomb:1", "2024-01-01T00:00:00Z"),
    )
    .unwrap();
    let out = t
        .cmd()
        .args(["--max-layer-size", "16m", "load", "-i", archive.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("decompression bomb limit"));
    assert_eq!(t.store_listing(), before, "nothing of either is kept");
    // The default limit lets the same 64 MiB layer in.
    t.ok(&["import", file.to_str().unwrap(), "bomb:1"]);
}
