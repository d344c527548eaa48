//! The Dockerfile corpus (issue 20): Dockerfiles in the style of popular projects' own
//! (multi-stage Go, Rust, Node, Python and C builds, heredocs, ONBUILD, SHELL,
//! HEALTHCHECK, bind, tmpfs, cache, secret and ssh mounts, FROM scratch finals), each in
//! crates/cli/tests/corpus/NN-name/ with its context. Every one parses; every one builds
//! offline (`--network none`) from base images made with debootstrap from Debian's
//! packages by scripts/corpus-bases.sh; the built images are checked by running them.
//!
//! A fixture's directory may hold, besides its Dockerfile and context:
//! - `build.args`: more flags for `strata build` (`${OUT}` is a fresh directory for
//!   `-o`, `${SSH_AUTH_SOCK}` an ssh-agent holding one new key);
//! - `build.env`: `NAME=VALUE` lines, the environment of the build (`--secret id=NAME`);
//! - `prebuild`: `TAG DOCKERFILE` lines, images built from the same context first;
//! - `expect`: `$ ARGS` lines, each followed by the exact stdout of
//!   `strata run --rm [RUN-FLAGS] IMAGE ARGS` (ARGS split as a shell would; leading
//!   `--entrypoint=`, `--user=`, `--env=`, `--workdir=` words are run flags);
//! - `inspect`: `TEMPLATE => VALUE` lines, checked with `strata image inspect -f`;
//! - `expect.out`: `PATH => FIRST LINE` or `PATH` lines, files `-o` must have written.
//!
//! Fixtures using what strata does not do yet are in [`PENDING`], each with the words its
//! failure must show: such a fixture must fail, and with them, so the test flips the day
//! the feature lands (then move the fixture out of the list).

mod harness;

use harness::TestRoot;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Fixtures strata cannot build yet, and what their failure must say.
/// Empty: every feature the corpus uses has landed. Keep it for the next one.
const PENDING: &[(&str, &str)] = &[];

/// The names the corpus' Dockerfiles use for the toolchain base (Go, Rust, Node, Python,
/// GCC in one root: see scripts/corpus-bases.sh); `debian:bookworm-slim` is the other.
const TOOLCHAIN_TAGS: &[&str] = &[
    "buildpack-deps:bookworm",
    "gcc:12",
    "gcc:12-bookworm",
    "golang:1.19",
    "golang:1.19-bookworm",
    "node:18",
    "node:18-slim",
    "node:18-bookworm-slim",
    "python:3.11",
    "python:3.11-bookworm",
    "python:3.11-slim",
    "python:3.11-slim-bookworm",
    "rust:1.63",
    "rust:1.63-bookworm",
];

const PATH_ENV: &str = "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

/// The directory of the base tarballs, or a failure saying how to make them.
fn bases() -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/corpus-bases.sh");
    let out = Command::new("bash").arg(&script).arg("--check").output().unwrap();
    assert!(
        out.status.success(),
        "the Dockerfile corpus needs its base images: run scripts/corpus-bases.sh first (as root; \
         debootstrap from deb.debian.org, a few minutes once, then cached; scripts/test.sh runs it)\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// How long a fixture took, and what went wrong if anything did.
type Outcome = (Duration, Result<(), String>);

struct Fixture {
    name: String,
    dir: PathBuf,
}

fn fixtures() -> Vec<Fixture> {
    let mut all: Vec<Fixture> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("Dockerfile").is_file())
        .map(|e| Fixture {
            name: e.file_name().to_string_lossy().into_owned(),
            dir: e.path(),
        })
        .collect();
    all.sort_by(|a, b| a.name.cmp(&b.name));
    all
}

fn pending(name: &str) -> Option<&'static str> {
    PENDING.iter().find(|(n, _)| *n == name).map(|(_, words)| *words)
}

