//! Dockerfile text to instructions: parser directives (`# syntax=`, `# escape=`), comments,
//! line continuations, and heredocs (`<<EOF`, `<<-EOF`, `<<"EOF"`, several per line).
//! Every instruction keeps the line it starts on, for errors.

use crate::error::{BuildError, Result};

pub const KEYWORDS: [&str; 18] = [
    "FROM",
    "RUN",
    "CMD",
    "LABEL",
    "MAINTAINER",
    "EXPOSE",
    "ENV",
    "ADD",
    "COPY",
    "ENTRYPOINT",
    "VOLUME",
    "USER",
    "WORKDIR",
    "ARG",
    "ONBUILD",
    "STOPSIGNAL",
    "HEALTHCHECK",
    "SHELL",
];

/// A heredoc: `<<NAME` on the instruction line, its body on the lines after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    pub name: String,
    pub body: String,
    /// False when the delimiter was quoted: the body is taken literally.
    pub expand: bool,
}

/// One instruction as written, continuations joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawInstruction {
    /// The line it starts on (1-based).
    pub line: usize,
    /// Upper case: `RUN`.
    pub keyword: String,
    /// Everything after the keyword, trimmed.
    pub rest: String,
    pub heredocs: Vec<Heredoc>,
}

impl RawInstruction {
    /// As Docker prints it in `Step N/M : …`.
    pub fn text(&self) -> String {
        format!("{} {}", self.keyword, self.rest)
    }
}

#[derive(Debug, Clone)]
pub struct Dockerfile {
    pub file: String,
    pub escape: char,
    pub syntax: Option<String>,
    pub instructions: Vec<RawInstruction>,
}

fn syntax_error(file: &str, line: usize, message: impl Into<String>) -> BuildError {
    BuildError::Syntax {
        file: file.to_string(),
        line,
        message: message.into(),
    }
}

/// Parses Dockerfile `text`; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Dockerfile> {
    let lines: Vec<&str> = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).collect();
    let (escape, syntax, mut i) = directives(&lines, file)?;
    let mut instructions = Vec::new();
    while i < lines.len() {
        let trimmed = lines[i].trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            i += 1;
            continue;
        }
        let start = i;
        let mut joined = String::new();
        let mut current = lines[i].trim_start().to_string();
        i += 1;
        loop {
            let body = current.trim_end();
            match body.strip_suffix(escape) {
                Some(head) => {
                    joined.push_str(head);
                    // The next line that is not a comment or blank continues this one.
                    while i < lines.len() && (lines[i].trim().is_empty() || lines[i].trim_start().starts_with('#')) {
                        i += 1;
                    }
                    if i == lines.len() {
                        break;
                    }
                    current = lines[i].to_string();
                    i += 1;
                }
                None => {
                    joined.push_str(&current);
                    break;
                }
            }
        }
        let (keyword, rest) = match joined.trim().split_once(char::is_whitespace) {
            Some((k, r)) => (k.to_ascii_uppercase(), r.trim().to_string()),
            None => (joined.trim().to_ascii_uppercase(), String::new()),
        };
        if !KEYWORDS.contains(&keyword.as_str()) {
            return Err(syntax_error(file, start + 1, format!("unknown instruction: {keyword}")));
        }
        let mut heredocs = Vec::new();
        if matches!(keyword.as_str(), "RUN" | "COPY" | "ADD") && !rest.starts_with('[') {
            for (name, strip_tabs, expand) in heredoc_markers(&rest) {
                let mut body = String::new();
                loop {
                    let Some(line) = lines.get(i) else {
                        return Err(syntax_error(
                            file,
                            start + 1,
                            format!("unterminated heredoc <<{name}: no line \"{name}\" ends it"),
                        ));
                    };
                    i += 1;
                    let line = if strip_tabs {
                        line.trim_start_matches('\t')
                    } else {
                        line
                    };
                    if line == name {
                        break;
                    }
                    body.push_str(line);
                    body.push('\n');
                }
                heredocs.push(Heredoc { name, body, expand });
            }
        }
        instructions.push(RawInstruction {
            line: start + 1,
            keyword,
            rest,
            heredocs,
        });
    }
    Ok(Dockerfile {
        file: file.to_string(),
        escape,
        syntax,
        instructions,
    })
}

