//! Docker-like random names (`brave_turing`).

use crate::fsutil::random_bytes;

const ADJECTIVES: &[&str] = &[
    "admiring",
    "bold",
    "brave",
    "clever",
    "compassionate",
    "dazzling",
    "eager",
    "elegant",
    "festive",
    "focused",
    "gallant",
    "happy",
    "hopeful",
    "jolly",
    "keen",
    "kind",
    "loving",
    "modest",
    "nifty",
    "peaceful",
    "quirky",
    "relaxed",
    "serene",
    "sharp",
    "stoic",
    "tender",
    "vibrant",
    "wizardly",
    "youthful",
    "zealous",
];

const SURNAMES: &[&str] = &[
    "albattani",
    "babbage",
    "bohr",
    "curie",
    "darwin",
    "dijkstra",
    "einstein",
    "euler",
    "feynman",
    "galileo",
    "hopper",
    "hypatia",
    "johnson",
    "kepler",
    "knuth",
    "lamport",
    "lovelace",
    "meitner",
    "newton",
    "noether",
    "pascal",
    "ritchie",
    "shannon",
    "thompson",
    "torvalds",
    "turing",
    "wilson",
    "wozniak",
    "yalow",
    "zhukovsky",
];

/// A random `adjective_surname` name; `attempt` > 0 appends a digit, as Docker does
/// after a collision.
pub fn random_name(attempt: u32) -> String {
    let mut b = [0u8; 2];
    random_bytes(&mut b);
    let a = ADJECTIVES[b[0] as usize % ADJECTIVES.len()];
    let s = SURNAMES[b[1] as usize % SURNAMES.len()];
    if attempt == 0 {
        format!("{a}_{s}")
    } else {
        format!("{a}_{s}{}", b[0] % 10)
    }
}

/// Checks a user-given name as Docker does: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
/// The longest name tug takes (names are file names in the store).
pub const MAX_NAME_LEN: usize = 200;

pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && name.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_dockers_rule() {
        assert!(valid_name(&random_name(0)));
        assert!(valid_name("web-1.a_b"));
        assert!(!valid_name("-x"));
        assert!(!valid_name("a"));
        assert!(!valid_name("a/b"));
    }
}
