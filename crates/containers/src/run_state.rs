//! `containers/<id>/run-state`: what a process waiting for a container needs and cannot
//! get from the database without polling it (issue 16 §3).
//!
//! - `exits`, how many exits were recorded since the container was created, and `last`,
//!   the latest exit code: a waiter that read `exits` before it slept knows that an exit
//!   happened even if the container runs again by now (a restart policy).
//! - While the container runs: its process, and its *supervisor*, the process that
//!   started it, waits for it and records its exit (a monitor, a foreground `run`, a
//!   build), named by PID and start time so that a reused PID is never taken for it.
//!
//! The contract:
//! - The file is made with the container and rewritten in place, never replaced (a
//!   rename would leave waiters on the old inode): one fixed-size record, written with
//!   one `pwrite` under an exclusive `flock` of the file, read under a shared one.
//! - [`Containers::set_state`] writes it after the database, for every state change;
//!   the writer's close is the waiters' wake-up (inotify `IN_CLOSE_WRITE`). It is not the
//!   record: the database is. A failed write is ignored: waiters also watch the
//!   supervisor, and re-read the database whenever they wake.
//! - A removal unlinks it right after it deleted the container's record: the waiters'
//!   `IN_ATTRIB` (link count 0) says "removed", and a waiter that opened the file before
//!   still reads the last exit code from it, however many waiters there are and however
//!   late they read (an `--rm` container's code outlives the container).
//!
//! [`Containers::set_state`]: crate::Containers::set_state

use crate::ContainerState;
use rustix::fs::FlockOperation;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// The file's name in the container's directory.
pub const FILE: &str = "run-state";

/// Every record is this long (padded), so a rewrite in place covers the one before.
const RECORD_LEN: usize = 160;

/// A process, told apart from a later one with the same PID by its start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessId {
    pub pid: i32,
    /// Clock ticks since boot (`/proc/PID/stat`, field 22).
    pub start_time: u64,
}

impl ProcessId {
    /// This process.
    pub fn current() -> Option<ProcessId> {
        parse_stat(&std::fs::read_to_string("/proc/self/stat").ok()?)
    }

    /// The process with this PID now, if there is one.
    pub fn of(pid: i32) -> Option<ProcessId> {
        parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
    }
}

/// `PID (COMM) STATE PPID ...`: COMM may hold spaces and parentheses, so the fields
/// are counted from the last `)`.
fn parse_stat(stat: &str) -> Option<ProcessId> {
    let (head, rest) = stat.rsplit_once(')')?;
    let pid = head.split_whitespace().next()?.parse().ok()?;
    // `rest` starts at field 3 (the state); the start time is field 22.
    let start_time = rest.split_whitespace().nth(19)?.parse().ok()?;
    Some(ProcessId { pid, start_time })
}

/// One record of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunState {
    /// Exits recorded since the container was created.
    pub exits: u64,
    /// The latest exit code (0 before the first exit).
    pub last_exit: i64,
    pub state: ContainerState,
    /// While it runs: the container's process.
    pub pid: Option<i64>,
    /// While it runs: the process that records its exit.
    pub supervisor: Option<ProcessId>,
}

impl Default for RunState {
    fn default() -> Self {
        RunState {
            exits: 0,
            last_exit: 0,
            state: ContainerState::Created,
            pid: None,
            supervisor: None,
        }
    }
}

impl RunState {
    fn encode(&self) -> Vec<u8> {
        let (pid, supervisor) = match (self.pid, self.supervisor) {
            (Some(pid), Some(s)) => (pid.to_string(), format!("{}:{}", s.pid, s.start_time)),
            (Some(pid), None) => (pid.to_string(), "-".into()),
            _ => ("-".into(), "-".into()),
        };
        let text = format!(
            "exits={} last={} state={} pid={pid} supervisor={supervisor}",
            self.exits,
            self.last_exit,
            self.state.as_str()
        );
        let mut bytes = text.into_bytes();
        bytes.resize(RECORD_LEN - 1, b' ');
        bytes.push(b'\n');
        bytes
    }

    fn decode(bytes: &[u8]) -> Option<RunState> {
        let line = std::str::from_utf8(bytes).ok()?.lines().next()?;
        let mut out = RunState::default();
        let mut fields = 0;
        for word in line.split_whitespace() {
            let (key, value) = word.split_once('=')?;
            match key {
                "exits" => out.exits = value.parse().ok()?,
                "last" => out.last_exit = value.parse().ok()?,
                "state" => {
                    out.state = match value {
                        "running" => ContainerState::Running,
                        "exited" => ContainerState::Exited,
                        _ => ContainerState::Created,
                    }
                }
                "pid" => out.pid = value.parse().ok(),
                "supervisor" => {
                    out.supervisor = value.split_once(':').and_then(|(pid, start)| {
                        Some(ProcessId {
                            pid: pid.parse().ok()?,
                            start_time: start.parse().ok()?,
                        })
                    })
                }
                _ => continue,
            }
            fields += 1;
        }
        (fields >= 3).then_some(out)
    }
}

/// Makes the file of a new container (in its new directory).
pub(crate) fn create(dir: &Path) -> io::Result<()> {
    std::fs::write(dir.join(FILE), RunState::default().encode())
}

