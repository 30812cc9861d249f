//! The book's transcripts: the format of a ```console block (commands, expected output with
//! placeholders, the `<!-- transcript: ... -->` comments) parsed, and the matcher that
//! compares a command's output with what the book shows. `tests/tests/book.rs` runs the
//! blocks on tug; its doc comment describes the format.

/// What the comment before a block asked for.
#[derive(Debug, Default, Clone)]
pub struct Directives {
    pub needs_debian: bool,
    pub continues: bool,
    pub skip: Option<String>,
    pub setup: String,
    pub file: Option<String>,
}

/// One command of a block and the output the book shows for it.
#[derive(Debug)]
pub struct Step {
    /// The line of the `$ ` in the chapter (1-based).
    pub line: usize,
    pub command: String,
    pub expected: Vec<String>,
}

/// What a chapter holds, in order: console blocks to run and files to write.
#[derive(Debug)]
pub enum Item {
    Block {
        line: usize,
        directives: Directives,
        steps: Vec<Step>,
    },
    File {
        path: String,
        text: String,
    },
}

/// Parses `<!-- transcript: ... -->` (one or more lines).
pub fn parse_directives(comment: &str) -> Directives {
    let body = comment
        .trim()
        .trim_start_matches("<!--")
        .trim_end_matches("-->")
        .trim();
    let body = body.strip_prefix("transcript:").unwrap_or("").trim_start();
    let mut d = Directives::default();
    if let Some(rest) = body.strip_prefix("setup") {
        d.setup = rest.trim_start_matches([' ', '\n']).to_string();
        return d;
    }
    if let Some(rest) = body.strip_prefix("skip") {
        let reason = rest
            .trim()
            .strip_prefix("reason=")
            .map(|r| r.trim_matches('"').to_string())
            .unwrap_or_else(|| "no reason given".to_string());
        d.skip = Some(reason);
        return d;
    }
    for word in body.split_whitespace() {
        if let Some(needs) = word.strip_prefix("needs=") {
            for n in needs.split(',') {
                match n {
                    "debian" => d.needs_debian = true,
                    // The registry is started by the block itself; saying so is harmless.
                    "registry" => {}
                    other => panic!("transcript: unknown need {other:?}"),
                }
            }
        } else if word == "continues" {
            d.continues = true;
        } else if let Some(f) = word.strip_prefix("file=") {
            d.file = Some(f.to_string());
        } else {
            panic!("transcript: unknown directive {word:?} in {comment:?}");
        }
    }
    d
}

/// The heredoc delimiters a command line opens (`<<EOF`, `<<'EOF'`, `<<-"EOF"`).
pub fn heredoc_delimiters(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("<<") {
        rest = &rest[i + 2..];
        if rest.starts_with('<') {
            rest = &rest[1..]; // a here-string <<<
            continue;
        }
        let r = rest.trim_start_matches('-').trim_start();
        let word: String = r
            .chars()
            .take_while(|c| !c.is_whitespace() && !matches!(c, ';' | '|' | '&' | '>' | ')'))
            .collect();
        let word = word.trim_matches(|c| c == '\'' || c == '"').to_string();
        if !word.is_empty() {
            out.push(word);
        }
    }
    out
}

/// Parses a console block's lines (`first_line` is the chapter line of `lines[0]`).
pub fn parse_steps(lines: &[&str], first_line: usize) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        if let Some(cmd) = l.strip_prefix("$ ") {
            let line = first_line + i;
            let mut command = cmd.to_string();
            let mut last = cmd.to_string();
            let mut heredocs = heredoc_delimiters(cmd);
            i += 1;
            while last.ends_with('\\') && i < lines.len() {
                last = lines[i].to_string();
                heredocs.extend(heredoc_delimiters(&last));
                command.push('\n');
                command.push_str(&last);
                i += 1;
            }
            for delim in heredocs {
                while i < lines.len() {
                    command.push('\n');
                    command.push_str(lines[i]);
                    i += 1;
                    if lines[i - 1] == delim {
                        break;
                    }
                }
            }
            steps.push(Step {
                line,
                command,
                expected: Vec::new(),
            });
        } else {
            match steps.last_mut() {
                Some(s) => s.expected.push(l.to_string()),
                None => assert!(
                    l.trim().is_empty(),
                    "line {}: output before any command: {l:?}",
                    first_line + i
                ),
            }
            i += 1;
        }
    }
    steps
}

