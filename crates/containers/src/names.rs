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

pub fn random_name() -> String {
    let a = ADJECTIVES[rand::random_range(0..ADJECTIVES.len())];
    let s = SURNAMES[rand::random_range(0..SURNAMES.len())];
    format!("{a}_{s}")
}

/// Docker's rule for names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() >= 2
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}
