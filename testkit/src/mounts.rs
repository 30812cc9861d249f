//! [`Mount`]: a host path, a named volume or a tmpfs, as testcontainers names them, made
//! into the engine's typed mounts (no `-v` text: any host path works).

/// Read-only or read-write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AccessMode {
    ReadOnly,
    #[default]
    ReadWrite,
}

/// What kind of mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountType {
    Bind,
    Volume,
    Tmpfs,
}

/// A mount of a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    kind: MountType,
    source: Option<String>,
    target: String,
    access_mode: AccessMode,
    /// tmpfs options (`size=...`, `mode=...`).
    tmpfs: Vec<String>,
}

impl Mount {
    fn new(kind: MountType, source: Option<String>, target: String) -> Mount {
        Mount {
            kind,
            source,
            target,
            access_mode: AccessMode::ReadWrite,
            tmpfs: Vec::new(),
        }
    }

    /// The host path `host_path` at `container_path`.
    pub fn bind_mount(host_path: impl Into<String>, container_path: impl Into<String>) -> Mount {
        Mount::new(
            MountType::Bind,
            Some(host_path.into()),
            container_path.into(),
        )
    }

    /// The named volume `name` (made if missing) at `container_path`.
    pub fn volume_mount(name: impl Into<String>, container_path: impl Into<String>) -> Mount {
        Mount::new(MountType::Volume, Some(name.into()), container_path.into())
    }

    /// A fresh tmpfs at `container_path`.
    pub fn tmpfs_mount(container_path: impl Into<String>) -> Mount {
        Mount::new(MountType::Tmpfs, None, container_path.into())
    }

    pub fn with_access_mode(mut self, access_mode: AccessMode) -> Mount {
        self.access_mode = access_mode;
        self
    }

    /// A tmpfs of at most `size` bytes.
    pub fn with_size_bytes(mut self, size: i64) -> Mount {
        self.tmpfs.retain(|o| !o.starts_with("size="));
        self.tmpfs.push(format!("size={size}"));
        self
    }

    /// A tmpfs of at most `size` (`64m`, `1g`: tmpfs's own suffixes).
    pub fn with_size(mut self, size: &str) -> Mount {
        self.tmpfs.retain(|o| !o.starts_with("size="));
        self.tmpfs.push(format!("size={}", size.trim()));
        self
    }

    /// A tmpfs root of mode `mode` (octal digits as a number: `0o1777`).
    pub fn with_mode(mut self, mode: i64) -> Mount {
        self.tmpfs.retain(|o| !o.starts_with("mode="));
        self.tmpfs.push(format!("mode={mode:o}"));
        self
    }

    pub fn access_mode(&self) -> AccessMode {
        self.access_mode
    }

    pub fn mount_type(&self) -> MountType {
        self.kind
    }

    pub fn source(&self) -> Option<&str> {
        self.source.as_deref()
    }

    pub fn target(&self) -> Option<&str> {
        Some(&self.target)
    }

    /// The engine's mount.
    pub(crate) fn spec(&self) -> Result<tug::volume::MountSpec, String> {
        use tug::volume::MountSpec;
        let source = self.source.as_deref().unwrap_or_default();
        let opts: Vec<&str> = self.tmpfs.iter().map(String::as_str).collect();
        let spec = match self.kind {
            MountType::Bind => MountSpec::bind(source, &self.target),
            MountType::Volume => MountSpec::volume(source, &self.target),
            MountType::Tmpfs => MountSpec::tmpfs(&self.target, &opts),
        }
        .map_err(|e| e.to_string())?;
        Ok(match self.access_mode {
            AccessMode::ReadOnly => spec.read_only(),
            AccessMode::ReadWrite => spec,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_become_typed_engine_mounts() {
        let m =
            Mount::bind_mount("/tmp/with:colon", "/data").with_access_mode(AccessMode::ReadOnly);
        let s = m.spec().unwrap();
        assert_eq!(
            (s.source.as_deref(), s.target.as_str(), s.read_only),
            (Some("/tmp/with:colon"), "/data", true)
        );
        let t = Mount::tmpfs_mount("/scratch")
            .with_size("1m")
            .with_mode(0o1777)
            .spec()
            .unwrap();
        assert!(t.tmpfs_options.contains(&"size=1m".to_string()));
        assert!(t.tmpfs_options.contains(&"mode=1777".to_string()));
        assert!(Mount::volume_mount("a/b", "/v").spec().is_err());
    }
}
