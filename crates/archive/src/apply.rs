//! Applies one layer tar to an empty directory, in overlayfs form.
//!
//! The result is exactly what overlayfs expects of a lower (or upper) directory:
//! OCI whiteouts (`.wh.NAME`) become 0/0 character devices and opaque markers
//! (`.wh..wh..opq`) become the `trusted.overlay.opaque=y` xattr on their directory.
//!
//! Safety (the reason this is not `tar::Archive::unpack`): nothing is ever written outside
//! the target directory. Entries with `..` components or absolute paths are refused, a
//! path whose parent is a symlink is refused (links are never followed during
//! extraction), hard links must name an earlier regular entry of the same archive, and
//! device nodes are refused or skipped, never created. Every refusal names the entry.

use crate::path::{normalize, PathProblem};
use crate::tar_split::SplitWriter;
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::mpsc::{sync_channel, SyncSender};

use rustix::fs::{AtFlags, FileType, Mode, Timespec, Timestamps, CWD};

/// What to do with character and block device entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevicePolicy {
    /// Fail with a clear error naming the entry (`import`: a rootfs tar is user input).
    Reject,
    /// Leave them out and report them (image layers: the runtime creates `/dev` itself).
    Skip,
}

/// Limits and policies for one layer.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    pub devices: DevicePolicy,
    /// Maximum bytes of file content one layer may expand to (decompression bombs).
    pub max_bytes: u64,
    /// A stream that ends in the padding after its last entry's content, or where the
    /// end-of-archive blocks should be, is whole (Go's tar reader takes it so, and the
    /// docker CLI sends such build contexts). A stream cut inside an entry's header or
    /// content is truncated either way.
    pub unterminated_ok: bool,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            devices: DevicePolicy::Skip,
            max_bytes: 64 << 30,
            unterminated_ok: false,
        }
    }
}

/// What an apply wrote.
#[derive(Debug, Default, Clone)]
pub struct ApplyStats {
    pub entries: u64,
    /// Bytes of regular file content written.
    pub bytes: u64,
    pub skipped_devices: Vec<String>,
}

