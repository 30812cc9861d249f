//! A container's mounts planned at create time: the parsed flags, `--volumes-from` and
//! the image's VOLUMEs become OCI mounts (parents before children), Docker's `Mounts`
//! records and `HostConfig` fields, and the notes the init needs (which volumes to fill
//! with the image's content, which `-v` host dirs to make). Every flag is checked
//! before anything is made; then volumes are made (or found) and recorded as used by
//! the new container.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{Mount, MountBuilder};
use serde_json::{Value, json};

use super::Error;
use super::mountspec::{MountKind, MountOrigin, MountSpec, VolumesFrom};
use super::records::{MountPoint, host_mount};
use super::store::{Volume, VolumeOptions, VolumeStore};

/// The init's annotations this plan writes (the sandbox reads them, so it defines them).
pub use crate::sandbox::{COPY_UP_ANNOTATION, CREATE_SOURCE_ANNOTATION};

/// What a container's mounts come to.
#[derive(Debug, Clone, Default)]
pub struct MountPlan {
    /// The OCI mounts, parents first, to add after the default ones.
    pub mounts: Vec<Mount>,
    /// Docker's `Mounts`.
    pub points: Vec<MountPoint>,
    /// `HostConfig.Binds`: the `-v SRC:DST[:MODE]` texts.
    pub binds: Vec<String>,
    /// `HostConfig.Mounts`: the `--mount` flags as Docker records them.
    pub host_mounts: Vec<Value>,
    /// `HostConfig.Tmpfs`: destination → options.
    pub tmpfs: BTreeMap<String, String>,
    /// `HostConfig.VolumesFrom`.
    pub volumes_from: Vec<String>,
    /// `Config.Volumes`: the anonymous volume destinations (image VOLUMEs, `-v /path`).
    pub config_volumes: BTreeMap<String, Value>,
    /// The spec annotations for the init.
    pub annotations: BTreeMap<String, String>,
}

/// A path with `.`, `//`, `..` and a trailing `/` resolved lexically, for comparing
/// destinations.
fn clean(p: &str) -> PathBuf {
    Path::new("/").join(crate::sandbox::special::clean_relative(Path::new(p)))
}

fn depth(p: &str) -> usize {
    clean(p).components().count()
}

/// [`depth`] for the parsers' tests.
#[cfg(test)]
pub(crate) fn tests_depth(p: &str) -> usize {
    depth(p)
}

fn oci_mount(dest: &str, typ: &str, source: &str, options: Vec<String>) -> Result<Mount, Error> {
    MountBuilder::default()
        .destination(dest)
        .typ(typ)
        .source(source)
        .options(options)
        .build()
        .map_err(|e| Error::Invalid(format!("mount on {dest}: {e}")))
}

/// A mount to make, before the volumes exist.
struct Planned {
    spec: MountSpec,
    /// Not from this container's own flags (`--volumes-from`, an image VOLUME): no
    /// `HostConfig` entry.
    implicit: bool,
}

