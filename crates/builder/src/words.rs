//! Docker's word rules for instruction arguments: quotes (`"…"` expands variables,
//! `'…'` does not), the escape character, and variable substitution (`$VAR`, `${VAR}`,
//! `${VAR:-word}`, `${VAR-word}`, `${VAR:+word}`, `${VAR+word}`, `${VAR:?message}`).

use std::collections::BTreeMap;

/// Variables visible to a step (build args and ENV), in order of definition.
pub type Vars = BTreeMap<String, String>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WordError(pub String);

/// How deeply `${…}` may nest inside another's word: far beyond any real Dockerfile, and
/// well within the stack (each level is a few recursive calls).
pub const MAX_NESTING: usize = 64;

struct Lexer<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    escape: char,
    vars: &'a Vars,
    /// Substitutions open around the current position.
    depth: usize,
}

/// Splits `input` into words, removing quotes and expanding variables.
pub fn split(input: &str, escape: char, vars: &Vars) -> Result<Vec<String>, WordError> {
    Lexer::new(input, escape, vars).words(true)
}

/// Processes `input` as one word: quotes removed, variables expanded, spaces kept.
pub fn expand(input: &str, escape: char, vars: &Vars) -> Result<String, WordError> {
    Ok(Lexer::new(input, escape, vars).words(false)?.concat())
}

impl<'a> Lexer<'a> {
    fn new(input: &'a str, escape: char, vars: &'a Vars) -> Self {
        Lexer {
            chars: input.chars().peekable(),
            escape,
            vars,
            depth: 0,
        }
    }

    fn words(&mut self, split: bool) -> Result<Vec<String>, WordError> {
        let mut words = Vec::new();
        let mut current = String::new();
        let mut started = false;
        while let Some(c) = self.chars.next() {
            match c {
                c if split && c.is_whitespace() => {
                    if started {
                        words.push(std::mem::take(&mut current));
                        started = false;
                    }
                }
                '\'' => {
                    started = true;
                    self.single_quoted(&mut current)?;
                }
                '"' => {
                    started = true;
                    self.double_quoted(&mut current)?;
                }
                '$' => {
                    started = true;
                    current.push_str(&self.variable()?);
                }
                c if c == self.escape => {
                    started = true;
                    match self.chars.next() {
                        Some(next) => current.push(next),
                        None => current.push(c),
                    }
                }
                c => {
                    started = true;
                    current.push(c);
                }
            }
        }
        if started || !split {
            words.push(current);
        }
        Ok(words)
    }

    fn single_quoted(&mut self, out: &mut String) -> Result<(), WordError> {
        for c in self.chars.by_ref() {
            if c == '\'' {
                return Ok(());
            }
            out.push(c);
        }
        Err(WordError("unterminated single quote".into()))
    }

    fn double_quoted(&mut self, out: &mut String) -> Result<(), WordError> {
        while let Some(c) = self.chars.next() {
            match c {
                '"' => return Ok(()),
                '$' => out.push_str(&self.variable()?),
                c if c == self.escape => match self.chars.peek() {
                    Some(&n) if n == '"' || n == '$' || n == self.escape => {
                        out.push(n);
                        self.chars.next();
                    }
                    _ => out.push(c),
                },
                c => out.push(c),
            }
        }
        Err(WordError("unterminated double quote".into()))
    }

    /// After a `$`: a name, `{…}` form, or a lone `$`.
    fn variable(&mut self) -> Result<String, WordError> {
        match self.chars.peek() {
            Some('{') => {
                self.chars.next();
                if self.depth == MAX_NESTING {
                    return Err(WordError(format!(
                        "substitutions nested more than {MAX_NESTING} deep (\"${{…${{…\")"
                    )));
                }
                self.depth += 1;
                let value = self.braced();
                self.depth -= 1;
                value
            }
            Some(&c) if c.is_ascii_alphanumeric() || c == '_' => {
                let name = self.name();
                Ok(self.vars.get(&name).cloned().unwrap_or_default())
            }
            _ => Ok("$".into()),
        }
    }