/// Why a single entry was refused.
#[derive(Debug, thiserror::Error)]
pub enum EntryProblem {
    #[error(transparent)]
    Path(#[from] PathProblem),
    #[error("its parent {0:?} is a symlink; writing through it could escape the layer root")]
    SymlinkParent(String),
    #[error("its parent {0:?} is not a directory")]
    ParentNotDir(String),
    #[error("it is a hard link to {target:?}: {reason}")]
    HardLink { target: String, reason: String },
    #[error(
        "it is a device node; image layers may not carry device nodes (the runtime creates /dev); \
         remove them, e.g. tar --exclude='./dev/*'"
    )]
    Device,
    #[error("it is a duplicate entry: an earlier entry already wrote that path")]
    Duplicate,
    #[error("its type {0:?} is not supported")]
    UnsupportedType(String),
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("tar entry {entry:?} is refused: {problem}")]
    Entry { entry: String, problem: EntryProblem },
    #[error("the tar stream is truncated: {0}")]
    Truncated(#[source] io::Error),
    #[error("the tar stream is corrupt: {0}")]
    Corrupt(#[source] io::Error),
    #[error("the layer expands to more than {limit} bytes of file content (decompression bomb limit)")]
    TooLarge { limit: u64 },
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl ApplyError {
    /// Classifies an error that came from reading (and decompressing) the stream.
    pub fn from_read(e: io::Error) -> Self {
        let msg = e.to_string();
        if e.kind() == io::ErrorKind::UnexpectedEof || msg.contains("entire block") || msg.contains("EOF") {
            ApplyError::Truncated(e)
        } else {
            ApplyError::Corrupt(e)
        }
    }

    pub fn is_no_space(&self) -> bool {
        matches!(self, ApplyError::Write { source, .. } if source.raw_os_error() == Some(28))
    }
}

/// Entry names in messages are cut short: a hostile name may be kilobytes long.
fn shown_name(entry: &[u8]) -> String {
    let name = String::from_utf8_lossy(entry);
    if name.chars().count() <= 120 {
        return name.into_owned();
    }
    format!("{}…", name.chars().take(120).collect::<String>())
}

fn entry_err(entry: &[u8], problem: impl Into<EntryProblem>) -> ApplyError {
    ApplyError::Entry {
        entry: shown_name(entry),
        problem: problem.into(),
    }
}

fn write_err(path: &Path) -> impl FnOnce(io::Error) -> ApplyError + '_ {
    move |source| ApplyError::Write {
        path: path.to_path_buf(),
        source,
    }
}

const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";
const WHITEOUT_PREFIX: &[u8] = b".wh.";

/// Applies the tar stream `reader` to the directory `root` (which should be empty).
/// The stream is read up to the tar end-of-archive marker; callers that hash the
/// stream drain the rest themselves.
pub fn apply_layer(reader: impl Read, root: &Path, opts: &ApplyOptions) -> Result<ApplyStats, ApplyError> {
    apply_inner(reader, root, opts, None)
}

/// Like [`apply_layer`], also recording the stream's tar-split (see [`crate::tar_split`])
/// so the exact tar can be reassembled from `root` later. Sparse entries are refused:
/// their stored bytes are not the file's contents.
pub fn apply_layer_split(
    reader: impl Read,
    root: &Path,
    opts: &ApplyOptions,
    split: SplitWriter,
) -> Result<(ApplyStats, SplitWriter), ApplyError> {
    let shared = Rc::new(Recorder {
        split: RefCell::new(split),
        in_data: Cell::new(false),
    });
    let stats = apply_inner(reader, root, opts, Some(shared.clone()))?;
    let recorder = Rc::try_unwrap(shared).ok().expect("the applier is gone");
    Ok((stats, recorder.split.into_inner()))
}

/// The split being recorded, and whether the bytes being read are file contents.
struct Recorder {
    split: RefCell<SplitWriter>,
    in_data: Cell<bool>,
}

/// Passes every byte read to the recorder, except file contents.
struct Recording<R> {
    inner: R,
    recorder: Option<Rc<Recorder>>,
}

impl<R: Read> Read for Recording<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(r) = &self.recorder {
            if !r.in_data.get() {
                r.split.borrow_mut().raw(&buf[..n]);
            }
        }
        Ok(n)
    }
}

/// Whether a read error at the next header is the stream's end right after a whole
/// entry: within the padding that follows its content, or on a block boundary.
fn ends_between_entries(e: &io::Error, read: u64, content_end: u64) -> bool {
    let at_end = e.kind() == io::ErrorKind::UnexpectedEof || e.to_string().contains("EOF");
    let padded_end = content_end.div_ceil(512) * 512;
    at_end && (read <= padded_end || read.is_multiple_of(512))
}

/// A reader that counts the bytes it passed on.
struct Counting<R> {
    inner: R,
    read: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.set(self.read.get() + n as u64);
        Ok(n)
    }
}

/// Written files handed over at once: one wake-up of the writeback thread for each
/// batch, not each file (a wake-up is a few microseconds of the unpacking thread's
/// time, and layers have thousands of small files).
const WRITEBACK_BATCH: usize = 32;
/// A batch goes sooner when its files hold this many bytes: a big file's writeback
/// starts while the next ones are written.
const WRITEBACK_BATCH_BYTES: u64 = 4 << 20;
/// Batches waiting for the writeback thread, at most: with the one being filled,
/// (this + 1) × [`WRITEBACK_BATCH`] descriptors are open at most.
const WRITEBACK_QUEUE: usize = 2;

/// Runs `apply` with a [`Writeback`] for its written files, whose writeback a thread of
/// its own starts (and then closes them). The layer is made durable (syncfs) before it
/// is published, and that wait was the tail of every pull and load; started as files
/// are written, the writeback runs beside the unpacking, and starting it (the
/// filesystem allocates the blocks then) costs the unpacking thread nothing.
fn writing_back<T>(apply: impl FnOnce(Writeback) -> T) -> T {
    let (sender, batches) = sync_channel::<Vec<File>>(WRITEBACK_QUEUE);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            for file in batches.into_iter().flatten() {
                strata_content::start_writeback(&file);
            }
        });
        apply(Writeback {
            sender,
            batch: Vec::with_capacity(WRITEBACK_BATCH),
            bytes: 0,
        })
    })
}

