//! The mount flags of `run`/`create`, parsed once into typed [`MountSpec`]s with Docker's
//! rules: `-v SRC:DST[:MODE]`, `-v DST`, `--mount KEY=VALUE,...`, `--tmpfs DST[:OPTS]`,
//! `--volumes-from CONTAINER[:MODE]`. Errors name the flag and the bad value.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Error, valid_name};

mod mount_flag;
mod typed;

pub use mount_flag::parse_mount_flag;
#[cfg(test)]
use mount_flag::parse_size;

/// What kind of mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    /// A host path.
    Bind,
    /// A named or anonymous volume.
    Volume,
    /// A fresh tmpfs.
    Tmpfs,
}

impl MountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MountKind::Bind => "bind",
            MountKind::Volume => "volume",
            MountKind::Tmpfs => "tmpfs",
        }
    }
}

/// Which flag a mount came from (for `HostConfig` and for Docker's different rules).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountOrigin {
    /// `-v`, with the text as given (for `HostConfig.Binds`).
    VolumeFlag(String),
    /// `--mount`.
    MountFlag,
    /// `--tmpfs`, with the options as given (for `HostConfig.Tmpfs`).
    TmpfsFlag(String),
}

/// One mount a container asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountSpec {
    pub kind: MountKind,
    /// The host path (bind) or the volume name (`None`: anonymous; tmpfs: none).
    pub source: Option<String>,
    /// The absolute path in the container.
    pub target: String,
    pub read_only: bool,
    /// Bind propagation (`rprivate` when not given).
    pub propagation: Option<String>,
    /// `nocopy`/`volume-nocopy`: do not fill a new volume with the image's content.
    pub nocopy: bool,
    /// tmpfs mount options (`size=67108864`, `mode=1777`, `noexec`...).
    pub tmpfs_options: Vec<String>,
    /// `--mount volume-label=K=V`: labels for a volume made by this mount.
    pub volume_labels: BTreeMap<String, String>,
    /// `--mount volume-opt=K=V`: local driver options for a volume made by this mount.
    pub volume_options: BTreeMap<String, String>,
    /// Docker's `Mode` field (`ro`, `z`, the `-v` mode text).
    pub mode: String,
    pub origin: MountOrigin,
}

impl MountSpec {
    /// A mount on `target`, which is cleaned lexically (`/a/b/../c` is `/a/c`), as
    /// Docker does.
    fn new(kind: MountKind, target: String, origin: MountOrigin) -> MountSpec {
        let target = std::path::Path::new("/")
            .join(crate::sandbox::special::clean_relative(
                std::path::Path::new(&target),
            ))
            .display()
            .to_string();
        MountSpec {
            kind,
            source: None,
            target,
            read_only: false,
            propagation: None,
            nocopy: false,
            tmpfs_options: Vec::new(),
            volume_labels: BTreeMap::new(),
            volume_options: BTreeMap::new(),
            mode: String::new(),
            origin,
        }
    }
}

/// `--volumes-from CONTAINER[:ro|rw]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumesFrom {
    pub container: String,
    /// `Some(true)` for `:ro`, `Some(false)` for `:rw`, `None` to keep each mount's mode.
    pub read_only: Option<bool>,
}

const PROPAGATIONS: &[&str] = &[
    "private", "rprivate", "shared", "rshared", "slave", "rslave",
];

fn bad(flag: &str, value: &str, why: impl std::fmt::Display) -> Error {
    Error::Invalid(format!(
        "invalid argument \"{value}\" for \"{flag}\" flag: {why}"
    ))
}

