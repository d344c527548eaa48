//! `wait`: sleeps until a container meets one of Docker's wait conditions, and gives its
//! exit code. The waiter sleeps in `poll(2)` until something changes, on
//! - an inotify watch of the container's `run-state` file
//!   ([`strata_containers::run_state`]), which every state change rewrites and a
//!   removal unlinks; the waiter keeps it open, so it reads the exit code of a container
//!   removed meanwhile (`--rm`) from it, as every other waiter does;
//! - while the container runs, a pidfd of its supervisor (the process that records its
//!   exit), or, when no live supervisor is known (its monitor was SIGKILLed), a pidfd of
//!   the container's own process: once it has ended, `reconcile` records the exit, as
//!   it would for `ps`.
//!
//! Every watch is taken before the container's state is read, so a change between
//! the look and the sleep wakes the sleep at once.
//!
//! One case is re-checked on a timer: a container process that has ended but that
//! nobody known records (a zombie its new parent has not reaped yet, on a kernel whose
//! pidfd does not report the reaping as this one's does; or a container started by a
//! strata that did not name its supervisor): at most every second, until it is recorded.

use crate::error::{Result, RuntimeError};
use crate::lifecycle;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use rustix::fs::inotify;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};
use strata_containers::run_state::{self, ProcessId, RunState};
use strata_containers::{ContainerRecord, ContainerState, Containers};

/// Docker's status for a container whose exit code nobody recorded (its process was
/// gone before its monitor could say).
pub const UNKNOWN_EXIT: i64 = 255;

/// What a waiter waits for (the Engine API's `condition`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WaitCondition {
    /// At once if the container is not running, else at its exit.
    #[default]
    NotRunning,
    /// The next exit, even if the container is not running now.
    NextExit,
    /// The container's removal (its last exit code).
    Removed,
}

impl std::str::FromStr for WaitCondition {
    type Err = RuntimeError;

    /// Docker's words; an empty condition is `not-running`, as in the Engine API.
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "" | "not-running" => Ok(WaitCondition::NotRunning),
            "next-exit" => Ok(WaitCondition::NextExit),
            "removed" => Ok(WaitCondition::Removed),
            _ => Err(RuntimeError::Invalid(format!(
                "invalid condition: \"{s}\" (use not-running, next-exit or removed)"
            ))),
        }
    }
}

/// Waits until the container meets `condition`; its exit code. Every condition is met
/// when the container is removed.
pub fn wait(containers: &Containers<'_>, record: &ContainerRecord, condition: WaitCondition) -> Result<i64> {
    Ok(wait_until(containers, record, condition, None)?.unwrap_or(UNKNOWN_EXIT))
}

/// [`wait`], given up at `deadline`: `None` then.
pub fn wait_until(
    containers: &Containers<'_>,
    record: &ContainerRecord,
    condition: WaitCondition,
    deadline: Option<Instant>,
) -> Result<Option<i64>> {
    let Some(mut waiter) = Waiter::arm(containers, record)? else {
        // Gone before the watch was taken.
        return Ok(Some(code_of(record)));
    };
    loop {
        if let Some(code) = waiter.check(condition)? {
            return Ok(Some(code));
        }
        let sleep = waiter.sleep()?;
        let timeout = match (deadline, sleep.recheck) {
            (Some(d), _) if Instant::now() >= d => return Ok(None),
            (Some(d), Some(r)) => Some((d - Instant::now()).min(r)),
            (Some(d), None) => Some(d - Instant::now()),
            (None, r) => r,
        };
        waiter.sleep_on(sleep, timeout)?;
    }
}

/// The exit code Docker reports for a container in this state.
fn code_of(record: &ContainerRecord) -> i64 {
    match record.state {
        ContainerState::Created => 0,
        ContainerState::Running => UNKNOWN_EXIT,
        ContainerState::Exited => record.exit_code.unwrap_or(UNKNOWN_EXIT),
    }
}

struct Waiter<'c, 'a> {
    containers: &'c Containers<'a>,
    id: String,
    /// The container's `run-state`, held open: readable after its removal.
    file: File,
    inotify: OwnedFd,
    /// Exits recorded when the wait began.
    baseline: u64,
    /// The container as last seen in the database, and in its `run-state` after that.
    last: ContainerRecord,
    run: Option<RunState>,
    seen_running: bool,
    /// The next re-check, while an ended process is not recorded yet.
    recheck: Duration,
}

/// What to sleep on besides the inotify watch.
struct Sleep {
    process: Option<(OwnedFd, PollFlags)>,
    recheck: Option<Duration>,
}

const FIRST_RECHECK: Duration = Duration::from_millis(10);
const LAST_RECHECK: Duration = Duration::from_secs(1);

