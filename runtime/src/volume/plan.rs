//! A container's mounts planned at create time: the parsed flags, `--volumes-from` and
//! the image's VOLUMEs become OCI mounts (parents before children), Docker's `Mounts`
//! records and `HostConfig` fields, and the notes the init needs (which volumes to fill
//! with the image's content, which `-v` host dirs to make). Volumes are made (or found)
//! here and recorded as used by the new container.

use std::collections::{BTreeMap, HashSet};
use std::path::{Component, Path, PathBuf};

use oci_spec::runtime::{Mount, MountBuilder};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Error;
use super::mountspec::{MountKind, MountOrigin, MountSpec, VolumesFrom};
use super::store::{Volume, VolumeStore};
use crate::Engine;

/// The spec annotation listing (as a JSON array) the destinations whose new, empty
/// volume the init fills with the image's content first.
pub const COPY_UP_ANNOTATION: &str = "io.tug.volume.copy-up";
/// The spec annotation listing (as a JSON array) the `-v` host dirs the init makes when
/// missing, as Docker does.
pub const CREATE_SOURCE_ANNOTATION: &str = "io.tug.bind.create-source";

/// One entry of Docker's `Mounts` in `inspect`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MountPoint {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub source: String,
    pub destination: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub driver: String,
    pub mode: String,
    #[serde(rename = "RW")]
    pub rw: bool,
    pub propagation: String,
}

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

/// A path with `.`, `//` and a trailing `/` gone, for comparing destinations.
fn clean(p: &str) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in Path::new(p).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
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

/// The `HostConfig.Mounts` entry of a `--mount` flag.
fn host_mount(s: &MountSpec) -> Value {
    let mut m = json!({"Type": s.kind.as_str(), "Target": s.target});
    if let Some(src) = &s.source {
        m["Source"] = json!(src);
    }
    if s.read_only {
        m["ReadOnly"] = json!(true);
    }
    match s.kind {
        MountKind::Bind => {
            if let Some(p) = &s.propagation {
                m["BindOptions"] = json!({"Propagation": p});
            }
        }
        MountKind::Volume => {
            if s.nocopy {
                m["VolumeOptions"] = json!({"NoCopy": true});
            }
        }
        MountKind::Tmpfs => {
            let mut o = serde_json::Map::new();
            for opt in &s.tmpfs_options {
                if let Some(v) = opt
                    .strip_prefix("size=")
                    .and_then(|v| v.parse::<u64>().ok())
                {
                    o.insert("SizeBytes".into(), json!(v));
                }
                if let Some(v) = opt
                    .strip_prefix("mode=")
                    .and_then(|v| u32::from_str_radix(v, 8).ok())
                {
                    o.insert("Mode".into(), json!(v));
                }
            }
            if !o.is_empty() {
                m["TmpfsOptions"] = Value::Object(o);
            }
        }
    }
    m
}

/// A planned mount before the volumes are made: what it mounts and how.
struct Planned {
    spec: MountSpec,
    /// Not from this container's flags (`--volumes-from`, an image VOLUME): no
    /// `HostConfig` entry.
    implicit: bool,
}

impl Engine {
    /// The volume store of this engine.
    pub fn volume_store(&self) -> VolumeStore {
        VolumeStore::open(self.root())
    }

