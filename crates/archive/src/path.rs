//! Tar entry names, normalized and checked before anything touches the filesystem.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// Linux limits: a name component (NAME_MAX) and a whole path (PATH_MAX).
const NAME_MAX: usize = 255;
const PATH_MAX: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathProblem {
    #[error("it has a \"..\" component; entries must stay inside the layer root")]
    DotDot,
    #[error("it is an absolute path; layer entries must be relative to the layer root")]
    Absolute,
    #[error("name too long: a component of {0} bytes (limit 255)")]
    ComponentTooLong(usize),
    #[error("name too long: {0} bytes (limit 4096)")]
    PathTooLong(usize),
}

/// Turns a tar entry name into a relative path with no `.`, `..` or empty components.
/// The layer root itself (`./`, `.`) becomes the empty path.
pub fn normalize(raw: &[u8]) -> Result<PathBuf, PathProblem> {
    if raw.first() == Some(&b'/') {
        return Err(PathProblem::Absolute);
    }
    if raw.len() > PATH_MAX {
        return Err(PathProblem::PathTooLong(raw.len()));
    }
    let mut out = PathBuf::new();
    for component in raw.split(|b| *b == b'/') {
        match component {
            b"" | b"." => {}
            b".." => return Err(PathProblem::DotDot),
            c if c.len() > NAME_MAX => return Err(PathProblem::ComponentTooLong(c.len())),
            c => out.push(OsStr::from_bytes(c)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_table() {
        let ok: &[(&[u8], &str)] = &[
            (b"./", ""),
            (b".", ""),
            (b"./etc/passwd", "etc/passwd"),
            (b"etc//hosts", "etc/hosts"),
            (b"bin/", "bin"),
            (b"a/./b", "a/b"),
        ];
        for (raw, want) in ok {
            assert_eq!(normalize(raw).unwrap(), PathBuf::from(want), "{raw:?}");
        }
        let bad: &[(&[u8], PathProblem)] = &[
            (b"../evil", PathProblem::DotDot),
            (b"a/../../evil", PathProblem::DotDot),
            (b"./..", PathProblem::DotDot),
            (b"/etc/passwd", PathProblem::Absolute),
        ];
        for (raw, want) in bad {
            assert_eq!(&normalize(raw).unwrap_err(), want, "{raw:?}");
        }
        assert!(matches!(
            normalize(&[b'a'; 256]),
            Err(PathProblem::ComponentTooLong(256))
        ));
        let long = [b"abc/".as_slice(); 1100].concat();
        assert!(matches!(normalize(&long), Err(PathProblem::PathTooLong(_))));
    }
}
