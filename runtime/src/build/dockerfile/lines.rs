//! The first pass over a Dockerfile, as BuildKit's parser makes it: the parser directives
//! at the top, then logical lines (comments and blank lines dropped, continuations joined)
//! with the bodies of their heredocs.

use super::{Error, Heredoc, Pos};

/// The parser directives (`# syntax=`, `# escape=`, `# check=`) of a Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Directives {
    pub syntax: Option<String>,
    /// The escape character: `\` unless `# escape=` says `` ` ``.
    pub escape: char,
    pub check: Option<String>,
}

impl Default for Directives {
    fn default() -> Directives {
        Directives {
            syntax: None,
            escape: '\\',
            check: None,
        }
    }
}

/// One instruction's text: its physical lines joined, with its heredocs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logical {
    /// Where the instruction starts: its first line and the column of its keyword (1-based).
    pub pos: Pos,
    /// The last physical line it spans (heredoc terminators included).
    pub end_line: usize,
    /// The joined text, leading white space removed.
    pub text: String,
    pub heredocs: Vec<Heredoc>,
}

/// Splits `src` into its directives and logical lines.
pub fn split(src: &str) -> Result<(Directives, Vec<Logical>), Error> {
    let src = src.strip_prefix('\u{feff}').unwrap_or(src);
    let lines: Vec<&str> = src
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let (directives, mut i) = directives(&lines)?;
    let esc = directives.escape;
    let mut out = Vec::new();
    while i < lines.len() {
        let raw = lines[i];
        i += 1;
        let first = raw.trim_start();
        if first.is_empty() || first.starts_with('#') {
            continue;
        }
        let pos = Pos {
            line: i,
            column: raw.len() - first.len() + 1,
        };
        let (mut text, mut done) = continuation(first, esc);
        while !done && i < lines.len() {
            let next = lines[i];
            i += 1;
            let trimmed = next.trim_start();
            // Comments and empty lines inside a continuation are skipped, as Docker does.
            if trimmed.starts_with('#') || trimmed.is_empty() {
                continue;
            }
            let (part, end) = continuation(next, esc);
            text.push_str(&part);
            done = end;
        }
        if text.trim().is_empty() {
            continue;
        }
        let mut logical = Logical {
            pos,
            end_line: i,
            text,
            heredocs: Vec::new(),
        };
        if takes_heredocs(&logical.text) {
            for (name, expand, chomp) in super::words::heredoc_markers(&logical.text, esc) {
                let (body, next) = heredoc_body(&lines, i, &name, chomp).ok_or_else(|| {
                    Error::at(
                        pos,
                        &logical.text,
                        format!("the heredoc <<{name} has no terminating line {name:?}"),
                    )
                })?;
                i = next;
                logical.heredocs.push(Heredoc {
                    name,
                    expand,
                    chomp,
                    body,
                });
            }
            logical.end_line = i;
        }
        out.push(logical);
    }
    Ok((directives, out))
}

/// Reads the parser directives at the top of the file: lines `# key=value` before any
/// other line. An unknown key, a comment or anything else ends them (Docker treats them as
/// comments). Returns them and the index of the first line after them.
fn directives(lines: &[&str]) -> Result<(Directives, usize), Error> {
    let mut d = Directives::default();
    let mut seen: Vec<String> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some((key, value)) = directive(line) else {
            return Ok((d, i));
        };
        let pos = Pos {
            line: i + 1,
            column: 1,
        };
        if seen.contains(&key) {
            return Err(Error::at(
                pos,
                line,
                format!("only one {key} parser directive can be used"),
            ));
        }
        match key.as_str() {
            "syntax" => d.syntax = Some(value),
            "check" => d.check = Some(value),
            "escape" => {
                d.escape = match value.as_str() {
                    "\\" => '\\',
                    "`" => '`',
                    _ => {
                        return Err(Error::at(
                            pos,
                            line,
                            format!("invalid escape token {value:?}: use ` or \\"),
                        ));
                    }
                }
            }
            _ => return Ok((d, i)),
        }
        seen.push(key);
    }
    Ok((d, lines.len()))
}

/// `# key=value` (white space allowed around each part): the key lowercased and the value.
fn directive(line: &str) -> Option<(String, String)> {
    let rest = line.trim_start().strip_prefix('#')?;
    let (key, value) = rest.split_once('=')?;
    let key = key.trim();
    let mut chars = key.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    Some((key.to_ascii_lowercase(), value.to_string()))
}

/// A line without its continuation mark (the escape character, then only blanks, at its
/// end), and whether it ends the instruction (no mark).
fn continuation(line: &str, esc: char) -> (String, bool) {
    let body = line.trim_end_matches([' ', '\t']);
    match body.strip_suffix(esc) {
        Some(kept) => (kept.to_string(), false),
        None => (line.to_string(), true),
    }
}

/// Whether the instruction may carry heredocs (RUN, COPY, ADD, and ONBUILD of them) and
/// mentions one.
fn takes_heredocs(text: &str) -> bool {
    let mut words = text.split_whitespace();
    let mut kw = words.next().unwrap_or("").to_ascii_uppercase();
    if kw == "ONBUILD" {
        kw = words.next().unwrap_or("").to_ascii_uppercase();
    }
    matches!(kw.as_str(), "RUN" | "COPY" | "ADD") && text.contains("<<")
}

/// The body of a heredoc starting at line index `from`: the lines up to the terminator
/// `name` (with `<<-`, leading tabs are stripped from each line and the terminator), each
/// with its newline, and the index after the terminator. None if no terminator comes.
fn heredoc_body(lines: &[&str], from: usize, name: &str, chomp: bool) -> Option<(String, usize)> {
    let mut body = String::new();
    for (k, line) in lines.iter().enumerate().skip(from) {
        let line = if chomp {
            line.trim_start_matches('\t')
        } else {
            line
        };
        if line == name {
            return Some((body, k + 1));
        }
        body.push_str(line);
        body.push('\n');
    }
    None
}