/// Checks a container path: absolute, not `/`.
fn check_target(flag: &str, value: &str, target: &str) -> Result<(), Error> {
    if !target.starts_with('/') {
        return Err(bad(
            flag,
            value,
            format!("invalid mount path: '{target}' mount path must be absolute"),
        ));
    }
    // Lexically cleaned, as Go's path.Clean: `/a/..` is `/` too.
    let mut depth = 0usize;
    for c in Path::new(target).components() {
        match c {
            std::path::Component::Normal(_) => depth += 1,
            std::path::Component::ParentDir => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    if depth == 0 {
        return Err(bad(
            flag,
            value,
            "invalid specification: destination can't be '/'",
        ));
    }
    Ok(())
}

/// A host path given relative (`./data`) made absolute, as Docker's CLI does.
fn host_path(src: &str) -> String {
    if src.starts_with('/') {
        return src.to_string();
    }
    std::path::absolute(src)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| src.to_string())
}

/// Parses one `-v`/`--volume` value.
pub fn parse_volume_flag(value: &str) -> Result<MountSpec, Error> {
    const FLAG: &str = "-v, --volume";
    let parts: Vec<&str> = value.split(':').collect();
    let is_mode = |s: &str| !s.is_empty() && parse_mode(s).is_ok();
    let (src, dst, mode) = match parts.as_slice() {
        [dst] => (None, *dst, ""),
        // Docker: a destination with a mode is not a valid volume (`/c:ro`).
        [_, mode] if is_mode(mode) => {
            return Err(bad(
                FLAG,
                value,
                "invalid volume specification: a mode needs a source",
            ));
        }
        [src, dst] => (Some(*src), *dst, ""),
        [src, dst, mode] => (Some(*src), *dst, *mode),
        _ => {
            return Err(bad(
                FLAG,
                value,
                "invalid volume specification: too many colons",
            ));
        }
    };
    if dst.is_empty() || src.is_some_and(str::is_empty) {
        return Err(bad(
            FLAG,
            value,
            "invalid volume specification: empty section",
        ));
    }
    check_target(FLAG, value, dst)?;
    let m = parse_mode(mode).map_err(|why| bad(FLAG, value, why.message))?;
    let kind = match src {
        Some(s) if s.starts_with('/') || s.starts_with('.') => MountKind::Bind,
        _ => MountKind::Volume,
    };
    let mut spec = MountSpec::new(kind, dst.to_string(), MountOrigin::VolumeFlag(value.into()));
    spec.read_only = m.read_only;
    spec.mode = mode.to_string();
    match kind {
        MountKind::Bind => {
            if m.nocopy {
                return Err(bad(FLAG, value, "invalid mode: nocopy is for volumes only"));
            }
            spec.source = src.map(host_path);
            spec.propagation = m.propagation;
            // HostConfig.Binds shows the absolute path, as Docker's CLI sends it.
            if let Some(abs) = &spec.source
                && src != Some(abs.as_str())
            {
                let tail = value.split_once(':').map(|(_, t)| t).unwrap_or_default();
                spec.origin = MountOrigin::VolumeFlag(format!("{abs}:{tail}"));
            }
        }
        _ => {
            if m.propagation.is_some() {
                return Err(bad(
                    FLAG,
                    value,
                    "invalid mode: propagation is for bind mounts only",
                ));
            }
            if let Some(name) = src
                && !valid_name(name)
            {
                return Err(bad(
                    FLAG,
                    value,
                    format!(
                        "\"{name}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
                    ),
                ));
            }
            spec.source = src.map(str::to_string);
            spec.nocopy = m.nocopy;
            // Docker's `Mode` of a named volume given no mode; an anonymous one (`-v /c`,
            // which Docker takes as the container's `Volumes`) has none.
            if mode.is_empty() && src.is_some() {
                spec.mode = "z".into();
            }
        }
    }
    Ok(spec)
}

/// The meaning of a `-v` mode text (`ro,z`, `rw,rshared`, `nocopy`).
#[derive(Debug, Default)]
struct Mode {
    read_only: bool,
    propagation: Option<String>,
    nocopy: bool,
}

fn parse_mode(mode: &str) -> Result<Mode, crate::InvalidValue> {
    let mut m = Mode::default();
    if mode.is_empty() {
        return Ok(m);
    }
    let (mut rw, mut label, mut consistency) = (false, false, false);
    for o in mode.split(',') {
        let dup = match o {
            "ro" | "rw" => {
                m.read_only = o == "ro";
                std::mem::replace(&mut rw, true)
            }
            "z" | "Z" => std::mem::replace(&mut label, true),
            "nocopy" => std::mem::replace(&mut m.nocopy, true),
            "consistent" | "cached" | "delegated" => std::mem::replace(&mut consistency, true),
            p if PROPAGATIONS.contains(&p) => m.propagation.replace(p.into()).is_some(),
            _ => true,
        };
        if dup {
            return Err(crate::InvalidValue::new(
                mode,
                format!("invalid mode: {mode}"),
            ));
        }
    }
    Ok(m)
}

/// tmpfs options `--tmpfs` passes to the kernel: flags, and keys with a checked value.
fn check_tmpfs_option(o: &str) -> Result<(), crate::InvalidValue> {
    const FLAGS: &[&str] = &[
        "ro",
        "rw",
        "exec",
        "noexec",
        "suid",
        "nosuid",
        "dev",
        "nodev",
        "atime",
        "noatime",
        "relatime",
        "strictatime",
        "diratime",
        "nodiratime",
        "sync",
        "async",
    ];
    if FLAGS.contains(&o) {
        return Ok(());
    }
    let (k, v) = o
        .split_once('=')
        .ok_or_else(|| crate::InvalidValue::new(o, format!("invalid tmpfs option {o:?}")))?;
    let ok = match k {
        "size" => {
            let num = v.trim_end_matches(['k', 'K', 'm', 'M', 'g', 'G', '%']);
            !num.is_empty() && num.bytes().all(|b| b.is_ascii_digit())
        }
        "mode" => !v.is_empty() && v.bytes().all(|b| (b'0'..=b'7').contains(&b)),
        "uid" | "gid" | "nr_inodes" | "nr_blocks" => v.parse::<u64>().is_ok(),
        "mpol" => !v.is_empty(),
        _ => {
            return Err(crate::InvalidValue::new(
                o,
                format!("invalid tmpfs option {o:?}"),
            ));
        }
    };
    if ok {
        Ok(())
    } else {
        Err(crate::InvalidValue::new(
            o,
            format!("invalid value for tmpfs option {k}: {v:?}"),
        ))
    }
}

/// Parses one `--tmpfs` value: `DST[:OPTS]`.
pub fn parse_tmpfs_flag(value: &str) -> Result<MountSpec, Error> {
    const FLAG: &str = "--tmpfs";
    let (dst, opts) = value.split_once(':').unwrap_or((value, ""));
    check_target(FLAG, value, dst)?;
    let mut spec = MountSpec::new(
        MountKind::Tmpfs,
        dst.into(),
        MountOrigin::TmpfsFlag(opts.into()),
    );
    // Docker's defaults for --tmpfs; the given options come after and win.
    spec.tmpfs_options = vec!["noexec".into(), "nosuid".into(), "nodev".into()];
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        check_tmpfs_option(o).map_err(|why| bad(FLAG, value, why.message))?;
        if o == "ro" {
            spec.read_only = true;
        }
        spec.tmpfs_options.push(o.to_string());
    }
    Ok(spec)
}

