//! A changed path of a container's rootfs, as `docker diff` lists it and as a committed
//! layer records it: computed by `snapshot` from a container's upper dir or copy, and
//! written as a layer tar by [`super::write_changes`].

use std::fmt;
use std::path::PathBuf;

/// The kind of a change, with Docker's API codes (`Kind` in `GET /containers/{id}/changes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    Changed,
    Added,
    Deleted,
}

impl ChangeKind {
    /// The letter `docker diff` prints.
    pub fn letter(self) -> char {
        match self {
            ChangeKind::Changed => 'C',
            ChangeKind::Added => 'A',
            ChangeKind::Deleted => 'D',
        }
    }

    /// Docker's API code: 0 changed, 1 added, 2 deleted.
    pub fn code(self) -> u8 {
        match self {
            ChangeKind::Changed => 0,
            ChangeKind::Added => 1,
            ChangeKind::Deleted => 2,
        }
    }
}

/// One changed path of a container's rootfs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Change {
    pub kind: ChangeKind,
    /// The path in the container, absolute (`/etc/hosts`).
    pub path: PathBuf,
}

impl fmt::Display for Change {
    /// `docker diff`'s line: `C /etc`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind.letter(), self.path.display())
    }
}