/// Plans the mounts of new container `id` with the volumes of `volumes`: checks every flag
/// first (nothing is made when one is bad), then makes or finds the volumes, recording
/// each use by `id`. Each `--volumes-from` comes with the other container's Docker
/// `Mounts` records. The names of the volumes made go to `made`, so that a failed create
/// can remove them.
pub(crate) fn plan_mounts(
    volumes: &VolumeStore,
    id: &str,
    specs: &[MountSpec],
    volumes_from: &[(VolumesFrom, Vec<Value>)],
    image_volumes: &[String],
    made: &mut Vec<String>,
) -> Result<MountPlan, Error> {
    let mut plan = MountPlan::default();
    let planned = gather(specs, volumes_from, image_volumes, &mut plan)?;
    for p in &planned {
        check_special_target(p)?;
    }
    let (mut copy_up, mut create_sources) = (Vec::new(), Vec::new());
    for p in planned {
        let s = &p.spec;
        if !p.implicit {
            record_flag(s, &mut plan);
        }
        let (mount, point) = match s.kind {
            MountKind::Bind => {
                let src = s.source.clone().unwrap_or_default();
                if matches!(s.origin, MountOrigin::VolumeFlag(_))
                    && std::fs::symlink_metadata(&src).is_err()
                {
                    create_sources.push(src);
                }
                (bind_mount(s)?, Some(MountPoint::new(s, None)))
            }
            MountKind::Volume => {
                let opts = VolumeOptions {
                    name: s.source.clone(),
                    driver: None,
                    labels: (!s.volume_labels.is_empty()).then(|| s.volume_labels.clone()),
                    options: (!s.volume_options.is_empty()).then(|| s.volume_options.clone()),
                };
                let (v, new) = volumes.acquire(&opts, id)?;
                if new {
                    made.push(v.name.clone());
                }
                if !s.nocopy && driver_mount(&v).is_none() {
                    copy_up.push(s.target.clone());
                }
                (volume_mount(&v, s)?, Some(MountPoint::new(s, Some(&v))))
            }
            MountKind::Tmpfs => {
                let mut options = s.tmpfs_options.clone();
                if s.read_only && !options.iter().any(|o| o == "ro") {
                    options.push("ro".into());
                }
                // Docker lists `--mount type=tmpfs` in Mounts, not `--tmpfs`.
                let point = (s.origin == MountOrigin::MountFlag).then(|| MountPoint::new(s, None));
                (oci_mount(&s.target, "tmpfs", "tmpfs", options)?, point)
            }
        };
        plan.mounts.push(mount);
        plan.points.extend(point);
    }
    for (key, list) in [
        (COPY_UP_ANNOTATION, copy_up),
        (CREATE_SOURCE_ANNOTATION, create_sources),
    ] {
        if !list.is_empty() {
            // A list of strings always serialises.
            let text = serde_json::to_string(&list).unwrap_or_default();
            plan.annotations.insert(key.into(), text);
        }
    }
    Ok(plan)
}

/// Every mount to make, checked, parents first: the flags' (no two on one
/// destination; a `--mount` bind source must exist), then `--volumes-from`'s and the
/// image VOLUMEs' where no flag covers their destination.
fn gather(
    specs: &[MountSpec],
    volumes_from: &[(VolumesFrom, Vec<Value>)],
    image_volumes: &[String],
    plan: &mut MountPlan,
) -> Result<Vec<Planned>, Error> {
    let mut planned = Vec::new();
    let mut taken = HashSet::new();
    for s in specs {
        if !taken.insert(clean(&s.target)) {
            return Err(Error::Invalid(format!(
                "Duplicate mount point: {}",
                s.target
            )));
        }
        if s.kind == MountKind::Bind
            && s.origin == MountOrigin::MountFlag
            && let Some(src) = &s.source
            && std::fs::symlink_metadata(src).is_err()
        {
            return Err(Error::Invalid(format!(
                "invalid mount config for type \"bind\": bind source path does not exist: {src}"
            )));
        }
        planned.push(Planned {
            spec: s.clone(),
            implicit: false,
        });
    }
    for (vf, their_mounts) in volumes_from {
        for p in their_mounts {
            let Ok(mp) = serde_json::from_value::<MountPoint>(p.clone()) else {
                continue;
            };
            if let Some(spec) = shared_mount(&mp, vf)
                && taken.insert(clean(&spec.target))
            {
                planned.push(Planned {
                    spec,
                    implicit: true,
                });
            }
        }
        plan.volumes_from.push(match vf.read_only {
            None => vf.container.clone(),
            Some(ro) => format!("{}:{}", vf.container, if ro { "ro" } else { "rw" }),
        });
    }
    let mut image_volumes = image_volumes.to_vec();
    image_volumes.sort();
    for v in image_volumes {
        plan.config_volumes.insert(v.clone(), json!({}));
        if taken.insert(clean(&v)) {
            let mut spec = super::mountspec::parse_volume_flag(&v).map_err(|e| {
                Error::Invalid(format!(
                    "the image's VOLUME {v:?} is invalid: {}",
                    crate::Report(&e)
                ))
            })?;
            spec.origin = MountOrigin::MountFlag;
            spec.mode = String::new();
            planned.push(Planned {
                spec,
                implicit: true,
            });
        }
    }
    // Parents before children, as Docker sorts them.
    planned.sort_by_key(|p| depth(&p.spec.target));
    Ok(planned)
}

