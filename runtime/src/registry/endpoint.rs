//! Which URL a registry host means, and whether it may be spoken to over plain http.
//!
//! Insecure (http) registries: loopback hosts (`localhost`, 127.0.0.0/8, `::1`) always, as
//! Docker does; others only when listed in a JSON file with Docker's `daemon.json` key,
//! `{"insecure-registries": ["myhost:5000", "10.1.0.0/16"]}`, read from
//! `/etc/tug/registries.json` and `<state root>/registries.json`. JSON with Docker's own key
//! so users copy their existing list as it is, and no new parser is needed.

use std::net::IpAddr;
use std::path::Path;

use super::Error;
use crate::image::reference::DEFAULT_REGISTRY as DOCKER_HUB;

/// The registry host Docker Hub's API is served from.
const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// Where to reach one registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The host as references name it (`docker.io`, `localhost:5000`).
    pub host: String,
    /// The API base, without the trailing `/v2/` (`https://registry-1.docker.io`).
    pub base_url: String,
    /// Plain http is used.
    pub insecure: bool,
}

impl Endpoint {
    /// The endpoint of `host` under `policy`.
    pub fn new(host: &str, policy: &InsecurePolicy) -> Endpoint {
        let api_host = if host == DOCKER_HUB || host == "index.docker.io" {
            DOCKER_HUB_API
        } else {
            host
        };
        let insecure = policy.is_insecure(host);
        let scheme = if insecure { "http" } else { "https" };
        Endpoint {
            host: host.to_string(),
            base_url: format!("{scheme}://{api_host}"),
            insecure,
        }
    }

    /// The URL of an API path (`/v2/...`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }
}

/// The hosts that may be reached over plain http.
#[derive(Debug, Clone, Default)]
pub struct InsecurePolicy {
    entries: Vec<String>,
}

#[derive(serde::Deserialize)]
struct ConfigFile {
    #[serde(rename = "insecure-registries", default)]
    insecure_registries: Vec<String>,
}

impl InsecurePolicy {
    /// The policy from `/etc/tug/registries.json` and `<root>/registries.json` (both
    /// optional).
    pub fn load(root: &Path) -> Result<InsecurePolicy, Error> {
        let mut p = InsecurePolicy::default();
        for file in [
            Path::new("/etc/tug/registries.json"),
            &root.join("registries.json"),
        ] {
            match std::fs::read(file) {
                Ok(data) => {
                    let c: ConfigFile = serde_json::from_slice(&data)
                        .map_err(|e| Error::Config(format!("{}: {e}", file.display())))?;
                    p.entries.extend(c.insecure_registries);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::Io(format!("reading {}", file.display()), e)),
            }
        }
        Ok(p)
    }

    /// A policy with these entries (hosts, host:port, or CIDR ranges).
    pub fn with_entries(entries: Vec<String>) -> InsecurePolicy {
        InsecurePolicy { entries }
    }

    /// Whether `host` (with an optional port) may be reached over http.
    pub fn is_insecure(&self, host: &str) -> bool {
        let bare = strip_port(host);
        if is_loopback(bare) {
            return true;
        }
        self.entries.iter().any(|e| {
            e == host
                || e == bare
                || match (e.split_once('/'), bare.parse::<IpAddr>()) {
                    (Some((net, len)), Ok(ip)) => in_cidr(ip, net, len),
                    _ => false,
                }
        })
    }
}

/// The host without its port (`[::1]:5000` → `::1`, `a:5000` → `a`).
fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((h, port)) if !h.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn in_cidr(ip: IpAddr, net: &str, len: &str) -> bool {
    let (Ok(net), Ok(len)) = (net.parse::<IpAddr>(), len.parse::<u32>()) else {
        return false;
    };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) if len <= 32 => {
            let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) if len <= 128 => {
            let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_insecure_by_default_others_by_config() {
        let p = InsecurePolicy::default();
        assert!(p.is_insecure("localhost:5000"));
        assert!(p.is_insecure("127.0.0.5:5000"));
        assert!(p.is_insecure("[::1]:5000"));
        assert!(!p.is_insecure("docker.io"));
        assert!(!p.is_insecure("10.1.2.3:5000"));
        let p = InsecurePolicy::with_entries(vec!["10.1.0.0/16".into(), "reg.lan:5000".into()]);
        assert!(p.is_insecure("10.1.2.3:5000"));
        assert!(!p.is_insecure("10.2.2.3"));
        assert!(p.is_insecure("reg.lan:5000"));
        assert!(!p.is_insecure("reg.lan:6000"));
    }

    #[test]
    fn policy_file_under_the_state_root_is_read_and_bad_json_named() {
        let root = tempfile::tempdir().unwrap();
        let p = InsecurePolicy::load(root.path()).unwrap();
        assert!(!p.is_insecure("reg.lan:5000"));
        std::fs::write(
            root.path().join("registries.json"),
            r#"{"insecure-registries": ["reg.lan:5000"], "other": 1}"#,
        )
        .unwrap();
        let p = InsecurePolicy::load(root.path()).unwrap();
        assert!(p.is_insecure("reg.lan:5000"));
        assert_eq!(
            Endpoint::new("reg.lan:5000", &p).base_url,
            "http://reg.lan:5000"
        );
        std::fs::write(root.path().join("registries.json"), "{nope").unwrap();
        let e = InsecurePolicy::load(root.path()).unwrap_err().to_string();
        assert!(e.contains("registries.json"), "{e}");
    }

    #[test]
    fn docker_hub_uses_its_api_host() {
        let e = Endpoint::new("docker.io", &InsecurePolicy::default());
        assert_eq!(e.base_url, "https://registry-1.docker.io");
        let e = Endpoint::new("127.0.0.1:5000", &InsecurePolicy::default());
        assert_eq!(e.url("/v2/"), "http://127.0.0.1:5000/v2/");
    }
}