impl<'c, 'a> Waiter<'c, 'a> {
    /// Opens and watches the container's `run-state` before anything is read; `None`
    /// when the container is gone.
    fn arm(containers: &'c Containers<'a>, record: &ContainerRecord) -> Result<Option<Self>> {
        let Some(file) = open_run_state(containers, &record.id)? else {
            return Ok(None);
        };
        let inotify = inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK)
            .map_err(|e| RuntimeError::io(format!("watching container {}", record.name), e.into()))?;
        watch(&inotify, &file, &record.name)?;
        let run = read(&file)?;
        Ok(Some(Waiter {
            containers,
            id: record.id.clone(),
            file,
            inotify,
            baseline: run.map_or(0, |r| r.exits),
            last: record.clone(),
            run,
            seen_running: false,
            recheck: FIRST_RECHECK,
        }))
    }

    /// The exit code once `condition` is met.
    fn check(&mut self, condition: WaitCondition) -> Result<Option<i64>> {
        let unlinked = unlinked(&self.file)?;
        let Some(fresh) = self.containers.store().db().container(&self.id)? else {
            // Removed. Its last exit was written before its record was deleted: read now.
            return Ok(Some(removed_code(read(&self.file)?, &self.last)));
        };
        if unlinked {
            // Not by a removal (its record is there): watch the file made in its place.
            self.rearm()?;
        }
        let run = read(&self.file)?;
        let exited_since = match (run, fresh.state) {
            (_, ContainerState::Exited) if self.seen_running => Some(code_of(&fresh)),
            (Some(r), ContainerState::Exited) if r.exits > self.baseline => Some(code_of(&fresh)),
            // An exit since the wait began, though it runs again by now (a restart policy).
            (Some(r), _) if r.exits > self.baseline => Some(r.last_exit),
            _ => None,
        };
        self.seen_running |= fresh.state == ContainerState::Running;
        let met = match condition {
            WaitCondition::NotRunning if fresh.state != ContainerState::Running => Some(code_of(&fresh)),
            WaitCondition::NotRunning | WaitCondition::NextExit => exited_since,
            WaitCondition::Removed => None,
        };
        self.last = fresh;
        self.run = run;
        Ok(met)
    }

    /// What will wake us when the state changes other than by the file: the death of
    /// the container's supervisor, or, with none alive, of the container's process.
    fn sleep(&mut self) -> Result<Sleep> {
        let events = Sleep {
            process: None,
            recheck: None,
        };
        if self.last.state != ContainerState::Running {
            self.recheck = FIRST_RECHECK;
            return Ok(events);
        }
        if let Some(supervisor) = self
            .run
            .filter(|r| r.state == ContainerState::Running && r.pid.is_some() && r.pid == self.last.pid)
            .and_then(|r| r.supervisor)
            .and_then(open_live)
        {
            self.recheck = FIRST_RECHECK;
            return Ok(Sleep {
                process: Some((supervisor, PollFlags::POLLIN)),
                ..events
            });
        }
        let process = self.last.pid.and_then(|pid| pidfd(pid as i32));
        if process.as_ref().is_some_and(|fd| !ended(fd)) {
            self.recheck = FIRST_RECHECK;
            return Ok(Sleep {
                process: process.map(|fd| (fd, PollFlags::POLLIN)),
                ..events
            });
        }
        // Its process has ended and nobody we know of records it: reconcile does (and
        // leaves alone a container that a live supervisor still looks after).
        lifecycle::reconcile(self.containers)?;
        let recheck = self.recheck;
        self.recheck = (self.recheck * 2).min(LAST_RECHECK);
        if self.containers.store().db().container(&self.id)?.map(|r| r.state) != Some(ContainerState::Running) {
            // Recorded: look again at once.
            return Ok(Sleep {
                process: None,
                recheck: Some(Duration::ZERO),
            });
        }
        // A zombie not reaped yet (recent kernels report the reaping on its pidfd as
        // POLLHUP, whatever the events asked for), or a supervisor we cannot name.
        Ok(Sleep {
            process: process.map(|fd| (fd, PollFlags::empty())),
            recheck: Some(recheck),
        })
    }

    fn sleep_on(&self, sleep: Sleep, timeout: Option<Duration>) -> Result<()> {
        let mut fds = vec![PollFd::new(self.inotify.as_fd(), PollFlags::POLLIN)];
        if let Some((fd, events)) = &sleep.process {
            fds.push(PollFd::new(fd.as_fd(), *events));
        }
        let timeout = match timeout {
            None => PollTimeout::NONE,
            // Rounded up: a wake-up a little early would only go round once more.
            Some(t) => PollTimeout::try_from(t + Duration::from_micros(999)).unwrap_or(PollTimeout::MAX),
        };
        match nix::poll::poll(&mut fds, timeout) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(RuntimeError::Sys("poll", e)),
        }
        drop(fds);
        self.drain();
        Ok(())
    }

    /// Empties the inotify queue: the events only say "look again".
    fn drain(&self) {
        let mut buf = [0u8; 4096];
        while matches!(rustix::io::read(&self.inotify, &mut buf), Ok(n) if n > 0) {}
    }

    /// The file was unlinked though the container's record is there: its new one.
    fn rearm(&mut self) -> Result<()> {
        let Some(file) = open_run_state(self.containers, &self.id)? else {
            return Ok(());
        };
        watch(&self.inotify, &file, &self.last.name)?;
        self.baseline = read(&file)?.map_or(0, |r| r.exits);
        self.file = file;
        Ok(())
    }
}

