//! Variable substitution in a Dockerfile word, as Docker's shell lexer does it: quotes are
//! removed, escapes resolved, and `$NAME`, `${NAME}`, `${NAME:-word}`, `${NAME-word}`,
//! `${NAME:+word}`, `${NAME+word}`, `${NAME:?message}`, `${NAME?message}`,
//! `${NAME#pattern}` (`##`, `%`, `%%`) and `${NAME/pattern/replacement}` (`//`) replaced.
//! The builder applies it to the instructions Docker applies it to (ADD, COPY, ENV,
//! EXPOSE, FROM, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR, and ARG defaults).

/// A word that cannot be expanded: an unclosed quote or brace, a bad substitution, or a
/// `${NAME:?message}` whose variable is unset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ExpandError(pub String);

/// `word` with its quotes removed and its variables replaced from `vars`.
pub fn expand(
    word: &str,
    esc: char,
    vars: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ExpandError> {
    let mut lx = Lexer::new(word, esc, vars);
    let (s, _) = lx.until(None)?;
    Ok(s)
}

/// `text` expanded and split into words at unquoted white space; the value of an unquoted
/// variable is split too, a quoted one is not (Docker's `ProcessWords`).
pub fn expand_words(
    text: &str,
    esc: char,
    vars: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<String>, ExpandError> {
    let mut lx = Lexer::new(text, esc, vars);
    let (_, words) = lx.until(None)?;
    Ok(words.finish())
}

struct Lexer<'a> {
    chars: Vec<char>,
    at: usize,
    esc: char,
    vars: &'a dyn Fn(&str) -> Option<String>,
}

/// Words being collected: characters from variables split at white space, quoted text not.
#[derive(Default)]
struct Words {
    done: Vec<String>,
    cur: String,
    in_word: bool,
}

impl Words {
    /// A character outside quotes, or from an unquoted variable's value: white space ends
    /// the word.
    fn split_char(&mut self, c: char) {
        if c.is_whitespace() {
            if self.in_word {
                self.done.push(std::mem::take(&mut self.cur));
                self.in_word = false;
            }
        } else {
            self.raw_char(c);
        }
    }
    fn raw_char(&mut self, c: char) {
        self.cur.push(c);
        self.in_word = true;
    }
    fn raw_str(&mut self, s: &str) {
        self.cur.push_str(s);
        self.in_word = true;
    }
    fn finish(mut self) -> Vec<String> {
        if self.in_word {
            self.done.push(self.cur);
        }
        self.done
    }
}

impl<'a> Lexer<'a> {
    fn new(s: &str, esc: char, vars: &'a dyn Fn(&str) -> Option<String>) -> Lexer<'a> {
        Lexer {
            chars: s.chars().collect(),
            at: 0,
            esc,
            vars,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.at += 1;
        }
        c
    }

    /// Reads up to `stop` (consumed) or the end: the expanded text and its words.
    fn until(&mut self, stop: Option<char>) -> Result<(String, Words), ExpandError> {
        let mut out = String::new();
        let mut words = Words::default();
        while let Some(c) = self.peek() {
            if Some(c) == stop {
                self.next();
                return Ok((out, words));
            }
            match c {
                '\'' => {
                    let s = self.single_quoted()?;
                    out.push_str(&s);
                    words.raw_str(&s);
                }
                '"' => {
                    let s = self.double_quoted()?;
                    out.push_str(&s);
                    words.raw_str(&s);
                }
                '$' => {
                    let s = self.dollar()?;
                    out.push_str(&s);
                    s.chars().for_each(|c| words.split_char(c));
                }
                _ => {
                    self.next();
                    if c == self.esc {
                        match self.next() {
                            Some(n) => {
                                out.push(n);
                                words.raw_char(n);
                            }
                            None => break,
                        }
                    } else {
                        out.push(c);
                        words.split_char(c);
                    }
                }
            }
        }
        match stop {
            Some(_) => Err(ExpandError("syntax error: missing '}'".into())),
            None => Ok((out, words)),
        }
    }

    fn single_quoted(&mut self) -> Result<String, ExpandError> {
        self.next();
        let mut s = String::new();
        loop {
            match self.next() {
                Some('\'') => return Ok(s),
                Some(c) => s.push(c),
                None => {
                    return Err(ExpandError(
                        "unexpected end of statement while looking for matching single-quote"
                            .into(),
                    ));
                }
            }
        }
    }

    fn double_quoted(&mut self) -> Result<String, ExpandError> {
        self.next();
        let mut s = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(ExpandError(
                        "unexpected end of statement while looking for matching double-quote"
                            .into(),
                    ));
                }
                Some('"') => {
                    self.next();
                    return Ok(s);
                }
                Some('$') => s.push_str(&self.dollar()?),
                Some(c) => {
                    self.next();
                    if c == self.esc {
                        match self.peek() {
                            None => {}
                            Some(n) if n == '"' || n == '$' || n == self.esc => {
                                self.next();
                                s.push(n);
                            }
                            Some(_) => s.push(c),
                        }
                    } else {
                        s.push(c);
                    }
                }
            }
        }
    }

    /// A name after `$`: letters, digits and `_`; or digits only; or one special
    /// parameter character.
    fn name(&mut self) -> String {
        let mut name = String::new();
        if let Some(c) = self.peek() {
            if c.is_ascii_digit() {
                while let Some(d) = self.peek().filter(char::is_ascii_digit) {
                    self.next();
                    name.push(d);
                }
                return name;
            }
            if "@*#?-$!0".contains(c) {
                self.next();
                return c.to_string();
            }
        }
        while let Some(c) = self.peek().filter(|c| c.is_alphanumeric() || *c == '_') {
            self.next();
            name.push(c);
        }
        name
    }

    fn dollar(&mut self) -> Result<String, ExpandError> {
        self.next();
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".into());
            }
            return Ok((self.vars)(&name).unwrap_or_default());
        }
        self.next();
        match self.peek() {
            None => return Err(ExpandError("syntax error: missing '}'".into())),
            Some('{' | '}' | ':') => {
                return Err(ExpandError("syntax error: bad substitution".into()));
            }
            _ => {}
        }
        let name = self.name();
        let value = (self.vars)(&name);
        let set = value.is_some();
        let value = value.unwrap_or_default();
        match self.next() {
            Some('}') => Ok(value),
            Some(':') => {
                let modifier = self.next();
                let (word, _) = self.until(Some('}'))?;
                match modifier {
                    Some('+') => Ok(if value.is_empty() {
                        String::new()
                    } else {
                        word
                    }),
                    Some('-') => Ok(if value.is_empty() { word } else { value }),
                    Some('?') if !set => Err(unset(&name, &word, "is not allowed to be unset")),
                    Some('?') if value.is_empty() => {
                        Err(unset(&name, &word, "is not allowed to be empty"))
                    }
                    Some('?') => Ok(value),
                    Some(m) => Err(ExpandError(format!(
                        "unsupported modifier ({m}) in substitution"
                    ))),
                    None => Err(ExpandError("syntax error: missing '}'".into())),
                }
            }
            Some('+') => {
                let (word, _) = self.until(Some('}'))?;
                Ok(if set { word } else { String::new() })
            }
            Some('-') => {
                let (word, _) = self.until(Some('}'))?;
                Ok(if set { value } else { word })
            }
            Some('?') => {
                let (word, _) = self.until(Some('}'))?;
                if set {
                    Ok(value)
                } else {
                    Err(unset(&name, &word, "is not allowed to be unset"))
                }
            }
            Some(op @ ('#' | '%')) => {
                let longest = self.peek() == Some(op);
                if longest {
                    self.next();
                }
                let (pattern, _) = self.until(Some('}'))?;
                Ok(remove_affix(&value, &pattern, op == '#', longest))
            }
            Some('/') => {
                let all = self.peek() == Some('/');
                if all {
                    self.next();
                }
                let (pattern, _) = self.until_either('/', '}')?;
                let repl = if self.chars.get(self.at - 1) == Some(&'/') {
                    self.until(Some('}'))?.0
                } else {
                    String::new()
                };
                Ok(replace(&value, &pattern, &repl, all))
            }
            Some(c) => Err(ExpandError(format!(
                "unsupported modifier ({c}) in substitution"
            ))),
            None => Err(ExpandError("syntax error: missing '}'".into())),
        }
    }

    /// [`Lexer::until`] stopping at the first of two characters (consumed).
    fn until_either(&mut self, a: char, b: char) -> Result<(String, Words), ExpandError> {
        let end = (self.at..self.chars.len()).find(|&i| self.chars[i] == a || self.chars[i] == b);
        match end {
            Some(i) => {
                let stop = self.chars[i];
                self.until(Some(stop))
            }
            None => Err(ExpandError("syntax error: missing '}'".into())),
        }
    }
}