/// Removes from `store` the anonymous volumes among `mounts` (a removed container's Docker
/// `Mounts` records; `rm -v`, `run --rm`) that no other container uses; named volumes
/// stay. Returns the names removed.
pub(crate) fn remove_anonymous(
    store: &VolumeStore,
    mounts: &[Value],
) -> Result<Vec<String>, Error> {
    let names: Vec<String> = mounts
        .iter()
        .filter_map(|m| serde_json::from_value::<MountPoint>(m.clone()).ok())
        .filter(|m| m.kind == "volume")
        .map(|m| m.name)
        .collect();
    store.remove_anonymous(&names)
}

/// The `HostConfig` entry of a mount from a flag.
fn record_flag(s: &MountSpec, plan: &mut MountPlan) {
    match &s.origin {
        MountOrigin::VolumeFlag(text) if s.kind == MountKind::Bind || s.source.is_some() => {
            plan.binds.push(text.clone())
        }
        MountOrigin::VolumeFlag(_) => {
            plan.config_volumes.insert(s.target.clone(), json!({}));
        }
        MountOrigin::MountFlag => plan.host_mounts.push(host_mount(s)),
        MountOrigin::TmpfsFlag(o) => {
            plan.tmpfs.insert(s.target.clone(), o.clone());
        }
    }
}

/// Another container's bind or volume mount, as `--volumes-from` shares it (its mode,
/// unless `:ro`/`:rw` says otherwise; never filled from this image).
fn shared_mount(mp: &MountPoint, vf: &VolumesFrom) -> Option<MountSpec> {
    let kind = match mp.kind.as_str() {
        "bind" => MountKind::Bind,
        "volume" => MountKind::Volume,
        _ => return None,
    };
    Some(MountSpec {
        kind,
        source: Some(if kind == MountKind::Bind {
            mp.source.clone()
        } else {
            mp.name.clone()
        }),
        target: mp.destination.clone(),
        read_only: vf.read_only.unwrap_or(!mp.rw),
        propagation: (kind == MountKind::Bind && !mp.propagation.is_empty())
            .then(|| mp.propagation.clone()),
        nocopy: true,
        tmpfs_options: Vec::new(),
        volume_labels: BTreeMap::new(),
        volume_options: BTreeMap::new(),
        mode: match vf.read_only {
            Some(true) => "ro".into(),
            Some(false) => "rw".into(),
            None => mp.mode.clone(),
        },
        origin: MountOrigin::MountFlag,
    })
}

impl MountPlan {
    /// Adds the planned mounts to `spec` (a default mount at the same destination, such
    /// as a generated /etc/hosts, gives way), and the notes for the init as annotations.
    pub fn apply_to_spec(&self, spec: &mut oci_spec::runtime::Spec) {
        let ours: HashSet<PathBuf> = self
            .mounts
            .iter()
            .map(|m| clean(&m.destination().to_string_lossy()))
            .collect();
        let mut mounts: Vec<Mount> = spec
            .mounts()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .filter(|m| !ours.contains(&clean(&m.destination().to_string_lossy())))
            .collect();
        mounts.extend(self.mounts.iter().cloned());
        // Parents before children across all mounts (a volume on /etc comes before the
        // generated /etc/hosts), keeping the order otherwise.
        mounts.sort_by_key(|m| depth(&m.destination().to_string_lossy()));
        spec.set_mounts(Some(mounts));
        if !self.annotations.is_empty() {
            let mut a = spec.annotations().clone().unwrap_or_default();
            a.extend(self.annotations.clone());
            spec.set_annotations(Some(a));
        }
    }
}

/// Refuses a mount over /proc or /sys that is not the kernel's own view (see
/// `sandbox::special`), naming the flag or the image VOLUME that asked for it.
fn check_special_target(p: &Planned) -> Result<(), Error> {
    use crate::sandbox::special;
    let s = &p.spec;
    let (kind, bind) = match s.kind {
        MountKind::Bind => ("bind", true),
        MountKind::Volume => ("volume", false),
        MountKind::Tmpfs => ("tmpfs", false),
    };
    let dest = special::clean_relative(Path::new(&s.target));
    special::check(&dest, kind, bind, || {
        s.source.as_deref().map_or(special::SourceFs::Other, |src| {
            special::source_fs(Path::new(src))
        })
    })
    .map_err(|why| {
        let what = match (&s.origin, p.implicit) {
            (_, true) => format!("the volume on {}", s.target),
            (MountOrigin::VolumeFlag(v), _) => format!("-v {v}"),
            (MountOrigin::TmpfsFlag(_), _) => format!("--tmpfs {}", s.target),
            (MountOrigin::MountFlag, _) => format!("--mount target={}", s.target),
        };
        Error::Invalid(format!(
            "invalid mount config for {what}: {}",
            crate::Report(&why)
        ))
    })
}

