//! The key sequence that detaches an attached TTY session (`--detach-keys`, config.json's
//! `detachKeys`), in Docker's syntax: comma-separated keys, each a single character or
//! `ctrl-<value>` with `<value>` one of `a`..`z`, `@`, `[`, `\`, `]`, `^`, `_`. The
//! default is `ctrl-p,ctrl-q`.

use super::Error;

/// A parsed detach sequence (never empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetachKeys(Vec<u8>);

impl Default for DetachKeys {
    /// Ctrl-P Ctrl-Q.
    fn default() -> Self {
        DetachKeys(vec![0x10, 0x11])
    }
}

impl DetachKeys {
    /// Parses Docker's syntax; an empty text is the default sequence.
    pub fn parse(text: &str) -> Result<DetachKeys, Error> {
        if text.is_empty() {
            return Ok(DetachKeys::default());
        }
        let invalid =
            |why: String| Error::Invalid(format!("Invalid detach keys ({text}) provided: {why}"));
        let mut codes = Vec::new();
        for key in text.split(',') {
            if key.len() == 1 {
                codes.push(key.as_bytes()[0]);
                continue;
            }
            let lower = key.to_ascii_lowercase();
            let code = match lower.strip_prefix("ctrl-").map(str::as_bytes) {
                Some([c @ b'a'..=b'z']) => c - b'a' + 1,
                Some([b'@']) => 0,
                Some([c @ (b'[' | b'\\' | b']' | b'^' | b'_')]) => c - b'@',
                _ => return Err(invalid(format!("Unknown character: '{key}'"))),
            };
            codes.push(code);
        }
        Ok(DetachKeys(codes))
    }

    /// The bytes of the sequence.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Watches a stdin stream for the detach sequence, holding back the bytes of a partial
/// match (they go on to the container if the match breaks), as Docker's escape proxy.
#[derive(Debug)]
pub struct DetachWatch {
    keys: DetachKeys,
    matched: usize,
}

/// What one chunk of input gives.
#[derive(Debug, PartialEq, Eq)]
pub enum Watched {
    /// Bytes to forward (maybe none while a match is partial).
    Forward(Vec<u8>),
    /// The sequence was typed: detach. The bytes before it are to be forwarded first.
    Detach(Vec<u8>),
}

impl DetachWatch {
    pub fn new(keys: DetachKeys) -> DetachWatch {
        DetachWatch { keys, matched: 0 }
    }

    /// Feeds the bytes read from stdin.
    pub fn feed(&mut self, input: &[u8]) -> Watched {
        let keys = self.keys.bytes();
        let mut out = Vec::with_capacity(input.len());
        for &b in input {
            if b == keys[self.matched] {
                self.matched += 1;
                if self.matched == keys.len() {
                    self.matched = 0;
                    return Watched::Detach(out);
                }
                continue;
            }
            // A broken match: the held keys go on, then this byte may start a new one.
            out.extend_from_slice(&keys[..self.matched]);
            self.matched = 0;
            if b == keys[0] {
                self.matched = 1;
                if keys.len() == 1 {
                    self.matched = 0;
                    return Watched::Detach(out);
                }
            } else {
                out.push(b);
            }
        }
        Watched::Forward(out)
    }

    /// The keys held back by a partial match (at the end of input).
    pub fn flush(&mut self) -> Vec<u8> {
        let held = self.keys.bytes()[..self.matched].to_vec();
        self.matched = 0;
        held
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dockers_syntax() {
        let p = |s: &str| DetachKeys::parse(s).unwrap().bytes().to_vec();
        assert_eq!(p(""), [0x10, 0x11]);
        assert_eq!(p("ctrl-p,ctrl-q"), [0x10, 0x11]);
        assert_eq!(p("ctrl-a"), [1]);
        assert_eq!(p("ctrl-Z"), [26]);
        assert_eq!(
            p("ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_"),
            [0, 27, 28, 29, 30, 31]
        );
        assert_eq!(p("a,b,ctrl-x"), [b'a', b'b', 24]);
        for bad in ["ctrl-1", "ctrl-", "ab", "ctrl-ab", "a,,b"] {
            let e = DetachKeys::parse(bad).unwrap_err().to_string();
            assert!(
                e.contains(&format!("Invalid detach keys ({bad}) provided")),
                "{e}"
            );
        }
    }

    #[test]
    fn watch_holds_a_partial_match_and_detaches_on_the_whole() {
        let mut w = DetachWatch::new(DetachKeys::default());
        assert_eq!(w.feed(b"ls\x10"), Watched::Forward(b"ls".to_vec()));
        // Broken: Ctrl-P goes on with the byte that broke it.
        assert_eq!(w.feed(b"x"), Watched::Forward(b"\x10x".to_vec()));
        assert_eq!(w.feed(b"\x10"), Watched::Forward(vec![]));
        assert_eq!(w.feed(b"\x11rest"), Watched::Detach(vec![]));
        // Ctrl-P Ctrl-P Ctrl-Q: the first goes on, the pair detaches.
        assert_eq!(w.feed(b"\x10\x10\x11"), Watched::Detach(b"\x10".to_vec()));
        assert_eq!(w.feed(b"\x10"), Watched::Forward(vec![]));
        assert_eq!(w.flush(), b"\x10");
        let mut one = DetachWatch::new(DetachKeys::parse("ctrl-a").unwrap());
        assert_eq!(one.feed(b"ab\x01c"), Watched::Detach(b"ab".to_vec()));
    }
}
