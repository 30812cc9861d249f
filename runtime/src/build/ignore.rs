//! `.dockerignore`: which files of the build context the builder never sees, with Docker's
//! rules: one pattern a line, `#` comments, `!` exceptions, the last matching pattern
//! decides, a pattern that matches a directory excludes everything below it, `*` and `?`
//! stop at `/`, `**` crosses directories, `[a-z]` classes, `\` escapes. Patterns are
//! relative to the context root (a leading `/` is dropped) and cleaned (`a/../b` is `b`).

/// The patterns of a `.dockerignore` file, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ignore {
    patterns: Vec<Pattern>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    text: String,
    exception: bool,
    toks: Vec<Tok>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Lit(char),
    /// `?`: one character but `/`.
    One,
    /// `*`: any run without `/`.
    Star,
    /// `**/` (or `**` inside a pattern): nothing, or anything that ends with `/`.
    Dirs,
    /// `**` at the end: anything.
    All,
    Class(Vec<(char, char)>, bool),
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
                    toks: compile(&text),
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
            let hit = matches(&p.toks, &rel) || parents.iter().any(|d| matches(&p.toks, d));
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
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            _ => parts.push(part),
        }
    }
    parts.join("/")
}

fn compile(p: &str) -> Vec<Tok> {
    let c: Vec<char> = p.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        i += 1;
        match ch {
            '*' if c.get(i) == Some(&'*') => {
                i += 1;
                if c.get(i) == Some(&'/') {
                    i += 1;
                }
                toks.push(if i >= c.len() { Tok::All } else { Tok::Dirs });
            }
            '*' => toks.push(Tok::Star),
            '?' => toks.push(Tok::One),
            '\\' if i < c.len() => {
                toks.push(Tok::Lit(c[i]));
                i += 1;
            }
            '[' => match class(&c[i..]) {
                Some((ranges, negated, used)) => {
                    i += used;
                    toks.push(Tok::Class(ranges, negated));
                }
                None => toks.push(Tok::Lit('[')),
            },
            ch => toks.push(Tok::Lit(ch)),
        }
    }
    toks
}

/// A bracket expression after its `[`: ranges, negation, characters used (`]` included).
fn class(p: &[char]) -> Option<(Vec<(char, char)>, bool, usize)> {
    let negated = matches!(p.first(), Some('^' | '!'));
    let mut i = usize::from(negated);
    let mut ranges = Vec::new();
    let start = i;
    while i < p.len() {
        if p[i] == ']' && i > start {
            return Some((ranges, negated, i + 1));
        }
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            ranges.push((p[i], p[i + 2]));
            i += 3;
        } else {
            ranges.push((p[i], p[i]));
            i += 1;
        }
    }
    None
}

/// Whether the whole of `text` matches the tokens.
fn matches(toks: &[Tok], text: &str) -> bool {
    let t: Vec<char> = text.chars().collect();
    let n = t.len();
    // after[j]: the tokens from the current one on match t[j..]; built from the end.
    let mut after = vec![false; n + 1];
    after[n] = true;
    for tok in toks.iter().rev() {
        let mut cur = vec![false; n + 1];
        for j in (0..=n).rev() {
            cur[j] = match tok {
                Tok::Lit(c) => j < n && t[j] == *c && after[j + 1],
                Tok::One => j < n && t[j] != '/' && after[j + 1],
                Tok::Star => after[j] || (j < n && t[j] != '/' && cur[j + 1]),
                Tok::All => true,
                Tok::Dirs => after[j] || (j..n).any(|k| t[k] == '/' && after[k + 1]),
                Tok::Class(ranges, negated) => {
                    j < n
                        && t[j] != '/'
                        && ranges.iter().any(|(a, b)| (*a..=*b).contains(&t[j])) != *negated
                        && after[j + 1]
                }
            };
        }
        after = cur;
    }
    after[0]
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
