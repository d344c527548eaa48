//! Hostile images, containers and commands against everything outside the store (issue
//! 15, section 3): cross-layer symlinks, hostile /etc/passwd and /etc/group, special
//! files where a regular file is expected, user-ID edge values, and races of a running
//! container against the host-side commands (pause points, feature `race-points`). On
//! top, a stress test: a static helper in the container swaps paths with
//! renameat2(RENAME_EXCHANGE) in a loop while the host commands run.
//!
//! Every case gets a fresh host directory outside the store (`Outside`: known files, a
//! secret string, a file name no container knows), which the hostile links point at.
//! The runner snapshots it (and the host's /etc/passwd, group, shadow, hostname) before
//! and after the case, looks for the secret in the whole store and in the case's
//! outputs, and runs `system check`. Every strata command is bounded (a hang fails the
//! case); a refused command must say why on an `error:` line.

mod harness;

use harness::images::{busybox_rootfs, docker_archive};
#[cfg(feature = "race-points")]
use harness::race::Paused;
use harness::TestRoot;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------
// Bounded commands
// ---------------------------------------------------------------------------------

/// How long any one command may take before it counts as hung. Generous: a slow
/// machine must never fail a case, only a command that never ends.
const BOUND: Duration = Duration::from_secs(180);

/// Runs `cmd` to the end, killing it (and failing) if it has not ended within BOUND.
/// Its output is drained by threads, so a large output never blocks it.
fn bounded(mut cmd: Command, what: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {what}: {e}"));
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > BOUND {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} hung (killed after {} s)", BOUND.as_secs());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// One test's store, every command bounded.
struct Strata<'a> {
    t: &'a TestRoot,
}

impl Strata<'_> {
    fn run(&self, args: &[&str]) -> Output {
        let mut cmd = self.t.cmd();
        cmd.args(args);
        let out = bounded(cmd, &format!("strata {args:?}"));
        // Shown with the failures (libtest captures it), or with --nocapture.
        let err = String::from_utf8_lossy(&out.stderr);
        eprintln!(
            "  $ strata {args:?}: {} {}",
            out.status,
            err.trim().replace('\n', " | ")
        );
        out
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "strata {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs a command that must be refused with a clear error; returns its stderr.
    fn refused(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "strata {args:?} should have been refused:\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        clear_error(&out, args)
    }

    /// Runs a command that may succeed or be refused; refused, it must say why.
    fn either(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        if !out.status.success() {
            clear_error(&out, args);
        }
        out
    }
}

/// The stderr of a failed command, checked to be a clear refusal: an `error:` line, an
/// exit status (never a signal, never a panic's 101).
fn clear_error(out: &Output, args: &[&str]) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let code = out.status.code();
    assert!(
        code.is_some() && code != Some(101),
        "strata {args:?} died ({}): {err}",
        out.status
    );
    assert!(!err.contains("panicked"), "strata {args:?} panicked: {err}");
    assert!(
        err.lines().any(|l| l.to_lowercase().contains("error:")),
        "strata {args:?} failed without an error line ({}): {err:?}",
        out.status
    );
    err
}

// ---------------------------------------------------------------------------------
// What is outside the store
// ---------------------------------------------------------------------------------

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Files of the host the classic escapes aim at: watched by every case too.
const HOST_FILES: [&str; 4] = ["/etc/passwd", "/etc/group", "/etc/shadow", "/etc/hostname"];

/// A host directory outside the store that hostile links point at: known files, a
/// secret no container can know, and a file whose name no container can know.
struct Outside {
    dir: tempfile::TempDir,
    secret: String,
    /// The name of a host-only file (in `dir`): seen anywhere, the host was listed.
    nonce: String,
}

impl Outside {
    fn new() -> Outside {
        std::fs::create_dir_all("/var/tmp/strata-tests").unwrap();
        let dir = tempfile::Builder::new()
            .prefix("outside")
            .tempdir_in("/var/tmp/strata-tests")
            .unwrap();
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let secret = format!("host-only secret {}-{n}-{nanos}", std::process::id());
        let nonce = format!("hostonly{}x{n}x{}", std::process::id(), nanos % 1_000_000_007);
        let p = dir.path();
        let write = |name: &str, data: &str| {
            let path = p.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, data).unwrap();
        };
        write("keep", &format!("{secret}\n"));
        write(
            "passwd",
            &format!("root:x:0:0:{secret}:/root:/bin/sh\nhostonly:x:4242:4242:{secret}:/:/bin/sh\n"),
        );
        write("group", "root:x:0:\nhostgroup:x:4343:hostonly,nobody\n");
        write("hostname", &format!("{secret}\n"));
        write("sub/deeper/file", &format!("{secret}\n"));
        write(&nonce, &format!("{secret}\n"));
        std::os::unix::fs::symlink("keep", p.join("link")).unwrap();
        Outside { dir, secret, nonce }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The directory's absolute path, as hostile links spell it.
    fn abs(&self) -> String {
        self.path().display().to_string()
    }

    /// A relative link that climbs out of any root to this directory.
    fn climbing(&self) -> String {
        format!("../../../../../../../../../../../..{}", self.abs())
    }

    /// Every entry (type, mode, owner, size, times, content hash or link target), and
    /// the host files of HOST_FILES.
    fn snapshot(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        describe_tree(self.path(), self.path(), &mut out);
        for f in HOST_FILES {
            out.insert(format!("host {f}"), describe(Path::new(f)));
        }
        out
    }
}

fn describe(path: &Path) -> String {
    let Ok(m) = std::fs::symlink_metadata(path) else {
        return "absent".into();
    };
    let common = format!(
        "{:o} {}:{} mtime={}.{} ctime={}.{}",
        m.mode(),
        m.uid(),
        m.gid(),
        m.mtime(),
        m.mtime_nsec(),
        m.ctime(),
        m.ctime_nsec()
    );
    let ft = m.file_type();
    if ft.is_symlink() {
        format!("link -> {} {common}", std::fs::read_link(path).unwrap().display())
    } else if ft.is_dir() {
        format!("dir {common}")
    } else if ft.is_file() {
        let data = std::fs::read(path).unwrap_or_default();
        format!("file {} {} {common}", m.size(), hex::encode(Sha256::digest(&data)))
    } else {
        format!("special {common}")
    }
}

fn describe_tree(base: &Path, path: &Path, out: &mut BTreeMap<String, String>) {
    let rel = path.strip_prefix(base).unwrap().display().to_string();
    out.insert(format!("./{rel}"), describe(path));
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        let mut names: Vec<_> = std::fs::read_dir(path).unwrap().map(|e| e.unwrap().path()).collect();
        names.sort();
        for p in names {
            describe_tree(base, &p, out);
        }
    }
}

/// What differs between two snapshots, one line per path.
fn changes(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) -> Vec<String> {
    let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| before.get(*k) != after.get(*k))
        .map(|k| format!("{k}: {:?} -> {:?}", before.get(k), after.get(k)))
        .collect()
}

/// Files under `dir` (not following links, skipping FIFOs, sockets and devices) that
/// hold `needle`, by grep (which may not read some of strata's own files, such as a
/// network namespace's: those are no copies of anything).
fn files_holding(dir: &Path, needle: &str) -> Vec<String> {
    if !dir.exists() {
        return vec![];
    }
    let mut cmd = Command::new("grep");
    cmd.args(["-r", "-l", "-s", "-F", "-a", "-D", "skip", "--", needle])
        .arg(dir);
    let out = bounded(cmd, "grep");
    match out.status.code() {
        Some(0..=2) => String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect(),
        _ => panic!("grep {}: {}", dir.display(), String::from_utf8_lossy(&out.stderr)),
    }
}