/// Parses one `--volumes-from` value.
pub fn parse_volumes_from(value: &str) -> Result<VolumesFrom, Error> {
    let (container, mode) = match value.split_once(':') {
        Some((c, m)) => (c, Some(m)),
        None => (value, None),
    };
    let read_only = match mode {
        None => None,
        Some("ro") => Some(true),
        Some("rw") => Some(false),
        Some(m) => return Err(bad("--volumes-from", value, format!("invalid mode: {m}"))),
    };
    if container.is_empty() {
        return Err(bad("--volumes-from", value, "no container given"));
    }
    Ok(VolumesFrom {
        container: container.into(),
        read_only,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_flag_forms() {
        let b = parse_volume_flag("/h:/c:ro").unwrap();
        assert_eq!(b.kind, MountKind::Bind);
        assert_eq!(b.source.as_deref(), Some("/h"));
        assert!(b.read_only);
        assert_eq!(b.mode, "ro");
        let v = parse_volume_flag("data:/var/lib/x").unwrap();
        assert_eq!(
            (v.kind, v.source.as_deref(), v.mode.as_str()),
            (MountKind::Volume, Some("data"), "z")
        );
        let a = parse_volume_flag("/c").unwrap();
        assert_eq!((a.kind, a.source.clone()), (MountKind::Volume, None));
        assert_eq!(a.mode, "");
        assert!(parse_volume_flag("/c:ro").is_err());
        let p = parse_volume_flag("/h:/c:rw,rshared,z").unwrap();
        assert_eq!(p.propagation.as_deref(), Some("rshared"));
        let cwd = std::env::current_dir().unwrap();
        let r = parse_volume_flag("./d:/c:ro").unwrap();
        assert_eq!(r.source, Some(format!("{}/d", cwd.display())));
        assert_eq!(
            r.origin,
            MountOrigin::VolumeFlag(format!("{}/d:/c:ro", cwd.display()))
        );
        let n = parse_volume_flag("v1:/c:nocopy").unwrap();
        assert!(n.nocopy);
    }

    #[test]
    fn volume_flag_errors_name_the_flag_and_value() {
        for (v, why) in [
            ("/h:c", "must be absolute"),
            ("/h:/", "can't be '/'"),
            ("/h:/a/..", "can't be '/'"),
            ("/h:/c:xx", "invalid mode: xx"),
            ("/h:/c:ro,rw", "invalid mode"),
            ("a:b:c:d", "too many colons"),
            ("bad name:/c", "invalid characters"),
            ("/h:/c:nocopy", "volumes only"),
            ("v1:/c:rshared", "bind mounts only"),
            (":/c", "empty section"),
        ] {
            let e = parse_volume_flag(v).unwrap_err().to_string();
            assert!(
                e.contains(&format!("\"{v}\"")) && e.contains("-v, --volume"),
                "{e}"
            );
            assert!(e.contains(why), "{v}: {e}");
        }
    }

    #[test]
    fn tmpfs_and_volumes_from() {
        let t = parse_tmpfs_flag("/run:size=64m,mode=1777,exec").unwrap();
        assert_eq!(t.target, "/run");
        assert_eq!(t.tmpfs_options.last().map(String::as_str), Some("exec"));
        assert!(parse_tmpfs_flag("/run:size=big").is_err());
        assert!(parse_tmpfs_flag("/run:bogus").is_err());
        assert!(parse_tmpfs_flag("run").is_err());
        assert_eq!(
            parse_volumes_from("web:ro").unwrap(),
            VolumesFrom {
                container: "web".into(),
                read_only: Some(true)
            }
        );
        assert!(parse_volumes_from("web:xx").is_err());
        assert_eq!(parse_size("64m"), Some(64 << 20));
        assert_eq!(parse_size("1.5k"), Some(1536));
        assert_eq!(parse_size("x"), None);
    }
}

#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// No text makes a parser panic; whatever parses has an absolute target that is
        /// not `/`, and a volume source that is a valid name.
        #[test]
        fn parsers_never_panic_and_keep_their_promises(s in "[a-z/:.,=_0-9 -]{0,40}") {
            for m in [parse_volume_flag(&s), parse_mount_flag(&s), parse_tmpfs_flag(&s)]
                .into_iter()
                .flatten()
            {
                prop_assert!(m.target.starts_with('/'), "{s:?} → {m:?}");
                prop_assert!(
                    crate::volume::plan::tests_depth(&m.target) > 1,
                    "{s:?} → {m:?}"
                );
                if m.kind == MountKind::Volume
                    && let Some(n) = &m.source
                {
                    prop_assert!(valid_name(n), "{s:?} → {n:?}");
                }
            }
            let _ = parse_volumes_from(&s);
            let _ = parse_size(&s);
        }

        /// A well-formed `-v` round-trips its parts.
        #[test]
        fn volume_flags_keep_their_parts(
            name in "[a-z0-9][a-z0-9_.-]{1,10}",
            dir in "(/[a-z0-9]{1,5}){1,3}",
            ro in any::<bool>(),
        ) {
            let text = format!("{name}:{dir}{}", if ro { ":ro" } else { "" });
            let m = parse_volume_flag(&text).unwrap();
            prop_assert_eq!(m.kind, MountKind::Volume);
            prop_assert_eq!(m.source.as_deref(), Some(name.as_str()));
            prop_assert_eq!(&m.target, &dir);
            prop_assert_eq!(m.read_only, ro);
        }
    }
}
