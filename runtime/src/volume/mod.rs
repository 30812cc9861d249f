//! Volumes: named and anonymous volumes of the `local` driver under
//! `<root>/volumes/<name>/` (`_data` and `volume.json`), and the mounts a container asks
//! for (`-v`, `--mount`, `--tmpfs`, `--volumes-from`, the image's VOLUMEs), parsed once at
//! the edge into [`MountSpec`]s and planned at create time into OCI mounts and Docker's
//! `Mounts` records. The mounting itself happens in the container's init
//! (`sandbox::volumes`).

pub(crate) mod mountspec;
pub(crate) mod plan;
pub(crate) mod records;
pub(crate) mod store;

pub use mountspec::{
    MountKind, MountOrigin, MountSpec, VolumesFrom, parse_mount_flag, parse_tmpfs_flag,
    parse_volume_flag, parse_volumes_from,
};
pub use plan::MountPlan;
pub use records::MountPoint;
pub use store::{Volume, VolumeOptions, VolumeStore};

/// The label Docker puts on the volumes it makes for `-v /path` and image VOLUMEs.
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

/// An error of the `volume` module.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Io(String, #[source] std::io::Error),
    /// A bad flag value or volume name; the text names the flag and the value.
    #[error("{0}")]
    Invalid(String),
    /// `get NAME: no such volume`, as Docker says it.
    #[error("get {0}: no such volume")]
    NotFound(String),
    /// `remove NAME: volume is in use - [ids]`, as Docker says it.
    #[error("remove {name}: volume is in use - [{ids}]", name = .0, ids = .1.join(", "))]
    InUse(String, Vec<String>),
    #[error("{0}")]
    Unsupported(String),
}

impl Error {
    pub(crate) fn io(what: impl std::fmt::Display, e: std::io::Error) -> Error {
        Error::Io(what.to_string(), e)
    }
}

/// Whether `name` is a valid local volume name (Docker's `[a-zA-Z0-9][a-zA-Z0-9_.-]+`).
pub fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_alphanumeric()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// Checks a volume name as Docker's local driver does, with its messages.
pub fn check_name(name: &str) -> Result<(), Error> {
    if valid_name(name) {
        return Ok(());
    }
    if name.len() < 2 && name.bytes().all(|c| c.is_ascii_alphanumeric()) {
        return Err(Error::Invalid(format!(
            "create {name}: volume name is too short, names should be at least two alphanumeric characters"
        )));
    }
    Err(Error::Invalid(format!(
        "create {name}: \"{name}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_dockers_rule() {
        for ok in ["ab", "vol1", "a.b-c_d", "0x", "A9"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in [
            "", "a", "-ab", ".ab", "_ab", "a/b", "a b", "a:b", "..", "ä1",
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
        assert!(
            check_name("a")
                .unwrap_err()
                .to_string()
                .contains("too short")
        );
        assert!(
            check_name("a/b")
                .unwrap_err()
                .to_string()
                .contains("invalid characters")
        );
    }
}