fn unset(name: &str, word: &str, default: &str) -> ExpandError {
    let msg = if word.is_empty() { default } else { word };
    ExpandError(format!("{name}: {msg}"))
}

/// `${v#p}`, `${v##p}`, `${v%p}`, `${v%%p}`: `value` without its shortest or longest
/// prefix (or suffix) matching the glob `pattern`.
fn remove_affix(value: &str, pattern: &str, prefix: bool, longest: bool) -> String {
    let cuts: Vec<usize> = value
        .char_indices()
        .map(|(i, _)| i)
        .chain([value.len()])
        .collect();
    let mut candidates: Vec<usize> = cuts.clone();
    if prefix == longest {
        candidates.reverse();
    }
    for cut in candidates {
        let (part, kept) = if prefix {
            (&value[..cut], &value[cut..])
        } else {
            (&value[cut..], &value[..cut])
        };
        if glob(pattern, part) {
            return kept.to_string();
        }
    }
    value.to_string()
}

/// `${v/p/r}` (first match) and `${v//p/r}` (every match), the longest match at each place.
fn replace(value: &str, pattern: &str, repl: &str, all: bool) -> String {
    if pattern.is_empty() {
        return value.to_string();
    }
    let cuts: Vec<usize> = value
        .char_indices()
        .map(|(i, _)| i)
        .chain([value.len()])
        .collect();
    let mut out = String::new();
    let mut i = 0;
    let mut replaced = false;
    while i < cuts.len() - 1 {
        let start = cuts[i];
        let m = (i + 1..cuts.len())
            .rev()
            .find(|&j| glob(pattern, &value[start..cuts[j]]));
        match m {
            Some(j) if !replaced || all => {
                out.push_str(repl);
                replaced = true;
                i = j;
            }
            _ => {
                out.push_str(&value[start..cuts[i + 1]]);
                i += 1;
            }
        }
    }
    out
}

fn glob(pattern: &str, text: &str) -> bool {
    crate::build::glob::Glob::new(pattern, false).matches(text)
}
