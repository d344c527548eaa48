//! `RUN <<EOF` whose body starts with a `#!` line: BuildKit writes the body to a file
//! and runs that file, so the kernel starts the interpreter the line names. strata
//! writes it into the step container's `/dev/shm` (a tmpfs every user may write to, so
//! a `USER` step can too; nothing of it reaches the layer) with the shell's own
//! `printf`, then runs the named interpreter on it as the kernel would: the image
//! needs no `mkdir` or `chmod`, and `/dev/shm` being `noexec` does not matter.

/// The shell text that runs heredoc `name`'s `body` through its `#!` interpreter; None
/// when the body has no `#!` line (the shell runs it itself).
pub(crate) fn shebang_script(name: &str, body: &str) -> Option<String> {
    let first = body.lines().next()?;
    let line = first.strip_prefix("#!")?.trim();
    // As the kernel reads it: the interpreter, then the rest of the line as one argument.
    let (interpreter, argument) = match line.split_once([' ', '\t']) {
        Some((i, a)) => (i, Some(a.trim()).filter(|a| !a.is_empty())),
        None => (line, None),
    };
    if interpreter.is_empty() {
        return None;
    }
    let file = format!("/dev/shm/.heredoc-{name}");
    let mut run = format!("exec {}", quote(interpreter));
    if let Some(a) = argument {
        run.push(' ');
        run.push_str(&quote(a));
    }
    Some(format!("printf '%s' {} > {file} && {run} {file}", quote(body)))
}

/// `text` as one single-quoted shell word.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::shebang_script;

    #[test]
    fn a_shebang_heredoc_runs_through_its_interpreter() {
        assert_eq!(
            shebang_script("EOF", "#!/usr/bin/awk -f\nBEGIN { print \"it's\" }\n").unwrap(),
            "printf '%s' '#!/usr/bin/awk -f\nBEGIN { print \"it'\\''s\" }\n' > /dev/shm/.heredoc-EOF && \
             exec '/usr/bin/awk' '-f' /dev/shm/.heredoc-EOF"
        );
        assert_eq!(
            shebang_script("S", "#!/bin/sh\necho hi\n").unwrap(),
            "printf '%s' '#!/bin/sh\necho hi\n' > /dev/shm/.heredoc-S && exec '/bin/sh' /dev/shm/.heredoc-S"
        );
        assert_eq!(shebang_script("EOF", "echo plain\n"), None);
        assert_eq!(shebang_script("EOF", "#!\necho\n"), None);
    }
}