/// The unpacking side of [`writing_back`]: collects written files into batches.
struct Writeback {
    sender: SyncSender<Vec<File>>,
    batch: Vec<File>,
    bytes: u64,
}

impl Writeback {
    fn push(&mut self, file: File, bytes: u64) {
        self.batch.push(file);
        self.bytes += bytes;
        if self.batch.len() >= WRITEBACK_BATCH || self.bytes >= WRITEBACK_BATCH_BYTES {
            self.flush();
        }
    }

    /// Never waits: when the thread is behind, the batch is closed here and the final
    /// sync writes its files (the thread is gone only if it panicked, which the scope
    /// reports).
    fn flush(&mut self) {
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(WRITEBACK_BATCH));
        self.bytes = 0;
        if !batch.is_empty() {
            let _ = self.sender.try_send(batch);
        }
    }
}

impl Drop for Writeback {
    fn drop(&mut self) {
        self.flush();
    }
}

fn apply_inner(
    reader: impl Read,
    root: &Path,
    opts: &ApplyOptions,
    recorder: Option<Rc<Recorder>>,
) -> Result<ApplyStats, ApplyError> {
    writing_back(|written| apply_stream(reader, root, opts, recorder, written))
}

fn apply_stream(
    reader: impl Read,
    root: &Path,
    opts: &ApplyOptions,
    recorder: Option<Rc<Recorder>>,
    written: Writeback,
) -> Result<ApplyStats, ApplyError> {
    let mut applier = Applier {
        root,
        opts,
        seen: HashSet::new(),
        dirs: HashSet::new(),
        dir_times: Vec::new(),
        stats: ApplyStats::default(),
        recorder: recorder.clone(),
        written,
        buffer: Vec::new(),
    };
    let read = Rc::new(Cell::new(0u64));
    let mut archive = tar::Archive::new(Recording {
        inner: Counting {
            inner: reader,
            read: Rc::clone(&read),
        },
        recorder,
    });
    // Where the last entry's content (and so its padding) ends.
    let mut content_end = 0u64;
    for entry in archive.entries().map_err(ApplyError::from_read)? {
        let entry = match entry {
            Ok(entry) => entry,
            // The stream ended in the last entry's padding or at a block boundary.
            Err(e) if opts.unterminated_ok && ends_between_entries(&e, read.get(), content_end) => {
                return applier.finish();
            }
            Err(e) => return Err(ApplyError::from_read(e)),
        };
        content_end = entry.raw_file_position() + entry.size();
        applier.entry(entry)?;
    }
    // Read to the end: the end-of-archive blocks and anything after belong to the
    // stream's digest (and to its tar-split).
    io::copy(&mut archive.into_inner(), &mut io::sink()).map_err(ApplyError::from_read)?;
    applier.finish()
}

struct Applier<'a> {
    root: &'a Path,
    opts: &'a ApplyOptions,
    /// Normalized paths already written by an entry of this archive.
    seen: HashSet<PathBuf>,
    /// Relative directories known to be real directories (not symlinks) under root.
    dirs: HashSet<PathBuf>,
    /// Directory mtimes, applied last because creating children changes them.
    dir_times: Vec<(PathBuf, i64)>,
    stats: ApplyStats,
    recorder: Option<Rc<Recorder>>,
    /// Written files, whose writeback another thread starts (see `writing_back`).
    written: Writeback,
    /// File contents on their way from the stream to their file.
    buffer: Vec<u8>,
}

/// Copies `from` into `to` through `buffer`: a file of the layer is written with a
/// `write` each 256 KiB (io::copy's 8 KiB made three syscalls of every layer file).
fn copy_content(from: &mut impl Read, to: &mut File, buffer: &mut Vec<u8>) -> io::Result<u64> {
    buffer.resize(256 * 1024, 0);
    let mut copied = 0u64;
    loop {
        let n = match from.read(buffer) {
            Ok(0) => return Ok(copied),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buffer[..n])?;
        copied += n as u64;
    }
}

