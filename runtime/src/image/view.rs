//! Docker's views of an image: `image inspect`'s JSON and `history`'s entries.

use std::time::SystemTime;

use serde_json::{Value, json};

use super::{Error, Image, Store};

/// Parses an RFC 3339 time as image configs carry it (`2024-01-02T03:04:05Z`, with or
/// without fractions, `Z` or an offset).
pub fn parse_time(s: &str) -> Option<SystemTime> {
    if let Ok(t) = humantime::parse_rfc3339_weak(s) {
        return Some(t);
    }
    // An offset instead of Z: `+hh:mm` / `-hh:mm`.
    let at = s.len().checked_sub(6).filter(|&i| s.is_char_boundary(i))?;
    let (base, off) = s.split_at(at);
    let sign = match off.as_bytes().first()? {
        b'+' => 1i64,
        b'-' => -1,
        _ => return None,
    };
    let h: i64 = off.get(1..3)?.parse().ok()?;
    let m: i64 = off.get(4..6)?.parse().ok()?;
    let t = humantime::parse_rfc3339_weak(&format!("{base}Z")).ok()?;
    let shift = std::time::Duration::from_secs((h * 3600 + m * 60) as u64);
    Some(if sign > 0 { t - shift } else { t + shift })
}

/// One line of `history`, top (newest) first.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    /// The image id on the top entry; `None` (shown `<missing>`) below it.
    pub id: Option<crate::Digest>,
    pub created: Option<String>,
    pub created_by: String,
    /// The size of the entry's layer uncompressed; 0 for an empty layer.
    pub size: u64,
    pub comment: String,
}

/// The history of an image, newest first, as `docker history` lists it. An image without
/// history gets one entry per layer.
pub fn history(store: &Store, image: &Image) -> Vec<HistoryEntry> {
    let mut out = Vec::new();
    let mut layers = image.layers.iter();
    let config_created = image.config.created().clone();
    match image.config.history() {
        Some(h) if !h.is_empty() => {
            for e in h {
                let size = if e.empty_layer().unwrap_or(false) {
                    0
                } else {
                    layers.next().map_or(0, |l| store.layer_size(l))
                };
                out.push(HistoryEntry {
                    id: None,
                    created: e.created().clone(),
                    created_by: e.created_by().clone().unwrap_or_default(),
                    size,
                    comment: e.comment().clone().unwrap_or_default(),
                });
            }
        }
        _ => {
            for l in layers {
                out.push(HistoryEntry {
                    id: None,
                    created: config_created.clone(),
                    created_by: String::new(),
                    size: store.layer_size(l),
                    comment: String::new(),
                });
            }
        }
    }
    out.reverse();
    if let Some(top) = out.first_mut() {
        top.id = Some(image.id.clone());
    }
    out
}

/// `image inspect`'s JSON, with Docker's field names. `driver` is the storage driver's
/// name for `GraphDriver.Name`.
pub fn inspect(store: &Store, image: &Image, driver: &str) -> Result<Value, Error> {
    let raw: Value = serde_json::from_slice(&store.read_blob(&image.id)?)
        .map_err(|e| Error::Invalid(format!("config {}: {e}", image.id)))?;
    let str_of = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let c = raw.get("config").cloned().unwrap_or(Value::Null);
    let field = |k: &str| c.get(k).cloned().unwrap_or(Value::Null);
    let mut config = json!({
        "Hostname": str_of(&c, "Hostname"),
        "Domainname": str_of(&c, "Domainname"),
        "User": str_of(&c, "User"),
        "AttachStdin": false,
        "AttachStdout": false,
        "AttachStderr": false,
        "Tty": false,
        "OpenStdin": false,
        "StdinOnce": false,
        "Env": field("Env"),
        "Cmd": field("Cmd"),
        "Image": str_of(&c, "Image"),
        "Volumes": field("Volumes"),
        "WorkingDir": str_of(&c, "WorkingDir"),
        "Entrypoint": field("Entrypoint"),
        "OnBuild": field("OnBuild"),
        "Labels": field("Labels"),
    });
    if let Some(p) = c.get("ExposedPorts").filter(|p| !p.is_null()) {
        config["ExposedPorts"] = p.clone();
    }
    // Set only when the image has them, as Docker's `omitempty` fields.
    for k in ["StopSignal", "Healthcheck", "Shell", "ArgsEscaped"] {
        if let Some(v) = c.get(k).filter(|p| !p.is_null()) {
            config[k] = v.clone();
        }
    }
    let tags: Vec<String> = image.names.iter().map(|r| r.to_string()).collect();
    let mut digests: Vec<String> = image
        .names
        .iter()
        .map(|r| format!("{}@{}", r.familiar_name(), image.repo_digest(r)))
        .collect();
    digests.sort();
    digests.dedup();
    let layers: Vec<String> = image.layers.iter().map(|l| l.diff_id.to_string()).collect();
    let mut v = json!({
        "Id": image.id.to_string(),
        "RepoTags": tags,
        "RepoDigests": digests,
        "Parent": str_of(&raw, "parent"),
        "Comment": str_of(&raw, "comment"),
        "Created": str_of(&raw, "created"),
        "Container": str_of(&raw, "container"),
        "DockerVersion": str_of(&raw, "docker_version"),
        "Author": str_of(&raw, "author"),
        "Config": config,
        "Architecture": str_of(&raw, "architecture"),
        "Os": str_of(&raw, "os"),
        "Size": store.image_size(image),
        "GraphDriver": {"Data": null, "Name": driver},
        "RootFS": {"Type": "layers", "Layers": layers},
        "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
    });
    if let Some(var) = raw.get("variant").and_then(Value::as_str) {
        v["Variant"] = Value::String(var.to_string());
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn times_parse_with_fractions_and_offsets() {
        let t = |s| parse_time(s).map(|t| t.duration_since(UNIX_EPOCH).unwrap());
        assert_eq!(
            t("2023-11-14T22:13:20Z"),
            Some(Duration::from_secs(1_700_000_000))
        );
        assert_eq!(
            t("2023-11-14T22:13:20.5Z"),
            Some(Duration::from_millis(1_700_000_000_500))
        );
        assert_eq!(
            t("2023-11-15T00:13:20+02:00"),
            Some(Duration::from_secs(1_700_000_000))
        );
        assert_eq!(
            t("2023-11-14T20:13:20-02:00"),
            Some(Duration::from_secs(1_700_000_000))
        );
        assert_eq!(t("yesterday"), None);
        assert_eq!(t(""), None);
        assert_eq!(t("2023-11-14T22:13:2é"), None);
    }
}
