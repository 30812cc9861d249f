//! Glob patterns of the build: shell patterns in `${VAR#pattern}` and `.dockerignore`
//! path patterns. `*` (any run), `?` (one character), `[a-z]` and `[!a-z]` classes, `\x`
//! (a literal x); in path mode `*`, `?` and classes stop at `/`, and `**` crosses
//! directories (`**/` or an inner `**` matches nothing or anything ending in `/`, a final
//! `**` anything). An unclosed `[` is a literal.

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    toks: Vec<Tok>,
    paths: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Lit(char),
    One,
    Star,
    /// `**/`, or `**` inside a path pattern.
    Dirs,
    /// `**` at the end of a path pattern.
    All,
    Class(Ranges, bool),
}

/// The character ranges of a bracket expression, ends included.
type Ranges = Vec<(char, char)>;

impl Glob {
    /// `pattern` as a shell pattern (`paths` false) or a path pattern.
    pub fn new(pattern: &str, paths: bool) -> Glob {
        let c: Vec<char> = pattern.chars().collect();
        let mut toks = Vec::new();
        let mut i = 0;
        while i < c.len() {
            let ch = c[i];
            i += 1;
            match ch {
                '*' if paths && c.get(i) == Some(&'*') => {
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
        Glob { toks, paths }
    }

    /// Whether the whole of `text` matches.
    pub fn matches(&self, text: &str) -> bool {
        let t: Vec<char> = text.chars().collect();
        let n = t.len();
        // A character that `*`, `?` and classes may take.
        let free = |c: char| !(self.paths && c == '/');
        // after[j]: the tokens from the current one on match t[j..]; built from the end.
        let mut after = vec![false; n + 1];
        after[n] = true;
        for tok in self.toks.iter().rev() {
            let mut cur = vec![false; n + 1];
            for j in (0..=n).rev() {
                cur[j] = match tok {
                    Tok::Lit(c) => j < n && t[j] == *c && after[j + 1],
                    Tok::One => j < n && free(t[j]) && after[j + 1],
                    Tok::Star => after[j] || (j < n && free(t[j]) && cur[j + 1]),
                    Tok::All => true,
                    Tok::Dirs => after[j] || (j..n).any(|k| t[k] == '/' && after[k + 1]),
                    Tok::Class(ranges, negated) => {
                        j < n
                            && free(t[j])
                            && ranges.iter().any(|(a, b)| (*a..=*b).contains(&t[j])) != *negated
                            && after[j + 1]
                    }
                };
            }
            after = cur;
        }
        after[0]
    }
}

/// A bracket expression after its `[`: ranges, negation (`!` or `^`), and the characters
/// it used (`]` included); None if it is not closed.
fn class(p: &[char]) -> Option<(Ranges, bool, usize)> {
    let negated = matches!(p.first(), Some('!' | '^'));
    let start = usize::from(negated);
    let mut i = start;
    let mut ranges = Vec::new();
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
