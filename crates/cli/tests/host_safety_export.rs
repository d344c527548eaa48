//! Host safety of `export` and `commit -p=false` (issue 15): a running container's tree
//! is walked and read through descriptors, so a file (or a directory above it) the
//! container swaps for a symlink to a host path between the walk and the read never
//! puts the host's file into the archive. The race tests need the test-only pause point
//! `layer:walked` (`--features strata/race-points`).

mod harness;

use harness::images::busybox_rootfs;
#[cfg(feature = "race-points")]
use harness::race::Paused;
use harness::TestRoot;
use std::io::Read;
use std::path::{Path, PathBuf};
#[cfg(feature = "race-points")]
use std::process::Output;

/// A busybox store with a running container `racer`.
fn racer(t: &TestRoot) {
    let plain = t.path("busybox.tar");
    busybox_rootfs(&plain);
    t.ok(&["import", plain.to_str().unwrap(), "busybox:test"]);
    t.ok(&["run", "-d", "--name", "racer", "busybox:test", "sleep", "1000"]);
}

/// Host content no container could know: a file of the test's own directory.
fn secret() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("host-only secret {}-{nanos}\n", std::process::id())
}

/// Whether `needle` occurs anywhere in `hay`.
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The entries of a tar: (path, entry type, link target, content).
fn tar_entries(bytes: &[u8]) -> Vec<(String, tar::EntryType, Option<PathBuf>, Vec<u8>)> {
    let mut out = Vec::new();
    let mut archive = tar::Archive::new(bytes);
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().display().to_string();
        let kind = entry.header().entry_type();
        let link = entry.link_name().unwrap().map(|l| l.into_owned());
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        out.push((path, kind, link, data));
    }
    out
}

/// Without a race, the descriptor-based walk archives what the old one did: files with
/// their content, symlinks to host paths as links (never followed), hard links as links.
#[test]
fn export_of_a_running_container_keeps_files_links_and_hard_links() {
    let t = TestRoot::new();
    racer(&t);
    let host = t.path("host-file");
    let secret = secret();
    std::fs::write(&host, &secret).unwrap();
    let script = format!(
        "mkdir -p '/!d/e' && echo inside > '/!d/e/f' && ln '/!d/e/f' '/!d/hard' && ln -s {} '/!d/link'",
        host.display()
    );
    t.ok(&["exec", "racer", "sh", "-c", &script]);
    let out = t.path("out.tar");
    t.ok(&["export", "-o", out.to_str().unwrap(), "racer"]);
    let bytes = std::fs::read(&out).unwrap();
    assert!(
        !contains(&bytes, secret.as_bytes()),
        "export followed a link to the host"
    );
    let entries = tar_entries(&bytes);
    let find = |p: &str| {
        entries
            .iter()
            .find(|e| e.0 == p)
            .unwrap_or_else(|| panic!("{p} missing"))
    };
    assert_eq!(find("!d/e/f").1, tar::EntryType::Regular);
    assert_eq!(find("!d/e/f").3, b"inside\n");
    assert_eq!(find("!d/hard").1, tar::EntryType::Link);
    assert_eq!(find("!d/hard").2.as_deref(), Some(Path::new("!d/e/f")));
    assert_eq!(find("!d/link").1, tar::EntryType::Symlink);
    assert_eq!(find("!d/link").2.as_deref(), Some(host.as_path()));
    assert!(entries
        .iter()
        .any(|e| e.0.trim_end_matches('/') == "bin" && e.1 == tar::EntryType::Directory));
    // The same container committed: the layer holds the same, and so does the image.
    t.ok(&["commit", "racer", "kept:1"]);
    let shown = t.ok(&[
        "run",
        "--rm",
        "kept:1",
        "sh",
        "-c",
        "cat '/!d/hard'; readlink '/!d/link'",
    ]);
    assert_eq!(shown, format!("inside\n{}\n", host.display()));
    t.ok(&["rm", "-f", "racer"]);
}

/// How the race is set up inside the container: the file the archiver pauses at, and
/// the swap made while it waits.
#[cfg(feature = "race-points")]
enum Swap {
    /// `/!victim` becomes a symlink to the host's secret file.
    File,
    /// `/!dir` (holding `victim`) becomes a symlink to a host directory holding a
    /// `victim` with the secret.
    Directory,
}

#[cfg(feature = "race-points")]
impl Swap {
    fn victim(&self) -> &'static str {
        match self {
            Swap::File => "/!victim",
            Swap::Directory => "/!dir/victim",
        }
    }
}

