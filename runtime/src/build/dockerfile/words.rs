//! Splitting an instruction's text as Docker does: its leading `--flags`, its words
//! (quotes kept, for the later variable substitution), the JSON (exec) form, heredoc
//! markers.

/// Takes the leading `--name[=value]` words off `line` (quotes and escapes inside them are
/// resolved; a lone `--` ends them): the flags and the rest of the line.
pub fn extract_flags(line: &str) -> (Vec<String>, &str) {
    let mut flags = Vec::new();
    let mut rest = line.trim_start();
    while rest.starts_with("--") {
        let (word, after) = flag_word(rest);
        if word == "--" {
            return (flags, after.trim_start());
        }
        flags.push(word);
        rest = after.trim_start();
    }
    (flags, rest)
}

/// The first word of `s` with quotes and backslash escapes resolved, and what follows it.
fn flag_word(s: &str) -> (String, &str) {
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match quote {
            None if c.is_whitespace() => return (word, &s[i..]),
            None if c == '"' || c == '\'' => quote = Some(c),
            Some(q) if c == q => quote = None,
            _ if c == '\\' => {
                if let Some((_, next)) = chars.next() {
                    word.push(next);
                }
            }
            _ => word.push(c),
        }
    }
    (word, "")
}

/// The words of `rest`, split at unquoted white space, with their quotes and escapes kept
/// (substitution removes them later). A quoted empty string is a word.
pub fn parse_words(rest: &str, esc: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut blank_ok = false;
    let mut quote: Option<char> = None;
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            } else if c == esc && q != '\'' {
                // Kept with the escaped character; at the end of the text, dropped.
                match chars.next() {
                    Some(next) => {
                        word.push(c);
                        word.push(next);
                    }
                    None => quote = None,
                }
                continue;
            }
            word.push(c);
            continue;
        }
        if c.is_whitespace() {
            if in_word && (blank_ok || !word.is_empty()) {
                words.push(std::mem::take(&mut word));
            }
            in_word = false;
            blank_ok = false;
            continue;
        }
        in_word = true;
        if c == '"' || c == '\'' {
            quote = Some(c);
            blank_ok = true;
        } else if c == esc {
            if let Some(next) = chars.next() {
                word.push(c);
                word.push(next);
            }
            continue;
        }
        word.push(c);
    }
    if in_word && (blank_ok || !word.is_empty()) {
        words.push(word);
    }
    words
}

/// What [`maybe_json`] found.
pub enum Form {
    /// A JSON array of strings: the exec form.
    Json(Vec<String>),
    /// Anything else: the text as written.
    Text(String),
}

/// The exec form if `rest` is a JSON array of strings, else the text; a JSON array holding
/// something other than strings is an error, as in Docker.
pub fn maybe_json(rest: &str) -> Result<Form, String> {
    let rest = rest.trim();
    if rest.starts_with('[')
        && let Ok(values) = serde_json::from_str::<Vec<serde_json::Value>>(rest)
    {
        let strings: Option<Vec<String>> = values
            .into_iter()
            .map(|v| match v {
                serde_json::Value::String(s) => Some(s),
                _ => None,
            })
            .collect();
        return match strings {
            Some(s) => Ok(Form::Json(s)),
            None => {
                Err("when using JSON array syntax, arrays must be comprised of strings only".into())
            }
        };
    }
    Ok(Form::Text(rest.to_string()))
}

/// The heredocs that an instruction's text opens, in order: words `<<NAME`, `<<-NAME`
/// (tabs stripped), `<<"NAME"` or `<<'NAME'` (no expansion), optionally after a file
/// descriptor number (`2<<EOF`). Returns (name, expand, chomp).
pub fn heredoc_markers(text: &str, esc: char) -> Vec<(String, bool, bool)> {
    let mut out = Vec::new();
    for word in parse_words(text, esc) {
        let digits = word.trim_start_matches(|c: char| c.is_ascii_digit());
        let Some(after) = digits.strip_prefix("<<") else {
            continue;
        };
        let (chomp, name) = match after.strip_prefix('-') {
            Some(n) => (true, n),
            None => (false, after),
        };
        let quoted = name.len() >= 2
            && ((name.starts_with('"') && name.ends_with('"'))
                || (name.starts_with('\'') && name.ends_with('\'')));
        let name = if quoted {
            &name[1..name.len() - 1]
        } else {
            name
        };
        if name.is_empty() || name.contains("<<") || name.contains(['"', '\'']) {
            continue;
        }
        out.push((name.to_string(), !quoted, chomp));
    }
    out
}
