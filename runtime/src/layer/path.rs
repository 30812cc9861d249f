//! Entry paths of a layer tar, checked and split before anything touches the disk: what an
//! entry names, and whether it is an OCI whiteout.

/// The prefix of an OCI whiteout file name.
pub(crate) const WHITEOUT_PREFIX: &[u8] = b".wh.";
/// The name of an OCI opaque-directory marker.
pub(crate) const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";

/// An entry path, cleaned: a list of plain components relative to the layer root (empty
/// for the root itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EntryPath<'a> {
    comps: Vec<&'a [u8]>,
}

/// What an entry's path means for the tree.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Target<'a> {
    /// An ordinary path to create.
    Plain(EntryPath<'a>),
    /// `DIR/.wh.NAME`: NAME is deleted from the layers below.
    Whiteout(EntryPath<'a>),
    /// `DIR/.wh..wh..opq`: DIR hides the content of the layers below.
    Opaque(EntryPath<'a>),
    /// Other `.wh..wh.*` names and what is inside them (aufs bookkeeping): nothing to do.
    Ignored,
}

impl<'a> EntryPath<'a> {
    /// Cleans a raw tar path: `.` and empty components are dropped, a leading `/` is
    /// taken relative to the root (as Docker does), and `..` anywhere, or a NUL byte, is
    /// refused (a well-formed layer never needs them; `..` is how entries escape).
    pub(crate) fn parse(raw: &'a [u8]) -> Result<EntryPath<'a>, &'static str> {
        if raw.contains(&0) {
            return Err("the path contains a NUL byte");
        }
        let mut comps = Vec::new();
        for c in raw.split(|b| *b == b'/') {
            match c {
                b"" | b"." => {}
                b".." => return Err("the path contains a `..` component"),
                c => comps.push(c),
            }
        }
        Ok(EntryPath { comps })
    }

    /// Whether this is the layer root itself (`./` or `/`).
    pub(crate) fn is_root(&self) -> bool {
        self.comps.is_empty()
    }

    /// The last component (empty for the root).
    pub(crate) fn name(&self) -> &'a [u8] {
        self.comps.last().copied().unwrap_or(b"")
    }

    /// The parent dir's path, joined with `/` (empty for entries in the root).
    pub(crate) fn parent_bytes(&self) -> Vec<u8> {
        join(&self.comps[..self.comps.len().saturating_sub(1)])
    }

    /// The whole path, joined with `/`.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        join(&self.comps)
    }

    /// The parent as an entry path of its own.
    pub(crate) fn parent(&self) -> EntryPath<'a> {
        EntryPath {
            comps: self.comps[..self.comps.len().saturating_sub(1)].to_vec(),
        }
    }

    /// The same dir with another last component.
    fn with_name(&self, name: &'a [u8]) -> EntryPath<'a> {
        let mut comps = self.comps[..self.comps.len().saturating_sub(1)].to_vec();
        comps.push(name);
        EntryPath { comps }
    }

    /// Classifies the path: whiteout, opaque marker, or plain. A whiteout must name a
    /// real entry: `.wh.`, `.wh..` and `.wh...` are refused (they would delete the dir
    /// itself or its parent).
    pub(crate) fn classify(self) -> Result<Target<'a>, &'static str> {
        let name = self.name();
        let parents = &self.comps[..self.comps.len().saturating_sub(1)];
        if parents.iter().any(|c| c.starts_with(b".wh..wh.")) {
            return Ok(Target::Ignored); // inside an aufs bookkeeping dir (`.wh..wh.plnk/`)
        }
        if name == OPAQUE_MARKER {
            return Ok(Target::Opaque(self.parent()));
        }
        if name.starts_with(b".wh..wh.") {
            return Ok(Target::Ignored);
        }
        match name.strip_prefix(WHITEOUT_PREFIX) {
            None => Ok(Target::Plain(self)),
            Some(b"" | b"." | b"..") => Err("a whiteout must name an entry other than `.` or `..`"),
            Some(hidden) => Ok(Target::Whiteout(self.with_name(hidden))),
        }
    }
}

fn join(comps: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(comps.iter().map(|c| c.len() + 1).sum());
    for (i, c) in comps.iter().enumerate() {
        if i > 0 {
            out.push(b'/');
        }
        out.extend_from_slice(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(raw: &str) -> Result<Vec<u8>, &'static str> {
        EntryPath::parse(raw.as_bytes()).map(|p| p.to_bytes())
    }

    #[test]
    fn cleans_dots_slashes_and_absolute_paths() {
        assert_eq!(parsed("./bin/sh").unwrap(), b"bin/sh");
        assert_eq!(parsed("/etc//passwd").unwrap(), b"etc/passwd");
        assert_eq!(parsed("a/./b/").unwrap(), b"a/b");
        assert!(EntryPath::parse(b"./").unwrap().is_root());
        assert!(EntryPath::parse(b"/").unwrap().is_root());
    }

    #[test]
    fn refuses_dot_dot_anywhere_and_nul() {
        assert!(parsed("../x").is_err());
        assert!(parsed("a/../../x").is_err());
        assert!(parsed("a/..").is_err());
        assert!(EntryPath::parse(b"a\0b").is_err());
    }

    #[test]
    fn classifies_whiteouts() {
        let c = |s: &'static str| EntryPath::parse(s.as_bytes()).unwrap().classify();
        assert_eq!(
            c("etc/.wh.passwd").unwrap(),
            Target::Whiteout(EntryPath::parse(b"etc/passwd").unwrap())
        );
        assert_eq!(
            c("etc/.wh..wh..opq").unwrap(),
            Target::Opaque(EntryPath::parse(b"etc").unwrap())
        );
        assert_eq!(c("etc/.wh..wh.plnk").unwrap(), Target::Ignored);
        assert_eq!(c(".wh..wh.plnk/123.45").unwrap(), Target::Ignored);
        assert!(c(".wh..").is_err());
        assert!(c("a/.wh...").is_err());
        assert!(c("a/.wh.").is_err());
        assert_eq!(
            c("a/b").unwrap(),
            Target::Plain(EntryPath::parse(b"a/b").unwrap())
        );
    }
}