/// Words as a POSIX shell splits them: single quotes literal, double quotes with `\"`,
/// `\\` and `\$`, backslashes outside quotes escaping the next character.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    word.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' if matches!(chars.peek(), Some('"' | '\\' | '$' | '`')) => {
                            word.push(chars.next().unwrap())
                        }
                        c => word.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(c) = chars.next() {
                    word.push(c);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// `$ ARGS` blocks of an `expect` file: (run flags, arguments, expected stdout).
fn expectations(text: &str) -> Vec<(Vec<String>, Vec<String>, String)> {
    let mut out: Vec<(Vec<String>, Vec<String>, String)> = Vec::new();
    for line in text.lines() {
        if let Some(command) = line.strip_prefix('$') {
            let mut words = shell_words(command);
            let flags = ["--entrypoint=", "--user=", "--env=", "--workdir="];
            let n = words
                .iter()
                .take_while(|w| flags.iter().any(|f| w.starts_with(f)))
                .count();
            let args = words.split_off(n);
            out.push((words, args, String::new()));
        } else {
            let last = out.last_mut().expect("an expect file starts with a `$` line");
            last.2.push_str(line);
            last.2.push('\n');
        }
    }
    out
}

/// Every Dockerfile of a fixture (its own and its prebuilds') parses with strata's
/// frontend: the directives, each instruction's flags and each RUN --mount.
fn parse_check(fixture: &Fixture, dockerfile: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(dockerfile).map_err(|e| e.to_string())?;
    let file = format!("{}/{}", fixture.name, dockerfile.file_name().unwrap().to_string_lossy());
    let parsed = strata_builder::parser::parse(&text, &file).map_err(|e| e.to_string())?;
    assert!(!parsed.instructions.is_empty(), "{file}: no instructions");
    for raw in &parsed.instructions {
        let ins = strata_builder::instruction::Instruction::from_raw(raw, &file).map_err(|e| e.to_string())?;
        for mount in ins.flags_named("mount") {
            strata_builder::run_mount::RunMount::parse(mount).map_err(|e| format!("{file}:{}: {e}", ins.line))?;
        }
    }
    Ok(())
}

/// An ssh-agent on a private socket, holding one new key; killed when dropped.
struct Agent {
    pid: String,
    socket: PathBuf,
}

impl Agent {
    fn start(dir: &Path) -> Agent {
        let socket = dir.join("agent.sock");
        let out = harness::host("ssh-agent", &["-a", socket.to_str().unwrap(), "-s"]);
        let pid = out
            .split(';')
            .find_map(|p| p.trim().strip_prefix("SSH_AGENT_PID="))
            .expect("ssh-agent prints its pid")
            .to_string();
        let key = dir.join("id_ed25519");
        harness::host(
            "ssh-keygen",
            &[
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                "corpus",
                "-f",
                key.to_str().unwrap(),
            ],
        );
        let added = Command::new("ssh-add")
            .arg(&key)
            .env("SSH_AUTH_SOCK", &socket)
            .output()
            .unwrap();
        assert!(
            added.status.success(),
            "ssh-add: {}",
            String::from_utf8_lossy(&added.stderr)
        );
        Agent { pid, socket }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(&self.pid).status();
    }
}

/// Builds one fixture and checks what it says; returns a description of any failure.
fn check(t: &TestRoot, fixture: &Fixture) -> Result<(), String> {
    let tag = format!("corpus/{}", fixture.name);
    let work = t.path(&format!("work-{}", fixture.name));
    std::fs::create_dir_all(&work).unwrap();
    let read = |name: &str| std::fs::read_to_string(fixture.dir.join(name)).ok();
    let out_dir = work.join("out");
    let mut agent = None;
    let mut args: Vec<String> = Vec::new();
    if let Some(text) = read("build.args") {
        for word in shell_words(&text) {
            if word.contains("${SSH_AUTH_SOCK}") && agent.is_none() {
                agent = Some(Agent::start(&work));
            }
            let socket = agent
                .as_ref()
                .map(|a| a.socket.display().to_string())
                .unwrap_or_default();
            args.push(
                word.replace("${OUT}", out_dir.to_str().unwrap())
                    .replace("${SSH_AUTH_SOCK}", &socket),
            );
        }
    }
    let mut dockerfiles = vec![fixture.dir.join("Dockerfile")];
    let mut prebuilds = Vec::new();
    for line in read("prebuild")
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
    {
        let (pre_tag, file) = line.split_once(' ').expect("prebuild lines are TAG DOCKERFILE");
        dockerfiles.push(fixture.dir.join(file.trim()));
        prebuilds.push((pre_tag.to_string(), fixture.dir.join(file.trim())));
    }
    let parsed: Result<(), String> = dockerfiles.iter().try_for_each(|d| parse_check(fixture, d));
    // Builds run from the fixture's directory, so relative paths in build.args (a
    // secret's src=) are the fixture's.
    let env: Vec<(String, String)> = read("build.env")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    // A fixture whose result is files (`-o`, checked by expect.out) tags no image: as
    // with buildx, such a build loads none, and -t is refused with it.
    let files_only = read("expect.out").is_some();
    let build = |extra: &[String], file: Option<&Path>, tag: &str| {
        let mut cmd = t.cmd();
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        cmd.current_dir(&fixture.dir).args(["build", "--network", "none"]);
        if !(files_only && file.is_none()) {
            cmd.args(["-t", tag]);
        }
        if let Some(file) = file {
            cmd.arg("-f").arg(file);
        }
        cmd.args(extra).arg(&fixture.dir);
        cmd.output().unwrap()
    };
    for (pre_tag, file) in &prebuilds {
        let out = build(&[], Some(file), pre_tag);
        if !out.status.success() {
            return Err(format!(
                "prebuild {pre_tag} failed:\n{}\n{}",
                tail(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    let out = build(&args, None, &tag);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if let Some(words) = pending(&fixture.name) {
        // Pending: the parse check or the build must fail, naming what is missing.
        let failure = match (&parsed, out.status.success()) {
            (Err(e), _) => format!("{e}\n{stderr}"),
            (Ok(()), false) => stderr,
            (Ok(()), true) => return Err(format!("PENDING but it builds now: take it out of PENDING ({words})")),
        };
        return match failure.contains(words) {
            true => Ok(()),
            false => Err(format!("PENDING on {words:?}, but failed otherwise:\n{failure}")),
        };
    }
    parsed.map_err(|e| format!("does not parse: {e}"))?;
    if !out.status.success() {
        return Err(format!("build failed:\n{}\n{stderr}", tail(&out.stdout)));
    }
    let mut problems = Vec::new();
    for (flags, cmd_args, expected) in expectations(&read("expect").unwrap_or_default()) {
        let mut run: Vec<&str> = vec!["run", "--rm", "--network", "none"];
        run.extend(flags.iter().map(String::as_str));
        run.push(&tag);
        run.extend(cmd_args.iter().map(String::as_str));
        let out = t.run(&run);
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() || stdout != expected {
            problems.push(format!(
                "strata {run:?} ({}):\nexpected: {expected:?}\n     got: {stdout:?}\n  stderr: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    for line in read("inspect").unwrap_or_default().lines().filter(|l| !l.is_empty()) {
        let (template, expected) = line.split_once(" => ").expect("inspect lines are TEMPLATE => VALUE");
        let out = t.run(&["image", "inspect", "-f", template, &tag]);
        let got = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() || got.trim_end_matches('\n') != expected {
            problems.push(format!(
                "inspect {template}: expected {expected:?}, got {got:?} {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    for line in read("expect.out").unwrap_or_default().lines().filter(|l| !l.is_empty()) {
        let (path, first) = match line.split_once(" => ") {
            Some((p, f)) => (p, Some(f)),
            None => (line, None),
        };
        match std::fs::read(out_dir.join(path)) {
            Err(e) => problems.push(format!("-o wrote no {path}: {e}")),
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                if let Some(first) = first.filter(|f| text.lines().next() != Some(f)) {
                    problems.push(format!("-o's {path} starts {:?}, not {first:?}", text.lines().next()));
                }
            }
        }
    }
    match problems.is_empty() {
        true => Ok(()),
        false => Err(problems.join("\n")),
    }
}

fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// Imports the base tarballs under every name the corpus uses.
fn import_bases(t: &TestRoot, dir: &Path) {
    let path = |n: &str| dir.join(n).to_str().unwrap().to_string();
    t.ok(&[
        "import",
        "-c",
        PATH_ENV,
        "-c",
        "CMD [\"bash\"]",
        &path("slim.tar.zst"),
        "debian:bookworm-slim",
    ]);
    t.ok(&["tag", "debian:bookworm-slim", "debian:bookworm"]);
    t.ok(&[
        "import",
        "-c",
        PATH_ENV,
        "-c",
        "CMD [\"bash\"]",
        &path("toolchain.tar.zst"),
        "corpus/toolchain:bookworm",
    ]);
    for tag in TOOLCHAIN_TAGS {
        t.ok(&["tag", "corpus/toolchain:bookworm", tag]);
    }
}

#[test]
fn every_corpus_dockerfile_parses_and_builds_offline_from_local_bases() {
    let bases = bases();
    let all = fixtures();
    assert!(
        all.len() >= 30,
        "the corpus has {} fixtures; issue 20 asks for 30",
        all.len()
    );
    for (name, _) in PENDING {
        assert!(
            all.iter().any(|f| f.name == *name),
            "PENDING names {name}, which is no fixture"
        );
    }
    let t = TestRoot::new();
    let started = Instant::now();
    import_bases(&t, &bases);
    let imported = started.elapsed();
    // Two builds at a time.
    let next = AtomicUsize::new(0);
    let results: Mutex<BTreeMap<String, Outcome>> = Mutex::new(BTreeMap::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(fixture) = all.get(i) else { break };
                let start = Instant::now();
                let result = check(&t, fixture);
                results
                    .lock()
                    .unwrap()
                    .insert(fixture.name.clone(), (start.elapsed(), result));
            });
        }
    });
    let results = results.into_inner().unwrap();
    eprintln!("bases imported in {:.1}s", imported.as_secs_f64());
    let mut failures = Vec::new();
    for (name, (took, result)) in &results {
        let state = match (result, pending(name)) {
            (Ok(()), Some(_)) => "pending (fails as expected)",
            (Ok(()), None) => "ok",
            (Err(_), _) => "FAILED",
        };
        eprintln!("{name:40} {:6.1}s  {state}", took.as_secs_f64());
        if let Err(e) = result {
            failures.push(format!("== {name}: {e}"));
        }
    }
    eprintln!(
        "corpus: {} fixtures in {:.1}s",
        results.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn shell_words_split_as_a_shell_does() {
    assert_eq!(
        shell_words(r#"sh -c 'a "b" $c' "d \"e\"" f\ g"#),
        ["sh", "-c", r#"a "b" $c"#, r#"d "e""#, "f g"]
    );
    assert_eq!(shell_words("  "), Vec::<String>::new());
    assert_eq!(shell_words("''"), [""]);
    let e = expectations("$\nx\n$ --entrypoint=cat /f\ny\nz\n");
    assert_eq!(e[0], (vec![], vec![], "x\n".to_string()));
    assert_eq!(
        e[1],
        (vec!["--entrypoint=cat".into()], vec!["/f".into()], "y\nz\n".to_string())
    );
}