/// `system check` exits 0 and reports the store consistent, without garbage.
fn check_clean(s: &Strata<'_>) -> Result<(), String> {
    let out = s.run(&["system", "check"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let bad: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("problem:") || l.starts_with("garbage:"))
        .collect();
    if out.status.code() != Some(0) || !text.contains("the store is consistent") || !bad.is_empty() {
        return Err(format!(
            "system check is not clean ({}): {text}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// Images
// ---------------------------------------------------------------------------------

/// A tar entry of a hostile layer.
enum T {
    File(String, Vec<u8>),
    Dir(String),
    Sym(String, String),
    Hard(String, String),
    Fifo(String),
}

fn file(path: &str, data: &str) -> T {
    T::File(path.into(), data.as_bytes().to_vec())
}
fn bytes(path: &str, data: Vec<u8>) -> T {
    T::File(path.into(), data)
}
fn dir(path: &str) -> T {
    T::Dir(path.into())
}
fn sym(path: &str, target: &str) -> T {
    T::Sym(path.into(), target.into())
}
fn hard(path: &str, target: &str) -> T {
    T::Hard(path.into(), target.into())
}
fn fifo(path: &str) -> T {
    T::Fifo(path.into())
}

impl T {
    fn path(&self) -> &str {
        match self {
            T::File(p, _) | T::Dir(p) | T::Sym(p, _) | T::Hard(p, _) | T::Fifo(p) => p,
        }
    }
}

/// Appends `e` to `b` (root-owned, a fixed time).
fn append(b: &mut tar::Builder<Vec<u8>>, e: &T) {
    let mut h = tar::Header::new_gnu();
    h.set_mtime(1_600_000_000);
    h.set_uid(0);
    h.set_gid(0);
    h.set_size(0);
    match e {
        T::File(p, data) => {
            h.set_entry_type(tar::EntryType::Regular);
            h.set_mode(0o644);
            h.set_size(data.len() as u64);
            b.append_data(&mut h, p, &data[..]).unwrap();
        }
        T::Dir(p) => {
            h.set_entry_type(tar::EntryType::Directory);
            h.set_mode(0o755);
            b.append_data(&mut h, p, &[][..]).unwrap();
        }
        T::Sym(p, target) | T::Hard(p, target) => {
            let kind = if matches!(e, T::Sym(..)) {
                tar::EntryType::Symlink
            } else {
                tar::EntryType::Link
            };
            h.set_entry_type(kind);
            h.set_mode(0o777);
            b.append_link(&mut h, p, target).unwrap();
        }
        T::Fifo(p) => {
            h.set_entry_type(tar::EntryType::Fifo);
            h.set_mode(0o644);
            b.append_data(&mut h, p, &[][..]).unwrap();
        }
    }
}

/// A layer tar of `entries`, in order.
fn tar_of(entries: &[T]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    entries.iter().for_each(|e| append(&mut b, e));
    b.into_inner().unwrap()
}

/// The busybox rootfs layer of this store (made once).
fn busybox_layer(t: &TestRoot) -> Vec<u8> {
    let path = t.path("busybox.tar");
    if !path.exists() {
        busybox_rootfs(&path);
    }
    std::fs::read(path).unwrap()
}

/// Imports `busybox:test` (once).
fn busybox(s: &Strata<'_>) {
    busybox_layer(s.t);
    s.ok(&["import", s.t.path("busybox.tar").to_str().unwrap(), "busybox:test"]);
}

/// An image of one layer: busybox with `extra` entries (an extra entry replaces the
/// busybox entry of the same path), imported with `changes` (`-c`).
fn flat_image(s: &Strata<'_>, tag: &str, extra: &[T], changes: &[&str]) {
    let base = busybox_layer(s.t);
    let plain = |p: &str| p.trim_start_matches("./").trim_end_matches('/').to_string();
    let replaced: Vec<String> = extra.iter().map(|e| plain(e.path())).collect();
    let mut out = tar::Builder::new(Vec::new());
    let mut archive = tar::Archive::new(&base[..]);
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().into_owned();
        if replaced.contains(&plain(&path.to_string_lossy())) {
            continue;
        }
        let mut header = entry.header().clone();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        out.append_data(&mut header, &path, &data[..]).unwrap();
    }
    extra.iter().for_each(|e| append(&mut out, e));
    let file = s.t.path(&format!("{}.tar", tag.replace([':', '/'], "-")));
    std::fs::write(&file, out.into_inner().unwrap()).unwrap();
    let mut args = vec!["import"];
    for c in changes {
        args.extend(["-c", c]);
    }
    args.extend([file.to_str().unwrap(), tag]);
    s.ok(&args);
}

/// An image of busybox and then one layer per element of `layers`, loaded as a
/// docker-archive: what a lower layer holds, an upper one goes through.
fn layered_image(s: &Strata<'_>, tag: &str, layers: &[&[T]]) {
    let out = load_layers(s, tag, layers);
    assert!(
        out.status.success(),
        "loading {tag}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// [`layered_image`], which may be refused (clearly).
fn load_layers(s: &Strata<'_>, tag: &str, layers: &[&[T]]) -> Output {
    let mut all = vec![busybox_layer(s.t)];
    all.extend(layers.iter().map(|l| tar_of(l)));
    let file = s.t.path(&format!("{}.tar", tag.replace([':', '/'], "-")));
    std::fs::write(&file, docker_archive(&all, tag, "2024-01-01T00:00:00Z")).unwrap();
    s.either(&["load", "-i", file.to_str().unwrap()])
}

/// Directories for `path` (absolute) and its ancestors, inside an image: the host
/// path a link names exists in the image too, with the image's own content.
fn inside_copy(w: &Outside) -> Vec<T> {
    let rel = w.abs().trim_start_matches('/').to_string();
    let mut out = Vec::new();
    let mut acc = String::new();
    for part in rel.split('/') {
        acc.push_str(part);
        acc.push('/');
        out.push(dir(&acc));
    }
    out.push(file(&format!("{rel}/keep"), "image data\n"));
    out.push(dir(&format!("{rel}/sub/")));
    out.push(dir(&format!("{rel}/sub/deeper/")));
    out.push(file(&format!("{rel}/sub/deeper/file"), "image data\n"));
    out
}

// ---------------------------------------------------------------------------------
// The case runner
// ---------------------------------------------------------------------------------

/// What a case works with.
struct Ctx<'a> {
    s: Strata<'a>,
    w: &'a Outside,
    /// The case's own host directory for outputs (cp out, export); searched for the
    /// secret afterwards.
    out: PathBuf,
}

impl Ctx<'_> {
    fn out(&self, name: &str) -> String {
        self.out.join(name).display().to_string()
    }

    /// A host file of the case with innocent content (what `cp` copies in).
    fn payload(&self) -> String {
        let p = self.out.join("payload");
        std::fs::write(&p, "payload from the host\n").unwrap();
        p.display().to_string()
    }

    /// A host directory of the case with a file (what `cp` copies in).
    fn payload_dir(&self) -> String {
        let p = self.out.join("payload-dir");
        std::fs::create_dir_all(&p).unwrap();
        std::fs::write(p.join("inner"), "payload from the host\n").unwrap();
        p.display().to_string()
    }

    /// A build context with `dockerfile` (and `files`).
    fn context(&self, dockerfile: &str, files: &[(&str, Vec<u8>)]) -> String {
        let dir = self.out.join("ctx");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
        for (name, data) in files {
            std::fs::write(dir.join(name), data).unwrap();
        }
        dir.display().to_string()
    }

    /// Starts a detached container `name` of `image` that sleeps.
    fn sleeper(&self, name: &str, image: &str, extra: &[&str]) {
        let mut args = vec!["run", "-d", "--name", name];
        args.extend_from_slice(extra);
        args.extend([image, "sleep", "100000"]);
        self.s.ok(&args);
    }

    /// `sh -c script` in the running container `name`, as root.
    fn sh(&self, name: &str, script: &str) -> String {
        self.s.ok(&["exec", name, "sh", "-c", script])
    }

    /// Asserts the host-only secret and file name appear nowhere in `text`.
    fn assert_clean(&self, what: &str, text: &[u8]) {
        let text = String::from_utf8_lossy(text);
        assert!(!text.contains(&self.w.secret), "{what} holds the host's secret: {text}");
        assert!(!text.contains(&self.w.nonce), "{what} names a host-only file: {text}");
    }
}

struct Case {
    name: &'static str,
    run: fn(&Ctx<'_>),
}

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".into())
}

/// Runs every case against one store: each with a fresh outside directory, watched
/// before and after; the store and the case's outputs searched for its secret; then
/// the case's containers, volumes and images removed and `system check` run. Every
/// failure is collected; the test fails at the end listing them all.
fn run_cases(group: &str, t: &TestRoot, cases: &[Case]) {
    let s = Strata { t };
    busybox(&s);
    let base_images = s.ok(&["images", "-aq", "--no-trunc"]);
    let mut failures = Vec::new();
    for case in cases {
        let w = Outside::new();
        let out = tempfile::Builder::new()
            .prefix("case-out")
            .tempdir_in(t.dir.path())
            .unwrap();
        let before = w.snapshot();
        let started = Instant::now();
        let ctx = Ctx {
            s: Strata { t },
            w: &w,
            out: out.path().to_path_buf(),
        };
        let mut problems = Vec::new();
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| (case.run)(&ctx))) {
            problems.push(panic_text(p));
        }
        // Give the case's containers, volumes and images back.
        for id in s.ok(&["ps", "-aq"]).split_whitespace() {
            s.either(&["rm", "-f", "-v", id]);
        }
        for v in s.ok(&["volume", "ls", "-q"]).split_whitespace() {
            s.either(&["volume", "rm", v]);
        }
        for id in s.ok(&["images", "-aq", "--no-trunc"]).split_whitespace() {
            if !base_images.contains(id) {
                s.either(&["rmi", "-f", id]);
            }
        }
        let after = w.snapshot();
        let changed = changes(&before, &after);
        if !changed.is_empty() {
            problems.push(format!("changed outside the store:\n  {}", changed.join("\n  ")));
        }
        for place in [t.root(), out.path().to_path_buf()] {
            let holding = files_holding(&place, &w.secret);
            if !holding.is_empty() {
                problems.push(format!("the host's secret was copied into {holding:?}"));
            }
        }
        if let Err(e) = check_clean(&s) {
            problems.push(e);
        }
        let verdict = if problems.is_empty() { "ok" } else { "FAILED" };
        eprintln!("[{group}] {verdict} ({:.1?}): {}", started.elapsed(), case.name);
        for p in problems {
            failures.push(format!("{}: {p}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases of {group} failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

macro_rules! case {
    ($name:expr, $f:expr) => {
        Case { name: $name, run: $f }
    };
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn is_special(path: &str) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| {
        let t = m.file_type();
        t.is_fifo() || t.is_socket() || t.is_char_device() || t.is_block_device()
    })
}

// ---------------------------------------------------------------------------------
// Cross-layer symlinks
// ---------------------------------------------------------------------------------

/// A directory of an upper layer over a lower layer's link to the host directory:
/// overlayfs shows the directory; run, cp both ways and export see the image's files.
fn xl_upper_dir_over_absolute_link(c: &Ctx<'_>) {
    let w = c.w.abs();
    layered_image(
        &c.s,
        "xl1:1",
        &[
            &[sym("data", &w)],
            &[dir("data/"), file("data/planted", "image data\n")],
        ],
    );
    assert_eq!(
        c.s.ok(&["run", "--rm", "xl1:1", "cat", "/data/planted"]),
        "image data\n"
    );
    c.s.ok(&["create", "--name", "xl1", "xl1:1", "sleep", "1000"]);
    c.s.ok(&["cp", "xl1:/data", &c.out("data")]);
    assert_eq!(
        std::fs::read_to_string(c.out.join("data/planted")).unwrap(),
        "image data\n"
    );
    c.s.ok(&["cp", &c.payload(), "xl1:/data/"]);
    c.s.ok(&["export", "-o", &c.out("xl1.tar"), "xl1"]);
    let tar = std::fs::read(c.out.join("xl1.tar")).unwrap();
    c.assert_clean("the export", &tar);
    let names = tar_names(&tar);
    assert!(names.contains(&"data/payload".to_string()), "{names:?}");
}

fn tar_names(bytes: &[u8]) -> Vec<String> {
    let mut archive = tar::Archive::new(bytes);
    archive
        .entries()
        .unwrap()
        .map(|e| {
            e.unwrap()
                .path()
                .unwrap()
                .display()
                .to_string()
                .trim_end_matches('/')
                .to_string()
        })
        .collect()
}

/// A lower layer's relative link that climbs (`../../..` + the host path), an upper
/// layer's file under it; a named volume there is filled from the image (volume
/// copy-up), and `diff` of a container using it.
fn xl_upper_file_under_relative_climbing_link(c: &Ctx<'_>) {
    let up = c.w.climbing();
    layered_image(
        &c.s,
        "xl2:1",
        &[
            &[dir("a/"), sym("a/b", &up)],
            &[dir("a/b/"), file("a/b/planted", "image data\n")],
        ],
    );
    let listed = c.s.ok(&["run", "--rm", "-v", "xl2vol:/a/b", "xl2:1", "ls", "/a/b"]);
    assert_eq!(listed, "planted\n");
    c.sleeper("xl2", "xl2:1", &["-v", "xl2vol:/a/b"]);
    c.sh("xl2", "echo new > /a/b/new && echo x > /a/x");
    let diff = c.s.ok(&["diff", "xl2"]);
    c.assert_clean("diff", diff.as_bytes());
    assert!(diff.contains("A /a/x"), "{diff}");
    let volume = c.s.t.root().join("volumes/xl2vol/_data");
    let mut names: Vec<_> = std::fs::read_dir(&volume)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["new", "planted"]);
}

/// An upper layer's link that goes through a lower layer's link to /proc/self/root:
/// resolved inside the container's root, where that is nothing. cp out of a created
/// and of a running container, and COPY --from the image, find nothing to copy.
fn xl_link_through_lower_proc_self_root(c: &Ctx<'_>) {
    let w = c.w.abs();
    layered_image(
        &c.s,
        "xl3:1",
        &[&[sym("p", "/proc/self/root")], &[sym("q", &format!("p{w}/sub"))]],
    );
    c.s.ok(&["create", "--name", "xl3", "xl3:1", "sleep", "1000"]);
    let err = c.s.refused(&["cp", "xl3:/q/deeper/file", &c.out("stolen")]);
    assert!(err.contains("/q/deeper/file"), "{err}");
    c.sleeper("xl3r", "xl3:1", &[]);
    // Inside, the container's own /proc/self/root: its own root, which lacks the path.
    c.s.either(&["cp", "xl3r:/q/deeper/file", &c.out("stolen-running")]);
    c.s.either(&["cp", "xl3r:/p/", &c.out("proc-root")]);
    let ctx = c.context("FROM busybox:test\nCOPY --from=xl3:1 /q/deeper/file /stolen\n", &[]);
    let err = c.s.refused(&["build", "-t", "xl3-stolen:1", &ctx]);
    assert!(err.contains("/q/deeper/file"), "{err}");
    assert!(!c.s.ok(&["images"]).contains("xl3-stolen"));
}

/// A lower layer's link to /proc/1/root and an upper layer's link through it to the
/// host directory: a volume there is filled with nothing of the host's, and cp out of
/// the running container never copies the host's files.
fn xl_link_through_lower_proc_1_root(c: &Ctx<'_>) {
    let w = c.w.abs();
    layered_image(
        &c.s,
        "xl4:1",
        &[&[sym("r", "/proc/1/root")], &[sym("s", &format!("r{w}"))]],
    );
    c.s.either(&["run", "--rm", "-v", "xl4vol:/s", "xl4:1", "true"]);
    c.sleeper("xl4", "xl4:1", &[]);
    c.s.either(&["cp", "xl4:/s/keep", &c.out("keep")]);
    c.s.either(&["cp", "xl4:/s", &c.out("s")]);
    c.s.either(&["cp", &c.payload(), "xl4:/s/planted"]);
    c.s.either(&["cp", &c.payload(), "xl4:/r/tmp/planted"]);
}

/// A whiteout in a middle layer removes a lower directory, the top layer puts a link to
/// the host directory in its place: export archives the link, cp out copies the link
/// (never its target), cp in through it stays inside.
fn xl_whiteout_then_link_to_host(c: &Ctx<'_>) {
    let w = c.w.abs();
    layered_image(
        &c.s,
        "xl5:1",
        &[
            &[dir("d/"), dir("d/sub/"), file("d/sub/f", "image data\n")],
            &[file("d/.wh.sub", "")],
            &[sym("d/sub", &w)],
        ],
    );
    c.s.ok(&["create", "--name", "xl5", "xl5:1", "sleep", "1000"]);
    c.s.ok(&["export", "-o", &c.out("xl5.tar"), "xl5"]);
    let tar = std::fs::read(c.out.join("xl5.tar")).unwrap();
    c.assert_clean("the export", &tar);
    let names = tar_names(&tar);
    assert!(names.contains(&"d/sub".to_string()), "{names:?}");
    assert!(!names.iter().any(|n| n.starts_with("d/sub/")), "{names:?}");
    c.s.ok(&["cp", "xl5:/d", &c.out("d")]);
    let copied = std::fs::symlink_metadata(c.out.join("d/sub")).unwrap();
    assert!(copied.file_type().is_symlink(), "the link is copied as a link");
    c.s.either(&["cp", &c.payload_dir(), "xl5:/d/sub/"]);
    c.s.either(&["cp", &c.payload(), "xl5:/d/sub/planted"]);
}

/// Links that form a loop across two layers: cp out, a working directory and a volume
/// through the loop are refused clearly (ELOOP), never resolved on the host.
fn xl_symlink_loop_across_layers(c: &Ctx<'_>) {
    layered_image(
        &c.s,
        "xl6:1",
        &[&[sym("loop-a", "loop-b/x")], &[sym("loop-b", "loop-a/y")]],
    );
    c.s.ok(&["create", "--name", "xl6", "xl6:1", "sleep", "1000"]);
    let err = c.s.refused(&["cp", "xl6:/loop-a/z", &c.out("z")]);
    assert!(err.contains("loop-a"), "{err}");
    c.s.refused(&["cp", &c.payload(), "xl6:/loop-b/z"]);
    c.s.refused(&["run", "--rm", "-w", "/loop-a/work", "xl6:1", "true"]);
    c.s.either(&["run", "--rm", "-v", "xl6vol:/loop-b/v", "xl6:1", "true"]);
}

/// A chain of 45 links (more than the kernel follows), split across two layers, ending
/// at the host directory's path: cp out and COPY --from are refused clearly.
fn xl_overlong_chain_across_layers(c: &Ctx<'_>) {
    let w = c.w.abs();
    let lower: Vec<T> = (0..25).map(|i| sym(&format!("c{i}"), &format!("c{}", i + 1))).collect();
    let mut upper: Vec<T> = (25..44)
        .map(|i| sym(&format!("c{i}"), &format!("c{}", i + 1)))
        .collect();
    upper.push(sym("c44", &w));
    upper.extend(inside_copy(c.w));
    layered_image(&c.s, "xl7:1", &[&lower, &upper]);
    // The end of the chain is the image's copy of the path, reached directly.
    assert_eq!(
        c.s.ok(&["run", "--rm", "xl7:1", "cat", &format!("{w}/keep")]),
        "image data\n"
    );
    c.s.ok(&["create", "--name", "xl7", "xl7:1", "sleep", "1000"]);
    let err = c.s.refused(&["cp", "xl7:/c0/keep", &c.out("keep")]);
    assert!(err.contains("/c0/keep"), "{err}");
    c.s.refused(&["cp", &c.payload(), "xl7:/c0/planted"]);
    let ctx = c.context("FROM busybox:test\nCOPY --from=xl7:1 /c0/keep /stolen\n", &[]);
    let err = c.s.refused(&["build", "-t", "xl7-stolen:1", &ctx]);
    assert!(err.contains("/c0/keep"), "{err}");
}

/// An upper layer hard-links a lower layer's link to a host file: refused at load (a
/// hard link must name an earlier entry of its own layer), or, if accepted, the link
/// never becomes the host's file.
fn xl_hard_link_to_lower_link_to_host_file(c: &Ctx<'_>) {
    let keep = format!("{}/keep", c.w.abs());
    let out = load_layers(&c.s, "xl8:1", &[&[sym("hl", &keep)], &[hard("h", "hl")]]);
    if out.status.success() {
        let shown = c.s.either(&["run", "--rm", "xl8:1", "cat", "/h"]);
        c.assert_clean("the hard link", &shown.stdout);
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("hard link"), "{err}");
    }
}

/// A lower layer replaces /etc with a link to the host directory (which holds a passwd
/// with a user `hostonly`), an upper layer puts an /etc/passwd of its own through it:
/// users come from the image's file only.
fn xl_etc_link_with_upper_passwd(c: &Ctx<'_>) {
    let w = c.w.abs();
    layered_image(
        &c.s,
        "xl9:1",
        &[
            &[sym("etc", &w)],
            &[
                dir("etc/"),
                file(
                    "etc/passwd",
                    "root:x:0:0::/root:/bin/sh\nimguser:x:777:778::/:/bin/sh\n",
                ),
                file("etc/group", "root:x:0:\nimg:x:778:\n"),
            ],
        ],
    );
    assert_eq!(
        c.s.ok(&["run", "--rm", "-u", "imguser", "xl9:1", "sh", "-c", "id -u; id -g"]),
        "777\n778\n"
    );
    let err = c.s.refused(&["run", "--rm", "-u", "hostonly", "xl9:1", "id"]);
    assert!(err.contains("unable to find user hostonly"), "{err}");
    c.sleeper("xl9", "xl9:1", &[]);
    let err = c.s.refused(&["exec", "-u", "hostonly", "xl9", "id"]);
    assert!(err.contains("unable to find user hostonly"), "{err}");
}

/// A lower layer's /etc is a link to the host directory, nothing above it: the mount
/// targets the runtime makes (/etc/hosts, resolv.conf, hostname) and the user lookup
/// resolve inside the root; start of the stopped container again, too.
fn xl_etc_link_alone(c: &Ctx<'_>) {
    let w = c.w.abs();
    layered_image(&c.s, "xl10:1", &[&[sym("etc", &w)]]);
    let err = c.s.refused(&["run", "--rm", "-u", "hostonly", "xl10:1", "id"]);
    assert!(err.contains("unable to find user hostonly"), "{err}");
    let out = c.s.either(&[
        "run",
        "--name",
        "xl10",
        "xl10:1",
        "sh",
        "-c",
        "cat /etc/hostname; id -u",
    ]);
    c.assert_clean("the container's output", &out.stdout);
    c.s.either(&["start", "-a", "xl10"]);
}

#[test]
fn cross_layer_symlinks_never_lead_host_commands_out_of_the_store() {
    let t = TestRoot::new();
    run_cases(
        "cross-layer",
        &t,
        &[
            case!(
                "upper directory over a lower absolute link to the host (run, cp out, cp in, export)",
                xl_upper_dir_over_absolute_link
            ),
            case!(
                "upper file under a lower relative climbing link (volume copy-up, diff)",
                xl_upper_file_under_relative_climbing_link
            ),
            case!(
                "upper link through a lower link to /proc/self/root (cp out, COPY --from)",
                xl_link_through_lower_proc_self_root
            ),
            case!(
                "upper link through a lower link to /proc/1/root (volume copy-up, cp both ways)",
                xl_link_through_lower_proc_1_root
            ),
            case!(
                "whiteout then a link to the host in the upper layer (export, cp both ways)",
                xl_whiteout_then_link_to_host
            ),
            case!(
                "symlink loop across layers (cp both ways, run -w, run -v)",
                xl_symlink_loop_across_layers
            ),
            case!(
                "45-link chain across layers ending at the host path (cp both ways, COPY --from)",
                xl_overlong_chain_across_layers
            ),
            case!(
                "upper hard link to a lower link to a host file (load, run)",
                xl_hard_link_to_lower_link_to_host_file
            ),
            case!(
                "lower /etc links to the host, upper /etc/passwd through it (run -u, exec -u)",
                xl_etc_link_with_upper_passwd
            ),
            case!(
                "lower /etc links to the host, nothing above (run -u, runtime mount targets, start)",
                xl_etc_link_alone
            ),
        ],
    );
}

// ---------------------------------------------------------------------------------
// Hostile /etc/passwd and /etc/group
// ---------------------------------------------------------------------------------

/// The image's /etc/passwd is an absolute link to a host passwd (which has a user
/// `hostonly`): `-u hostonly` and the image's `USER hostonly` find no such user.
fn pw_passwd_absolute_link_to_host_file(c: &Ctx<'_>) {
    let link = [sym("etc/passwd", &format!("{}/passwd", c.w.abs()))];
    flat_image(&c.s, "pw1:1", &link, &[]);
    let err = c.s.refused(&["run", "--rm", "-u", "hostonly", "pw1:1", "id"]);
    assert!(err.contains("unable to find user hostonly"), "{err}");
    assert_eq!(c.s.ok(&["run", "--rm", "pw1:1", "id", "-u"]), "0\n");
    flat_image(&c.s, "pw1u:1", &link, &["USER hostonly"]);
    let err = c.s.refused(&["run", "--rm", "pw1u:1", "id"]);
    assert!(err.contains("unable to find user hostonly"), "{err}");
}

/// The image's /etc/group is a relative link climbing to a host group file (where
/// `hostgroup` lists nobody): `-u nobody:hostgroup` finds no group, and nobody gets no
/// supplementary group of the host's.
fn pw_group_relative_link_to_host_file(c: &Ctx<'_>) {
    let link = format!("{}/group", c.w.climbing());
    flat_image(&c.s, "pw2:1", &[sym("etc/group", &link)], &[]);
    let err = c.s.refused(&["run", "--rm", "-u", "nobody:hostgroup", "pw2:1", "id"]);
    assert!(err.contains("unable to find group hostgroup"), "{err}");
    assert_eq!(c.s.ok(&["run", "--rm", "-u", "nobody", "pw2:1", "id", "-G"]), "65534\n");
}

/// /etc/passwd links to /proc/1/root/<host dir>/passwd and /etc/group to
/// /proc/self/root/etc/group: never the host's (or the engine's) files, for run and exec.
fn pw_links_through_proc_roots(c: &Ctx<'_>) {
    let passwd = format!("/proc/1/root{}/passwd", c.w.abs());
    flat_image(
        &c.s,
        "pw3:1",
        &[
            sym("etc/passwd", &passwd),
            sym("etc/group", "/proc/self/root/etc/group"),
        ],
        &[],
    );
    let err = c.s.refused(&["run", "--rm", "-u", "hostonly", "pw3:1", "id"]);
    assert!(err.contains("hostonly") || err.contains("/etc/passwd"), "{err}");
    c.s.either(&["run", "--rm", "-u", "nobody", "pw3:1", "id"]);
    c.sleeper("pw3", "pw3:1", &[]);
    let err = c.s.refused(&["exec", "-u", "hostonly", "pw3", "id"]);
    assert!(err.contains("hostonly") || err.contains("/etc/passwd"), "{err}");
    let err = c.s.refused(&["exec", "-u", "root:hostgroup", "pw3", "id"]);
    assert!(err.contains("hostgroup") || err.contains("/etc/"), "{err}");
}

/// /etc/passwd is a link to itself: every lookup is refused clearly, never a hang.
fn pw_passwd_symlink_loop(c: &Ctx<'_>) {
    flat_image(&c.s, "pw4:1", &[sym("etc/passwd", "passwd")], &[]);
    for user in ["nobody", "0", "65534:65534"] {
        let out = c.s.either(&["run", "--rm", "-u", user, "pw4:1", "id", "-u"]);
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("/etc/passwd"), "{err}");
        }
    }
}

/// The base image's /etc/passwd is a FIFO: a build's `COPY --chown=nobody` (which
/// looks the name up in the image) is refused at once.
fn pw_passwd_fifo_in_build_chown(c: &Ctx<'_>) {
    flat_image(&c.s, "pw5:1", &[fifo("etc/passwd")], &[]);
    let ctx = c.context(
        "FROM pw5:1\nCOPY --chown=nobody f /f\n",
        &[("f", b"from the context\n".to_vec())],
    );
    let err = c.s.refused(&["build", "-t", "pw5-built:1", &ctx]);
    assert!(
        err.contains("/etc/passwd") && err.contains("not a regular file"),
        "{err}"
    );
    let ctx = c.context("FROM pw5:1\nUSER nobody\nRUN id\n", &[]);
    c.s.refused(&["build", "-t", "pw5-built:2", &ctx]);
}

/// The image's /etc/group is a directory: refused as not a regular file.
fn pw_group_directory(c: &Ctx<'_>) {
    flat_image(
        &c.s,
        "pw6:1",
        &[dir("etc/group/"), file("etc/group/nobody", "nobody:x:65534:\n")],
        &[],
    );
    let err = c.s.refused(&["run", "--rm", "-u", "nobody", "pw6:1", "id"]);
    assert!(err.contains("not a regular file"), "{err}");
}

/// A 9 MiB /etc/passwd (more than strata reads): refused, not read into memory whole.
fn pw_huge_passwd(c: &Ctx<'_>) {
    let line = "filler:x:1000:1000::/:/bin/sh\n";
    let mut data = line.repeat((9 << 20) / line.len() + 1).into_bytes();
    data.extend_from_slice(b"nobody:x:65534:65534::/:/bin/sh\n");
    flat_image(&c.s, "pw7:1", &[bytes("etc/passwd", data)], &[]);
    let err = c.s.refused(&["run", "--rm", "-u", "nobody", "pw7:1", "id"]);
    assert!(err.contains("larger than"), "{err}");
}

/// A passwd entry with UID 4294967295 (-1: "leave unchanged" to setuid, so root):
/// refused for `-u` and for the image's USER.
fn pw_uid_4294967295(c: &Ctx<'_>) {
    let passwd = "root:x:0:0::/root:/bin/sh\nevil:x:4294967295:0::/:/bin/sh\n";
    flat_image(&c.s, "pw8:1", &[file("etc/passwd", passwd)], &[]);
    let err = c.s.refused(&["run", "--rm", "-u", "evil", "pw8:1", "id"]);
    assert!(err.contains("4294967295") && err.contains("not valid"), "{err}");
    flat_image(&c.s, "pw8u:1", &[file("etc/passwd", passwd)], &["USER evil"]);
    let err = c.s.refused(&["run", "--rm", "pw8u:1", "id"]);
    assert!(err.contains("4294967295"), "{err}");
}

/// Entries with UID or GID 2147483648 (negative to the kernel): exec -u refused.
fn pw_ids_2147483648(c: &Ctx<'_>) {
    let passwd = "root:x:0:0::/root:/bin/sh\nbig:x:2147483648:0::/:/bin/sh\nbigg:x:1000:2147483648::/:/bin/sh\nedge:x:2147483647:2147483647::/:/bin/sh\n";
    flat_image(&c.s, "pw9:1", &[file("etc/passwd", passwd)], &[]);
    c.sleeper("pw9", "pw9:1", &[]);
    for user in ["big", "bigg"] {
        let err = c.s.refused(&["exec", "-u", user, "pw9", "id"]);
        assert!(err.contains("2147483648"), "{user}: {err}");
    }
    assert_eq!(
        c.s.ok(&["exec", "-u", "edge", "pw9", "sh", "-c", "id -u; id -g"]),
        "2147483647\n2147483647\n"
    );
}

/// Negative, non-numeric, padded, empty and huge IDs in passwd: every one refused,
/// none read as 0 (root).
fn pw_malformed_ids(c: &Ctx<'_>) {
    let passwd = "root:x:0:0::/root:/bin/sh\n\
        neg:x:-1:0::/:/bin/sh\n\
        negg:x:1000:-5::/:/bin/sh\n\
        alpha:x:abc:0::/:/bin/sh\n\
        huge:x:99999999999999999999:0::/:/bin/sh\n\
        spaced:x: 1000:0::/:/bin/sh\n\
        empty:x::0::/:/bin/sh\n\
        hex:x:0x10:0::/:/bin/sh\n";
    flat_image(&c.s, "pw10:1", &[file("etc/passwd", passwd)], &[]);
    for user in ["neg", "negg", "alpha", "huge", "spaced", "empty", "hex"] {
        let err = c.s.refused(&["run", "--rm", "-u", user, "pw10:1", "id", "-u"]);
        assert!(err.contains("not valid"), "{user}: {err}");
    }
}

/// Entries with missing fields are no entries; a number still works as a UID.
fn pw_missing_fields(c: &Ctx<'_>) {
    let passwd = "root:x:0:0::/root:/bin/sh\nshort:x:1234\nonlyname\n::::::\n:x:0:0::/:/bin/sh\n";
    flat_image(&c.s, "pw11:1", &[file("etc/passwd", passwd)], &[]);
    for user in ["short", "onlyname"] {
        let err = c.s.refused(&["run", "--rm", "-u", user, "pw11:1", "id"]);
        assert!(err.contains(&format!("unable to find user {user}")), "{err}");
    }
    assert_eq!(
        c.s.ok(&["run", "--rm", "-u", "1234", "pw11:1", "sh", "-c", "id -u; id -g"]),
        "1234\n0\n"
    );
}

/// A group with GID 4294967295 lists nobody: nobody's supplementary groups are
/// refused; with an explicit group they are not looked up.
fn pw_supplementary_group_4294967295(c: &Ctx<'_>) {
    let group = "root:x:0:\nnobody:x:65534:\nevil:x:4294967295:nobody\n";
    flat_image(&c.s, "pw12:1", &[file("etc/group", group)], &[]);
    let err = c.s.refused(&["run", "--rm", "-u", "nobody", "pw12:1", "id"]);
    assert!(err.contains("4294967295"), "{err}");
    assert_eq!(
        c.s.ok(&["run", "--rm", "-u", "nobody:nobody", "pw12:1", "id", "-G"]),
        "65534\n"
    );
}

/// Junk in passwd (NUL bytes, a 1 MiB line, invalid UTF-8, CRLF line ends) does not
/// stop the lookup of the entries that are well formed.
fn pw_junk_lines(c: &Ctx<'_>) {
    let mut data = b"\0\0\0\r\n".to_vec();
    data.extend(std::iter::repeat_n(b'A', 1 << 20));
    data.extend_from_slice(b"\n\xff\xfe:\xff:1:1\n");
    data.extend_from_slice(b"root:x:0:0:root:/root:/bin/sh\r\n");
    data.extend_from_slice(b"nobody:x:65534:65534:nobody:/:/bin/false\r\n");
    flat_image(&c.s, "pw13:1", &[bytes("etc/passwd", data)], &[]);
    assert_eq!(
        c.s.ok(&["run", "--rm", "-u", "nobody", "pw13:1", "id", "-u"]),
        "65534\n"
    );
}

#[test]
fn hostile_passwd_and_group_files_never_reach_the_host() {
    let t = TestRoot::new();
    run_cases(
        "passwd",
        &t,
        &[
            case!(
                "passwd: absolute link to a host passwd (run -u, image USER)",
                pw_passwd_absolute_link_to_host_file
            ),
            case!(
                "group: relative climbing link to a host group (run -u user:group, id -G)",
                pw_group_relative_link_to_host_file
            ),
            case!(
                "passwd -> /proc/1/root/..., group -> /proc/self/root/... (run -u, exec -u)",
                pw_links_through_proc_roots
            ),
            case!("passwd: a symlink loop (run -u)", pw_passwd_symlink_loop),
            case!(
                "passwd: a FIFO (build COPY --chown, USER + RUN)",
                pw_passwd_fifo_in_build_chown
            ),
            case!("group: a directory (run -u)", pw_group_directory),
            case!("passwd: 9 MiB (run -u)", pw_huge_passwd),
            case!("passwd: uid 4294967295 (run -u, image USER)", pw_uid_4294967295),
            case!("passwd: uid and gid 2147483648 (exec -u)", pw_ids_2147483648),
            case!(
                "passwd: negative, non-numeric, huge, padded, empty ids (run -u)",
                pw_malformed_ids
            ),
            case!("passwd: entries with missing fields (run -u)", pw_missing_fields),
            case!(
                "group: supplementary gid 4294967295 (run -u)",
                pw_supplementary_group_4294967295
            ),
            case!(
                "passwd: NUL bytes, a 1 MiB line, invalid UTF-8, CRLF (run -u)",
                pw_junk_lines
            ),
        ],
    );
}

/// A passwd entry whose *name* is a number (`1000`) with UID 0 must not turn `-u 1000`
/// into root: Docker (runc) always reads a numeric user as a UID, and so must the
/// image's USER. Likewise an entry named `0` with UID 1000 must not turn `-u 0` into
/// UID 1000.
#[test]
fn a_user_name_that_looks_like_a_number_never_shadows_the_uid() {
    let t = TestRoot::new();
    let s = Strata { t: &t };
    busybox(&s);
    let passwd = "0:x:1000:1000::/:/bin/sh\n1000:x:0:0::/root:/bin/sh\nroot:x:0:0::/root:/bin/sh\nuser:x:1000:1000::/home:/bin/sh\n";
    flat_image(&s, "numeric:1", &[file("etc/passwd", passwd)], &[]);
    flat_image(&s, "numeric-user:1", &[file("etc/passwd", passwd)], &["USER 1000"]);
    assert_eq!(s.ok(&["run", "--rm", "-u", "1000", "numeric:1", "id", "-u"]), "1000\n");
    assert_eq!(s.ok(&["run", "--rm", "numeric-user:1", "id", "-u"]), "1000\n");
    assert_eq!(s.ok(&["run", "--rm", "-u", "0", "numeric:1", "id", "-u"]), "0\n");
    s.ok(&["run", "-d", "--name", "numeric", "numeric:1", "sleep", "1000"]);
    assert_eq!(s.ok(&["exec", "-u", "1000", "numeric", "id", "-u"]), "1000\n");
    s.ok(&["rm", "-f", "numeric"]);
    check_clean(&s).unwrap();
}

// ---------------------------------------------------------------------------------
// Special files where regular files are expected
// ---------------------------------------------------------------------------------

/// The static helper run inside containers: `helper sock PATH` leaves a Unix socket at
/// PATH; `helper flip COUNTFILE A B [A B...]` swaps each pair with
/// renameat2(RENAME_EXCHANGE) in a loop, forever, and every 256 rounds replaces
/// COUNTFILE (write and rename) with the number of successful swaps.
const HELPER_C: &str = r#"
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "sock") == 0) {
        struct sockaddr_un addr;
        memset(&addr, 0, sizeof addr);
        addr.sun_family = AF_UNIX;
        strncpy(addr.sun_path, argv[2], sizeof addr.sun_path - 1);
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
            perror("sock");
            return 1;
        }
        return 0;
    }
    if (argc >= 5 && argc % 2 == 1 && strcmp(argv[1], "flip") == 0) {
        unsigned long swaps = 0, rounds = 0;
        for (;;) {
            for (int i = 3; i + 1 < argc; i += 2) {
                if (syscall(SYS_renameat2, AT_FDCWD, argv[i], AT_FDCWD, argv[i + 1], RENAME_EXCHANGE) == 0)
                    swaps++;
            }
            if (++rounds % 256 == 0) {
                char tmp[4096];
                snprintf(tmp, sizeof tmp, "%s.tmp", argv[2]);
                FILE *f = fopen(tmp, "w");
                if (f) {
                    fprintf(f, "%lu\n", swaps);
                    fclose(f);
                    rename(tmp, argv[2]);
                }
            }
            sched_yield();
        }
    }
    fprintf(stderr, "usage: helper sock PATH | helper flip COUNTFILE A B [A B...]\n");
    return 2;
}
"#;