/// Parses a chapter into its blocks and files.
pub fn parse_chapter(text: &str) -> Vec<Item> {
    let lines: Vec<&str> = text.lines().collect();
    let mut items = Vec::new();
    // The transcript comment seen last, if nothing but blank lines followed it.
    let mut pending: Option<Directives> = None;
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        let t = l.trim_start();
        if t.starts_with("<!-- transcript:") {
            let mut comment = l.to_string();
            while !comment.contains("-->") {
                i += 1;
                comment.push('\n');
                comment.push_str(lines[i]);
            }
            // Comments in a row add up (`continues`, then a `setup`).
            let d = parse_directives(&comment);
            pending = Some(match pending.take() {
                None => d,
                Some(p) => Directives {
                    needs_debian: p.needs_debian || d.needs_debian,
                    continues: p.continues || d.continues,
                    skip: p.skip.or(d.skip),
                    setup: p.setup + &d.setup,
                    file: p.file.or(d.file),
                },
            });
            i += 1;
            continue;
        }
        if let Some(fence_info) = t.strip_prefix("```") {
            let fence_len = 3 + fence_info.chars().take_while(|&c| c == '`').count();
            let info = fence_info.trim_start_matches('`').trim();
            let start = i + 1;
            let mut end = start;
            while end < lines.len() {
                let e = lines[end].trim_start();
                if e.starts_with(&"`".repeat(fence_len)) && e.trim_matches('`').is_empty() {
                    break;
                }
                end += 1;
            }
            let body = &lines[start..end.min(lines.len())];
            let directives = pending.take().unwrap_or_default();
            if info.split([',', ' ']).next() == Some("console") {
                items.push(Item::Block {
                    line: start,
                    steps: parse_steps(body, start + 1),
                    directives,
                });
            } else if let Some(path) = directives.file {
                let mut text = body.join("\n");
                text.push('\n');
                items.push(Item::File { path, text });
            }
            i = end + 1;
            continue;
        }
        if !t.is_empty() {
            pending = None;
        }
        i += 1;
    }
    items
}

/// One piece of an expected line.
#[derive(Debug, PartialEq)]
pub enum Tok {
    Lit(char),
    /// A run of two or more spaces: one or more spaces.
    Spaces,
    Id,
    Port,
    Ip,
    Time,
    Name,
    Pid,
    Num,
    Size,
    Path,
}

pub fn tokenize(line: &str) -> Vec<Tok> {
    let mut toks = Vec::new();
    let mut rest = line;
    while !rest.is_empty() {
        let placeholders = [
            ("[ID]", Tok::Id),
            ("[PORT]", Tok::Port),
            ("[IP]", Tok::Ip),
            ("[TIME]", Tok::Time),
            ("[NAME]", Tok::Name),
            ("[PID]", Tok::Pid),
            ("[NUM]", Tok::Num),
            ("[SIZE]", Tok::Size),
            ("[PATH]", Tok::Path),
        ];
        if let Some((p, tok)) = placeholders.into_iter().find(|(p, _)| rest.starts_with(p)) {
            toks.push(tok);
            rest = &rest[p.len()..];
        } else if rest.starts_with("  ") {
            toks.push(Tok::Spaces);
            rest = rest.trim_start_matches(' ');
        } else {
            let c = rest.chars().next().expect("non-empty");
            toks.push(Tok::Lit(c));
            rest = &rest[c.len_utf8()..];
        }
    }
    toks
}

