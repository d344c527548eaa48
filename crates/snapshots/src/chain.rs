//! ChainIDs: the identity of a layer *with* everything beneath it (OCI image spec,
//! "Layer ChainID"): `ChainID(L0) = DiffID(L0)`,
//! `ChainID(L0|…|Ln) = sha256(ChainID(L0|…|Ln-1) + " " + DiffID(Ln))`.

use oci_spec::image::Digest;
use sha2::{Digest as _, Sha256};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChainId(String);

impl ChainId {
    pub fn parse(s: &str) -> Result<Self, String> {
        Digest::try_from(s).map_err(|e| e.to_string())?;
        Ok(ChainId(s.to_string()))
    }

    pub fn digest(&self) -> Digest {
        Digest::try_from(self.0.as_str()).expect("ChainId holds a valid digest")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The ChainID of every prefix of a layer stack, given its DiffIDs bottom first.
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<ChainId> {
    let mut out: Vec<ChainId> = Vec::with_capacity(diff_ids.len());
    for diff in diff_ids {
        let next = match out.last() {
            None => diff.to_string(),
            Some(parent) => {
                let hash = Sha256::digest(format!("{parent} {diff}").as_bytes());
                format!("sha256:{}", hex::encode(hash))
            }
        };
        out.push(ChainId(next));
    }
    out
}