/// Compiles the helper (static, so it runs in busybox) into the test's directory.
fn helper(t: &TestRoot) -> String {
    let dir = t.path("helper");
    let bin = dir.join("helper");
    if !bin.exists() {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("helper.c"), HELPER_C).unwrap();
        let out = Command::new("gcc")
            .args(["-static", "-O2", "-o"])
            .arg(&bin)
            .arg(dir.join("helper.c"))
            .output()
            .unwrap_or_else(|e| {
                panic!("gcc is needed to build the container helper ({e}); scripts/test.sh installs gcc and libc6-dev")
            });
        assert!(
            out.status.success(),
            "gcc -static failed (libc6-dev is needed; scripts/test.sh installs it): {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    bin.display().to_string()
}

/// A running busybox container `name` with the helper at /bin/helper.
fn sleeper_with_helper(c: &Ctx<'_>, name: &str) {
    c.sleeper(name, "busybox:test", &[]);
    c.s.ok(&["cp", &helper(c.s.t), &format!("{name}:/bin/helper")]);
}

/// cp out of a FIFO, a /dev/zero device and a socket: nothing special is made on the
/// host, nothing hangs, no endless file.
fn sp_cp_out_special_files(c: &Ctx<'_>) {
    sleeper_with_helper(c, "sp1");
    c.sh("sp1", "mkfifo /fifo && mknod /zero c 1 5 && helper sock /sock");
    for name in ["fifo", "zero", "sock"] {
        let dest = c.out(name);
        c.s.either(&["cp", &format!("sp1:/{name}"), &dest]);
        assert!(!is_special(&dest), "cp made a {name} on the host");
        let size = std::fs::metadata(&dest).map(|m| m.len()).unwrap_or(0);
        assert_eq!(size, 0, "cp of /{name} wrote {size} bytes");
    }
}

/// cp out of a directory holding special files, links to the host and a hard link:
/// links stay links, special files are left out.
fn sp_cp_out_directory_with_specials(c: &Ctx<'_>) {
    sleeper_with_helper(c, "sp2");
    let w = c.w.abs();
    c.sh(
        "sp2",
        &format!(
            "mkdir /d && mkfifo /d/fifo && mknod /d/zero c 1 5 && helper sock /d/sock && \
             ln -s {w}/keep /d/link && ln -s / /d/root && echo c > /d/f && ln /d/f /d/hard"
        ),
    );
    c.s.ok(&["cp", "sp2:/d", &c.out("d")]);
    let d = c.out.join("d");
    assert_eq!(
        std::fs::read_link(d.join("link")).unwrap(),
        Path::new(&format!("{w}/keep"))
    );
    assert_eq!(std::fs::read_to_string(d.join("hard")).unwrap(), "c\n");
    for name in ["fifo", "zero", "sock"] {
        assert!(
            !is_special(&d.join(name).display().to_string()),
            "{name} copied as such"
        );
    }
}

/// cp in onto a FIFO, a device, a socket and a link to a host file: the container's
/// entry is replaced (or the copy refused), never opened or followed.
fn sp_cp_in_onto_special_files(c: &Ctx<'_>) {
    sleeper_with_helper(c, "sp3");
    let w = c.w.abs();
    c.sh(
        "sp3",
        &format!("mkfifo /dst-fifo && mknod /dst-zero c 1 5 && helper sock /dst-sock && ln -s {w}/keep /dst-link"),
    );
    let payload = c.payload();
    for name in ["dst-fifo", "dst-zero", "dst-sock", "dst-link"] {
        let out = c.s.either(&["cp", &payload, &format!("sp3:/{name}")]);
        if out.status.success() {
            assert_eq!(c.sh("sp3", &format!("cat /{name}")), "payload from the host\n");
        }
    }
}

/// exec -u while /etc/passwd is a socket, then while /etc/group is /dev/null's device.
fn sp_exec_user_with_socket_and_device_databases(c: &Ctx<'_>) {
    sleeper_with_helper(c, "sp4");
    c.sh("sp4", "rm /etc/passwd && helper sock /etc/passwd");
    let err = c.s.refused(&["exec", "-u", "nobody", "sp4", "id"]);
    assert!(err.contains("not a regular file"), "{err}");
    c.sleeper("sp4b", "busybox:test", &[]);
    c.sh("sp4b", "rm /etc/group && mknod /etc/group c 1 3");
    let err = c.s.refused(&["exec", "-u", "nobody", "sp4b", "id"]);
    assert!(err.contains("not a regular file"), "{err}");
}

/// start of a stopped container whose /etc/passwd became /dev/zero's device: refused at
/// once; its commit (devices are not part of an image) still runs.
fn sp_start_with_device_passwd(c: &Ctx<'_>) {
    c.s.ok(&[
        "run",
        "--name",
        "sp5",
        "busybox:test",
        "sh",
        "-c",
        "rm /etc/passwd && mknod /etc/passwd c 1 5",
    ]);
    let err = c.s.refused(&["start", "-a", "sp5"]);
    assert!(err.contains("not a regular file"), "{err}");
    c.s.ok(&["commit", "sp5", "sp5-committed:1"]);
    let out =
        c.s.either(&["run", "--rm", "-u", "nobody", "sp5-committed:1", "id", "-u"]);
    if out.status.success() {
        assert_eq!(text(&out), "65534\n");
    }
}

/// A new volume is filled from an image directory holding a FIFO, links to the host
/// (absolute, climbing, to /, to /proc/1/root) and a hard link: links are copied as
/// links, the FIFO is left out, files are the image's.
fn sp_volume_copy_up_with_specials(c: &Ctx<'_>) {
    let w = c.w.abs();
    flat_image(
        &c.s,
        "sp6:1",
        &[
            dir("data/"),
            fifo("data/fifo"),
            sym("data/link", &format!("{w}/keep")),
            sym("data/up", &c.w.climbing()),
            sym("data/root", "/"),
            file("data/f", "image data\n"),
            hard("data/h", "data/f"),
            dir("data/sub/"),
            sym("data/sub/proc", "/proc/1/root"),
        ],
        &[],
    );
    let listed =
        c.s.ok(&["run", "--rm", "-v", "sp6vol:/data", "sp6:1", "cat", "/data/h"]);
    assert_eq!(listed, "image data\n");
    let vol = c.s.t.root().join("volumes/sp6vol/_data");
    assert_eq!(
        std::fs::read_link(vol.join("link")).unwrap(),
        Path::new(&format!("{w}/keep"))
    );
    assert_eq!(std::fs::read_link(vol.join("root")).unwrap(), Path::new("/"));
    assert!(!is_special(&vol.join("fifo").display().to_string()));
}

/// COPY --from a build stage that made FIFOs and links to the host: the FIFO (alone or
/// in a directory) is refused without blocking, a link is resolved inside the stage.
fn sp_copy_from_hostile_stage(c: &Ctx<'_>) {
    let w = c.w.abs();
    let stage = format!(
        "FROM busybox:test AS evil\nRUN mkfifo /pipe && mkdir /d && mkfifo /d/p && echo ok > /d/f && ln -s {w}/keep /d/link && ln -s / /d/root\n"
    );
    let ctx = c.context(&format!("{stage}FROM busybox:test\nCOPY --from=evil /pipe /x\n"), &[]);
    c.s.refused(&["build", "-t", "sp7:1", &ctx]);
    let ctx = c.context(&format!("{stage}FROM busybox:test\nCOPY --from=evil /d /x\n"), &[]);
    c.s.refused(&["build", "-t", "sp7:2", &ctx]);
    let ctx = c.context(&format!("{stage}FROM busybox:test\nCOPY --from=evil /d/link /x\n"), &[]);
    c.s.refused(&["build", "-t", "sp7:3", &ctx]);
    let ctx = c.context(
        &format!("{stage}FROM busybox:test\nCOPY --from=evil /d/root/etc/passwd /x\n"),
        &[],
    );
    c.s.ok(&["build", "-t", "sp7:4", &ctx]);
    let copied = c.s.ok(&["run", "--rm", "sp7:4", "cat", "/x"]);
    assert!(copied.starts_with("root:x:0:0:root:/root:/bin/sh\n"), "{copied}");
}

/// ADD of local archives whose entries write through their own links (to the host
/// directory, absolute and climbing) or hard-link a host path: refused, or kept inside
/// the image.
fn sp_add_archive_through_links(c: &Ctx<'_>) {
    let w = c.w.abs();
    let through = tar_of(&[
        sym("link", &w),
        file("link/planted", "through the link\n"),
        sym("up", &c.w.climbing()),
        file("up/planted2", "through the climbing link\n"),
    ]);
    let hard_link = tar_of(&[
        hard("h", &format!("{w}/keep")),
        hard("h2", "../../../../../../etc/passwd"),
    ]);
    for (name, archive) in [("through.tar", through), ("hard.tar", hard_link)] {
        let ctx = c.context(&format!("FROM busybox:test\nADD {name} /dst/\n"), &[(name, archive)]);
        let out = c.s.either(&["build", "-t", "sp8:1", &ctx]);
        if out.status.success() {
            let shown =
                c.s.either(&["run", "--rm", "sp8:1", "sh", "-c", "ls -lR /dst; cat /dst/h /dst/h2"]);
            c.assert_clean("the built image", &shown.stdout);
        }
    }
}

/// export, commit -p=false and diff of a running container holding a FIFO, a device,
/// a socket and links to the host: the FIFO is archived as a FIFO, device and socket
/// are left out, links are links.
fn sp_export_commit_diff_with_specials(c: &Ctx<'_>) {
    sleeper_with_helper(c, "sp9");
    let w = c.w.abs();
    c.sh(
        "sp9",
        &format!("mkdir /sp && mkfifo /sp/fifo && mknod /sp/zero c 1 5 && helper sock /sp/sock && ln -s {w} /sp/link && echo c > /sp/f"),
    );
    c.s.ok(&["export", "-o", &c.out("sp9.tar"), "sp9"]);
    let tar = std::fs::read(c.out.join("sp9.tar")).unwrap();
    c.assert_clean("the export", &tar);
    let names = tar_names(&tar);
    for name in ["sp/fifo", "sp/link", "sp/f"] {
        assert!(names.contains(&name.to_string()), "{name} missing: {names:?}");
    }
    for name in ["sp/zero", "sp/sock"] {
        assert!(!names.contains(&name.to_string()), "{name} archived");
    }
    c.s.ok(&["commit", "-p=false", "sp9", "sp9-committed:1"]);
    let listed = c.s.ok(&["run", "--rm", "sp9-committed:1", "ls", "/sp"]);
    assert_eq!(listed, "f\nfifo\nlink\n");
    let diff = c.s.ok(&["diff", "sp9"]);
    c.assert_clean("diff", diff.as_bytes());
    assert!(diff.contains("A /sp/fifo") && diff.contains("A /sp/link"), "{diff}");
}

/// rm -v of a running container whose layer and anonymous volume hold links to the
/// host (absolute, climbing, to /) and a FIFO: removed without following any.
fn sp_rm_with_links_to_the_host(c: &Ctx<'_>) {
    c.sleeper("sp10", "busybox:test", &["-v", "/anon"]);
    let w = c.w.abs();
    let up = c.w.climbing();
    c.sh(
        "sp10",
        &format!(
            "ln -s {w} /anon/abs && ln -s {up} /anon/rel && ln -s / /anon/root && mkdir /anon/d && \
             ln -s {w}/keep /anon/d/k && mkfifo /anon/fifo && ln -s {w} /top-link && mkdir /top && ln -s {up} /top/rel"
        ),
    );
    c.s.ok(&["rm", "-f", "-v", "sp10"]);
    assert_eq!(c.s.ok(&["volume", "ls", "-q"]), "");
}

#[test]
fn special_files_where_regular_files_are_expected_never_hang_or_reach_the_host() {
    let t = TestRoot::new();
    run_cases(
        "special files",
        &t,
        &[
            case!("cp out of a FIFO, a device, a socket", sp_cp_out_special_files),
            case!(
                "cp out of a directory with special files, links, a hard link",
                sp_cp_out_directory_with_specials
            ),
            case!(
                "cp in onto a FIFO, a device, a socket, a link to a host file",
                sp_cp_in_onto_special_files
            ),
            case!(
                "exec -u with passwd a socket, group a device",
                sp_exec_user_with_socket_and_device_databases
            ),
            case!(
                "start with passwd a /dev/zero device (start, commit, run -u)",
                sp_start_with_device_passwd
            ),
            case!(
                "volume copy-up of a directory with a FIFO and links to the host",
                sp_volume_copy_up_with_specials
            ),
            case!(
                "COPY --from a stage with FIFOs and links to the host",
                sp_copy_from_hostile_stage
            ),
            case!(
                "ADD of an archive writing through its own links",
                sp_add_archive_through_links
            ),
            case!(
                "export, commit -p=false, diff with a FIFO, a device, a socket, links",
                sp_export_commit_diff_with_specials
            ),
            case!(
                "rm -v with links to the host in the layer and the volume",
                sp_rm_with_links_to_the_host
            ),
        ],
    );
}

/// COPY --from a stage's FIFO is refused, and the error should say which instruction
/// and which path of the stage, as every other COPY error does (`Dockerfile:4: COPY:
/// /pipe ...`), not a path inside the engine's store.
#[test]
fn copy_from_a_stage_fifo_names_the_instruction_and_the_source() {
    let t = TestRoot::new();
    let s = Strata { t: &t };
    busybox(&s);
    let dir = t.path("ctx");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM busybox:test AS evil\nRUN mkfifo /pipe\nFROM busybox:test\nCOPY --from=evil /pipe /x\n",
    )
    .unwrap();
    let err = s.refused(&["build", "-t", "fifo:1", dir.to_str().unwrap()]);
    assert!(err.contains("Dockerfile:4"), "{err}");
    assert!(err.contains("/pipe"), "{err}");
    assert!(!err.contains("/tmp/view-"), "an internal path in the error: {err}");
    assert!(
        !err.contains("build context"),
        "the --from source is no build context: {err}"
    );
}

