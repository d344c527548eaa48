//! What the command line takes from its caller's environment on the library's behalf:
//! the library never reads the environment (a long-lived service calls it too).

/// `-e NAME` entries with the caller's value filled in, as Docker's CLI does: `NAME`
/// set in the environment becomes `NAME=value`; unset, it stays a bare `NAME`, which
/// the library reads as "unset it".
pub fn with_caller_values(entries: &[String]) -> Vec<String> {
    entries
        .iter()
        .map(|e| match (e.contains('='), std::env::var(e)) {
            (false, Ok(value)) => format!("{e}={value}"),
            _ => e.clone(),
        })
        .collect()
}