/// Runs strata with `args` paused at `layer:walked`, makes the container swap `swap`
/// for a symlink to host content (returned), resumes it and returns its output.
#[cfg(feature = "race-points")]
fn raced(t: &TestRoot, args: &[&str], swap: &Swap) -> (Output, String) {
    let secret = secret();
    // The file as it was has the secret's length: the old code, following the link,
    // wrote a well-formed tar with the host's bytes in it.
    let original = "v".repeat(secret.len());
    let setup = match swap {
        Swap::File => format!("printf %s {original} > '/!victim'"),
        Swap::Directory => format!("mkdir '/!dir' && printf %s {original} > '/!dir/victim'"),
    };
    t.ok(&["exec", "racer", "sh", "-c", &setup]);
    let swapped = match swap {
        Swap::File => {
            let host = t.path("host-secret");
            std::fs::write(&host, &secret).unwrap();
            format!("rm '/!victim' && ln -s {} '/!victim'", host.display())
        }
        Swap::Directory => {
            let host = t.path("host-dir");
            std::fs::create_dir_all(&host).unwrap();
            std::fs::write(host.join("victim"), &secret).unwrap();
            format!("mv '/!dir' '/!moved' && ln -s {} '/!dir'", host.display())
        }
    };
    let paused = Paused::start(t, "layer:walked", args);
    // Paused at the first regular file, after the walk: the one the container swaps.
    assert_eq!(paused.path(), swap.victim(), "paused at another file");
    t.ok(&["exec", "racer", "sh", "-c", &swapped]);
    (paused.resume(), secret)
}

/// `export` of a running container that swaps the file being archived (or a directory
/// above it) for a symlink to a host path: the host's file is never archived. Export
/// fails naming the path (the layer would otherwise silently lack the file).
#[cfg(feature = "race-points")]
fn export_race(swap: Swap) {
    let t = TestRoot::new();
    racer(&t);
    let out = t.path("out.tar");
    let (output, secret) = raced(&t, &["export", "-o", out.to_str().unwrap(), "racer"], &swap);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{}: {stderr}", output.status);
    if output.status.success() {
        let bytes = std::fs::read(&out).unwrap();
        assert!(!contains(&bytes, secret.as_bytes()), "export archived the host's file");
        let entries = tar_entries(&bytes);
        if let Some(victim) = entries.iter().find(|e| e.0 == swap.victim().trim_start_matches('/')) {
            assert!(!contains(&victim.3, secret.as_bytes()));
        }
    } else {
        assert!(
            stderr.contains(swap.victim()),
            "the error does not name the file: {stderr}"
        );
        assert!(stderr.contains("changed while"), "{stderr}");
        if let Ok(bytes) = std::fs::read(&out) {
            assert!(!contains(&bytes, secret.as_bytes()), "export archived the host's file");
        }
    }
    t.ok(&["rm", "-f", "racer"]);
}

#[cfg(feature = "race-points")]
#[test]
fn export_of_a_container_that_swaps_a_file_for_a_symlink_never_archives_the_host_file() {
    export_race(Swap::File);
}

#[cfg(feature = "race-points")]
#[test]
fn export_of_a_container_that_swaps_a_directory_for_a_symlink_never_archives_host_files() {
    export_race(Swap::Directory);
}

/// `commit -p=false` (the container keeps running while its layer is read), with the
/// same swap: the committed image never holds the host's file.
#[cfg(feature = "race-points")]
fn commit_race(swap: Swap) {
    let t = TestRoot::new();
    racer(&t);
    let (output, secret) = raced(&t, &["commit", "-p=false", "racer", "stolen:1"], &swap);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{}: {stderr}", output.status);
    if output.status.success() {
        let shown = t.run(&["run", "--rm", "stolen:1", "cat", swap.victim()]);
        assert!(
            !contains(&shown.stdout, secret.as_bytes()),
            "the committed image holds the host's file"
        );
        let saved = t.path("saved.tar");
        t.ok(&["save", "-o", saved.to_str().unwrap(), "stolen:1"]);
        assert!(!contains(&std::fs::read(&saved).unwrap(), secret.as_bytes()));
    } else {
        assert!(
            stderr.contains(swap.victim()),
            "the error does not name the file: {stderr}"
        );
        assert!(stderr.contains("changed while"), "{stderr}");
        assert!(!t.ok(&["images"]).contains("stolen"), "a failed commit left an image");
    }
    t.ok(&["rm", "-f", "racer"]);
    t.ok(&["system", "check"]);
}

#[cfg(feature = "race-points")]
#[test]
fn commit_without_pause_of_a_container_that_swaps_a_file_for_a_symlink_never_commits_the_host_file() {
    commit_race(Swap::File);
}

#[cfg(feature = "race-points")]
#[test]
fn commit_without_pause_of_a_container_that_swaps_a_directory_for_a_symlink_never_commits_host_files() {
    commit_race(Swap::Directory);
}
