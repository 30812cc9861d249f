//! YAML text laid out as `docker compose config` writes it: Go's go-yaml (v4, through
//! its v3-compatible `NewEncoder`, as compose-go's `Project.MarshalYAML` uses it) with
//! an indent of two, block sequences indented under their key, lines folded past 80
//! columns. The rules below are go-yaml's, restated from its representer (which strings
//! are quoted and how), desolver and emitter (when a plain scalar is not allowed; how
//! each style is written and folded); written here without its code.

use yaml_serde::{Mapping, Value};

/// go-yaml's preferred line width: a plain or quoted scalar breaks at a space past it.
const WIDTH: usize = 80;
/// Spaces per level (compose-go's `SetIndent(2)`).
const INDENT: usize = 2;

/// The YAML document of `v` (a mapping at the root), ending in a newline.
pub fn document(v: &Value) -> String {
    let mut w = Writer {
        indention: true,
        whitespace: true,
        ..Default::default()
    };
    match v {
        Value::Mapping(m) if !m.is_empty() => w.mapping(m, 0),
        other => w.scalar(other, 0, false),
    }
    // The document's end: a line break unless the last scalar (a block) ended in one.
    w.write_indent(0);
    w.out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

/// The output and the emitter's position flags (libyaml's `column`, `whitespace`,
/// `indention`), which decide where line breaks and spaces go.
#[derive(Default)]
struct Writer {
    out: String,
    column: usize,
    whitespace: bool,
    indention: bool,
}

impl Writer {
    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn put_str(&mut self, s: &str) {
        for c in s.chars() {
            self.put(c);
        }
    }

    fn line_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
        self.indention = true;
    }

    /// A new line at `indent`, unless the writer already stands at its start.
    fn write_indent(&mut self, indent: usize) {
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.line_break();
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
    }

    fn indicator(&mut self, s: &str, need_whitespace: bool, is_whitespace: bool, indention: bool) {
        if need_whitespace && !self.whitespace {
            self.put(' ');
        }
        self.put_str(s);
        self.whitespace = is_whitespace;
        self.indention = self.indention && indention;
    }

    /// A block mapping whose keys stand at `indent`.
    fn mapping(&mut self, m: &Mapping, indent: usize) {
        for (k, v) in m {
            self.write_indent(indent);
            self.scalar(k, indent, true);
            self.indicator(":", false, false, false);
            self.node(v, indent);
        }
    }

    /// A block sequence whose `- ` stand at `indent`.
    fn sequence(&mut self, items: &[Value], indent: usize) {
        for x in items {
            self.write_indent(indent);
            self.indicator("-", true, false, true);
            self.node(x, indent);
        }
    }

    /// A value after a key or a `-` of a collection at `indent`.
    fn node(&mut self, v: &Value, indent: usize) {
        match v {
            Value::Mapping(m) if !m.is_empty() => self.mapping(m, indent + INDENT),
            Value::Sequence(s) if !s.is_empty() => self.sequence(s, indent + INDENT),
            Value::Mapping(_) => self.indicator("{}", true, false, false),
            Value::Sequence(_) => self.indicator("[]", true, false, false),
            Value::Tagged(t) => self.node(&t.value, indent),
            other => self.scalar(other, indent + INDENT, false),
        }
    }

    /// A scalar whose continuation lines stand at `indent`; `key`: a simple key (never
    /// folded, never a block).
    fn scalar(&mut self, v: &Value, indent: usize, key: bool) {
        let text = match v {
            Value::Null => "null".to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            Value::String(s) => return self.string(s, indent, key),
            Value::Tagged(t) => return self.scalar(&t.value, indent, key),
            Value::Mapping(_) => "{}".to_string(),
            Value::Sequence(_) => "[]".to_string(),
        };
        self.plain(&text, indent, false);
    }

    fn string(&mut self, s: &str, indent: usize, key: bool) {
        let a = Analysis::of(s);
        let mut style = represented_style(s);
        if key && a.multiline {
            style = Style::Double;
        }
        if style == Style::Plain && (!a.block_plain_allowed || (s.is_empty() && key)) {
            style = Style::Single;
        }
        if style == Style::Single && !a.single_quoted_allowed {
            style = Style::Double;
        }
        if style == Style::Literal && (!a.block_allowed || key) {
            style = Style::Double;
        }
        match style {
            Style::Plain => self.plain(s, indent, !key),
            Style::Single => self.single_quoted(s, indent, !key),
            Style::Double => self.double_quoted(s, indent, !key),
            Style::Literal => self.literal(s, indent),
        }
    }

    fn plain(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        if !s.is_empty() && !self.whitespace {
            self.put(' ');
        }
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > WIDTH
                    && chars.get(i + 1).is_some_and(|&n| n != ' ')
                {
                    self.write_indent(indent);
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                self.indention = false;
                spaces = false;
            }
        }
        if !s.is_empty() {
            self.whitespace = false;
        }
        self.indention = false;
    }

    fn single_quoted(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        self.indicator("'", true, false, false);
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > WIDTH
                    && i > 0
                    && i + 1 < chars.len()
                    && chars[i + 1] != ' '
                {
                    self.write_indent(indent);
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                if c == '\'' {
                    self.put('\'');
                }
                self.put(c);
                self.indention = false;
                spaces = false;
            }
        }
        self.indicator("'", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn double_quoted(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        self.indicator("\"", true, false, false);
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if !printable(c) || c == '\u{feff}' || is_break(c) || c == '"' || c == '\\' {
                self.put('\\');
                match escape(c) {
                    Some(e) => self.put(e),
                    None => {
                        let v = c as u32;
                        let (letter, width) = if v <= 0xff {
                            ('x', 2)
                        } else if v <= 0xffff {
                            ('u', 4)
                        } else {
                            ('U', 8)
                        };
                        self.put(letter);
                        self.put_str(&format!("{v:0width$X}"));
                    }
                }
                spaces = false;
            } else if c == ' ' {
                if allow_breaks && !spaces && self.column > WIDTH && i > 0 && i + 1 < chars.len() {
                    self.write_indent(indent);
                    if chars[i + 1] == ' ' {
                        self.put('\\');
                    }
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                spaces = false;
            }
        }
        self.indicator("\"", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn literal(&mut self, s: &str, indent: usize) {
        self.indicator("|", true, false, false);
        if s.starts_with(' ') {
            self.indicator(&INDENT.to_string(), false, false, false);
        }
        let chomp = match s.strip_suffix('\n') {
            None => Some("-"),
            Some("") => Some("+"),
            Some(rest) if rest.ends_with('\n') => Some("+"),
            Some(_) => None,
        };
        if let Some(c) = chomp {
            self.indicator(c, false, false, false);
        }
        self.line_break();
        self.indention = true;
        self.whitespace = true;
        let mut breaks = true;
        for c in s.chars() {
            if c == '\n' {
                self.line_break();
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent(indent);
                }
                self.put(c);
                self.indention = false;
                breaks = false;
            }
        }
    }
}

/// The style go-yaml's representer and desolver give a Go string: a block when it spans
/// lines, single quotes for YAML 1.1's booleans and sexagesimals and `<<`, double quotes
/// when it would read back as another type (a number, a boolean, null, a date).
fn represented_style(s: &str) -> Style {
    if s.contains('\n') {
        let literal = s.chars().count() >= 2 && s.chars().any(|c| !c.is_whitespace());
        return if literal {
            Style::Literal
        } else {
            Style::Double
        };
    }
    if is_base60_float(s) || is_old_bool(s) || s == "<<" {
        return Style::Single;
    }
    if !resolves_to_str(s) {
        return Style::Double;
    }
    Style::Plain
}

fn is_old_bool(s: &str) -> bool {
    matches!(
        s,
        "y" | "Y"
            | "yes"
            | "Yes"
            | "YES"
            | "on"
            | "On"
            | "ON"
            | "n"
            | "N"
            | "no"
            | "No"
            | "NO"
            | "off"
            | "Off"
            | "OFF"
    )
}

/// YAML 1.1's base 60 floats: `[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?`.
fn is_base60_float(s: &str) -> bool {
    let b = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (int, frac) = match b.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (b, None),
    };
    if frac.is_some_and(|f| !f.chars().all(|c| c.is_ascii_digit() || c == '_')) {
        return false;
    }
    let mut parts = int.split(':');
    let head = parts.next().unwrap_or("");
    let head_ok = head.starts_with(|c: char| c.is_ascii_digit())
        && head.chars().all(|c| c.is_ascii_digit() || c == '_');
    let rest: Vec<&str> = parts.collect();
    head_ok
        && !rest.is_empty()
        && rest.iter().all(|p| {
            let d = p.as_bytes();
            match d {
                [a] => a.is_ascii_digit(),
                [a, b] => (b'0'..=b'5').contains(a) && b.is_ascii_digit(),
                _ => false,
            }
        })
}

