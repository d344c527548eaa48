//! The race tests' side of strata's pause points (feature `race-points`): start a
//! command that stops at a named point, wait until it is there, then let it go on.

use super::TestRoot;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// A strata command held at a pause point.
pub struct Paused {
    pub child: Child,
    dir: PathBuf,
    args: Vec<String>,
}

impl Paused {
    /// Starts strata with `args`, to stop at `point`, and waits (with a generous bound:
    /// the failure looked for is never reaching it) until it has.
    pub fn start(t: &TestRoot, point: &str, args: &[&str]) -> Paused {
        let dir = t.path("race");
        std::fs::create_dir_all(&dir).unwrap();
        let mut child = t
            .cmd()
            .args(args)
            .env("STRATA_RACE_POINT", point)
            .env("STRATA_RACE_DIR", &dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while !dir.join("paused").exists() {
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "strata {args:?} never reached its pause point {point}"
            );
            if child.try_wait().unwrap().is_some() {
                let out = child.wait_with_output().unwrap();
                panic!("strata {args:?} ended before its pause point {point}: {out:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Paused {
            child,
            dir,
            args: args.iter().map(|a| a.to_string()).collect(),
        }
    }

    /// The path the command announced at its pause point.
    pub fn path(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(self.dir.join("paused")).unwrap()).into_owned()
    }

    /// Lets the command go on and returns its output (killing it, and failing, if it
    /// hangs after resuming).
    pub fn resume(mut self) -> std::process::Output {
        std::fs::write(self.dir.join("resume"), b"").unwrap();
        let start = Instant::now();
        while self.child.try_wait().unwrap().is_none() {
            if start.elapsed() > Duration::from_secs(120) {
                self.child.kill().unwrap();
                panic!("strata {:?} hung after resuming (killed after 120 s)", self.args);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.child.wait_with_output().unwrap()
    }
}
