//! `--device` and `--privileged`'s devices: which host device nodes a container gets in
//! its /dev (the spec's `linux.devices`, made by the init) and may open (the device
//! cgroup rules, see `sandbox::cgroups::devices`).

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use oci_spec::runtime::{LinuxDevice, LinuxDeviceBuilder, LinuxDeviceCgroup, LinuxDeviceType};

use super::Error;
use crate::sandbox::cgroups::devices as rules;

/// One `--device HOST[:CONTAINER][:PERMS]`, as Docker's `HostConfig.Devices` records it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeviceMapping {
    pub path_on_host: String,
    pub path_in_container: String,
    pub cgroup_permissions: String,
}

fn valid_perms(p: &str) -> bool {
    !p.is_empty() && p.len() <= 3 && p.chars().all(|c| "rwm".contains(c))
}

/// Parses `--device` as Docker does: `HOST`, `HOST:CONTAINER`, `HOST:PERMS`,
/// `HOST:CONTAINER:PERMS` (PERMS of `rwm`, default all three).
pub fn parse_device_flag(value: &str) -> Result<DeviceMapping, Error> {
    let bad = |why: &str| {
        Error::Invalid(format!(
            "invalid argument {value:?} for \"--device\" flag: {why}"
        ))
    };
    let parts: Vec<&str> = value.split(':').collect();
    let (host, container, perms) = match parts.as_slice() {
        [h] => (*h, *h, "rwm"),
        [h, p] if valid_perms(p) => (*h, *h, *p),
        [h, c] => (*h, *c, "rwm"),
        [h, c, p] if valid_perms(p) => (*h, *c, *p),
        [_, _, p] => {
            return Err(bad(&format!(
                "bad cgroup permissions {p:?} (use r, w and m)"
            )));
        }
        _ => return Err(bad("use HOST[:CONTAINER][:PERMS]")),
    };
    if !host.starts_with('/') || !container.starts_with('/') {
        return Err(bad("device paths must be absolute"));
    }
    Ok(DeviceMapping {
        path_on_host: host.to_string(),
        path_in_container: container.to_string(),
        cgroup_permissions: perms.to_string(),
    })
}

/// The node of host device `host` for path `container`, or `None` if it is no device.
fn node(host: &Path, container: &Path) -> Result<Option<LinuxDevice>, std::io::Error> {
    let m = std::fs::metadata(host)?;
    let ft = m.file_type();
    let typ = if ft.is_char_device() {
        LinuxDeviceType::C
    } else if ft.is_block_device() {
        LinuxDeviceType::B
    } else {
        return Ok(None);
    };
    let rdev = m.rdev();
    LinuxDeviceBuilder::default()
        .path(container)
        .typ(typ)
        .major(nix::sys::stat::major(rdev) as i64)
        .minor(nix::sys::stat::minor(rdev) as i64)
        .file_mode(m.mode() & 0o7777)
        .uid(m.uid())
        .gid(m.gid())
        .build()
        .map(Some)
        .map_err(std::io::Error::other)
}

/// The nodes and cgroup rules of the `--device` flags (read on the host at create).
pub fn requested(
    mappings: &[DeviceMapping],
) -> Result<(Vec<LinuxDevice>, Vec<LinuxDeviceCgroup>), Error> {
    let mut nodes = Vec::new();
    let mut allow = Vec::new();
    for m in mappings {
        let host = Path::new(&m.path_on_host);
        let what = || format!("--device {}", m.path_on_host);
        let n = node(host, Path::new(&m.path_in_container))
            .map_err(|e| {
                Error::Invalid(format!(
                    "error gathering device information while adding custom device {:?}: {e}",
                    m.path_on_host
                ))
            })?
            .ok_or_else(|| Error::Invalid(format!("{}: not a device node", what())))?;
        allow.push(rules::allow_node(
            n.typ() != LinuxDeviceType::B,
            n.major(),
            n.minor(),
            &m.cgroup_permissions,
        ));
        nodes.push(n);
    }
    Ok((nodes, allow))
}

/// Every device node under the host's /dev, for `--privileged` (as runc lists them: not
/// the pts, shm, mqueue or fd dirs, nor /dev/console).
pub fn host_devices() -> Vec<LinuxDevice> {
    fn walk(dir: &Path, out: &mut Vec<LinuxDevice>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            let name = e.file_name();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                if ![".lxc", ".lxd-mounts", ".udev", "pts", "shm", "fd", "mqueue"]
                    .iter()
                    .any(|s| name == *s)
                {
                    walk(&p, out);
                }
                continue;
            }
            if name == "console" || ft.is_symlink() {
                continue;
            }
            if let Ok(Some(n)) = node(&p, &p) {
                out.push(n);
            }
        }
    }
    let mut out = Vec::new();
    walk(Path::new("/dev"), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_flags_parse_as_dockers() {
        let d = parse_device_flag("/dev/fuse").unwrap();
        assert_eq!(
            (d.path_in_container.as_str(), d.cgroup_permissions.as_str()),
            ("/dev/fuse", "rwm")
        );
        let d = parse_device_flag("/dev/fuse:r").unwrap();
        assert_eq!(
            (d.path_in_container.as_str(), d.cgroup_permissions.as_str()),
            ("/dev/fuse", "r")
        );
        let d = parse_device_flag("/dev/null:/dev/mynull:rw").unwrap();
        assert_eq!(
            (d.path_in_container.as_str(), d.cgroup_permissions.as_str()),
            ("/dev/mynull", "rw")
        );
        for bad in ["/dev/a:/b:x", "dev/a", "/a:/b:rw:x"] {
            let e = parse_device_flag(bad).unwrap_err().to_string();
            assert!(e.contains("--device") && e.contains(bad), "{e}");
        }
    }

    #[test]
    fn host_devices_are_read_with_their_numbers() {
        let (nodes, allow) =
            requested(&[parse_device_flag("/dev/null:/dev/n2:rw").unwrap()]).unwrap();
        assert_eq!((nodes[0].major(), nodes[0].minor()), (1, 3));
        assert_eq!(nodes[0].path(), Path::new("/dev/n2"));
        assert_eq!(rules::v1_line(&allow[0]), "c 1:3 rw");
        let e = requested(&[parse_device_flag("/etc/passwd").unwrap()]).unwrap_err();
        assert!(e.to_string().contains("not a device"), "{e}");
        assert!(
            host_devices()
                .iter()
                .any(|d| d.path() == Path::new("/dev/null"))
        );
    }
}
