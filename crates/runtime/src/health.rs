//! Health checks, run by a container's monitor on a thread of its own while the
//! container runs: each check is an exec of the container (as Docker's), killed at its
//! timeout and then counted as a failure; each result goes into the container's health
//! state, and a change of status is a `health_status` event.

use crate::attach::{ClientIo, Ended};
use crate::error::Result;
use crate::exec::{self, ExecOptions};
use crate::monitor::Launcher;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};
use strata_containers::health::{self, Health, HealthResult, Healthcheck, MAX_OUTPUT, STARTING};
use strata_containers::{ContainerRecord, Containers};

/// Tells the checks to stop (their container ended), waking them from their wait.
#[derive(Default)]
pub struct Stop {
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl Stop {
    pub fn stop(&self) {
        *self.stopped.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.wake.notify_all();
    }

    /// Waits `wait` unless stopped first; whether it was stopped.
    fn sleep(&self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        let mut stopped = self.stopped.lock().unwrap_or_else(|p| p.into_inner());
        while !*stopped {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            stopped = self
                .wake
                .wait_timeout(stopped, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        true
    }
}

/// The checks of a container that has just started, until `stop`: its health begins
/// as `starting`; the first check comes after one interval (the start interval during
/// the start period), as Docker's.
pub fn run_checks(
    containers: &Containers<'_>,
    record: &ContainerRecord,
    check: &Healthcheck,
    launcher: &(dyn Launcher + Sync),
    stop: &Stop,
) {
    let Some(command) = check.command() else { return };
    let dir = containers.dir(&record.id);
    let mut state = Health::starting();
    let _ = health::save(&dir, &state);
    let started = Instant::now();
    loop {
        let in_start_period = started.elapsed() < check.start_period();
        let wait = match in_start_period && state.status == STARTING {
            true => check.start_interval(),
            false => check.interval(),
        };
        if stop.sleep(wait) {
            return;
        }
        let in_start_period = started.elapsed() < check.start_period();
        let result = check_once(containers, record, &command, check.timeout(), launcher);
        let changed = state.record(result, check.retries(), in_start_period);
        let _ = health::save(&dir, &state);
        if let Some(status) = changed {
            containers.emit(record, &format!("health_status: {status}"), &[]);
        }
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// One check: the command as an exec, its output (stdout then stderr, at most
/// [`MAX_OUTPUT`] bytes) and exit code; killed at `timeout`.
fn check_once(
    containers: &Containers<'_>,
    record: &ContainerRecord,
    command: &[String],
    timeout: Duration,
    launcher: &(dyn Launcher + Sync),
) -> HealthResult {
    let start = now();
    let (exit_code, mut output) = match run_exec(containers, record, command, timeout, launcher) {
        Ok(Some((code, output))) => (i64::from(code), output),
        Ok(None) => (
            -1,
            format!("Health check exceeded timeout ({})", humanize(timeout)).into_bytes(),
        ),
        Err(e) => (-1, e.to_string().into_bytes()),
    };
    output.truncate(MAX_OUTPUT);
    HealthResult {
        start,
        end: now(),
        exit_code,
        output: String::from_utf8_lossy(&output).into_owned(),
    }
}

/// Runs the command as an exec of the container: its exit code and output, or `None`
/// when it ran past `timeout` (it is killed then). The exec's records go afterwards.
fn run_exec(
    containers: &Containers<'_>,
    record: &ContainerRecord,
    command: &[String],
    timeout: Duration,
    launcher: &(dyn Launcher + Sync),
) -> Result<Option<(i32, Vec<u8>)>> {
    let options = ExecOptions {
        command: command.to_vec(),
        ..Default::default()
    };
    let made = exec::create(containers, record, &options)?;
    let (done, finished) = std::sync::mpsc::channel();
    let this = &made;
    let outcome = std::thread::scope(|s| {
        let session = s.spawn(move || {
            let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
            let mut window = || None;
            let io = ClientIo {
                input: None,
                stdout: &mut stdout,
                stderr: &mut stderr,
                window: &mut window,
                hangup: None,
            };
            let keys = crate::detach_keys::DetachKeys::parse(crate::detach_keys::DEFAULT)?;
            let ended = exec::start_attached(containers, this, launcher, io, &keys);
            let _ = done.send(());
            stdout.extend_from_slice(&stderr);
            Ok::<_, crate::RuntimeError>((ended?, stdout))
        });
        let timed_out = finished.recv_timeout(timeout).is_err();
        if timed_out {
            exec::kill(containers, this);
        }
        let ran = session.join().unwrap_or_else(|_| {
            Err(crate::RuntimeError::Unsupported(
                "the health check's session failed".into(),
            ))
        });
        match (timed_out, ran) {
            (true, _) => Ok(None),
            (false, Ok((Ended::Exited(code), output))) => Ok(Some((code, output))),
            (false, Ok((Ended::Detached, output))) => Ok(Some((-1, output))),
            (false, Err(e)) => Err(e),
        }
    });
    exec::remove(containers, &made);
    outcome
}

/// `30s`, `1m30s`: a timeout as Docker prints it.
fn humanize(d: Duration) -> String {
    let secs = d.as_secs();
    match (secs / 60, secs % 60, d.subsec_millis()) {
        (0, s, 0) => format!("{s}s"),
        (0, s, ms) => format!("{s}.{ms:03}s"),
        (m, 0, _) => format!("{m}m0s"),
        (m, s, _) => format!("{m}m{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stop_wakes_a_waiting_check_at_once() {
        let stop = Stop::default();
        std::thread::scope(|s| {
            let waiting = s.spawn(|| stop.sleep(Duration::from_secs(3600)));
            std::thread::sleep(Duration::from_millis(10));
            stop.stop();
            assert!(waiting.join().unwrap(), "stopped, not timed out");
        });
        assert!(!Stop::default().sleep(Duration::from_millis(1)));
    }

    #[test]
    fn timeouts_read_as_dockers() {
        assert_eq!(humanize(Duration::from_secs(30)), "30s");
        assert_eq!(humanize(Duration::from_secs(90)), "1m30s");
        assert_eq!(humanize(Duration::from_millis(1500)), "1.500s");
    }
}