    /// Plans the mounts of new container `id`: checks every flag first (nothing is made
    /// when one is bad), then makes or finds the volumes, recording each use by `id`. The
    /// names of the volumes made go to `made`, so that a failed create can remove them.
    pub fn plan_mounts(
        &self,
        id: &str,
        specs: &[MountSpec],
        volumes_from: &[VolumesFrom],
        image_volumes: &[String],
        made: &mut Vec<String>,
    ) -> crate::Result<MountPlan> {
        let mut planned: Vec<Planned> = Vec::new();
        let mut taken = HashSet::new();
        for s in specs {
            if !taken.insert(clean(&s.target)) {
                return Err(Error::Invalid(format!("Duplicate mount point: {}", s.target)).into());
            }
            if s.kind == MountKind::Bind
                && s.origin == MountOrigin::MountFlag
                && let Some(src) = &s.source
                && std::fs::symlink_metadata(src).is_err()
            {
                return Err(Error::Invalid(format!(
                    "invalid mount config for type \"bind\": bind source path does not exist: {src}"
                ))
                .into());
            }
            planned.push(Planned {
                spec: s.clone(),
                implicit: false,
            });
        }
        let store = self.container_store();
        for vf in volumes_from {
            let cid = store.resolve(&vf.container)?;
            let other = store.load(&cid)?;
            for p in &other.mounts {
                let Ok(mp) = serde_json::from_value::<MountPoint>(p.clone()) else {
                    continue;
                };
                let kind = match mp.kind.as_str() {
                    "bind" => MountKind::Bind,
                    "volume" => MountKind::Volume,
                    _ => continue,
                };
                if !taken.insert(clean(&mp.destination)) {
                    continue;
                }
                let read_only = vf.read_only.unwrap_or(!mp.rw);
                planned.push(Planned {
                    spec: MountSpec {
                        kind,
                        source: Some(if kind == MountKind::Bind {
                            mp.source.clone()
                        } else {
                            mp.name.clone()
                        }),
                        target: mp.destination.clone(),
                        read_only,
                        propagation: (kind == MountKind::Bind && !mp.propagation.is_empty())
                            .then(|| mp.propagation.clone()),
                        nocopy: true,
                        tmpfs_options: Vec::new(),
                        mode: match vf.read_only {
                            Some(true) => "ro".into(),
                            Some(false) => "rw".into(),
                            None => mp.mode.clone(),
                        },
                        origin: MountOrigin::MountFlag,
                    },
                    implicit: true,
                });
            }
        }
        let mut plan = MountPlan {
            volumes_from: volumes_from
                .iter()
                .map(|v| match v.read_only {
                    None => v.container.clone(),
                    Some(ro) => format!("{}:{}", v.container, if ro { "ro" } else { "rw" }),
                })
                .collect(),
            ..MountPlan::default()
        };
        let mut image_volumes = image_volumes.to_vec();
        image_volumes.sort();
        for v in image_volumes {
            plan.config_volumes.insert(v.clone(), json!({}));
            if taken.insert(clean(&v)) {
                let mut spec = super::mountspec::parse_volume_flag(&v).map_err(|e| {
                    Error::Invalid(format!("the image's VOLUME {v:?} is invalid: {e}"))
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
        planned.sort_by_key(|p| clean(&p.spec.target).components().count());

        let volumes = self.volume_store();
        let mut copy_up = Vec::new();
        let mut create_sources = Vec::new();
        for p in planned {
            let s = &p.spec;
            let mut options = Vec::new();
            match &s.origin {
                MountOrigin::VolumeFlag(text)
                    if s.kind == MountKind::Bind || s.source.is_some() =>
                {
                    plan.binds.push(text.clone())
                }
                MountOrigin::VolumeFlag(_) => {
                    plan.config_volumes.insert(s.target.clone(), json!({}));
                }
                MountOrigin::MountFlag if !p.implicit => plan.host_mounts.push(host_mount(s)),
                MountOrigin::MountFlag => {}
                MountOrigin::TmpfsFlag(o) => {
                    plan.tmpfs.insert(s.target.clone(), o.clone());
                }
            }
            let (mount, point) = match s.kind {
                MountKind::Bind => {
                    let src = s.source.clone().unwrap_or_default();
                    if matches!(s.origin, MountOrigin::VolumeFlag(_))
                        && std::fs::symlink_metadata(&src).is_err()
                    {
                        create_sources.push(src.clone());
                    }
                    let prop = s.propagation.clone().unwrap_or_else(|| "rprivate".into());
                    options.extend(["rbind".to_string(), prop.clone()]);
                    if s.read_only {
                        options.push("ro".into());
                    }
                    let point = MountPoint {
                        kind: "bind".into(),
                        name: String::new(),
                        source: src.clone(),
                        destination: s.target.clone(),
                        driver: String::new(),
                        mode: s.mode.clone(),
                        rw: !s.read_only,
                        propagation: prop,
                    };
                    (oci_mount(&s.target, "bind", &src, options)?, Some(point))
                }
                MountKind::Volume => {
                    let (v, new) = volumes.acquire(s.source.as_deref(), id)?;
                    if new {
                        made.push(v.name.clone());
                    }
                    let mount = volume_mount(&v, s)?;
                    if !s.nocopy && v.options.is_none() {
                        copy_up.push(s.target.clone());
                    }
                    let point = MountPoint {
                        kind: "volume".into(),
                        name: v.name.clone(),
                        source: v.mountpoint.clone(),
                        destination: s.target.clone(),
                        driver: v.driver.clone(),
                        mode: s.mode.clone(),
                        rw: !s.read_only,
                        propagation: String::new(),
                    };
                    (mount, Some(point))
                }
                MountKind::Tmpfs => {
                    options.extend(s.tmpfs_options.iter().cloned());
                    if s.read_only && !options.iter().any(|o| o == "ro") {
                        options.push("ro".into());
                    }
                    // Docker lists `--mount type=tmpfs` in Mounts, not `--tmpfs`.
                    let point = (s.origin == MountOrigin::MountFlag).then(|| MountPoint {
                        kind: "tmpfs".into(),
                        name: String::new(),
                        source: String::new(),
                        destination: s.target.clone(),
                        driver: String::new(),
                        mode: String::new(),
                        rw: !s.read_only,
                        propagation: String::new(),
                    });
                    (oci_mount(&s.target, "tmpfs", "tmpfs", options)?, point)
                }
            };
            plan.mounts.push(mount);
            plan.points.extend(point);
        }
        let as_json = |v: &Vec<String>| serde_json::to_string(v).unwrap_or_default();
        if !copy_up.is_empty() {
            plan.annotations
                .insert(COPY_UP_ANNOTATION.into(), as_json(&copy_up));
        }
        if !create_sources.is_empty() {
            plan.annotations
                .insert(CREATE_SOURCE_ANNOTATION.into(), as_json(&create_sources));
        }
        Ok(plan)
    }

    /// Removes the anonymous volumes of a removed container (`rm -v`, `run --rm`) that no
    /// other container uses; named volumes stay. Returns the names removed.
    pub fn remove_anonymous_volumes(
        &self,
        c: &crate::container::Container,
    ) -> crate::Result<Vec<String>> {
        let names: Vec<String> = c
            .mounts
            .iter()
            .filter_map(|m| serde_json::from_value::<MountPoint>(m.clone()).ok())
            .filter(|m| m.kind == "volume")
            .map(|m| m.name)
            .collect();
        Ok(self.volume_store().remove_anonymous(&names)?)
    }
}

impl MountPlan {
    /// Adds the planned mounts to `spec` after its default ones (a default mount at the
    /// same destination, such as a generated /etc/hosts, gives way), and the notes for
    /// the init as annotations.
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
        mounts.sort_by_key(|m| {
            clean(&m.destination().to_string_lossy())
                .components()
                .count()
        });
        spec.set_mounts(Some(mounts));
        if !self.annotations.is_empty() {
            let mut a = spec.annotations().clone().unwrap_or_default();
            a.extend(self.annotations.clone());
            spec.set_annotations(Some(a));
        }
    }
}

/// The OCI mount of a volume: a bind of its `_data`, or the local driver's own mount
/// when it was made with `--opt type=... --opt device=...`.
fn volume_mount(v: &Volume, s: &MountSpec) -> Result<Mount, Error> {
    let mut options = Vec::new();
    if let Some(o) = &v.options
        && let (Some(typ), Some(device)) = (o.get("type"), o.get("device"))
    {
        if let Some(opts) = o.get("o") {
            options.extend(
                opts.split(',')
                    .filter(|x| !x.is_empty())
                    .map(str::to_string),
            );
        }
        if s.read_only {
            options.push("ro".into());
        }
        let typ = if typ == "none" { "bind" } else { typ };
        if typ == "bind" && !options.iter().any(|o| o == "bind" || o == "rbind") {
            options.push("rbind".into());
        }
        return oci_mount(&s.target, typ, device, options);
    }
    options.extend(["rbind".to_string(), "rprivate".to_string()]);
    if s.read_only {
        options.push("ro".into());
    }
    oci_mount(&s.target, "bind", &v.mountpoint, options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_compare_cleaned() {
        assert_eq!(clean("/data/"), clean("/data"));
        assert_eq!(clean("/a/./b//c"), PathBuf::from("/a/b/c"));
        assert_eq!(clean("/a/../b"), PathBuf::from("/b"));
    }

    #[test]
    fn mount_points_serialise_with_dockers_names() {
        let p = MountPoint {
            kind: "bind".into(),
            name: String::new(),
            source: "/h".into(),
            destination: "/c".into(),
            driver: String::new(),
            mode: "ro".into(),
            rw: false,
            propagation: "rprivate".into(),
        };
        insta::assert_json_snapshot!(p, @r#"
        {
          "Type": "bind",
          "Source": "/h",
          "Destination": "/c",
          "Mode": "ro",
          "RW": false,
          "Propagation": "rprivate"
        }
        "#);
    }
}