/// Records a state change (after the database has). A container without the file (made
/// by an older strata, or being removed) is left alone: the file is only ever created
/// with the container, never in a directory a removal may be emptying.
pub(crate) fn record(dir: &Path, state: ContainerState, pid: Option<i64>, exit_code: Option<i64>) -> io::Result<()> {
    let file = match File::options().read(true).write(true).open(dir.join(FILE)) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    locked(&file, FlockOperation::LockExclusive, || {
        let mut run = read_record(&file)?.unwrap_or_default();
        run.state = state;
        match state {
            ContainerState::Running => {
                run.pid = pid;
                // Whoever records a container as running is the process that started it
                // and will record its exit (see `strata_runtime::lifecycle`).
                run.supervisor = ProcessId::current();
            }
            ContainerState::Exited => {
                run.exits += 1;
                // Docker's status for an exit nobody could tell.
                run.last_exit = exit_code.unwrap_or(255);
                run.pid = None;
                run.supervisor = None;
            }
            ContainerState::Created => {
                run.pid = None;
                run.supervisor = None;
            }
        }
        file.write_all_at(&run.encode(), 0)
    })
    // Dropping `file` closes it: the waiters' IN_CLOSE_WRITE.
}

/// Unlinks the file of a container whose record was just deleted.
pub(crate) fn removed(dir: &Path) {
    let _ = std::fs::remove_file(dir.join(FILE));
}

/// Opens the file for waiting (read only: a waiter's close wakes no other waiter).
/// `NotFound` when the container's directory or its file is missing.
pub fn open(dir: &Path) -> io::Result<File> {
    File::open(dir.join(FILE))
}

/// Opens the file, making it (empty) if it is missing: for a container made by a strata
/// that did not write it. The caller checks that the container's record exists first.
pub fn open_creating(dir: &Path) -> io::Result<File> {
    use rustix::fs::{Mode, OFlags};
    let fd = rustix::fs::open(
        dir.join(FILE),
        OFlags::RDONLY | OFlags::CREATE | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o644),
    )?;
    Ok(File::from(fd))
}

/// The record in an open file (under a shared lock: never half a write); `None` while
/// nothing was recorded in it.
pub fn read(file: &File) -> io::Result<Option<RunState>> {
    locked(file, FlockOperation::LockShared, || read_record(file))
}

fn read_record(file: &File) -> io::Result<Option<RunState>> {
    let mut buf = [0u8; RECORD_LEN];
    let mut len = 0;
    while len < buf.len() {
        match file.read_at(&mut buf[len..], len as u64)? {
            0 => break,
            n => len += n,
        }
    }
    Ok(RunState::decode(&buf[..len]))
}

fn locked<T>(file: &File, how: FlockOperation, f: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    rustix::fs::flock(file, how)?;
    let out = f();
    let _ = rustix::fs::flock(file, FlockOperation::Unlock);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_at_a_fixed_length() {
        let cases = [
            RunState::default(),
            RunState {
                exits: 3,
                last_exit: 137,
                state: ContainerState::Running,
                pid: Some(4242),
                supervisor: Some(ProcessId {
                    pid: 17,
                    start_time: 123456789,
                }),
            },
            RunState {
                exits: u64::MAX,
                last_exit: -1,
                state: ContainerState::Exited,
                pid: None,
                supervisor: None,
            },
        ];
        for case in cases {
            let bytes = case.encode();
            assert_eq!(bytes.len(), RECORD_LEN, "{case:?}");
            assert_eq!(RunState::decode(&bytes), Some(case));
        }
        assert_eq!(RunState::decode(b""), None);
        assert_eq!(RunState::decode(b"garbage\n"), None);
    }

    #[test]
    fn a_command_name_with_spaces_and_parentheses_does_not_shift_the_fields() {
        let stat = "4242 (a) b (c) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        assert_eq!(
            parse_stat(stat),
            Some(ProcessId {
                pid: 4242,
                start_time: 987654
            })
        );
        assert_eq!(ProcessId::current().map(|p| p.pid), Some(std::process::id() as i32));
    }

    #[test]
    fn exits_are_counted_and_the_supervisor_named_while_it_runs() {
        let dir = tempfile::tempdir().unwrap();
        create(dir.path()).unwrap();
        let file = open(dir.path()).unwrap();
        assert_eq!(read(&file).unwrap(), Some(RunState::default()));
        record(dir.path(), ContainerState::Running, Some(99), None).unwrap();
        let running = read(&file).unwrap().unwrap();
        assert_eq!((running.state, running.pid), (ContainerState::Running, Some(99)));
        assert_eq!(running.supervisor, ProcessId::current());
        record(dir.path(), ContainerState::Exited, None, Some(7)).unwrap();
        record(dir.path(), ContainerState::Running, Some(100), None).unwrap();
        let again = read(&file).unwrap().unwrap();
        assert_eq!((again.exits, again.last_exit, again.pid), (1, 7, Some(100)));
        // Removed: the waiter's open file still has the code.
        record(dir.path(), ContainerState::Exited, None, Some(3)).unwrap();
        removed(dir.path());
        assert!(open(dir.path()).is_err());
        let last = read(&file).unwrap().unwrap();
        assert_eq!((last.exits, last.last_exit, last.state), (2, 3, ContainerState::Exited));
        // Nothing is made again by a late writer.
        record(dir.path(), ContainerState::Exited, None, Some(1)).unwrap();
        assert!(open(dir.path()).is_err());
    }
}