impl Applier<'_> {
    fn entry<R: Read>(&mut self, mut entry: tar::Entry<'_, R>) -> Result<(), ApplyError> {
        let raw = entry.path_bytes().into_owned();
        let rel = normalize(&raw).map_err(|p| entry_err(&raw, p))?;
        let kind = entry.header().entry_type();
        self.stats.entries += 1;

        if rel.as_os_str().is_empty() {
            // The layer root itself ("./"): only its metadata applies.
            self.set_dir_meta(&rel, &mut entry)?;
            return Ok(());
        }
        let name = rel.file_name().expect("normalized path has a name").as_bytes();
        if name.starts_with(WHITEOUT_PREFIX) {
            return self.whiteout(&raw, &rel, name);
        }
        if matches!(kind, tar::EntryType::Char | tar::EntryType::Block) {
            return match self.opts.devices {
                DevicePolicy::Reject => Err(entry_err(&raw, EntryProblem::Device)),
                DevicePolicy::Skip => {
                    self.stats.skipped_devices.push(rel.display().to_string());
                    Ok(())
                }
            };
        }
        self.ensure_parent(&raw, &rel)?;
        let path = self.root.join(&rel);
        self.seen.insert(rel.clone());
        let created = |e| create_err(&raw, &path, e);
        match kind {
            tar::EntryType::Directory => {
                if !self.dirs.contains(&rel) {
                    match fs::DirBuilder::new().mode(0o700).create(&path) {
                        Ok(()) => {}
                        // Only a directory may be repeated (tar writers may repeat one),
                        // and only as a directory.
                        Err(e) if fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) => drop(e),
                        Err(e) => return Err(created(e)),
                    }
                    self.dirs.insert(rel.clone());
                }
                self.set_dir_meta(&rel, &mut entry)?;
            }
            tar::EntryType::GNUSparse if self.recorder.is_some() => {
                return Err(entry_err(&raw, EntryProblem::UnsupportedType("GNU sparse file".into())));
            }
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                self.regular(&mut entry, &raw, &path, &rel)?
            }
            tar::EntryType::Symlink => {
                let target = entry.link_name_bytes().unwrap_or_default().into_owned();
                std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(&target), &path).map_err(created)?;
                self.set_owner_and_times(&path, &entry, false)?;
            }
            tar::EntryType::Link => self.hard_link(&raw, &entry, &path)?,
            tar::EntryType::Fifo => {
                rustix::fs::mkfifoat(CWD, &path, Mode::from_raw_mode(0o600)).map_err(|e| created(e.into()))?;
                self.set_owner_and_times(&path, &entry, true)?;
            }
            other => return Err(entry_err(&raw, EntryProblem::UnsupportedType(format!("{other:?}")))),
        }
        Ok(())
    }

    /// Creates missing parent directories of `rel`, refusing to go through symlinks.
    fn ensure_parent(&mut self, raw: &[u8], rel: &Path) -> Result<(), ApplyError> {
        let Some(parent) = rel.parent() else {
            return Ok(());
        };
        if parent.as_os_str().is_empty() || self.dirs.contains(parent) {
            return Ok(());
        }
        let mut prefix = PathBuf::new();
        for component in parent.components() {
            prefix.push(component);
            if self.dirs.contains(&prefix) {
                continue;
            }
            let path = self.root.join(&prefix);
            match fs::symlink_metadata(&path) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(entry_err(
                        raw,
                        EntryProblem::SymlinkParent(prefix.display().to_string()),
                    ))
                }
                Ok(m) if !m.is_dir() => {
                    return Err(entry_err(raw, EntryProblem::ParentNotDir(prefix.display().to_string())))
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    fs::DirBuilder::new()
                        .mode(0o755)
                        .create(&path)
                        .map_err(write_err(&path))?;
                }
                Err(e) => return Err(write_err(&path)(e)),
            }
            self.dirs.insert(prefix.clone());
        }
        Ok(())
    }

    fn regular<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        raw: &[u8],
        path: &Path,
        rel: &Path,
    ) -> Result<(), ApplyError> {
        let size = entry.size();
        if self.stats.bytes.saturating_add(size) > self.opts.max_bytes {
            return Err(ApplyError::TooLarge {
                limit: self.opts.max_bytes,
            });
        }
        let mut file = File::options()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc_o_nofollow())
            .open(path)
            .map_err(|e| create_err(raw, path, e))?;
        if let Some(r) = &self.recorder {
            r.split.borrow_mut().file(rel, size).map_err(write_err(path))?;
            r.in_data.set(true);
        }
        let copied = copy_content(&mut entry.take(size), &mut file, &mut self.buffer);
        if let Some(r) = &self.recorder {
            r.in_data.set(false);
        }
        let written = copied.map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof || e.raw_os_error().is_none() {
                ApplyError::from_read(e)
            } else {
                write_err(path)(e)
            }
        })?;
        if written < size {
            return Err(ApplyError::Truncated(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("entry {} ends after {written} of {size} bytes", path.display()),
            )));
        }
        self.stats.bytes += written;
        let header = entry.header();
        let (uid, gid) = owner(entry);
        std::os::unix::fs::fchown(&file, Some(uid), Some(gid)).map_err(write_err(path))?;
        // After chown: chown clears set-id bits.
        rustix::fs::fchmod(&file, Mode::from_raw_mode(header.mode().unwrap_or(0o644) & 0o7777))
            .map_err(|e| write_err(path)(e.into()))?;
        let t = timestamp(header.mtime().unwrap_or(0) as i64);
        rustix::fs::futimens(
            &file,
            &Timestamps {
                last_access: t,
                last_modification: t,
            },
        )
        .map_err(|e| write_err(path)(e.into()))?;
        self.xattrs(entry, path)?;
        if written > 0 {
            self.written.push(file, written);
        }
        Ok(())
    }

    fn hard_link<R: Read>(&mut self, raw: &[u8], entry: &tar::Entry<'_, R>, path: &Path) -> Result<(), ApplyError> {
        let target_raw = entry.link_name_bytes().unwrap_or_default().into_owned();
        let bad = |reason: &str| {
            entry_err(
                raw,
                EntryProblem::HardLink {
                    target: String::from_utf8_lossy(&target_raw).into_owned(),
                    reason: reason.to_string(),
                },
            )
        };
        let target = normalize(&target_raw).map_err(|p| bad(&p.to_string()))?;
        if !self.seen.contains(&target) {
            return Err(bad("the target is not an earlier entry of this archive"));
        }
        let target_path = self.root.join(&target);
        match fs::symlink_metadata(&target_path) {
            Ok(m) if m.is_dir() => return Err(bad("the target is a directory")),
            Ok(_) => {}
            Err(_) => return Err(bad("the target does not exist in this layer")),
        }
        // linkat without AT_SYMLINK_FOLLOW: a link to a symlink links the symlink itself.
        rustix::fs::linkat(CWD, &target_path, CWD, path, AtFlags::empty())
            .map_err(|e| create_err(raw, path, e.into()))?;
        Ok(())
    }

    fn whiteout(&mut self, raw: &[u8], rel: &Path, name: &[u8]) -> Result<(), ApplyError> {
        self.ensure_parent(raw, rel)?;
        let parent = rel.parent().unwrap_or(Path::new(""));
        if name == OPAQUE_MARKER {
            let dir = self.root.join(parent);
            return rustix::fs::lsetxattr(&dir, "trusted.overlay.opaque", b"y", rustix::fs::XattrFlags::empty())
                .map_err(|e| write_err(&dir)(e.into()));
        }
        if name.starts_with(b".wh..wh.") {
            return Ok(()); // AUFS bookkeeping (.wh..wh.plnk etc.): meaningless here.
        }
        let hidden = parent.join(std::ffi::OsStr::from_bytes(&name[WHITEOUT_PREFIX.len()..]));
        let path = self.root.join(&hidden);
        self.seen.insert(hidden);
        rustix::fs::mknodat(CWD, &path, FileType::CharacterDevice, Mode::empty(), 0)
            .map_err(|e| create_err(raw, &path, e.into()))
    }

    fn set_dir_meta<R: Read>(&mut self, rel: &Path, entry: &mut tar::Entry<'_, R>) -> Result<(), ApplyError> {
        let path = self.root.join(rel);
        let header = entry.header();
        let (uid, gid) = owner(entry);
        std::os::unix::fs::lchown(&path, Some(uid), Some(gid)).map_err(write_err(&path))?;
        let mode = header.mode().unwrap_or(0o755) & 0o7777;
        rustix::fs::chmodat(CWD, &path, Mode::from_raw_mode(mode), AtFlags::empty())
            .map_err(|e| write_err(&path)(e.into()))?;
        let mtime = header.mtime().unwrap_or(0) as i64;
        self.xattrs(entry, &path)?;
        self.dir_times.push((path, mtime));
        Ok(())
    }

    fn set_owner_and_times<R: Read>(
        &self,
        path: &Path,
        entry: &tar::Entry<'_, R>,
        chmod: bool,
    ) -> Result<(), ApplyError> {
        let (uid, gid) = owner(entry);
        std::os::unix::fs::lchown(path, Some(uid), Some(gid)).map_err(write_err(path))?;
        if chmod {
            let mode = entry.header().mode().unwrap_or(0o644) & 0o7777;
            rustix::fs::chmodat(CWD, path, Mode::from_raw_mode(mode), AtFlags::empty())
                .map_err(|e| write_err(path)(e.into()))?;
        }
        set_times(path, entry.header().mtime().unwrap_or(0) as i64)
    }

    /// PAX `SCHILY.xattr.*` records. `trusted.*` is refused: `trusted.overlay.*` from a tar
    /// could forge overlayfs metadata (redirects, metacopy) in the store.
    fn xattrs<R: Read>(&self, entry: &mut tar::Entry<'_, R>, path: &Path) -> Result<(), ApplyError> {
        let Ok(Some(exts)) = entry.pax_extensions() else {
            return Ok(());
        };
        for ext in exts.flatten() {
            let Some(name) = ext.key_bytes().strip_prefix(b"SCHILY.xattr.") else {
                continue;
            };
            if name.starts_with(b"trusted.") {
                continue;
            }
            rustix::fs::lsetxattr(
                path,
                std::ffi::OsStr::from_bytes(name),
                ext.value_bytes(),
                rustix::fs::XattrFlags::empty(),
            )
            .map_err(|e| write_err(path)(e.into()))?;
        }
        Ok(())
    }

    fn finish(mut self) -> Result<ApplyStats, ApplyError> {
        // Deepest first, so setting a child's time cannot disturb its parent's afterwards.
        self.dir_times.sort_by_key(|d| std::cmp::Reverse(d.0.as_os_str().len()));
        for (path, mtime) in &self.dir_times {
            set_times(path, *mtime)?;
        }
        Ok(self.stats)
    }
}