// ---------------------------------------------------------------------------------
// User ID edge values
// ---------------------------------------------------------------------------------

/// `-u` values that are valid: the process runs with exactly those IDs.
const VALID_USERS: [(&str, &str); 6] = [
    ("0", "0 0"),
    ("65534", "65534 65534"),
    ("2147483647", "2147483647 0"),
    ("2147483647:2147483647", "2147483647 2147483647"),
    ("0:65534", "0 65534"),
    ("nobody:0", "65534 0"),
];

/// `-u` values beyond 2^31-1 (negative to the kernel, -1 meaning "unchanged"): refused.
const INVALID_USERS: [&str; 6] = [
    "2147483648",
    "4294967295",
    "4294967296",
    "0:2147483648",
    "65534:4294967295",
    "99999999999999999999",
];

fn ids_of(out: &str) -> String {
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn id_run_valid(c: &Ctx<'_>) {
    for (user, ids) in VALID_USERS {
        let out =
            c.s.ok(&["run", "--rm", "-u", user, "busybox:test", "sh", "-c", "id -u; id -g"]);
        assert_eq!(ids_of(&out), ids, "run -u {user}");
    }
}

fn id_run_invalid(c: &Ctx<'_>) {
    for user in INVALID_USERS {
        let err = c.s.refused(&["run", "--rm", "-u", user, "busybox:test", "id"]);
        assert!(err.contains("2147483647"), "run -u {user}: {err}");
    }
}

fn id_exec_valid(c: &Ctx<'_>) {
    c.sleeper("id3", "busybox:test", &[]);
    for (user, ids) in VALID_USERS {
        let out = c.s.ok(&["exec", "-u", user, "id3", "sh", "-c", "id -u; id -g"]);
        assert_eq!(ids_of(&out), ids, "exec -u {user}");
    }
}

fn id_exec_invalid(c: &Ctx<'_>) {
    c.sleeper("id4", "busybox:test", &[]);
    for user in INVALID_USERS {
        let err = c.s.refused(&["exec", "-u", user, "id4", "id"]);
        assert!(
            err.contains(user.split(':').next_back().unwrap()),
            "exec -u {user}: {err}"
        );
    }
}

/// -1 in any position, for run and exec: refused (no user or group of that name).
fn id_minus_one(c: &Ctx<'_>) {
    c.sleeper("id5", "busybox:test", &[]);
    for user in ["-1", "-1:-1", "0:-1", "-1:0"] {
        let flag = format!("--user={user}");
        c.s.refused(&["run", "--rm", &flag, "busybox:test", "id"]);
        c.s.refused(&["exec", &flag, "id5", "id"]);
    }
}

/// Spellings that are almost numbers: refused, or read as the number they spell,
/// never as root by accident.
fn id_odd_spellings(c: &Ctx<'_>) {
    c.sleeper("id6", "busybox:test", &[]);
    let cases: [(&str, Option<&str>); 8] = [
        ("+65534", Some("65534")),
        ("0000000000000000000000065534", Some("65534")),
        (" 0", None),
        ("0 ", None),
        ("0x10", None),
        ("1e3", None),
        ("4294967295abc", None),
        ("65534:+0", Some("65534")),
    ];
    for (user, uid) in cases {
        let flag = format!("--user={user}");
        for args in [
            vec!["run", "--rm", &flag, "busybox:test", "id", "-u"],
            vec!["exec", &flag, "id6", "id", "-u"],
        ] {
            let out = c.s.either(&args);
            if out.status.success() {
                assert_eq!(Some(text(&out).trim()), uid, "{args:?}");
            }
        }
    }
}

/// The image's USER at the edges: beyond 2^31-1 refused, at it accepted.
fn id_image_user(c: &Ctx<'_>) {
    flat_image(&c.s, "id7a:1", &[], &["USER 4294967295"]);
    flat_image(&c.s, "id7b:1", &[], &["USER 2147483648:0"]);
    flat_image(&c.s, "id7c:1", &[], &["USER 65534:2147483647"]);
    for image in ["id7a:1", "id7b:1"] {
        let err = c.s.refused(&["run", "--rm", image, "id"]);
        assert!(err.contains("2147483647"), "{image}: {err}");
    }
    let out = c.s.ok(&["run", "--rm", "id7c:1", "sh", "-c", "id -u; id -g"]);
    assert_eq!(ids_of(&out), "65534 2147483647");
}

#[test]
fn user_id_edge_values_run_as_given_or_are_refused() {
    let t = TestRoot::new();
    run_cases(
        "ids",
        &t,
        &[
            case!("run -u 0, 65534, 2147483647 and pairs", id_run_valid),
            case!("run -u 2147483648, 4294967295, 4294967296, ... refused", id_run_invalid),
            case!("exec -u 0, 65534, 2147483647 and pairs", id_exec_valid),
            case!(
                "exec -u 2147483648, 4294967295, 4294967296, ... refused",
                id_exec_invalid
            ),
            case!("run and exec --user=-1 in every position refused", id_minus_one),
            case!("run and exec -u +N, zero-padded, spaces, hex, 1e3", id_odd_spellings),
            case!("image USER 4294967295, 2147483648:0, 65534:2147483647", id_image_user),
        ],
    );
}

// ---------------------------------------------------------------------------------
// Races of a running container against host commands (pause points)
// ---------------------------------------------------------------------------------

/// Starts strata with `args`, held at the pause point `point` (the store's race
/// directory is cleared first: every case pauses afresh).
#[cfg(feature = "race-points")]
fn paused(c: &Ctx<'_>, point: &str, args: &[&str]) -> Paused {
    let _ = std::fs::remove_dir_all(c.s.t.path("race"));
    Paused::start(c.s.t, point, args)
}

/// Lets a paused command go on; refused, it must say why.
#[cfg(feature = "race-points")]
fn resumed(p: Paused, args: &[&str]) -> Output {
    let out = p.resume();
    eprintln!(
        "  $ strata {args:?} (raced): {} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim().replace('\n', " | ")
    );
    if !out.status.success() {
        clear_error(&out, args);
    }
    out
}

/// cp out of a directory, which the container swaps for a link to the host directory
/// after cp resolved it: cp copies what it resolved, or fails; never the host's.
#[cfg(feature = "race-points")]
fn race_cp_out_directory_swapped_at_resolved(c: &Ctx<'_>) {
    c.sleeper("r1", "busybox:test", &[]);
    c.sh("r1", "mkdir /d && echo container > /d/keep");
    let dest = c.out("d");
    let args = ["cp", "r1:/d", &dest];
    let p = paused(c, "cp:resolved", &args);
    c.sh("r1", &format!("mv /d /d-moved && ln -s {} /d", c.w.abs()));
    let out = resumed(p, &args);
    if out.status.success() {
        assert_eq!(std::fs::read_to_string(c.out.join("d/keep")).unwrap(), "container\n");
    }
}

/// cp out of a file, swapped for a link to the host's secret file after cp resolved
/// it: the copy is the container's file as resolved.
#[cfg(feature = "race-points")]
fn race_cp_out_file_swapped_at_resolved(c: &Ctx<'_>) {
    c.sleeper("r2", "busybox:test", &[]);
    c.sh("r2", "echo container > /f");
    let dest = c.out("f");
    let args = ["cp", "r2:/f", &dest];
    let p = paused(c, "cp:resolved", &args);
    c.sh("r2", &format!("rm /f && ln -s {}/keep /f", c.w.abs()));
    let out = resumed(p, &args);
    if out.status.success() {
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "container\n");
    }
}

