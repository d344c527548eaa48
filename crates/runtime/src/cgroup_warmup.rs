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

/// The `cgroup.procs` file of the calling process's own group.
pub struct OwnGroup {
    procs: File,
}

impl OwnGroup {
    /// The first hierarchy this process may write its own group in; `None` where there
    /// is none (no cgroup file system, no permission: rootless).
    pub fn open() -> Option<Self> {
        crate::cgroups::groups_of(std::process::id() as i32)
            .into_iter()
            .find_map(|(_, dir)| File::options().write(true).open(dir.join("cgroup.procs")).ok())
            .map(|procs| OwnGroup { procs })
    }

    /// Moves the calling process into the group it is in: nothing changes but the
    /// lock's state. The first such move waits out the grace period. False when the
    /// kernel refused it (it will refuse the next ones too).
    pub fn move_in(&mut self) -> bool {
        self.procs.write_all(std::process::id().to_string().as_bytes()).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::OwnGroup;

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
