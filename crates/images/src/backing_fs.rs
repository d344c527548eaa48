//! The filesystem the store lives on: its name for `info`, and what about it slows the
//! store down, as `info`'s warnings.

use crate::store::ImageStore;
use std::path::Path;

const EXT4_SUPER_MAGIC: u64 = 0xEF53;

impl ImageStore {
    /// The filesystem the store lives on, by name.
    pub fn backing_filesystem(&self) -> String {
        let Ok(stat) = rustix::fs::statfs(self.root()) else {
            return "unknown".into();
        };
        match stat.f_type as u64 {
            EXT4_SUPER_MAGIC => "extfs".into(),
            0x5846_5342 => "xfs".into(),
            0x9123_683E => "btrfs".into(),
            0x0102_1994 => "tmpfs".into(),
            0x794C_7630 => "overlayfs".into(),
            other => format!("0x{other:x}"),
        }
    }

    /// Docker-style `info` warnings about the store's filesystem.
    pub fn backing_filesystem_warnings(&self) -> Vec<String> {
        unjournaled_ext4(self.root())
            .map(|device| {
                format!(
                    "WARNING: the store's filesystem ({device}, ext4) has no journal: there, creating files \
                     right after a mass deletion (rmi, prune, rm -rf) is several times slower for up to 6 \
                     minutes, since the kernel skips each recently deleted inode one by one; \
                     `tune2fs -O has_journal` on the unmounted filesystem adds one"
                )
            })
            .into_iter()
            .collect()
    }
}

/// The device name of the ext4 filesystem holding `path` when it has no journal. The
/// kernel lists every mounted journal under /proc/fs/jbd2 as `<device>-<inode>`.
fn unjournaled_ext4(path: &Path) -> Option<String> {
    let stat = rustix::fs::statfs(path).ok()?;
    if stat.f_type as u64 != EXT4_SUPER_MAGIC {
        return None;
    }
    let device = device_name(path)?;
    let journals = std::fs::read_dir("/proc/fs/jbd2").into_iter().flatten().flatten();
    let prefix = format!("{device}-");
    let journaled = journals
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .any(|name| name.starts_with(&prefix));
    (!journaled).then_some(device)
}

/// The block device holding `path`, by its kernel name (`vda1`, `loop3`, `dm-0`).
fn device_name(path: &Path) -> Option<String> {
    let stat = rustix::fs::stat(path).ok()?;
    let (major, minor) = (rustix::fs::major(stat.st_dev), rustix::fs::minor(stat.st_dev));
    let target = std::fs::read_link(format!("/sys/dev/block/{major}:{minor}")).ok()?;
    Some(target.file_name()?.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tmpfs_is_no_unjournaled_ext4() {
        assert_eq!(unjournaled_ext4(Path::new("/dev/shm")), None);
    }
}