/// Whether a plain `s` reads back as a string (go-yaml's resolver): not null, a
/// boolean, `<<`, a number (Go's integer syntaxes with `_`, YAML floats, `.inf`, `.nan`)
/// or a timestamp.
fn resolves_to_str(s: &str) -> bool {
    const SPECIAL: &[&str] = &[
        "", "~", "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE", ".nan",
        ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf",
        "-.INF", "-0", "-0.0", "<<",
    ];
    if SPECIAL.contains(&s) {
        return false;
    }
    match s.as_bytes()[0] {
        b'.' => !is_go_float(s),
        b'0'..=b'9' | b'+' | b'-' => {
            if is_timestamp(s) {
                return false;
            }
            let plain = s.replace('_', "");
            !(is_go_int(&plain) || is_yaml_float(&plain))
        }
        _ => true,
    }
}

/// Go's `strconv.ParseFloat` on a string that starts with `.`: `.5`, `.5e3`.
fn is_go_float(s: &str) -> bool {
    is_yaml_float(s)
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`
fn is_yaml_float(s: &str) -> bool {
    let b = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (mant, exp) = match b.find(['e', 'E']) {
        Some(i) => (&b[..i], Some(&b[i + 1..])),
        None => (b, None),
    };
    let digits = |x: &str| !x.is_empty() && x.bytes().all(|c| c.is_ascii_digit());
    let mant_ok = match mant.split_once('.') {
        Some(("", f)) => digits(f),
        Some((i, f)) => digits(i) && (f.is_empty() || digits(f)),
        None => digits(mant),
    };
    let exp_ok = exp.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e)));
    mant_ok && exp_ok
}

/// Go's `strconv.ParseInt(s, 0, 64)` or `ParseUint` succeeding: a sign, then `0x`, `0o`,
/// `0b` or a leading `0` (octal) prefix, or decimal.
fn is_go_int(s: &str) -> bool {
    let (neg, b) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, body) = if let Some(r) = b.strip_prefix("0x").or(b.strip_prefix("0X")) {
        (16, r)
    } else if let Some(r) = b.strip_prefix("0o").or(b.strip_prefix("0O")) {
        (8, r)
    } else if let Some(r) = b.strip_prefix("0b").or(b.strip_prefix("0B")) {
        (2, r)
    } else if b.len() > 1 && b.starts_with('0') {
        (8, &b[1..])
    } else {
        (10, b)
    };
    if body.is_empty() || !body.chars().all(|c| c.is_digit(radix)) {
        return false;
    }
    match u64::from_str_radix(body, radix) {
        Ok(v) => !neg || v <= i64::MAX as u64 + 1,
        Err(_) => false,
    }
}

/// go-yaml's timestamps: four digits and `-` first, then a date `Y-M-D` (one or two
/// digit month and day), optionally a time after `T`, `t` or a space.
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return false;
    }
    let (date, time) = match s.find(['T', 't', ' ']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let parts: Vec<&str> = date.split('-').collect();
    let num = |x: &str, max: u32| {
        (1..=2).contains(&x.len())
            && x.bytes().all(|c| c.is_ascii_digit())
            && x.parse::<u32>().is_ok_and(|n| (1..=max).contains(&n))
    };
    let date_ok = parts.len() == 3 && num(parts[1], 12) && num(parts[2], 31);
    date_ok && time.is_none_or(time_ok)
}

/// `15:4:5` with optional fraction, then (after `T`) a zone `Z` or `±hh:mm`; a best
/// effort at Go's layouts.
fn time_ok(t: &str) -> bool {
    let (clock, _zone) = match t.find(['Z', '+', '-']) {
        Some(i) => (&t[..i], Some(&t[i..])),
        None => (t, None),
    };
    let clock = clock.split('.').next().unwrap_or("");
    let p: Vec<&str> = clock.split(':').collect();
    p.len() == 3
        && p.iter()
            .all(|x| (1..=2).contains(&x.len()) && x.bytes().all(|c| c.is_ascii_digit()))
}

/// What the emitter's look at a string allows (libyaml's `analyze_scalar`).
struct Analysis {
    multiline: bool,
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

impl Analysis {
    fn of(s: &str) -> Analysis {
        if s.is_empty() {
            return Analysis {
                multiline: false,
                block_plain_allowed: true,
                single_quoted_allowed: true,
                block_allowed: false,
            };
        }
        let chars: Vec<char> = s.chars().collect();
        let mut block_indicators = s.starts_with("---") || s.starts_with("...");
        let (mut line_breaks, mut special, mut tabs) = (false, false, false);
        let (mut leading_space, mut leading_break) = (false, false);
        let (mut trailing_space, mut trailing_break) = (false, false);
        let (mut break_space, mut space_break) = (false, false);
        let (mut previous_space, mut previous_break) = (false, false);
        let mut preceded_by_whitespace = true;
        let last = chars.len() - 1;
        for (i, &c) in chars.iter().enumerate() {
            let followed_by_whitespace = chars.get(i + 1).is_none_or(|&n| n == ' ' || n == '\t');
            if i == 0 {
                match c {
                    '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\''
                    | '"' | '%' | '@' | '`' => block_indicators = true,
                    '?' | ':' | '-' if followed_by_whitespace => block_indicators = true,
                    _ => {}
                }
            } else {
                match c {
                    ':' if followed_by_whitespace => block_indicators = true,
                    '#' if preceded_by_whitespace => block_indicators = true,
                    _ => {}
                }
            }
            if c == '\t' {
                tabs = true;
            } else if !printable(c) {
                special = true;
            }
            if c == ' ' {
                leading_space |= i == 0;
                trailing_space |= i == last;
                break_space |= previous_break;
                previous_space = true;
                previous_break = false;
            } else if is_break(c) {
                line_breaks = true;
                leading_break |= i == 0;
                trailing_break |= i == last;
                space_break |= previous_space;
                previous_space = false;
                previous_break = true;
            } else {
                previous_space = false;
                previous_break = false;
            }
            preceded_by_whitespace = c == ' ' || c == '\t' || is_break(c);
        }
        let mut plain = !(leading_space || leading_break || trailing_space || trailing_break);
        let mut single = true;
        let mut block = !trailing_space;
        if break_space {
            plain = false;
            single = false;
        }
        if space_break || tabs || special {
            plain = false;
            single = false;
        }
        if space_break || special {
            block = false;
        }
        if line_breaks || block_indicators {
            plain = false;
        }
        Analysis {
            multiline: line_breaks,
            block_plain_allowed: plain,
            single_quoted_allowed: single,
            block_allowed: block,
        }
    }
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// libyaml's printable characters: no C0/C1 controls but line feed, no surrogates,
/// U+FEFF, U+FFFE, U+FFFF, and nothing past the BMP.
fn printable(c: char) -> bool {
    let v = c as u32;
    v == 0x0a
        || (0x20..=0x7e).contains(&v)
        || (0xa0..=0xd7ff).contains(&v)
        || ((0xe000..=0xfffd).contains(&v) && v != 0xfeff)
}