/// The OCI mount of a bind: recursive, rprivate unless told, read-only on request.
fn bind_mount(s: &MountSpec) -> Result<Mount, Error> {
    let prop = s.propagation.clone().unwrap_or_else(|| "rprivate".into());
    let mut options = vec!["rbind".to_string(), prop];
    if s.read_only {
        options.push("ro".into());
    }
    oci_mount(
        &s.target,
        "bind",
        s.source.as_deref().unwrap_or_default(),
        options,
    )
}

/// The local driver's own mount of a volume made with `--opt type= --opt device=`:
/// (type, device, options).
fn driver_mount(v: &Volume) -> Option<(&str, &str, Option<&str>)> {
    let o = v.options.as_ref()?;
    Some((
        o.get("type")?.as_str(),
        o.get("device")?.as_str(),
        o.get("o").map(String::as_str),
    ))
}

/// The OCI mount of a volume: a bind of its `_data`, or the local driver's own mount.
fn volume_mount(v: &Volume, s: &MountSpec) -> Result<Mount, Error> {
    let Some((typ, device, opts)) = driver_mount(v) else {
        let mut options = vec!["rbind".to_string(), "rprivate".to_string()];
        if s.read_only {
            options.push("ro".into());
        }
        return oci_mount(&s.target, "bind", &v.mountpoint, options);
    };
    let mut options: Vec<String> = opts
        .unwrap_or_default()
        .split(',')
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect();
    if s.read_only {
        options.push("ro".into());
    }
    // `type=none,o=bind`: a bind mount of `device`, as Docker's local driver makes it.
    let typ = if typ == "none" { "bind" } else { typ };
    if typ == "bind" && !options.iter().any(|o| o == "bind" || o == "rbind") {
        options.push("rbind".into());
    }
    oci_mount(&s.target, typ, device, options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_compare_cleaned() {
        assert_eq!(clean("/data/"), clean("/data"));
        assert_eq!(clean("/a/./b//c"), PathBuf::from("/a/b/c"));
        assert_eq!(clean("/a/../b"), PathBuf::from("/b"));
        assert_eq!(depth("/etc/hosts"), 3);
    }

    #[test]
    fn mounts_go_parents_first_and_replace_defaults() {
        let mut spec = oci_spec::runtime::Spec::default();
        spec.set_mounts(Some(vec![
            oci_mount("/proc", "proc", "proc", vec![]).unwrap(),
            oci_mount("/etc/hosts", "bind", "/c/hosts", vec!["rbind".into()]).unwrap(),
            oci_mount("/dev/shm", "tmpfs", "shm", vec![]).unwrap(),
        ]));
        let plan = MountPlan {
            mounts: vec![
                oci_mount("/etc", "bind", "/v/_data", vec!["rbind".into()]).unwrap(),
                oci_mount("/dev/shm", "tmpfs", "tmpfs", vec!["size=1m".into()]).unwrap(),
            ],
            annotations: BTreeMap::from([(COPY_UP_ANNOTATION.to_string(), "[\"/etc\"]".into())]),
            ..MountPlan::default()
        };
        plan.apply_to_spec(&mut spec);
        let order: Vec<String> = spec
            .mounts()
            .as_ref()
            .unwrap()
            .iter()
            .map(|m| {
                format!(
                    "{} {}",
                    m.destination().display(),
                    m.source().as_ref().unwrap().display()
                )
            })
            .collect();
        assert_eq!(
            order,
            [
                "/proc proc",
                "/etc /v/_data",
                "/etc/hosts /c/hosts",
                "/dev/shm tmpfs"
            ]
        );
        assert_eq!(
            spec.annotations().as_ref().unwrap()[COPY_UP_ANNOTATION],
            "[\"/etc\"]"
        );
    }
}