/// The lengths (in bytes, longest first) of the text at the start of `s` that `tok` may
/// stand for.
pub fn candidates(tok: &Tok, s: &str) -> Vec<usize> {
    let run = |ok: &dyn Fn(char) -> bool| -> Vec<usize> {
        let ends: Vec<usize> = s
            .char_indices()
            .take_while(|&(_, c)| ok(c))
            .map(|(i, c)| i + c.len_utf8())
            .collect();
        ends.into_iter().rev().collect()
    };
    match tok {
        Tok::Id => run(&|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
        Tok::Port => run(&|c| c.is_ascii_digit())
            .into_iter()
            .filter(|&n| n <= 5)
            .collect(),
        Tok::Path if s.starts_with('/') => run(&|c| !c.is_whitespace()),
        Tok::Path => Vec::new(),
        Tok::Pid => run(&|c| c.is_ascii_digit()),
        Tok::Num => run(&|c| c.is_ascii_digit() || c == '.'),
        Tok::Size => run(&|c| c.is_ascii_alphanumeric() || c == '.')
            .into_iter()
            .filter(|&n| s.starts_with(|c: char| c.is_ascii_digit()) && s[..n].ends_with('B'))
            .collect(),
        Tok::Name => run(&|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
        Tok::Ip => run(&|c| c.is_ascii_hexdigit() || c == '.' || c == ':'),
        Tok::Time => {
            // Words, digits and the marks of dates and durations; it must hold a digit
            // or be one of the "Less than a second" / "About a minute" phrases.
            let wordy = s.starts_with("Less than") || s.starts_with("About");
            run(&|c| c.is_alphanumeric() || " .:+-µ".contains(c))
                .into_iter()
                .filter(|&n| wordy || s[..n].chars().next().is_some_and(|c| c.is_ascii_digit()))
                .collect()
        }
        Tok::Lit(_) | Tok::Spaces => unreachable!(),
    }
}

pub fn match_toks(toks: &[Tok], s: &str) -> bool {
    let Some((tok, rest)) = toks.split_first() else {
        return s.is_empty();
    };
    match tok {
        Tok::Lit(c) => s.strip_prefix(*c).is_some_and(|s| match_toks(rest, s)),
        Tok::Spaces => {
            let n = s.len() - s.trim_start_matches(' ').len();
            (1..=n).rev().any(|k| match_toks(rest, &s[k..]))
        }
        _ => candidates(tok, s)
            .into_iter()
            .any(|n| n > 0 && match_toks(rest, &s[n..])),
    }
}

pub fn line_matches(expected: &str, got: &str) -> bool {
    match_toks(&tokenize(expected.trim_end()), got.trim_end())
}

/// Whether `got` matches `expected` line by line, `...` standing for any lines.
pub fn lines_match(expected: &[String], got: &[String]) -> bool {
    let Some((e, erest)) = expected.split_first() else {
        return got.is_empty();
    };
    if e.trim() == "..." {
        return (0..=got.len()).any(|k| lines_match(erest, &got[k..]));
    }
    match got.split_first() {
        Some((g, grest)) => line_matches(e, g) && lines_match(erest, grest),
        None => false,
    }
}

pub fn trim_trailing_empty(mut v: Vec<String>) -> Vec<String> {
    while v.last().is_some_and(|l| l.trim().is_empty()) {
        v.pop();
    }
    v
}

/// The expected lines as a host without IPv6 prints them: the book shows a port published
/// on every address as Docker does on a host with IPv6 (`0.0.0.0:8080->80/tcp,
/// [::]:8080->80/tcp` in `ps`, a `[::]:8080` line in `port`), and tug publishes the `[::]`
/// side only where the host has IPv6.
pub fn without_ipv6_ports(lines: Vec<String>) -> Vec<String> {
    lines
        .into_iter()
        .filter(|l| !(l.starts_with("[::]:") || l.contains(" -> [::]:")))
        .map(|l| {
            let mut l = l;
            while let Some(at) = l.find(", [::]:") {
                let end = l[at + 2..].find([',', ' ']).map_or(l.len(), |n| at + 2 + n);
                l.replace_range(at..end, "");
            }
            l
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_ports_are_left_out_for_a_host_without_ipv6() {
        let lines = [
            "[ID]   busybox   \"sh\"   [TIME]   Up [TIME]   0.0.0.0:45680->80/tcp, [::]:45680->80/tcp   web",
            "80/tcp -> 0.0.0.0:[PORT]",
            "80/tcp -> [::]:[PORT]",
            "0.0.0.0:[PORT]",
            "[::]:[PORT]",
            "53/udp -> 127.0.0.1:5353",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            without_ipv6_ports(lines),
            [
                "[ID]   busybox   \"sh\"   [TIME]   Up [TIME]   0.0.0.0:45680->80/tcp   web",
                "80/tcp -> 0.0.0.0:[PORT]",
                "0.0.0.0:[PORT]",
                "53/udp -> 127.0.0.1:5353",
            ]
        );
    }

    #[test]
    fn the_matcher_understands_placeholders() {
        let matching = [
            ("abc  [ID]   x", "abc 0123456789ab x"),
            ("Up [TIME]", "Up Less than a second"),
            ("Exited (0) [TIME] ago", "Exited (0) 3 seconds ago"),
            ("0.0.0.0:[PORT]->80/tcp", "0.0.0.0:39051->80/tcp"),
            ("[IP]", "172.18.0.2"),
            ("x  [NAME]", "x   brave_turing"),
            ("[SIZE] / [SIZE]  [NUM]%", "404KiB / 23.54GiB   0.00%"),
            ("built in [TIME]: 1 step", "built in 0.2s: 1 step"),
            ("    [PID] root", "   12 root"),
            ("[PATH]/upper", "/var/tmp/x/upper"),
        ];
        for (expected, got) in matching {
            assert!(line_matches(expected, got), "{expected:?} vs {got:?}");
        }
        assert!(!line_matches("[ID]", ""));
        assert!(!line_matches("hello", "hullo"));
        let e = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(lines_match(
            &e(&["a", "...", "z"]),
            &e(&["a", "b", "c", "z"])
        ));
        assert!(lines_match(&e(&["a", "...", "z"]), &e(&["a", "z"])));
        assert!(!lines_match(&e(&["a", "z"]), &e(&["a", "b", "z"])));
        let steps = parse_steps(
            &[
                "$ echo a \\",
                "  b",
                "a b",
                "$ cat <<'EOF'",
                "x",
                "EOF",
                "x",
            ],
            1,
        );
        assert_eq!(steps.len(), 2);
        assert_eq!(steps[0].command, "echo a \\\n  b");
        assert_eq!(steps[1].command, "cat <<'EOF'\nx\nEOF");
        assert_eq!(steps[1].expected, vec!["x".to_string()]);
    }
}
