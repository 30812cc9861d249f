//! `--mount KEY=VALUE,...`: Docker's keys (type, source/src, target/dst/destination,
//! readonly/ro, bind-propagation, volume-nocopy, volume-driver, tmpfs-size, tmpfs-mode),
//! each checked against the mount's type.

use std::collections::BTreeMap;

use super::{MountKind, MountOrigin, MountSpec, PROPAGATIONS, bad, check_target};
use crate::volume::{Error, valid_name};

fn parse_bool(flag: &str, value: &str, key: &str, v: Option<&str>) -> Result<bool, Error> {
    match v.map(str::to_ascii_lowercase).as_deref() {
        None | Some("true") | Some("1") => Ok(true),
        Some("false") | Some("0") => Ok(false),
        Some(other) => Err(bad(
            flag,
            value,
            format!("invalid value for {key}: {other} (use true or false)"),
        )),
    }
}

/// A size as Docker's `RAMInBytes` reads it: `64m`, `1g`, `512k`, `1024`, `1.5g`.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let lower = s.to_ascii_lowercase();
    let lower = lower.strip_suffix('b').unwrap_or(&lower);
    let (num, mult) = match lower.chars().last()? {
        'k' => (&lower[..lower.len() - 1], 1u64 << 10),
        'm' => (&lower[..lower.len() - 1], 1 << 20),
        'g' => (&lower[..lower.len() - 1], 1 << 30),
        't' => (&lower[..lower.len() - 1], 1 << 40),
        _ => (lower, 1),
    };
    let n: f64 = num.parse().ok()?;
    (n.is_finite() && n >= 0.0).then_some((n * mult as f64) as u64)
}