/// Parser directives at the top of the file; returns (escape, syntax, first other line).
fn directives(lines: &[&str], file: &str) -> Result<(char, Option<String>, usize)> {
    let (mut escape, mut syntax) = (None, None);
    for (i, line) in lines.iter().enumerate() {
        let Some(comment) = line.trim().strip_prefix('#') else {
            return Ok((escape.unwrap_or('\\'), syntax, i));
        };
        let Some((key, value)) = comment.split_once('=') else {
            return Ok((escape.unwrap_or('\\'), syntax, i));
        };
        let (key, value) = (key.trim().to_ascii_lowercase(), value.trim());
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Ok((escape.unwrap_or('\\'), syntax, i));
        }
        match key.as_str() {
            "escape" => {
                if escape.is_some() {
                    return Err(syntax_error(
                        file,
                        i + 1,
                        "only one escape parser directive can be used",
                    ));
                }
                escape = Some(match value {
                    "\\" => '\\',
                    "`" => '`',
                    other => {
                        return Err(syntax_error(
                            file,
                            i + 1,
                            format!("invalid escape token {other:?}: must be ` or \\"),
                        ))
                    }
                });
            }
            "syntax" => {
                check_frontend(value).map_err(|why| syntax_error(file, i + 1, why))?;
                syntax = Some(value.to_string());
            }
            // `# check=` (BuildKit's build checks) and unknown directives are comments.
            _ => {}
        }
    }
    Ok((escape.unwrap_or('\\'), syntax, lines.len()))
}

/// `# syntax=`: BuildKit's Dockerfile frontend, `docker/dockerfile` with a `1`, `1.N`
/// or `1.N.M` tag (`-labs` too, a digest too, `docker.io/` or not), is strata's own
/// parser; any other frontend image is refused.
fn check_frontend(value: &str) -> std::result::Result<(), String> {
    let name = value.split('@').next().unwrap_or_default();
    let name = name.strip_prefix("docker.io/").unwrap_or(name);
    let ours = match name.strip_prefix("docker/dockerfile") {
        Some("") => true,
        Some(tag) => tag.strip_prefix(':').is_some_and(|t| {
            let version = t.strip_suffix("-labs").unwrap_or(t);
            let parts: Vec<&str> = version.split('.').collect();
            parts.first() == Some(&"1")
                && parts.len() <= 3
                && parts
                    .iter()
                    .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        }),
        None => false,
    };
    match ours {
        true => Ok(()),
        false => Err(format!(
            "# syntax={value}: strata builds with its own Dockerfile frontend (BuildKit's \
             docker/dockerfile:1); another frontend image is not supported"
        )),
    }
}

