//! `COPY --chmod` / `ADD --chmod`: octal (`755`) or, as BuildKit's Dockerfile frontend
//! takes since 1.14, chmod(1)'s symbolic notation (`+x`, `u=rwX,go=rX`, `g=u`).

/// A parsed `--chmod` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chmod {
    Octal(u32),
    Symbolic(Vec<Clause>),
}

/// One comma-separated clause of a symbolic mode: who, then operations in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    /// A mask of the bits `u`, `g`, `o` name (rwx in each class); 0 means `a`.
    who: u32,
    ops: Vec<(char, Perms)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Perms {
    /// `rwxXst` letters.
    Letters(String),
    /// `u`, `g` or `o`: copy that class's current bits.
    Copy(char),
}

const CLASS_U: u32 = 0o4700;
const CLASS_G: u32 = 0o2070;
const CLASS_O: u32 = 0o1007;

impl Chmod {
    pub fn parse(text: &str) -> Result<Self, String> {
        let expected =
            || format!("--chmod={text}: expected an octal mode (755) or a symbolic one such as +x or u=rwX,go=rX");
        if !text.is_empty() && text.chars().all(|c| c.is_ascii_digit()) {
            return u32::from_str_radix(text, 8)
                .ok()
                .filter(|m| *m <= 0o7777)
                .map(Chmod::Octal)
                .ok_or_else(expected);
        }
        let mut clauses = Vec::new();
        for part in text.split(',') {
            let mut chars = part.chars().peekable();
            let mut who = 0;
            while let Some(&c) = chars.peek() {
                who |= match c {
                    'u' => CLASS_U,
                    'g' => CLASS_G,
                    'o' => CLASS_O,
                    'a' => CLASS_U | CLASS_G | CLASS_O,
                    _ => break,
                };
                chars.next();
            }
            let mut ops = Vec::new();
            while let Some(op) = chars.next() {
                if !matches!(op, '+' | '-' | '=') {
                    return Err(expected());
                }
                let mut letters = String::new();
                let mut copy = None;
                while let Some(&c) = chars.peek() {
                    match c {
                        'r' | 'w' | 'x' | 'X' | 's' | 't' if copy.is_none() => letters.push(c),
                        'u' | 'g' | 'o' if letters.is_empty() && copy.is_none() => copy = Some(c),
                        '+' | '-' | '=' => break,
                        _ => return Err(expected()),
                    }
                    chars.next();
                }
                ops.push((op, copy.map_or(Perms::Letters(letters), Perms::Copy)));
            }
            if ops.is_empty() {
                return Err(expected());
            }
            clauses.push(Clause { who, ops });
        }
        Ok(Chmod::Symbolic(clauses))
    }

    /// The permission bits for an entry whose own bits are `current`. Without a class
    /// (`+x`) a clause means `a`: no umask applies, a build has none of its own.
    pub fn apply(&self, current: u32, is_dir: bool) -> u32 {
        let clauses = match self {
            Chmod::Octal(mode) => return *mode,
            Chmod::Symbolic(clauses) => clauses,
        };
        let mut mode = current & 0o7777;
        for clause in clauses {
            let who = if clause.who == 0 {
                CLASS_U | CLASS_G | CLASS_O
            } else {
                clause.who
            };
            for (op, perms) in &clause.ops {
                let bits = match perms {
                    Perms::Letters(letters) => {
                        let mut bits = 0;
                        for c in letters.chars() {
                            bits |= match c {
                                'r' => 0o444,
                                'w' => 0o222,
                                'x' => 0o111,
                                'X' if is_dir || mode & 0o111 != 0 => 0o111,
                                's' => 0o6000,
                                't' => 0o1000,
                                _ => 0,
                            };
                        }
                        bits
                    }
                    Perms::Copy(class) => {
                        let rwx = match class {
                            'u' => (mode >> 6) & 7,
                            'g' => (mode >> 3) & 7,
                            _ => mode & 7,
                        };
                        rwx * 0o111
                    }
                };
                let bits = bits & who;
                match op {
                    '+' => mode |= bits,
                    '-' => mode &= !bits,
                    _ => mode = (mode & !(who & 0o777) & !(who & 0o7000)) | bits,
                }
            }
        }
        mode
    }
}

#[cfg(test)]
mod tests {
    use super::Chmod;

    fn apply(spec: &str, current: u32, is_dir: bool) -> u32 {
        Chmod::parse(spec).unwrap().apply(current, is_dir)
    }

    #[test]
    fn octal_modes_replace_the_bits() {
        assert_eq!(apply("755", 0o600, false), 0o755);
        assert_eq!(apply("0640", 0o777, true), 0o640);
        assert!(Chmod::parse("8").is_err());
        assert!(Chmod::parse("17777").is_err());
    }

    #[test]
    fn symbolic_modes_follow_chmod_1() {
        assert_eq!(apply("+x", 0o644, false), 0o755);
        assert_eq!(apply("u+x", 0o644, false), 0o744);
        assert_eq!(apply("go-w", 0o666, false), 0o644);
        assert_eq!(apply("a=r", 0o755, false), 0o444);
        assert_eq!(apply("u=rwX,go=rX", 0o600, false), 0o644);
        assert_eq!(apply("u=rwX,go=rX", 0o700, false), 0o755);
        assert_eq!(apply("u=rwX,go=rX", 0o600, true), 0o755);
        assert_eq!(apply("g=u", 0o640, false), 0o660);
        assert_eq!(apply("u+s", 0o755, false), 0o4755);
        assert_eq!(apply("+t", 0o777, true), 0o1777);
        assert_eq!(apply("u+x,g-r", 0o644, false), 0o704);
    }

    #[test]
    fn malformed_modes_are_refused_with_the_forms_named() {
        for bad in ["", "x", "u", "u+q", "+x,", "u=g+x"] {
            let e = Chmod::parse(bad);
            if bad == "u=g+x" {
                // chmod(1) takes `u=g+x` (a copy, then an operation): so do we.
                assert!(e.is_ok(), "{bad}");
                continue;
            }
            assert!(e.unwrap_err().contains("octal mode"), "{bad}");
        }
    }
}