/// cp in to a directory, swapped for a link to the host directory after cp resolved
/// it: the file lands in the directory cp holds open (now moved), or cp fails.
#[cfg(feature = "race-points")]
fn race_cp_in_destination_swapped_at_resolved(c: &Ctx<'_>) {
    c.sleeper("r3", "busybox:test", &[]);
    c.sh("r3", "mkdir /d");
    let payload = c.payload();
    let args = ["cp", &payload, "r3:/d/"];
    let p = paused(c, "cp:resolved", &args);
    c.sh("r3", &format!("mv /d /d-moved && ln -s {} /d", c.w.abs()));
    let out = resumed(p, &args);
    if out.status.success() {
        assert_eq!(c.sh("r3", "cat /d-moved/payload"), "payload from the host\n");
    }
}

/// cp in of a directory: the directory cp just made is swapped for a relative link
/// climbing to the host directory: cp fails, nothing written through it.
#[cfg(feature = "race-points")]
fn race_cp_in_created_swapped_for_climbing_link(c: &Ctx<'_>) {
    c.sleeper("r4", "busybox:test", &[]);
    c.sh("r4", "mkdir -p /a/b");
    let source = c.payload_dir();
    let args = ["cp", &source, "r4:/a/b/"];
    let p = paused(c, "cp:created", &args);
    c.sh(
        "r4",
        &format!(
            "mv /a/b/payload-dir /a/b/moved && ln -s {} /a/b/payload-dir",
            c.w.climbing()
        ),
    );
    let out = resumed(p, &args);
    assert!(!out.status.success(), "cp wrote through the swapped-in link");
}

