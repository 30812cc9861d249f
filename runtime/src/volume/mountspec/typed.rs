//! Mounts made by library callers as typed values (the testkit's `Mount::bind_mount`),
//! with no flag text to parse: a host path holding `:` or `,` is just a path. The checks
//! are those of `--mount`.

use std::path::Path;

use super::{
    Error, MountKind, MountOrigin, MountSpec, check_target, check_tmpfs_option, valid_name,
};

const WHAT: &str = "mount";

impl MountSpec {
    /// The host path `host` (made absolute) at `target`, read-write.
    pub fn bind(host: impl AsRef<Path>, target: &str) -> Result<MountSpec, Error> {
        let host = std::path::absolute(host.as_ref()).map_err(|e| {
            Error::Invalid(format!(
                "bind mount of {}: cannot make the path absolute: {e}",
                host.as_ref().display()
            ))
        })?;
        check_target(WHAT, target, target)?;
        let mut spec = MountSpec::new(MountKind::Bind, target.into(), MountOrigin::MountFlag);
        spec.source = Some(host.display().to_string());
        Ok(spec)
    }

    /// The named volume `name` (made if missing) at `target`, read-write.
    pub fn volume(name: &str, target: &str) -> Result<MountSpec, Error> {
        if !valid_name(name) {
            return Err(Error::Invalid(format!(
                "\"{name}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed"
            )));
        }
        check_target(WHAT, target, target)?;
        let mut spec = MountSpec::new(MountKind::Volume, target.into(), MountOrigin::MountFlag);
        spec.source = Some(name.into());
        spec.mode = "z".into();
        Ok(spec)
    }

    /// A fresh tmpfs at `target` (nosuid, nodev, noexec, as `--mount type=tmpfs`), with
    /// `options` after those (`size=64m`, `mode=1777`, `exec`).
    pub fn tmpfs(target: &str, options: &[&str]) -> Result<MountSpec, Error> {
        check_target(WHAT, target, target)?;
        for o in options {
            check_tmpfs_option(o)
                .map_err(|why| Error::Invalid(format!("tmpfs at {target}: {why}")))?;
        }
        let mut spec = MountSpec::new(MountKind::Tmpfs, target.into(), MountOrigin::MountFlag);
        spec.tmpfs_options = ["nosuid", "nodev", "noexec"]
            .iter()
            .chain(options)
            .map(|o| o.to_string())
            .collect();
        Ok(spec)
    }

    /// This mount, read-only.
    pub fn read_only(mut self) -> MountSpec {
        self.read_only = true;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_mounts_take_any_host_path() {
        let m = MountSpec::bind("/tmp/a:b,c", "/data").unwrap().read_only();
        assert_eq!(
            (m.kind, m.source.as_deref(), m.target.as_str(), m.read_only),
            (MountKind::Bind, Some("/tmp/a:b,c"), "/data", true)
        );
        assert!(MountSpec::bind("/tmp", "data").is_err());
        assert!(MountSpec::bind("/tmp", "/").is_err());
        assert_eq!(
            MountSpec::volume("v1", "/v").unwrap().source.as_deref(),
            Some("v1")
        );
        assert!(MountSpec::volume("bad/name", "/v").is_err());
        let t = MountSpec::tmpfs("/scratch", &["size=1m"]).unwrap();
        assert_eq!(t.tmpfs_options.last().map(String::as_str), Some("size=1m"));
        assert!(MountSpec::tmpfs("/scratch", &["bogus"]).is_err());
    }
}