/// The container's `run-state`, opened; made when the container is older than it.
/// `None` when the container is gone.
fn open_run_state(containers: &Containers<'_>, id: &str) -> Result<Option<File>> {
    let dir = containers.dir(id);
    let opening = |e| RuntimeError::io(format!("opening {}", dir.join(run_state::FILE).display()), e);
    match run_state::open(&dir) {
        Ok(f) => return Ok(Some(f)),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(opening(e)),
        Err(_) => {}
    }
    if containers.store().db().container(id)?.is_none() {
        return Ok(None);
    }
    match run_state::open_creating(&dir) {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(opening(e)),
    }
}

/// Watches the open file itself (through its /proc link: the inode held, whatever
/// happens to its name): rewritten (`IN_CLOSE_WRITE`), unlinked (`IN_ATTRIB`).
fn watch(inotify: &OwnedFd, file: &File, name: &str) -> Result<()> {
    let flags = inotify::WatchFlags::CLOSE_WRITE | inotify::WatchFlags::ATTRIB;
    inotify::add_watch(inotify, format!("/proc/self/fd/{}", file.as_raw_fd()), flags)
        .map_err(|e| RuntimeError::io(format!("watching container {name}"), e.into()))?;
    Ok(())
}

fn read(file: &File) -> Result<Option<RunState>> {
    run_state::read(file).map_err(|e| RuntimeError::io("reading a container's run-state", e))
}

fn unlinked(file: &File) -> Result<bool> {
    let stat = rustix::fs::fstat(file).map_err(|e| RuntimeError::io("reading a container's run-state", e.into()))?;
    Ok(stat.st_nlink == 0)
}

/// The exit code of a removed container: its last recorded exit; none if it never ran;
/// unknown if it was removed running (`rm -f`) before its exit was recorded.
fn removed_code(run: Option<RunState>, last: &ContainerRecord) -> i64 {
    match run.map(|r| (r.state, r.last_exit)) {
        Some((ContainerState::Exited, code)) => code,
        Some((ContainerState::Created, _)) => 0,
        Some((ContainerState::Running, _)) => UNKNOWN_EXIT,
        None => code_of(last),
    }
}

/// A pidfd of `pid`; `None` once it has been reaped.
fn pidfd(pid: i32) -> Option<OwnedFd> {
    let pid = rustix::process::Pid::from_raw(pid)?;
    rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok()
}

/// A pidfd of exactly this process, if it still runs (not a later one with its PID).
fn open_live(process: ProcessId) -> Option<OwnedFd> {
    let fd = pidfd(process.pid)?;
    // Opened first, compared after: a match means the pidfd is of this very process.
    (ProcessId::of(process.pid) == Some(process) && !ended(&fd)).then_some(fd)
}

/// Whether the process of a pidfd has exited.
fn ended(fd: &OwnedFd) -> bool {
    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
    nix::poll::poll(&mut fds, PollTimeout::ZERO).is_ok_and(|n| n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_are_docker_s_words() {
        for (text, condition) in [
            ("", WaitCondition::NotRunning),
            ("not-running", WaitCondition::NotRunning),
            ("next-exit", WaitCondition::NextExit),
            ("removed", WaitCondition::Removed),
        ] {
            assert_eq!(text.parse::<WaitCondition>().unwrap(), condition);
        }
        let err = "stopped".parse::<WaitCondition>().unwrap_err().to_string();
        assert!(err.contains("not-running, next-exit or removed"), "{err}");
    }

    #[test]
    fn a_removed_container_reports_its_last_recorded_exit() {
        let last = ContainerRecord {
            id: "c".into(),
            name: "c".into(),
            image_id: String::new(),
            image_name: String::new(),
            config: String::new(),
            created: String::new(),
            state: ContainerState::Running,
            pid: Some(1),
            exit_code: None,
            started_at: None,
            finished_at: None,
        };
        let run = |exits, last_exit, state| RunState {
            exits,
            last_exit,
            state,
            ..RunState::default()
        };
        assert_eq!(removed_code(Some(run(1, 7, ContainerState::Exited)), &last), 7);
        assert_eq!(removed_code(Some(run(0, 0, ContainerState::Created)), &last), 0);
        // Removed running (`rm -f`) before its supervisor recorded the exit.
        assert_eq!(
            removed_code(Some(run(2, 7, ContainerState::Running)), &last),
            UNKNOWN_EXIT
        );
        // A file that never held a record: the database's last word.
        assert_eq!(removed_code(None, &last), UNKNOWN_EXIT);
        let exited = ContainerRecord {
            state: ContainerState::Exited,
            exit_code: Some(3),
            ..last
        };
        assert_eq!(removed_code(None, &exited), 3);
    }
}
