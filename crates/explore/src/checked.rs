//! A stream hashed as it is read and checked against its digest once drained: the
//! analysis of a registry's blob or an archive's layer is given only when the bytes are
//! the ones named.

use crate::error::{ExploreError, Result};
use std::io::Read;
use strata_content::{Digest, Hasher};

pub(crate) struct Checked<R> {
    inner: R,
    hasher: Hasher,
    expected: Digest,
}

impl<R: Read> Checked<R> {
    pub fn new(inner: R, expected: &Digest) -> Result<Self> {
        Ok(Checked {
            inner,
            hasher: Hasher::for_digest(expected).map_err(|e| ExploreError::BadLayer(e.to_string()))?,
            expected: expected.clone(),
        })
    }

    /// Reads the rest (what follows a tar's end counts for its digest too) and compares;
    /// a mismatch is "`what` hashes to …: `reason`".
    pub fn finish(mut self, what: &str, reason: &str) -> Result<()> {
        std::io::copy(&mut self, &mut std::io::sink()).map_err(|e| ExploreError::io(format!("reading {what}"), e))?;
        let actual = self.hasher.finish();
        if actual != self.expected {
            return Err(ExploreError::BadLayer(format!("{what} hashes to {actual}: {reason}")));
        }
        Ok(())
    }
}

impl<R: Read> Read for Checked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}
