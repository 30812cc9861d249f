//! The records of a network, as `docker network inspect` shows them, and the names a
//! network gets: its 64-hex id and its bridge device (see [`bridge_name`]).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::cidr::Cidr;
use crate::fsutil;

/// The predefined networks, which cannot be created or removed.
pub const PREDEFINED: [&str; 3] = ["bridge", "host", "none"];

/// The option that names a bridge network's device.
pub const BRIDGE_NAME_OPTION: &str = "com.docker.network.bridge.name";

/// A network, as `docker network inspect` shows one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Network {
    pub name: String,
    pub id: String,
    pub created: String,
    pub scope: String,
    pub driver: String,
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: bool,
    #[serde(rename = "IPAM")]
    pub ipam: Ipam,
    pub internal: bool,
    pub attachable: bool,
    pub ingress: bool,
    pub config_from: ConfigFrom,
    pub config_only: bool,
    /// Endpoint per container id (filled in when containers attach).
    pub containers: BTreeMap<String, serde_json::Value>,
    pub options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

/// `IPAM` of a network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Ipam {
    pub driver: String,
    pub options: BTreeMap<String, String>,
    pub config: Vec<IpamConfig>,
}

/// One subnet of a network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IpamConfig {
    pub subnet: Cidr,
    pub gateway: Ipv4Addr,
}

/// A container's endpoint on a network, as `network inspect` shows it in `Containers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Endpoint {
    pub name: String,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    pub mac_address: String,
    /// `addr/prefix`.
    #[serde(rename = "IPv4Address")]
    pub ipv4_address: String,
    #[serde(rename = "IPv6Address")]
    pub ipv6_address: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConfigFrom {
    pub network: String,
}

impl Network {
    /// Whether it is `bridge`, `host` or `none`.
    pub fn is_predefined(&self) -> bool {
        PREDEFINED.contains(&self.name.as_str())
    }

    /// The bridge device's name (bridge networks only).
    pub fn bridge_device(&self) -> Option<&str> {
        self.options.get(BRIDGE_NAME_OPTION).map(String::as_str)
    }

    /// The first subnet and its gateway (bridge networks only).
    pub fn subnet(&self) -> Option<&IpamConfig> {
        self.ipam.config.first()
    }
}

/// A random 64-hex id.
pub(crate) fn new_id() -> String {
    let mut b = [0u8; 32];
    fsutil::random_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Docker's network name rule.
pub fn valid_name(n: &str) -> bool {
    let mut c = n.chars();
    c.next().is_some_and(|f| f.is_ascii_alphanumeric())
        && c.all(|x| x.is_ascii_alphanumeric() || "_.-".contains(x))
}

/// The bridge device of network `name` in state root `root` (see the module doc).
pub fn bridge_name(root: &Path, name: &str) -> String {
    if name == "bridge" && root == Path::new(crate::defaults::DEFAULT_ROOT) {
        return "tug0".into();
    }
    let mut h = Sha256::new();
    h.update(root.as_os_str().as_encoded_bytes());
    h.update([0]);
    h.update(name.as_bytes());
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    format!("tug{}", &hex[..12])
}

/// A network with Docker's defaults.
pub(crate) fn blank(
    name: &str,
    driver: &str,
    config: Vec<IpamConfig>,
    labels: BTreeMap<String, String>,
) -> Network {
    Network {
        name: name.into(),
        id: new_id(),
        created: humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string(),
        scope: "local".into(),
        driver: driver.into(),
        enable_ipv6: false,
        ipam: Ipam {
            driver: "default".into(),
            options: BTreeMap::new(),
            config,
        },
        internal: false,
        attachable: false,
        ingress: false,
        config_from: ConfigFrom::default(),
        config_only: false,
        containers: BTreeMap::new(),
        options: BTreeMap::new(),
        labels,
    }
}