/// A failed creation: a path that exists already is a duplicate entry (the same path
/// twice in one archive). The exclusive creation answers that, with no lookup before it.
fn create_err(raw: &[u8], path: &Path, e: io::Error) -> ApplyError {
    if e.kind() == io::ErrorKind::AlreadyExists {
        entry_err(raw, EntryProblem::Duplicate)
    } else {
        write_err(path)(e)
    }
}

fn owner<R: Read>(entry: &tar::Entry<'_, R>) -> (u32, u32) {
    let h = entry.header();
    (h.uid().unwrap_or(0) as u32, h.gid().unwrap_or(0) as u32)
}

/// Sets a path's access and modification times without following a symlink.
fn set_times(path: &Path, secs: i64) -> Result<(), ApplyError> {
    let t = timestamp(secs);
    let times = Timestamps {
        last_access: t,
        last_modification: t,
    };
    rustix::fs::utimensat(CWD, path, &times, AtFlags::SYMLINK_NOFOLLOW).map_err(|e| write_err(path)(e.into()))
}

fn timestamp(secs: i64) -> Timespec {
    Timespec {
        tv_sec: secs,
        tv_nsec: 0,
    }
}

fn libc_o_nofollow() -> i32 {
    rustix::fs::OFlags::NOFOLLOW.bits() as i32 | rustix::fs::OFlags::CLOEXEC.bits() as i32
}

#[cfg(test)]
#[path = "apply_tests.rs"]
mod tests;