    /// A variable name: letters, digits and `_`.
    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self.chars.next_if(|c| c.is_ascii_alphanumeric() || *c == '_') {
            name.push(c);
        }
        name
    }

    fn braced(&mut self) -> Result<String, WordError> {
        let name = self.name();
        if name.is_empty() {
            return Err(WordError("bad substitution: a variable name must follow \"${\"".into()));
        }
        let value = self.vars.get(&name);
        let op = match self.chars.next() {
            Some('}') => return Ok(value.cloned().unwrap_or_default()),
            Some(':') => match self.chars.next() {
                Some(c @ ('-' | '+' | '?')) => format!(":{c}"),
                _ => return Err(WordError(format!("bad substitution in ${{{name}…}}"))),
            },
            Some(c @ ('-' | '+' | '?')) => c.to_string(),
            _ => return Err(WordError(format!("bad substitution in ${{{name}…}}: missing \"}}\""))),
        };
        let word = self.until_brace(&name)?;
        let set = value.is_some();
        let non_empty = value.is_some_and(|v| !v.is_empty());
        Ok(match op.as_str() {
            ":-" => {
                if non_empty {
                    value.cloned().unwrap_or_default()
                } else {
                    word
                }
            }
            "-" => {
                if set {
                    value.cloned().unwrap_or_default()
                } else {
                    word
                }
            }
            ":+" => {
                if non_empty {
                    word
                } else {
                    String::new()
                }
            }
            "+" => {
                if set {
                    word
                } else {
                    String::new()
                }
            }
            _ => {
                let ok = if op == ":?" { non_empty } else { set };
                if !ok {
                    let message = if word.is_empty() {
                        "is not set".to_string()
                    } else {
                        word
                    };
                    return Err(WordError(format!("{name}: {message}")));
                }
                value.cloned().unwrap_or_default()
            }
        })
    }

    /// The word of `${NAME:-word}`, itself expanded, up to the matching `}`.
    fn until_brace(&mut self, name: &str) -> Result<String, WordError> {
        let mut out = String::new();
        while let Some(c) = self.chars.next() {
            match c {
                '}' => return Ok(out),
                '$' => out.push_str(&self.variable()?),
                '\'' => self.single_quoted(&mut out)?,
                '"' => self.double_quoted(&mut out)?,
                c if c == self.escape => out.extend(self.chars.next()),
                c => out.push(c),
            }
        }
        Err(WordError(format!("bad substitution in ${{{name}…}}: missing \"}}\"")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        [("A", "one"), ("EMPTY", ""), ("SP", "a b")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn substitution_table() {
        let v = vars();
        let cases = [
            ("$A", "one"),
            ("${A}x", "onex"),
            ("x$A-y", "xone-y"),
            ("$NOPE", ""),
            ("${NOPE:-def}", "def"),
            ("${EMPTY:-def}", "def"),
            ("${EMPTY-def}", ""),
            ("${NOPE-def}", "def"),
            ("${A:+set}", "set"),
            ("${EMPTY:+set}", ""),
            ("${EMPTY+set}", "set"),
            ("${NOPE:-$A}", "one"),
            ("\\$A", "$A"),
            ("'$A'", "$A"),
            ("\"$A\"", "one"),
            ("\"\\$A\"", "$A"),
            ("a$", "a$"),
            ("${SP}", "a b"),
        ];
        for (input, want) in cases {
            assert_eq!(expand(input, '\\', &v).unwrap(), want, "{input}");
        }
    }

    #[test]
    fn splitting_keeps_quoted_spaces() {
        let v = vars();
        assert_eq!(
            split("a \"b c\" 'd e' f\\ g", '\\', &v).unwrap(),
            ["a", "b c", "d e", "f g"]
        );
        assert_eq!(split("  ", '\\', &v).unwrap(), Vec::<String>::new());
        assert_eq!(
            split("$SP", '\\', &v).unwrap(),
            ["a b"],
            "expansions are not split again"
        );
        assert_eq!(split("x`$A", '`', &v).unwrap(), ["x$A"], "the escape directive applies");
    }

    #[test]
    fn malformed_substitutions_are_errors() {
        let v = vars();
        for bad in ["${", "${A", "${}", "${A:x}", "\"open", "'open", "${NOPE:?must be set}"] {
            assert!(expand(bad, '\\', &v).is_err(), "{bad}");
        }
        assert_eq!(
            expand("${NOPE:?must be set}", '\\', &v).unwrap_err().0,
            "NOPE: must be set"
        );
    }

    fn nested(depth: usize) -> String {
        format!("{}x{}", "${A:-".repeat(depth), "}".repeat(depth))
    }

    #[test]
    fn deeply_nested_substitutions_are_refused_not_a_stack_overflow() {
        let v = Vars::new();
        assert_eq!(expand(&nested(MAX_NESTING), '\\', &v).unwrap(), "x");
        let err = expand(&nested(MAX_NESTING + 1), '\\', &v).unwrap_err();
        assert!(err.0.contains("nested more than 64 deep"), "{}", err.0);
        // Far past the point where unbounded recursion overflowed the stack.
        assert!(expand(&nested(200_000), '\\', &v).is_err());
    }
}
