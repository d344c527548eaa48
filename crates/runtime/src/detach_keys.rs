//! The key sequence that detaches a terminal from a container and leaves it running
//! (Docker's `--detach-keys`, `ctrl-p,ctrl-q` by default): parsed from Docker's
//! notation, and matched in the input stream as it is read.

use crate::error::{Result, RuntimeError};

pub const DEFAULT: &str = "ctrl-p,ctrl-q";

/// A parsed sequence, as the bytes a terminal sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetachKeys(Vec<u8>);

impl DetachKeys {
    /// `ctrl-p,ctrl-q`: comma-separated keys, each a single character or `ctrl-` and one
    /// of a-z @ [ \ ] ^ _.
    pub fn parse(spec: &str) -> Result<DetachKeys> {
        let invalid = |why: &str| {
            RuntimeError::Invalid(format!(
                "invalid detach keys {spec:?}: {why} (expected e.g. {DEFAULT} or a,ctrl-b)"
            ))
        };
        let mut bytes = Vec::new();
        for key in spec.split(',') {
            let byte = match key.strip_prefix("ctrl-") {
                Some(c) if c.len() == 1 => match c.as_bytes()[0] {
                    b @ b'a'..=b'z' => b - b'a' + 1,
                    b @ (b'@' | b'[' | b'\\' | b']' | b'^' | b'_') => b - b'@',
                    _ => return Err(invalid(&format!("{key:?} is no control key"))),
                },
                Some(_) => return Err(invalid(&format!("{key:?} is no control key"))),
                None if key.len() == 1 => key.as_bytes()[0],
                None => return Err(invalid(&format!("{key:?} is not one key"))),
            };
            bytes.push(byte);
        }
        Ok(DetachKeys(bytes))
    }

    pub fn matcher(&self) -> Matcher<'_> {
        Matcher {
            keys: &self.0,
            matched: 0,
        }
    }
}

/// Watches input for the sequence. Bytes that could begin it are held back until the
/// next key decides: the whole sequence detaches, anything else sends them after all.
pub struct Matcher<'k> {
    keys: &'k [u8],
    matched: usize,
}

/// What to do with a chunk of input.
#[derive(Debug, PartialEq, Eq)]
pub enum Input {
    /// Send these bytes on (possibly none, while a prefix is held back).
    Forward(Vec<u8>),
    /// The sequence was typed: send these bytes first, then detach.
    Detach(Vec<u8>),
}

impl Matcher<'_> {
    pub fn feed(&mut self, chunk: &[u8]) -> Input {
        let mut out = Vec::with_capacity(chunk.len());
        for &b in chunk {
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    self.matched = 0;
                    return Input::Detach(out);
                }
                continue;
            }
            // A broken prefix goes out as typed; the key that broke it may start a new one.
            out.extend_from_slice(&self.keys[..self.matched]);
            self.matched = 0;
            if b == self.keys[0] {
                self.matched = 1;
                if self.keys.len() == 1 {
                    self.matched = 0;
                    return Input::Detach(out);
                }
            } else {
                out.push(b);
            }
        }
        Input::Forward(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockers_notation_parses_to_terminal_bytes() {
        assert_eq!(DetachKeys::parse(DEFAULT).unwrap().0, vec![0x10, 0x11]);
        assert_eq!(
            DetachKeys::parse("a,ctrl-@,ctrl-_,ctrl-\\").unwrap().0,
            vec![b'a', 0, 31, 28]
        );
        for bad in ["", "ctrl-", "ctrl-1", "ctrl-ab", "ab", "ctrl-p,,ctrl-q", "alt-x"] {
            let e = DetachKeys::parse(bad).unwrap_err().to_string();
            assert!(e.contains("invalid detach keys"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn the_sequence_detaches_and_anything_else_is_sent_as_typed() {
        let keys = DetachKeys::parse(DEFAULT).unwrap();
        let mut m = keys.matcher();
        assert_eq!(m.feed(b"ls\r"), Input::Forward(b"ls\r".to_vec()));
        // ctrl-p alone is held back; a key that is not ctrl-q sends both.
        assert_eq!(m.feed(&[0x10]), Input::Forward(vec![]));
        assert_eq!(m.feed(b"x"), Input::Forward(vec![0x10, b'x']));
        // ctrl-p ctrl-p: the first goes out, the second may still start the sequence.
        assert_eq!(m.feed(&[0x10, 0x10]), Input::Forward(vec![0x10]));
        assert_eq!(m.feed(&[0x11]), Input::Detach(vec![]));
        // Split across reads, with input before it.
        let mut m = keys.matcher();
        assert_eq!(m.feed(b"echo hi\r\x10"), Input::Forward(b"echo hi\r".to_vec()));
        assert_eq!(m.feed(b"\x11never sent"), Input::Detach(vec![]));
        let single = DetachKeys::parse("ctrl-a").unwrap();
        assert_eq!(single.matcher().feed(b"ab\x01c"), Input::Detach(b"ab".to_vec()));
    }
}
