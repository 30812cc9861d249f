//! Finding the line of a key path (`services.web.ports[0]`) in a YAML file's text, so
//! that an error about a value can name the line it is on. The YAML library's values
//! carry no positions; block-style YAML (what compose files are) says enough by its
//! indentation. A path into flow style (`[a, b]`, `{a: 1}`) gives the line of the
//! deepest key found.

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// The path as compose prints it: `services.web.ports[0]`.
pub fn display(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// A line's content split at its `- ` markers: `  - a: 1` gives a dash at 2 and `a: 1`
/// at 4.
struct Entry<'a> {
    line: usize,
    indent: usize,
    text: &'a str,
    dash: bool,
}

fn entries(text: &str) -> Vec<Entry<'_>> {
    let mut out = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let mut indent = raw.len() - raw.trim_start_matches(' ').len();
        let mut rest = &raw[indent..];
        if rest.is_empty() || rest.starts_with('#') {
            continue;
        }
        while rest == "-" || rest.starts_with("- ") {
            out.push(Entry {
                line: n + 1,
                indent,
                text: "-",
                dash: true,
            });
            let after = rest[1..].trim_start_matches(' ');
            indent += rest.len() - after.len();
            rest = after;
        }
        if !rest.is_empty() {
            out.push(Entry {
                line: n + 1,
                indent,
                text: rest,
                dash: false,
            });
        }
    }
    out
}

/// Whether `text` (a mapping entry) has the key `key`, plain or quoted.
fn has_key(text: &str, key: &str) -> bool {
    [
        format!("{key}:"),
        format!("\"{key}\":"),
        format!("'{key}':"),
    ]
    .iter()
    .any(|k| {
        text.starts_with(k.as_str()) && text[k.len()..].chars().next().is_none_or(|c| c == ' ')
    })
}

/// The 1-based line of `path` in `text`, or of its deepest ancestor found; `None` when
/// not even the first key is there.
pub fn line_of(text: &str, path: &[Seg]) -> Option<usize> {
    find(text, path).map(|(line, _)| line)
}

/// Whether the whole of `path` is in `text` (not only an ancestor).
pub fn has_path(text: &str, path: &[Seg]) -> bool {
    find(text, path).is_some_and(|(_, depth)| depth == path.len())
}

/// The line of the deepest step of `path` found, and how many steps were found.
fn find(text: &str, path: &[Seg]) -> Option<(usize, usize)> {
    let all = entries(text);
    let (mut start, mut end) = (0, all.len());
    let mut parent: Option<usize> = None;
    let mut found = None;
    for seg in path {
        let child = all[start..end]
            .iter()
            .find(|e| parent.is_none_or(|p| e.indent > p))
            .map(|e| e.indent);
        let Some(child) = child else { break };
        let mut items = all[start..end]
            .iter()
            .enumerate()
            .filter(|(_, e)| e.indent == child);
        let hit = match seg {
            Seg::Key(k) => items.find(|(_, e)| !e.dash && has_key(e.text, k)),
            Seg::Index(i) => items.filter(|(_, e)| e.dash).nth(*i),
        };
        let Some((j, e)) = hit else { break };
        found = Some((e.line, found.map_or(1, |(_, d)| d + 1)));
        let at = start + j;
        parent = Some(e.indent);
        start = at + 1;
        end = all[start..end]
            .iter()
            .position(|x| x.indent <= e.indent)
            .map_or(end, |p| start + p);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(s: &str) -> Seg {
        Seg::Key(s.into())
    }

    const FILE: &str = "\
version: '3'
services:
  # the app
  web:
    image: x
    ports:
      - \"80:80\"
      - target: 81
        published: 8081
  db:
    environment:
      A: 1
volumes:
  data:
";

    #[test]
    fn keys_and_items_are_found_by_indentation() {
        assert_eq!(
            line_of(FILE, &[k("services"), k("web"), k("image")]),
            Some(5)
        );
        assert_eq!(
            line_of(FILE, &[k("services"), k("web"), k("ports"), Seg::Index(1)]),
            Some(8)
        );
        let p = [
            k("services"),
            k("web"),
            k("ports"),
            Seg::Index(1),
            k("published"),
        ];
        assert_eq!(line_of(FILE, &p), Some(9));
        assert_eq!(
            line_of(FILE, &[k("services"), k("db"), k("environment"), k("A")]),
            Some(12)
        );
        assert_eq!(line_of(FILE, &[k("volumes"), k("data")]), Some(14));
        // Not under web: db's environment is not web's.
        assert_eq!(
            line_of(FILE, &[k("services"), k("web"), k("environment")]),
            Some(4)
        );
        assert_eq!(line_of(FILE, &[k("nothing")]), None);
        assert_eq!(display(&p), "services.web.ports[1].published");
    }
}
