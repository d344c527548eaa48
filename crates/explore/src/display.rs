//! Paths as text: a layer's names are bytes, maybe not UTF-8, maybe with newlines.
//! Invalid UTF-8 bytes are written `\xNN` and a backslash `\\`, so the text maps back
//! to exactly one name; JSON then escapes control characters (`\n`) itself, and
//! [`escape_controls`] does it for a terminal.

/// `bytes` as lossless text (see the module's comment).
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\\' {
                out.push_str("\\\\");
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// [`escape`], with control characters (`\n`, `\t`, ESC…) written `\n`, `\t`, `\u{1b}`
/// so a name cannot move a terminal's cursor or break a line.
pub fn escape_controls(bytes: &[u8]) -> String {
    controls_escaped(&escape(bytes))
}

/// `text` with its control characters written as [`escape_controls`] writes them: for
/// text already escaped (a report's path) or that never was a name (a layer's command).
pub fn controls_escaped(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_are_not_text_are_escaped_losslessly() {
        assert_eq!(escape(b"etc/passwd"), "etc/passwd");
        assert_eq!(escape(b"a\xffb"), "a\\xffb");
        assert_eq!(escape(b"back\\slash"), "back\\\\slash");
        assert_eq!(escape(b"new\nline"), "new\nline");
        assert_eq!(escape_controls(b"new\nline\x1b[2J"), "new\\nline\\u{1b}[2J");
    }
}