/// cp in of a directory: the *parent* of the directory cp just made is swapped for a
/// link to the host directory: cp works on the descriptors it holds (inside the moved
/// parent), or fails.
#[cfg(feature = "race-points")]
fn race_cp_in_parent_swapped_at_created(c: &Ctx<'_>) {
    c.sleeper("r5", "busybox:test", &[]);
    c.sh("r5", "mkdir /d");
    let source = c.payload_dir();
    let args = ["cp", &source, "r5:/d/"];
    let p = paused(c, "cp:created", &args);
    c.sh("r5", &format!("mv /d /d-moved && ln -s {} /d", c.w.abs()));
    let out = resumed(p, &args);
    if out.status.success() {
        assert_eq!(c.sh("r5", "cat /d-moved/payload-dir/inner"), "payload from the host\n");
    }
}

/// export, paused at the first file it archives, which the container swaps for a FIFO:
/// refused naming the file, never blocked on the FIFO.
#[cfg(feature = "race-points")]
fn race_export_file_swapped_for_fifo(c: &Ctx<'_>) {
    c.sleeper("r6", "busybox:test", &[]);
    c.sh("r6", "printf victim > '/!victim'");
    let dest = c.out("r6.tar");
    let args = ["export", "-o", &dest, "r6"];
    let p = paused(c, "layer:walked", &args);
    assert_eq!(p.path(), "/!victim", "paused at another file");
    c.sh("r6", "rm '/!victim' && mkfifo '/!victim'");
    let out = resumed(p, &args);
    assert!(!out.status.success(), "export archived a FIFO as the file it walked");
    assert!(String::from_utf8_lossy(&out.stderr).contains("/!victim"));
}

