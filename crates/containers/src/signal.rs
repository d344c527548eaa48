//! Signal names as Docker takes them (`SIGTERM`, `TERM`, `term` or `15`), for
//! `STOPSIGNAL`, `--stop-signal`, `kill -s`.

use nix::sys::signal::Signal;

/// Parses a signal given by name (with or without `SIG`, any case) or number.
pub fn parse(s: &str) -> Option<Signal> {
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).ok();
    }
    let upper = s.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse::<Signal>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_numbers_and_nonsense() {
        assert_eq!(parse("SIGINT"), Some(Signal::SIGINT));
        assert_eq!(parse("quit"), Some(Signal::SIGQUIT));
        assert_eq!(parse("9"), Some(Signal::SIGKILL));
        assert_eq!(parse("SIGBOGUS"), None);
        assert_eq!(parse("0"), None);
        assert_eq!(parse("99"), None);
        assert_eq!(parse(""), None);
    }
}
