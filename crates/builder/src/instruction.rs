//! Raw instructions to typed ones: flags (`--from=`, `--chown=`, …) checked against what
//! each instruction accepts, exec (JSON) versus shell form. Variables are expanded later,
//! when the step runs and knows its ARG and ENV values.

use crate::error::{BuildError, Result};
use crate::parser::{Heredoc, RawInstruction};

/// A command in exec form (`["a", "b"]`) or shell form (`a b`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Exec(Vec<String>),
    Shell(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    pub line: usize,
    pub keyword: String,
    /// `--name=value` flags; `--name` alone has an empty value.
    pub flags: Vec<(String, String)>,
    /// Everything after the flags.
    pub args: String,
    /// The JSON array, when the arguments are one.
    pub json: Option<Vec<String>>,
    pub heredocs: Vec<Heredoc>,
    /// As written, for `Step N/M :` and history.
    pub text: String,
}

/// Flags each instruction takes, every one of them applied.
fn allowed_flags(keyword: &str) -> &'static [&'static str] {
    match keyword {
        "FROM" => &["platform"],
        "RUN" => &["network", "mount", "security"],
        "COPY" => &["from", "chown", "chmod", "link", "parents", "exclude"],
        "ADD" => &["chown", "chmod", "checksum", "link", "exclude", "unpack"],
        "HEALTHCHECK" => &["interval", "timeout", "start-period", "start-interval", "retries"],
        _ => &[],
    }
}

/// BuildKit's flags strata does not apply yet: refused by name, never dropped.
fn refused_flags(keyword: &str) -> &'static [&'static str] {
    match keyword {
        "ADD" => &["keep-git-dir"],
        _ => &[],
    }
}

impl Instruction {
    pub fn from_raw(raw: &RawInstruction, file: &str) -> Result<Self> {
        let err = |message: String| BuildError::Syntax {
            file: file.to_string(),
            line: raw.line,
            message,
        };
        let mut rest = raw.rest.as_str();
        let mut flags = Vec::new();
        while let Some(after) = rest.strip_prefix("--") {
            let end = after.find(char::is_whitespace).unwrap_or(after.len());
            let flag = &after[..end];
            let (name, value) = flag.split_once('=').unwrap_or((flag, ""));
            if refused_flags(&raw.keyword).contains(&name) {
                return Err(err(format!(
                    "{} --{name} is not supported by strata yet (BuildKit's Dockerfile frontend has it); \
                     leave it out",
                    raw.keyword
                )));
            }
            if !allowed_flags(&raw.keyword).contains(&name) {
                return Err(err(format!("{}: unknown flag: --{name}", raw.keyword)));
            }
            flags.push((name.to_string(), value.to_string()));
            rest = after[end..].trim_start();
        }
        let json = if rest.starts_with('[') {
            serde_json::from_str::<Vec<String>>(rest).ok()
        } else {
            None
        };
        let needs_args = !matches!(raw.keyword.as_str(), "CMD" | "ENTRYPOINT" | "SHELL" | "HEALTHCHECK");
        if needs_args && rest.is_empty() && raw.heredocs.is_empty() {
            return Err(err(format!("{} requires at least one argument", raw.keyword)));
        }
        Ok(Instruction {
            line: raw.line,
            keyword: raw.keyword.clone(),
            flags,
            args: rest.to_string(),
            json,
            heredocs: raw.heredocs.clone(),
            text: raw.text(),
        })
    }

    /// Every value of a flag given more than once (`RUN --mount=… --mount=…`).
    pub fn flags_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.flags
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn flag(&self, name: &str) -> Option<&str> {
        self.flags
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The arguments as a command (RUN, CMD, ENTRYPOINT).
    pub fn command(&self) -> Command {
        match &self.json {
            Some(argv) => Command::Exec(argv.clone()),
            None => Command::Shell(self.args.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::parse;

    fn instruction(text: &str) -> Result<Instruction> {
        let d = parse(text, "Dockerfile").unwrap();
        Instruction::from_raw(&d.instructions[0], "Dockerfile")
    }

    #[test]
    fn flags_and_forms() {
        let i = instruction("COPY --from=build --chown=1:2 a b /dst/").unwrap();
        assert_eq!(i.flag("from"), Some("build"));
        assert_eq!(i.flag("chown"), Some("1:2"));
        assert_eq!(i.args, "a b /dst/");
        let run = instruction("RUN [\"echo\", \"hi\"]").unwrap();
        assert_eq!(run.command(), Command::Exec(vec!["echo".into(), "hi".into()]));
        let shell = instruction("RUN [not json").unwrap();
        assert_eq!(shell.command(), Command::Shell("[not json".into()));
        assert_eq!(instruction("CMD").unwrap().args, "");
    }

    #[test]
    fn every_buildkit_flag_is_applied_or_refused_by_name() {
        // BuildKit's Dockerfile frontend's flags, instruction by instruction: each one
        // strata takes is applied (tests of the build show how), the others refused.
        let buildkit: &[(&str, &[&str])] = &[
            ("FROM", &["platform"]),
            ("RUN", &["mount", "network", "security"]),
            ("COPY", &["from", "chown", "chmod", "link", "parents", "exclude"]),
            (
                "ADD",
                &[
                    "chown",
                    "chmod",
                    "checksum",
                    "link",
                    "keep-git-dir",
                    "exclude",
                    "unpack",
                ],
            ),
            (
                "HEALTHCHECK",
                &["interval", "timeout", "start-period", "start-interval", "retries"],
            ),
        ];
        for (keyword, flags) in buildkit {
            for flag in *flags {
                let taken = allowed_flags(keyword).contains(flag);
                let refused = refused_flags(keyword).contains(flag);
                assert!(
                    taken != refused,
                    "{keyword} --{flag}: taken or refused, not both or neither"
                );
                if refused {
                    let e = instruction(&format!("{keyword} --{flag}=x a /b"))
                        .unwrap_err()
                        .to_string();
                    assert!(
                        e.contains(&format!("{keyword} --{flag} is not supported by strata yet")),
                        "{e}"
                    );
                }
            }
        }
    }

    #[test]
    fn unknown_flags_and_missing_arguments_name_the_line() {
        assert_eq!(
            instruction("COPY --form=x a b").unwrap_err().to_string(),
            "Dockerfile:1: COPY: unknown flag: --form"
        );
        assert_eq!(
            instruction("WORKDIR").unwrap_err().to_string(),
            "Dockerfile:1: WORKDIR requires at least one argument"
        );
    }
}