/// commit -p=false, paused at the first file of the layer, which the container swaps
/// for /dev/zero's device: refused, no image, never an endless read.
#[cfg(feature = "race-points")]
fn race_commit_file_swapped_for_device(c: &Ctx<'_>) {
    c.sleeper("r7", "busybox:test", &[]);
    c.sh("r7", "printf victim > '/!victim'");
    let args = ["commit", "-p=false", "r7", "r7-stolen:1"];
    let p = paused(c, "layer:walked", &args);
    assert_eq!(p.path(), "/!victim", "paused at another file");
    c.sh("r7", "rm '/!victim' && mknod '/!victim' c 1 5");
    let out = resumed(p, &args);
    assert!(!out.status.success(), "commit read the device");
    assert!(!c.s.ok(&["images"]).contains("r7-stolen"));
}

/// commit -p=false, paused at a file two directories down, whose grandparent the
/// container swaps for a relative link climbing to the host directory (which has the
/// same names): refused or committed without the host's file.
#[cfg(feature = "race-points")]
fn race_commit_grandparent_swapped_for_climbing_link(c: &Ctx<'_>) {
    c.sleeper("r8", "busybox:test", &[]);
    c.sh(
        "r8",
        "mkdir -p '/!g/sub/deeper' && printf victim > '/!g/sub/deeper/file'",
    );
    let args = ["commit", "-p=false", "r8", "r8-stolen:1"];
    let p = paused(c, "layer:walked", &args);
    assert_eq!(p.path(), "/!g/sub/deeper/file", "paused at another file");
    c.sh("r8", &format!("mv '/!g' '/!g-moved' && ln -s {} '/!g'", c.w.climbing()));
    let out = resumed(p, &args);
    if out.status.success() {
        let shown =
            c.s.either(&["run", "--rm", "r8-stolen:1", "cat", "/!g-moved/sub/deeper/file"]);
        c.assert_clean("the committed file", &shown.stdout);
    }
}

/// A second container's bind of a host file into a volume it shares with a running
/// container, which swaps the mount target's directory for a link to the host
/// directory while the mount target is being made: the file is made and mounted inside
/// the root, or the start is refused; nothing is made or mounted on the host.
#[cfg(feature = "race-points")]
fn race_mount_target_in_shared_volume(c: &Ctx<'_>) {
    // The runtime's own file mounts find their targets: the pause is at the user's.
    flat_image(
        &c.s,
        "r9:1",
        &[
            file("etc/hosts", "127.0.0.1 localhost\n"),
            file("etc/hostname", "image\n"),
            file("etc/resolv.conf", "\n"),
        ],
        &[],
    );
    c.sleeper("r9a", "r9:1", &["-v", "r9vol:/shared"]);
    c.sh("r9a", "mkdir -p /shared/sub");
    let bind = format!("{}:/shared/sub/f", c.payload());
    let args = [
        "run",
        "--name",
        "r9b",
        "-v",
        "r9vol:/shared",
        "-v",
        &bind,
        "r9:1",
        "cat",
        "/shared/sub/f",
    ];
    let p = paused(c, "mount-target", &args);
    assert_eq!(p.path(), "/shared/sub/f", "paused at another mount target");
    c.sh(
        "r9a",
        &format!("mv /shared/sub /shared/sub-moved && ln -s {} /shared/sub", c.w.abs()),
    );
    let out = resumed(p, &args);
    if out.status.success() {
        assert_eq!(text(&out), "payload from the host\n");
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(&c.w.abs()),
        "something is mounted on the outside directory"
    );
}

#[cfg(feature = "race-points")]
#[test]
fn races_of_a_running_container_against_host_commands_never_reach_the_host() {
    let t = TestRoot::new();
    run_cases(
        "races",
        &t,
        &[
            case!(
                "cp out: directory swapped for a link to the host after resolving",
                race_cp_out_directory_swapped_at_resolved
            ),
            case!(
                "cp out: file swapped for a link to a host file after resolving",
                race_cp_out_file_swapped_at_resolved
            ),
            case!(
                "cp in: destination directory swapped for a link to the host after resolving",
                race_cp_in_destination_swapped_at_resolved
            ),
            case!(
                "cp in: new directory swapped for a climbing relative link",
                race_cp_in_created_swapped_for_climbing_link
            ),
            case!(
                "cp in: parent of the new directory swapped for a link to the host",
                race_cp_in_parent_swapped_at_created
            ),
            case!(
                "export: walked file swapped for a FIFO",
                race_export_file_swapped_for_fifo
            ),
            case!(
                "commit -p=false: walked file swapped for /dev/zero's device",
                race_commit_file_swapped_for_device
            ),
            case!(
                "commit -p=false: grandparent swapped for a climbing relative link",
                race_commit_grandparent_swapped_for_climbing_link
            ),
            case!(
                "run -v file into a shared volume: mount target's directory swapped (mount-target)",
                race_mount_target_in_shared_volume
            ),
        ],
    );
}

