//! Docker's records of a container's mounts: the `Mounts` entries of `inspect`
//! ([`MountPoint`]) and the `HostConfig.Mounts` objects of `--mount` flags.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::mountspec::{MountKind, MountSpec};

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

impl MountPoint {
    /// The entry of a bind mount, a volume or a `--mount type=tmpfs`.
    pub fn new(s: &MountSpec, volume: Option<&super::Volume>) -> MountPoint {
        let (name, source, driver) = match (s.kind, volume) {
            (MountKind::Volume, Some(v)) => {
                (v.name.clone(), v.mountpoint.clone(), v.driver.clone())
            }
            (MountKind::Bind, _) => (
                String::new(),
                s.source.clone().unwrap_or_default(),
                String::new(),
            ),
            _ => (String::new(), String::new(), String::new()),
        };
        MountPoint {
            kind: s.kind.as_str().into(),
            name,
            source,
            destination: s.target.clone(),
            driver,
            mode: if s.kind == MountKind::Tmpfs {
                String::new()
            } else {
                s.mode.clone()
            },
            rw: !s.read_only,
            propagation: match s.kind {
                MountKind::Bind => s.propagation.clone().unwrap_or_else(|| "rprivate".into()),
                _ => String::new(),
            },
        }
    }
}

/// The `HostConfig.Mounts` entry of a `--mount` flag.
pub fn host_mount(s: &MountSpec) -> Value {
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
            let mut o = serde_json::Map::new();
            if s.nocopy {
                o.insert("NoCopy".into(), json!(true));
            }
            if !s.volume_labels.is_empty() {
                o.insert("Labels".into(), json!(s.volume_labels));
            }
            if !s.volume_options.is_empty() {
                o.insert(
                    "DriverConfig".into(),
                    json!({"Name": "local", "Options": s.volume_options}),
                );
            }
            if !o.is_empty() {
                m["VolumeOptions"] = Value::Object(o);
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

#[cfg(test)]
mod tests {
    use super::*;

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
