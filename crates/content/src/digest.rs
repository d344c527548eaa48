//! Digest algorithms the OCI image spec registers (sha256, sha512) and a streaming hasher.

use oci_spec::image::{Digest, DigestAlgorithm};
use sha2::{Digest as _, Sha256, Sha512};
use std::io;

#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error("unsupported digest algorithm {0:?}: strata verifies sha256 and sha512 only")]
    Unsupported(String),
    #[error("invalid digest {input:?}: {reason}")]
    Invalid { input: String, reason: String },
}

/// The digest algorithms strata can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Sha256,
    Sha512,
}

impl Algorithm {
    pub fn of(digest: &Digest) -> Result<Self, DigestError> {
        match digest.algorithm() {
            DigestAlgorithm::Sha256 => Ok(Algorithm::Sha256),
            DigestAlgorithm::Sha512 => Ok(Algorithm::Sha512),
            other => Err(DigestError::Unsupported(other.to_string())),
        }
    }
}

/// Parses a digest string, accepting only algorithms strata can verify.
pub fn parse(input: &str) -> Result<Digest, DigestError> {
    let digest = Digest::try_from(input).map_err(|e| DigestError::Invalid {
        input: input.to_string(),
        reason: e.to_string(),
    })?;
    Algorithm::of(&digest)?;
    Ok(digest)
}

/// A streaming hasher that produces an OCI [`Digest`]; write bytes into it.
#[derive(Clone)]
pub enum Hasher {
    Sha256(Sha256),
    Sha512(Sha512),
}

impl Hasher {
    pub fn new(alg: Algorithm) -> Self {
        match alg {
            Algorithm::Sha256 => Hasher::Sha256(Sha256::new()),
            Algorithm::Sha512 => Hasher::Sha512(Sha512::new()),
        }
    }

    pub fn sha256() -> Self {
        Hasher::new(Algorithm::Sha256)
    }

    /// A hasher of the same algorithm as `digest`.
    pub fn for_digest(digest: &Digest) -> Result<Self, DigestError> {
        Ok(Hasher::new(Algorithm::of(digest)?))
    }

    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
        }
    }

    pub fn finish(self) -> Digest {
        let text = match self {
            Hasher::Sha256(h) => format!("sha256:{}", hex::encode(h.finalize())),
            Hasher::Sha512(h) => format!("sha512:{}", hex::encode(h.finalize())),
        };
        Digest::try_from(text).expect("hex output of a registered algorithm is a valid digest")
    }
}

impl io::Write for Hasher {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// sha256 digest of a byte slice.
pub fn sha256(bytes: &[u8]) -> Digest {
    let mut h = Hasher::sha256();
    h.update(bytes);
    h.finish()
}