// ---------------------------------------------------------------------------------
// diff and a lower layer's link to the host
// ---------------------------------------------------------------------------------

/// `diff` says whether a path of the container's layer is added (A) or changed (C) by
/// looking it up in the image's layers. A lower layer's link to a host directory must
/// not make that lookup go to the host: two files the container made the same way
/// under it must get the same letter whether or not the host directory has a file of
/// that name.
#[test]
fn diff_never_looks_up_host_files_through_a_lower_layers_link() {
    let t = TestRoot::new();
    let s = Strata { t: &t };
    busybox(&s);
    let w = Outside::new();
    let before = w.snapshot();
    layered_image(&s, "difflink:1", &[&[sym("link", &w.abs())], &[dir("link/")]]);
    s.ok(&["run", "-d", "--name", "differ", "difflink:1", "sleep", "1000"]);
    // `keep` exists in the host directory, `nothere` does not.
    s.ok(&[
        "exec",
        "differ",
        "sh",
        "-c",
        "echo a > /link/keep && echo b > /link/nothere",
    ]);
    let diff = s.ok(&["diff", "differ"]);
    let letter = |name: &str| {
        diff.lines()
            .find(|l| l.ends_with(&format!("/link/{name}")))
            .unwrap_or_else(|| panic!("{name} missing from diff: {diff}"))
            .chars()
            .next()
            .unwrap()
    };
    assert_eq!(
        letter("keep"),
        letter("nothere"),
        "diff's answer depends on the host's files: {diff}"
    );
    s.ok(&["rm", "-f", "differ"]);
    assert!(changes(&before, &w.snapshot()).is_empty());
    check_clean(&s).unwrap();
}

// ---------------------------------------------------------------------------------
// Stress: RENAME_EXCHANGE in a loop while the host commands run
// ---------------------------------------------------------------------------------

/// Rounds of host commands against the flipping container (a count, never a time).
const STRESS_ROUNDS: usize = 40;

/// A container runs the helper, which swaps three pairs with RENAME_EXCHANGE in a loop:
/// a directory and a link to the outside directory, a file and a link to the outside
/// secret file, a directory and a relative link climbing to the outside directory
/// (whose path also exists inside the container, with the container's content). While
/// it flips, the host runs cp out, cp in, export, commit -p=false and diff, round after
/// round. After every round the outside directory is unchanged; no archive, copied file,
/// diff or committed layer ever holds the secret or names the host-only file; and the
/// store checks clean at the end.
fn stress(driver: Option<&str>) {
    let t = TestRoot::new();
    let s = Strata { t: &t };
    busybox_layer(&t);
    let mut import = vec![];
    if let Some(d) = driver {
        import.extend(["--storage-driver", d]);
    }
    let busybox_tar = t.path("busybox.tar").display().to_string();
    import.extend(["import", &busybox_tar, "busybox:test"]);
    s.ok(&import);
    let w = Outside::new();
    let before = w.snapshot();
    let out_dir = t.path("stress-out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let ctx = Ctx {
        s: Strata { t: &t },
        w: &w,
        out: out_dir.clone(),
    };
    // Half a CPU for the flipping container: the host commands get the rest.
    ctx.sleeper("racer", "busybox:test", &["--cpus", "0.5"]);
    s.ok(&["cp", &helper(&t), "racer:/bin/helper"]);
    let (abs, up) = (w.abs(), w.climbing());
    ctx.sh(
        "racer",
        &format!(
            "mkdir -p /flip/d/sub/deeper /flip/r {abs}/sub/deeper && cd /flip && \
             echo container > d/keep && echo container > d/sub/deeper/file && ln -s {abs} dl && \
             echo container > f && ln -s {abs}/keep fl && \
             echo container > r/keep && ln -s {up} rl && \
             echo container > {abs}/keep && echo container > {abs}/sub/deeper/file && \
             (helper flip /flip-count /flip/d /flip/dl /flip/f /flip/fl /flip/r /flip/rl >/dev/null 2>&1 &)"
        ),
    );
    // Ready when the helper has written its first count (a bounded wait for a start,
    // not a timing assertion).
    let start = Instant::now();
    while ctx.s.run(&["exec", "racer", "cat", "/flip-count"]).stdout.is_empty() {
        assert!(start.elapsed() < BOUND, "the helper never started flipping");
        std::thread::sleep(Duration::from_millis(100));
    }
    let payload = ctx.payload();
    let payload_dir = ctx.payload_dir();
    let mut tally: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut committed = Vec::new();
    for round in 0..STRESS_ROUNDS {
        let here = out_dir.join(format!("round{round}"));
        std::fs::create_dir_all(&here).unwrap();
        let at = |name: &str| here.join(name).display().to_string();
        let export = at("export.tar");
        let tag = format!("stress:{round}");
        let commands: Vec<(&str, Vec<String>)> = vec![
            ("cp out dir", vec!["cp".into(), "racer:/flip/d".into(), at("d")]),
            ("cp out file", vec!["cp".into(), "racer:/flip/f".into(), at("f")]),
            ("cp out climbing", vec!["cp".into(), "racer:/flip/r".into(), at("r")]),
            ("cp out all", vec!["cp".into(), "racer:/flip".into(), at("flip")]),
            (
                "cp in file",
                vec!["cp".into(), payload.clone(), "racer:/flip/d/".into()],
            ),
            (
                "cp in dir",
                vec!["cp".into(), payload_dir.clone(), "racer:/flip/r/".into()],
            ),
            (
                "cp in onto link",
                vec!["cp".into(), payload.clone(), "racer:/flip/fl".into()],
            ),
            (
                "export",
                vec!["export".into(), "-o".into(), export.clone(), "racer".into()],
            ),
            (
                "commit -p=false",
                vec!["commit".into(), "-p=false".into(), "racer".into(), tag.clone()],
            ),
            ("diff", vec!["diff".into(), "racer".into()]),
        ];
        for (what, args) in &commands {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = ctx.s.either(&args);
            let entry = tally.entry(what).or_default();
            if out.status.success() {
                entry.0 += 1;
            } else {
                entry.1 += 1;
            }
            ctx.assert_clean(&format!("round {round}: {what}'s output"), &out.stdout);
            ctx.assert_clean(&format!("round {round}: {what}'s errors"), &out.stderr);
            if *what == "commit -p=false" && out.status.success() {
                committed.push(tag.clone());
            }
            let changed = changes(&before, &w.snapshot());
            assert!(
                changed.is_empty(),
                "round {round}: {what} changed the outside directory:\n{}",
                changed.join("\n")
            );
        }
        if let Ok(bytes) = std::fs::read(&export) {
            ctx.assert_clean(&format!("round {round}: the export"), &bytes);
            ctx.assert_clean(
                &format!("round {round}: the export's names"),
                tar_names(&bytes).join("\n").as_bytes(),
            );
            std::fs::remove_file(&export).unwrap();
        }
        let holding = files_holding(&here, &w.secret);
        assert!(
            holding.is_empty(),
            "round {round}: the host's secret was copied out: {holding:?}"
        );
        let mut names = Vec::new();
        describe_names(&here, &mut names);
        assert!(
            !names.iter().any(|n| n.contains(&w.nonce)),
            "round {round}: cp copied out a host-only file: {names:?}"
        );
    }
    let swaps: u64 = ctx
        .s
        .ok(&["exec", "racer", "cat", "/flip-count"])
        .trim()
        .parse()
        .unwrap();
    eprintln!(
        "stress ({}): {swaps} swaps; successes/failures per command: {tally:?}",
        driver.unwrap_or("overlay")
    );
    assert!(swaps > 0, "the helper never swapped anything");
    // The committed images: their layers hold nothing of the host's.
    for tag in &committed {
        let shown = ctx.s.either(&[
            "run",
            "--rm",
            tag,
            "sh",
            "-c",
            "cat /flip/*/keep /flip/*/*/*/file /flip/f /flip/fl 2>/dev/null; ls -R /flip",
        ]);
        ctx.assert_clean(&format!("image {tag}"), &shown.stdout);
    }
    s.ok(&["rm", "-f", "racer"]);
    let holding = files_holding(&t.root(), &w.secret);
    assert!(holding.is_empty(), "the host's secret is in the store: {holding:?}");
    for tag in &committed {
        s.ok(&["rmi", tag]);
    }
    let changed = changes(&before, &w.snapshot());
    assert!(
        changed.is_empty(),
        "the outside directory changed:\n{}",
        changed.join("\n")
    );
    check_clean(&s).unwrap();
}

/// Every name under `dir` (not following links).
fn describe_names(dir: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        out.push(e.path().display().to_string());
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            describe_names(&e.path(), out);
        }
    }
}

#[test]
fn stress_rename_exchange_in_the_container_while_host_commands_run() {
    stress(None);
}

/// The same with the vfs storage driver, whose container root is a plain directory
/// tree: its diff and commit compare that tree with the image by host paths.
#[test]
fn stress_rename_exchange_with_the_vfs_driver() {
    stress(Some("vfs"));
}

/// The vfs driver's diff (and commit -p=false) of a running container that swaps a
/// directory (holding a file and a directory it made) with a link to a host directory
/// in a loop: nothing may ever be made in the host directory. Count-bounded: up to
/// VFS_ROUNDS diffs, each followed by a look at the host directory.
#[test]
fn vfs_diff_of_a_racing_container_never_creates_anything_on_the_host() {
    const VFS_ROUNDS: usize = 300;
    let t = TestRoot::new();
    let s = Strata { t: &t };
    busybox_layer(&t);
    let busybox_tar = t.path("busybox.tar").display().to_string();
    s.ok(&["--storage-driver", "vfs", "import", &busybox_tar, "busybox:test"]);
    let w = Outside::new();
    let before = w.snapshot();
    s.ok(&[
        "run",
        "-d",
        "--name",
        "racer",
        "--cpus",
        "0.5",
        "busybox:test",
        "sleep",
        "100000",
    ]);
    s.ok(&["cp", &helper(&t), "racer:/bin/helper"]);
    s.ok(&[
        "exec",
        "racer",
        "sh",
        "-c",
        &format!(
            "mkdir -p /flip/d/plantdir && echo planted by the container > /flip/d/planted && ln -s {} /flip/dl && \
             (helper flip /flip-count /flip/d /flip/dl >/dev/null 2>&1 &)",
            w.abs()
        ),
    ]);
    for round in 0..VFS_ROUNDS {
        let command: &[&str] = if round % 4 == 3 {
            &["commit", "-p=false", "racer", "vfs-raced:1"]
        } else {
            &["diff", "racer"]
        };
        s.either(command);
        let changed = changes(&before, &w.snapshot());
        assert!(
            changed.is_empty(),
            "round {round}: {command:?} made things in the host directory:\n{}",
            changed.join("\n")
        );
    }
    s.ok(&["rm", "-f", "racer"]);
}
