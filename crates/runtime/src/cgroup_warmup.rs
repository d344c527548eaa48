//! Moving a process into a cgroup makes the kernel wait out an RCU grace period
//! (10–30 ms on a loaded 2-core host: the global `cgroup_threadgroup_rwsem` is a per-CPU
//! rwsem, and its writer first turns every reader onto the slow path). Until about one
//! grace period after the last move, the next move does not wait, and a move that comes
//! while that wait is under way shares it. A container's start pays the wait when its
//! process is placed in its groups; a caller that knows a start is coming can begin the
//! wait earlier, on a thread or process of its own, by moving itself where it already
//! is, and keep the fast path open with more such moves until the process is placed.

use std::fs::File;
use std::io::Write;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The `cgroup.procs` file of the calling process's own group.
pub struct OwnGroup {
    procs: File,
    /// How long the first move waited: about one grace period.
    first_wait: Option<Duration>,
}

impl OwnGroup {
    /// The first hierarchy this process may write its own group in; `None` where there
    /// is none (no cgroup file system, no permission: rootless).
    pub fn open() -> Option<Self> {
        crate::cgroups::groups_of(std::process::id() as i32)
            .into_iter()
            .find_map(|(_, dir)| File::options().write(true).open(dir.join("cgroup.procs")).ok())
            .map(|procs| OwnGroup {
                procs,
                first_wait: None,
            })
    }

    /// Moves the calling process into the group it is in: nothing changes but the
    /// lock's state. The first such move waits out the grace period. False when the
    /// kernel refused it (it will refuse the next ones too).
    pub fn move_in(&mut self) -> bool {
        let begun = Instant::now();
        let moved = self.procs.write_all(std::process::id().to_string().as_bytes()).is_ok();
        self.first_wait.get_or_insert_with(|| begun.elapsed());
        moved
    }

    /// How often to move again to keep the path open: the path closes one to two grace
    /// periods after the last move, and a move that finds it closed waits out a grace
    /// period holding the kernel's cgroup mutex (making a group waits behind it). A
    /// third of the first move's wait, between 0.5 and 2 ms (grace periods here last
    /// 2–30 ms).
    pub fn interval(&self) -> Duration {
        (self.first_wait.unwrap_or_default() / 3).clamp(Duration::from_micros(500), Duration::from_millis(2))
    }
}

/// A thread that keeps the fast path open from `begin` until the value is dropped, for
/// a caller whose monitors are separate processes (the service, a multi-threaded
/// command): kept across a start until the container's process is placed.
pub struct Warmup {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Warmup {
    /// `None` where the thread could not start (the start then waits as before).
    pub fn begin() -> Option<Self> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("cgroup-warmup".into())
            .spawn(move || keep_open(&stopped))
            .ok()?;
        Some(Warmup {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Warmup {
    fn drop(&mut self) {
        let (stopped, wake) = &*self.stop;
        *stopped.lock().unwrap_or_else(|p| p.into_inner()) = true;
        wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn keep_open(stop: &(Mutex<bool>, Condvar)) {
    let Some(mut group) = OwnGroup::open() else {
        return;
    };
    let (stopped, wake) = stop;
    // Not held while moving: the first move waits out a grace period.
    while !*stopped.lock().unwrap_or_else(|p| p.into_inner()) && group.move_in() {
        let done = stopped.lock().unwrap_or_else(|p| p.into_inner());
        if *done {
            break;
        }
        let _ = wake.wait_timeout(done, group.interval());
    }
}

#[cfg(test)]
mod tests {
    use super::{OwnGroup, Warmup};

    #[test]
    fn a_warmup_thread_is_gone_once_it_is_dropped() {
        let warmup = Warmup::begin().expect("the thread starts");
        std::thread::sleep(std::time::Duration::from_millis(6));
        drop(warmup);
        let threads: Vec<String> = std::fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
            .collect();
        assert!(
            !threads.iter().any(|name| name.trim() == "cgroup-warmup"),
            "{threads:?}"
        );
    }

    #[test]
    fn moving_a_process_into_its_own_group_leaves_it_where_it_was() {
        let before = std::fs::read_to_string("/proc/self/cgroup").unwrap();
        let Some(mut group) = OwnGroup::open() else {
            eprintln!("skipped: no cgroup file system this process may write");
            return;
        };
        assert!(group.move_in(), "the first move");
        assert!(group.move_in(), "a move again, through the same file");
        assert_eq!(std::fs::read_to_string("/proc/self/cgroup").unwrap(), before);
    }
}
