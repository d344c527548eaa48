//! Docker-style random names (`adjective_surname`) for containers created without one.

const ADJECTIVES: &[&str] = &[
    "admiring",
    "brave",
    "clever",
    "dazzling",
    "eager",
    "festive",
    "gifted",
    "happy",
    "jolly",
    "keen",
    "loving",
    "modest",
    "nifty",
    "optimistic",
    "peaceful",
    "quirky",
    "relaxed",
    "serene",
    "tender",
    "upbeat",
    "vibrant",
    "wizardly",
    "youthful",
    "zealous",
];
const SURNAMES: &[&str] = &[
    "babbage",
    "curie",
    "dijkstra",
    "euler",
    "feynman",
    "goldberg",
    "hopper",
    "italiani",
    "jennings",
    "knuth",
    "lovelace",
    "meitner",
    "noether",
    "ostrom",
    "pascal",
    "ritchie",
    "shannon",
    "thompson",
    "turing",
    "villani",
    "wozniak",
    "yalow",
    "zhukovsky",
];

/// A drawn name for the `attempt`-th try (from 0) to name container `id`, as Docker
/// draws them: `adjective_surname`, with a digit appended after the first try; then the
/// container's short ID, then longer random suffixes, and finally the whole ID, which
/// no other container has: a taken name is drawn again, never reported.
pub fn drawn_name(attempt: u32, id: &str) -> String {
    let a = ADJECTIVES[rand::random_range(0..ADJECTIVES.len())];
    let s = SURNAMES[rand::random_range(0..SURNAMES.len())];
    match attempt {
        0 => format!("{a}_{s}"),
        1..6 => format!("{a}_{s}{}", rand::random_range(0..10)),
        6 => id.chars().take(12).collect(),
        7..50 => format!("{a}_{s}{}", rand::random::<u32>()),
        _ => id.to_string(),
    }
}

/// Docker's rule for names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() >= 2
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}