/// The heredoc markers of an instruction line, in order: (name, strip tabs, expand).
fn heredoc_markers(rest: &str) -> Vec<(String, bool, bool)> {
    let mut out = Vec::new();
    let bytes: Vec<char> = rest.chars().collect();
    let mut i = 0;
    while i + 1 < bytes.len() {
        if bytes[i] == '<' && bytes[i + 1] == '<' && bytes.get(i + 2) != Some(&'<') && (i == 0 || bytes[i - 1] != '<') {
            let mut j = i + 2;
            let strip_tabs = bytes.get(j) == Some(&'-');
            if strip_tabs {
                j += 1;
            }
            let quote = bytes.get(j).copied().filter(|c| *c == '"' || *c == '\'');
            if quote.is_some() {
                j += 1;
            }
            let start = j;
            // A name is a word, as BuildKit reads it (`COPY <<robots.txt <<humans.txt /html/`
            // in its docs): up to a blank, a quote or a shell operator.
            while j < bytes.len() && !bytes[j].is_whitespace() && !"\"'<>|&;()".contains(bytes[j]) {
                j += 1;
            }
            let name: String = bytes[start..j].iter().collect();
            let closed = quote.is_none_or(|q| bytes.get(j) == Some(&q));
            if !name.is_empty() && closed {
                out.push((name, strip_tabs, quote.is_none()));
                i = j + usize::from(quote.is_some());
                continue;
            }
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_syntax_directive_names_buildkits_frontend_or_is_refused() {
        for ours in [
            "docker/dockerfile:1",
            "docker/dockerfile:1.7",
            "docker/dockerfile:1.7.1",
            "docker/dockerfile:1-labs",
            "docker/dockerfile:1.7-labs",
            "docker.io/docker/dockerfile:1",
            "docker/dockerfile",
            "docker/dockerfile:1@sha256:ac85f380a63b13dfcefa89046420e1781752bab202122f8f50032edf31be0021",
        ] {
            let text = format!("# syntax={ours}\n# check=skip=all\nFROM scratch\n");
            assert_eq!(parse(&text, "Dockerfile").unwrap().syntax.as_deref(), Some(ours));
        }
        for other in [
            "docker/dockerfile:2",
            "tonistiigi/dockerfile:x",
            "example.com/frontend:1",
            "docker/dockerfile:1.x",
        ] {
            let e = parse(&format!("# syntax={other}\nFROM scratch\n"), "Dockerfile")
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("another frontend image is not supported") && e.starts_with("Dockerfile:1:"),
                "{other}: {e}"
            );
        }
    }

    use super::*;

    fn one(text: &str) -> RawInstruction {
        let d = parse(text, "Dockerfile").unwrap();
        assert_eq!(d.instructions.len(), 1, "{:?}", d.instructions);
        d.instructions[0].clone()
    }

    #[test]
    fn continuations_comments_and_blank_lines() {
        let d = parse(
            "# a comment\n\nFROM scratch\nRUN echo a \\\n  # inside\n\n  b \\\n c\nrun lower\n",
            "Dockerfile",
        )
        .unwrap();
        let texts: Vec<(usize, String)> = d.instructions.iter().map(|i| (i.line, i.text())).collect();
        assert_eq!(
            texts,
            [
                (3, "FROM scratch".to_string()),
                (4, "RUN echo a   b  c".to_string()),
                (9, "RUN lower".to_string())
            ]
        );
    }

    #[test]
    fn directives_set_escape_and_stop_at_the_first_other_line() {
        let d = parse(
            "# syntax=docker/dockerfile:1\n# escape=`\nFROM scratch\nRUN a `\n b\n",
            "D",
        )
        .unwrap();
        assert_eq!(d.escape, '`');
        assert_eq!(d.syntax.as_deref(), Some("docker/dockerfile:1"));
        assert_eq!(d.instructions[1].rest, "a  b");
        let late = parse("FROM scratch\n# escape=`\nRUN a `\n", "D").unwrap();
        assert_eq!(late.escape, '\\', "a directive after an instruction is a comment");
        let err = parse("# escape=x\nFROM scratch\n", "D").unwrap_err().to_string();
        assert_eq!(err, "D:1: invalid escape token \"x\": must be ` or \\");
    }

    #[test]
    fn heredocs_several_per_line_quoted_and_tab_stripped() {
        let i = one("RUN <<A cat - <<-'B'\nline $X\nA\n\tliteral $Y\n\tB\n");
        assert_eq!(
            i.heredocs,
            [
                Heredoc {
                    name: "A".into(),
                    body: "line $X\n".into(),
                    expand: true
                },
                Heredoc {
                    name: "B".into(),
                    body: "literal $Y\n".into(),
                    expand: false
                },
            ]
        );
        let copy = one("COPY <<EOF /etc/motd\nhello\nEOF\n");
        assert_eq!(copy.heredocs[0].body, "hello\n");
        // Names are words: BuildKit's docs write files named by their heredocs.
        let files = one("COPY <<robots.txt <<humans-v2.txt /html/\nUser-agent: *\nrobots.txt\nus\nhumans-v2.txt\n");
        let names: Vec<&str> = files.heredocs.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["robots.txt", "humans-v2.txt"]);
        assert_eq!(files.heredocs[1].body, "us\n");
        assert_eq!(one("RUN cat <<EOF>out\nx\nEOF\n").heredocs[0].name, "EOF");
        assert!(one("RUN cat <<<\"herestring\"").heredocs.is_empty());
        assert!(one("RUN [\"sh\", \"-c\", \"x <<EOF\"]").heredocs.is_empty());
    }

    #[test]
    fn malformed_input_is_reported_with_file_and_line() {
        let cases = [
            ("FROM scratch\nFOO bar\n", "Dockerfile:2: unknown instruction: FOO"),
            (
                "FROM scratch\nRUN <<EOF\nnever ends\n",
                "Dockerfile:2: unterminated heredoc <<EOF: no line \"EOF\" ends it",
            ),
            (
                "# escape=\\\n# escape=`\nFROM scratch\n",
                "Dockerfile:2: only one escape parser directive can be used",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text, "Dockerfile").unwrap_err().to_string(), want);
        }
    }
}