/// The one-letter escape of `c` in a double-quoted scalar, if it has one.
fn escape(c: char) -> Option<char> {
    Some(match c {
        '\0' => '0',
        '\u{07}' => 'a',
        '\u{08}' => 'b',
        '\t' => 't',
        '\n' => 'n',
        '\u{0b}' => 'v',
        '\u{0c}' => 'f',
        '\r' => 'r',
        '\u{1b}' => 'e',
        '"' => '"',
        '\\' => '\\',
        '\u{85}' => 'N',
        '\u{a0}' => '_',
        '\u{2028}' => 'L',
        '\u{2029}' => 'P',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(k: &str, v: Value) -> String {
        let mut m = Mapping::new();
        m.insert(Value::String(k.into()), v);
        document(&Value::Mapping(m))
    }

    fn s(x: &str) -> Value {
        Value::String(x.into())
    }

    #[test]
    fn strings_are_quoted_as_go_yaml_quotes_them() {
        for (v, out) in [
            ("plain", "k: plain\n"),
            ("8080", "k: \"8080\"\n"),
            ("0.1", "k: \"0.1\"\n"),
            ("0x1F", "k: \"0x1F\"\n"),
            ("1_000", "k: \"1_000\"\n"),
            ("08", "k: \"08\"\n"),
            ("1e3", "k: \"1e3\"\n"),
            ("true", "k: \"true\"\n"),
            ("null", "k: \"null\"\n"),
            ("", "k: \"\"\n"),
            ("2024-01-31", "k: \"2024-01-31\"\n"),
            ("yes", "k: 'yes'\n"),
            ("off", "k: 'off'\n"),
            ("12:30", "k: '12:30'\n"),
            ("8080:80", "k: 8080:80\n"),
            ("<<", "k: '<<'\n"),
            ("*", "k: '*'\n"),
            ("- x", "k: '- x'\n"),
            ("-x", "k: -x\n"),
            ("a: b", "k: 'a: b'\n"),
            ("a:b", "k: a:b\n"),
            ("a #b", "k: 'a #b'\n"),
            ("a#b", "k: a#b\n"),
            (" lead", "k: ' lead'\n"),
            ("it's", "k: it's\n"),
            ("'q'", "k: '''q'''\n"),
            ("tab\there", "k: \"tab\\there\"\n"),
            ("${VAR}", "k: ${VAR}\n"),
            ("echo \"hello world\"", "k: echo \"hello world\"\n"),
            ("02:42:ac:11:65:43", "k: 02:42:ac:11:65:43\n"),
        ] {
            assert_eq!(one("k", s(v)), out, "{v:?}");
        }
    }

    #[test]
    fn multi_line_strings_are_literal_blocks() {
        assert_eq!(
            one("k", s("FROM alpine\nRUN true\n")),
            "k: |\n  FROM alpine\n  RUN true\n"
        );
        assert_eq!(one("k", s("a\n\nb")), "k: |-\n  a\n\n  b\n");
        assert_eq!(one("k", s("a\n\n")), "k: |+\n  a\n\n");
        assert_eq!(one("k", s(" a\nb")), "k: |2-\n   a\n  b\n");
        assert_eq!(one("k", s("a \nb")), "k: \"a \\nb\"\n");
    }

    #[test]
    fn long_strings_fold_at_a_space_past_80_columns() {
        let words = "word ".repeat(20);
        let long = words.trim_end();
        let out = one("command", s(long));
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert!(lines[0].len() > 80 && lines[0].len() <= 85, "{out}");
        assert!(lines[1].starts_with("  word"), "{out}");
        assert_eq!(
            format!(
                "{} {}",
                lines[0].trim_start_matches("command: "),
                lines[1].trim()
            ),
            long
        );
        // Keys never fold.
        let out = one(long, Value::Null);
        assert_eq!(out.lines().count(), 1);
    }

    #[test]
    fn collections_nest_with_two_spaces_and_indented_sequences() {
        let v: Value = yaml_serde::from_str(
            "a:\n  b: [x, {c: 1, d: [2]}]\n  e: {}\n  f: []\n  g: null\n  h: [[1, 2]]\n",
        )
        .unwrap();
        assert_eq!(
            document(&v),
            "a:\n  b:\n    - x\n    - c: 1\n      d:\n        - 2\n  e: {}\n  f: []\n  g: null\n  h:\n    - - 1\n      - 2\n"
        );
    }
}
