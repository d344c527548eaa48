//! Tar-split: a layer tar kept as its headers and padding only, with file contents read
//! back from the unpacked layer. Docker keeps uncompressed layers this way (its
//! `tar-split`), so a layer is stored once on disk yet can be re-sent byte for byte;
//! a reassembled stream is checked against the layer's digest as it is read.
//!
//! File format: the magic line, then records: `R` u64 length + raw bytes, or `F` u32
//! path length + path (relative to the layer root) + u64 size.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

const MAGIC: &[u8] = b"STRATA-TAR-SPLIT 1\n";

/// Records a tar stream's non-file bytes as they are read, and where file data goes.
pub struct SplitWriter {
    out: BufWriter<File>,
    pending: Vec<u8>,
}

impl SplitWriter {
    pub fn create(path: &Path) -> io::Result<Self> {
        let mut out = BufWriter::with_capacity(256 << 10, File::create(path)?);
        out.write_all(MAGIC)?;
        Ok(SplitWriter {
            out,
            pending: Vec::new(),
        })
    }

    /// Bytes of the stream that are not file contents (headers, padding, trailers).
    pub fn raw(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
    }

    fn flush_raw(&mut self) -> io::Result<()> {
        if !self.pending.is_empty() {
            self.out.write_all(b"R")?;
            self.out.write_all(&(self.pending.len() as u64).to_le_bytes())?;
            self.out.write_all(&self.pending)?;
            self.pending.clear();
        }
        Ok(())
    }

    /// The next `size` bytes of the stream are the contents of `path` in the layer.
    pub fn file(&mut self, path: &Path, size: u64) -> io::Result<()> {
        self.flush_raw()?;
        let p = path.as_os_str().as_encoded_bytes();
        self.out.write_all(b"F")?;
        self.out.write_all(&(p.len() as u32).to_le_bytes())?;
        self.out.write_all(p)?;
        self.out.write_all(&size.to_le_bytes())
    }

    /// Writes the rest and makes the file durable.
    pub fn finish(mut self) -> io::Result<()> {
        self.flush_raw()?;
        let file = self.out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()
    }
}

enum Segment {
    Raw(u64),
    File(BufReader<File>, u64),
}

/// Reassembles the tar stream of a layer from its split file and unpacked root.
pub struct SplitReader {
    split: BufReader<File>,
    root: PathBuf,
    current: Option<Segment>,
}

fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

impl SplitReader {
    pub fn open(split: &Path, root: &Path) -> io::Result<Self> {
        let mut reader = BufReader::new(File::open(split)?);
        let mut magic = vec![0u8; MAGIC.len()];
        reader.read_exact(&mut magic)?;
        if magic != MAGIC {
            return Err(bad(format!("{} is not a tar-split file", split.display())));
        }
        Ok(SplitReader {
            split: reader,
            root: root.to_path_buf(),
            current: None,
        })
    }

    fn next_segment(&mut self) -> io::Result<Option<Segment>> {
        let mut tag = [0u8; 1];
        if self.split.read(&mut tag)? == 0 {
            return Ok(None);
        }
        match tag[0] {
            b'R' => {
                let mut len = [0u8; 8];
                self.split.read_exact(&mut len)?;
                Ok(Some(Segment::Raw(u64::from_le_bytes(len))))
            }
            b'F' => {
                let mut len = [0u8; 4];
                self.split.read_exact(&mut len)?;
                let mut path = vec![0u8; u32::from_le_bytes(len) as usize];
                self.split.read_exact(&mut path)?;
                let mut size = [0u8; 8];
                self.split.read_exact(&mut size)?;
                let size = u64::from_le_bytes(size);
                // SAFETY of the path: it was written by us from a normalized entry name;
                // O_NOFOLLOW keeps a swapped-in symlink from redirecting the read.
                // The name's bytes as they are: a name that is not UTF-8 is still a name.
                let rel = PathBuf::from(std::ffi::OsString::from_vec(path));
                if rel.is_absolute() || rel.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
                    return Err(bad(format!("tar-split names an unsafe path {}", rel.display())));
                }
                let full = self.root.join(&rel);
                let file = File::options().read(true).custom_flags(libc_o_nofollow()).open(&full)?;
                if file.metadata()?.len() != size {
                    return Err(bad(format!("{} changed size since it was unpacked", full.display())));
                }
                Ok(Some(Segment::File(BufReader::with_capacity(1 << 20, file), size)))
            }
            other => Err(bad(format!("corrupt tar-split record {other:#x}"))),
        }
    }
}

fn libc_o_nofollow() -> i32 {
    rustix::fs::OFlags::NOFOLLOW.bits() as i32
}

impl Read for SplitReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.current.is_none() {
                self.current = self.next_segment()?;
                if self.current.is_none() {
                    return Ok(0);
                }
            }
            let n = match self.current.as_mut().expect("segment") {
                Segment::Raw(left) => {
                    let want = (*left).min(buf.len() as u64) as usize;
                    let n = self.split.read(&mut buf[..want])?;
                    if n == 0 && want > 0 {
                        return Err(bad("tar-split ends early".into()));
                    }
                    *left -= n as u64;
                    n
                }
                Segment::File(file, left) => {
                    let want = (*left).min(buf.len() as u64) as usize;
                    let n = file.read(&mut buf[..want])?;
                    if n == 0 && want > 0 {
                        return Err(bad("a layer file ends early".into()));
                    }
                    *left -= n as u64;
                    n
                }
            };
            let done = matches!(self.current, Some(Segment::Raw(0)) | Some(Segment::File(_, 0)));
            if done {
                self.current = None;
            }
            if n > 0 {
                return Ok(n);
            }
        }
    }
}
