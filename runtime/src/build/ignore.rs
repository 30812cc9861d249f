//! `.dockerignore`: which files of the build context the builder never sees, with Docker's
//! rules: one pattern a line, `#` comments, `!` exceptions, the last matching pattern
//! decides, a pattern that matches a directory excludes everything below it, `*` and `?`
//! stop at `/`, `**` crosses directories, `[a-z]` classes, `\` escapes. Patterns are
//! relative to the context root (a leading `/` is dropped) and cleaned (`a/../b` is `b`).

use super::glob::Glob;

/// The patterns of a `.dockerignore` file, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ignore {
    patterns: Vec<Pattern>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    text: String,
    exception: bool,
    glob: Glob,
}

impl Ignore {
    /// Reads a `.dockerignore` file's text.
    pub fn parse(text: &str) -> Ignore {
        let patterns = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|l| {
                let (exception, p) = match l.strip_prefix('!') {
                    Some(p) => (true, p.trim()),
                    None => (false, l),
                };
                let text = clean(p);
                (!text.is_empty()).then(|| Pattern {
                    glob: Glob::new(&text, true),
                    text,
                    exception,
                })
            })
            .collect();
        Ignore { patterns }
    }

    /// Whether the context path `rel` (relative, `/`-separated, no leading `/`) is left
    /// out of the build context.
    pub fn excludes(&self, rel: &str) -> bool {
        let rel = clean(rel);
        let parents: Vec<&str> = rel.match_indices('/').map(|(i, _)| &rel[..i]).collect();
        let mut excluded = false;
        for p in &self.patterns {
            // An exception matters only for what is excluded so far, and the other way.
            if p.exception != excluded {
                continue;
            }
            let hit = p.glob.matches(&rel) || parents.iter().any(|d| p.glob.matches(d));
            if hit {
                excluded = !p.exception;
            }
        }
        excluded
    }

    /// Whether an exception (`!pattern`) could re-include something below the excluded
    /// directory `dir`, so that the walker must still look inside it.
    pub fn may_include_below(&self, dir: &str) -> bool {
        let dir = clean(dir);
        self.patterns.iter().any(|p| {
            p.exception
                && (p.text.starts_with(&format!("{dir}/"))
                    || !p.text.contains('/')
                    || p.text.contains("**"))
        })
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }
}

/// A path cleaned as Go's `filepath.Clean` does, relative: no `.` parts, `..` resolved
/// (never above the root), no leading, trailing or doubled `/`.
fn clean(p: &str) -> String {
    super::copy::rel(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ex(patterns: &str, path: &str) -> bool {
        Ignore::parse(patterns).excludes(path)
    }

    #[test]
    fn dockers_rules() {
        let cases: &[(&str, &str, bool)] = &[
            ("node_modules", "node_modules", true),
            ("node_modules", "node_modules/x/y.js", true),
            ("node_modules", "src/node_modules", false),
            ("/node_modules/", "node_modules/a", true),
            ("*.md", "README.md", true),
            ("*.md", "docs/README.md", false),
            ("*/*.md", "docs/README.md", true),
            ("**/*.md", "docs/deep/README.md", true),
            ("**/*.md", "README.md", true),
            ("docs/**", "docs/a/b", true),
            ("docs/**", "docsx", false),
            ("a/**/b", "a/b", true),
            ("a/**/b", "a/x/y/b", true),
            ("a/**/b", "a/x/y/c", false),
            ("temp?", "temp1", true),
            ("temp?", "temp/1", false),
            ("[a-c]at", "bat", true),
            ("[!a-c]at", "bat", false),
            ("[!a-c]at", "rat", true),
            ("\\*", "*", true),
            ("\\*", "a", false),
            ("./x/../y", "y", true),
            ("# comment\n\n  spaced  \n", "spaced", true),
            ("*.md\n!README.md", "README.md", false),
            ("*.md\n!README.md", "CHANGES.md", true),
            ("*.md\n!README.md\nREADME*", "README.md", true),
            ("!keep\n*", "keep", true),
            ("docs\n!docs/keep.md", "docs/keep.md", false),
            ("docs\n!docs/keep.md", "docs/other.md", true),
            ("", "anything", false),
        ];
        for (p, path, want) in cases {
            assert_eq!(ex(p, path), *want, "patterns {p:?} path {path:?}");
        }
    }

    #[test]
    fn exceptions_below_an_excluded_dir_are_found() {
        let i = Ignore::parse("docs\n!docs/keep.md");
        assert!(i.may_include_below("docs"));
        assert!(!Ignore::parse("docs\n!src/x").may_include_below("docs"));
        assert!(Ignore::parse("docs\n!**/keep").may_include_below("docs"));
    }

    proptest! {
        /// Never a panic; a pattern equal to a plain path (no special characters)
        /// excludes it and everything below it.
        #[test]
        fn literal_patterns_match_themselves(
            path in "[a-z]{1,5}(/[a-z]{1,5}){0,3}",
            below in "[a-z]{1,5}",
            noise in "[ -~]{0,30}",
        ) {
            let i = Ignore::parse(&path);
            prop_assert!(i.excludes(&path));
            let below_path = format!("{path}/{below}");
            prop_assert!(i.excludes(&below_path));
            let _ = Ignore::parse(&noise).excludes(&path);
        }
    }
}