/// Parses one `--mount` value.
pub fn parse_mount_flag(value: &str) -> Result<MountSpec, Error> {
    const FLAG: &str = "--mount";
    let mut kind = MountKind::Volume;
    let (mut source, mut target) = (None, None);
    let (mut read_only, mut nocopy) = (false, false);
    let (mut propagation, mut size, mut mode) = (None, None, None);
    let (mut bind_only, mut volume_only, mut tmpfs_only) = (None, None, None);
    let (mut volume_labels, mut volume_options) = (BTreeMap::new(), BTreeMap::new());
    for field in value.split(',') {
        let (key, val) = match field.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v.trim())),
            None => (field.trim().to_ascii_lowercase(), None),
        };
        let need = |v: Option<&str>| {
            v.filter(|s| !s.is_empty())
                .map(str::to_string)
                .ok_or_else(|| {
                    bad(
                        FLAG,
                        value,
                        format!("invalid field '{field}' must be a key=value pair"),
                    )
                })
        };
        match key.as_str() {
            "type" => {
                kind = match need(val)?.as_str() {
                    "bind" => MountKind::Bind,
                    "volume" => MountKind::Volume,
                    "tmpfs" => MountKind::Tmpfs,
                    other => {
                        return Err(bad(
                            FLAG,
                            value,
                            format!("invalid type '{other}': use bind, volume or tmpfs"),
                        ));
                    }
                }
            }
            "source" | "src" => source = Some(need(val)?),
            "target" | "dst" | "destination" => target = Some(need(val)?),
            "readonly" | "ro" => read_only = parse_bool(FLAG, value, &key, val)?,
            "bind-propagation" => {
                let p = need(val)?;
                if !PROPAGATIONS.contains(&p.as_str()) {
                    return Err(bad(FLAG, value, format!("invalid bind-propagation: {p}")));
                }
                propagation = Some(p);
                bind_only = Some(key.clone());
            }
            "bind-nonrecursive" | "bind-recursive" | "bind-create-mountpoint" => {
                return Err(bad(FLAG, value, format!("{key} is not supported yet")));
            }
            "volume-label" | "volume-opt" => {
                let kv = need(val)?;
                let (k, v) = kv.split_once('=').unwrap_or((kv.as_str(), ""));
                let map = if key == "volume-label" {
                    &mut volume_labels
                } else {
                    &mut volume_options
                };
                map.insert(k.to_string(), v.to_string());
                volume_only = Some(key.clone());
            }
            "volume-subpath" => {
                return Err(bad(FLAG, value, format!("{key} is not supported yet")));
            }
            "volume-nocopy" => {
                nocopy = parse_bool(FLAG, value, &key, val)?;
                volume_only = Some(key.clone());
            }
            "volume-driver" => {
                if need(val)? != "local" {
                    return Err(bad(
                        FLAG,
                        value,
                        "only the local volume driver is supported",
                    ));
                }
                volume_only = Some(key.clone());
            }
            "tmpfs-size" => {
                let v = need(val)?;
                size = Some(parse_size(&v).ok_or_else(|| {
                    bad(FLAG, value, format!("invalid value for tmpfs-size: {v}"))
                })?);
                tmpfs_only = Some(key.clone());
            }
            "tmpfs-mode" => {
                let v = need(val)?;
                mode =
                    Some(u32::from_str_radix(&v, 8).map_err(|_| {
                        bad(FLAG, value, format!("invalid value for tmpfs-mode: {v}"))
                    })?);
                tmpfs_only = Some(key.clone());
            }
            "consistency" => {}
            _ => {
                return Err(bad(
                    FLAG,
                    value,
                    format!("unexpected key '{key}' in '{field}'"),
                ));
            }
        }
    }
    let target = target.ok_or_else(|| bad(FLAG, value, "target is required"))?;
    check_target(FLAG, value, &target)?;
    let wrong = [
        (bind_only, MountKind::Bind),
        (volume_only, MountKind::Volume),
        (tmpfs_only, MountKind::Tmpfs),
    ];
    for (key, k) in wrong {
        if let Some(key) = key
            && k != kind
        {
            return Err(bad(
                FLAG,
                value,
                format!("cannot mix '{key}' with type '{}'", kind.as_str()),
            ));
        }
    }
    let mut spec = MountSpec::new(kind, target, MountOrigin::MountFlag);
    spec.read_only = read_only;
    match kind {
        MountKind::Bind => {
            let src = source.ok_or_else(|| {
                bad(
                    FLAG,
                    value,
                    "invalid mount config for type \"bind\": field Source must not be empty",
                )
            })?;
            if !src.starts_with('/') {
                return Err(bad(
                    FLAG,
                    value,
                    format!(
                        "invalid mount config for type \"bind\": invalid mount path: '{src}' mount path must be absolute"
                    ),
                ));
            }
            spec.source = Some(src);
            spec.propagation = propagation;
        }
        MountKind::Volume => {
            if let Some(s) = &source
                && !valid_name(s)
            {
                return Err(bad(
                    FLAG,
                    value,
                    format!(
                        "\"{s}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed"
                    ),
                ));
            }
            spec.source = source;
            spec.nocopy = nocopy;
            spec.volume_labels = volume_labels;
            spec.volume_options = volume_options;
            spec.mode = "z".into();
        }
        MountKind::Tmpfs => {
            if source.is_some() {
                return Err(bad(
                    FLAG,
                    value,
                    "invalid mount config for type \"tmpfs\": field Source must not be specified",
                ));
            }
            spec.tmpfs_options = vec!["nosuid".into(), "nodev".into(), "noexec".into()];
            if let Some(s) = size {
                spec.tmpfs_options.push(format!("size={s}"));
            }
            if let Some(m) = mode {
                spec.tmpfs_options.push(format!("mode={m:o}"));
            }
        }
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_flag_forms_and_errors() {
        let m = parse_mount_flag("type=bind,source=/h,target=/c,readonly,bind-propagation=rslave")
            .unwrap();
        assert_eq!((m.kind, m.read_only), (MountKind::Bind, true));
        assert_eq!(m.propagation.as_deref(), Some("rslave"));
        let m = parse_mount_flag("src=v1,dst=/c,volume-label=a=b,volume-opt=type=tmpfs").unwrap();
        assert_eq!(m.volume_labels["a"], "b");
        assert_eq!(m.volume_options["type"], "tmpfs");
        let m = parse_mount_flag("src=v1,dst=/c,volume-nocopy,ro=false").unwrap();
        assert_eq!(
            (m.kind, m.nocopy, m.read_only),
            (MountKind::Volume, true, false)
        );
        let m =
            parse_mount_flag("type=tmpfs,destination=/t,tmpfs-size=64m,tmpfs-mode=1770").unwrap();
        assert!(m.tmpfs_options.contains(&"size=67108864".to_string()));
        assert!(m.tmpfs_options.contains(&"mode=1770".to_string()));
        for (v, why) in [
            ("type=foo,target=/c", "invalid type"),
            ("type=bind,target=/c", "Source must not be empty"),
            ("type=bind,src=/h", "target is required"),
            ("type=bind,src=/h,target=/c,color=red", "unexpected key"),
            ("type=volume,src=/h,target=/c,tmpfs-size=1m", "cannot mix"),
            ("type=tmpfs,target=/c,tmpfs-size=lots", "tmpfs-size"),
            ("type=bind,src=/h,target=/c,readonly=maybe", "readonly"),
            ("type=tmpfs,src=x,target=/c", "must not be specified"),
        ] {
            let e = parse_mount_flag(v).unwrap_err().to_string();
            assert!(e.contains("--mount") && e.contains(v), "{e}");
            assert!(e.contains(why), "{v}: {e}");
        }
    }
}
