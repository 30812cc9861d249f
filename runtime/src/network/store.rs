//! The networks of a state root: `<root>/networks/<name>.json` holds Docker's `network
//! inspect` fields, `<id>.addrs.json` the network's [`AddressBook`]. Changes take the
//! store's lock (`networks/.lock`), then the host-wide subnet lock (in that order). The
//! predefined `bridge`, `host` and `none` networks are made on first use.
//!
//! Bridge device names are derived, not allocated: `tug` + 12 hex of sha256(root, name),
//! 15 chars (the kernel's limit), so state roots sharing a host cannot clash; the user's
//! default root names its default bridge `tug0`, as the networking issue asks.
//!
//! State only: nothing here makes devices or rules (that is `link.rs` and `nft.rs`).

use std::collections::BTreeMap;
use std::fs;
use std::io::ErrorKind;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use super::Error;
use super::cidr::Cidr;
use super::ipam::{AddressBook, AddressFile, Pool, SubnetRegistry};
pub use super::record::{
    BRIDGE_NAME_OPTION, ConfigFrom, Endpoint, Ipam, IpamConfig, Network, PREDEFINED, bridge_name,
    valid_name,
};
use super::record::{blank, new_id};
use crate::fsutil;

/// What `network create` asks for.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub name: String,
    /// `-d`: only `bridge`.
    pub driver: Option<String>,
    pub subnet: Option<String>,
    pub gateway: Option<String>,
    pub internal: bool,
    pub attachable: bool,
    pub labels: BTreeMap<String, String>,
}

/// The networks of one state root.
#[derive(Debug, Clone)]
pub struct NetworkStore {
    root: PathBuf,
    dir: PathBuf,
    registry: SubnetRegistry,
    /// Where automatic subnets come from.
    pool: Pool,
}

fn io_err(p: &Path, e: std::io::Error) -> Error {
    Error::io(p.display(), e)
}

impl NetworkStore {
    /// The store of `root`, leasing subnets from the default pool in the registry of the
    /// default host-wide run dir (an engine uses its own settings: `Engine::network_store`).
    pub fn open(root: &Path) -> NetworkStore {
        let registry = SubnetRegistry::open(Path::new(super::ipam::DEFAULT_HOST_RUN));
        NetworkStore::with_registry(root, registry)
    }

    /// The store of `root`, leasing subnets from the default pool in `registry`.
    pub fn with_registry(root: &Path, registry: SubnetRegistry) -> NetworkStore {
        NetworkStore {
            root: root.into(),
            dir: root.join("networks"),
            registry,
            pool: Pool::default_pool(),
        }
    }

    /// This store, taking automatic subnets from `pool`.
    pub fn with_pool(mut self, pool: Pool) -> NetworkStore {
        self.pool = pool;
        self
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    /// The address book of a network.
    pub fn addresses(&self, n: &Network) -> AddressFile {
        AddressFile::open(&self.dir.join(format!("{}.addrs.json", n.id)))
    }

    fn lock(&self) -> Result<fsutil::LockGuard, Error> {
        fs::create_dir_all(&self.dir).map_err(|e| io_err(&self.dir, e))?;
        let p = self.dir.join(".lock");
        fsutil::lock_exclusive(&p).map_err(|e| io_err(&p, e))
    }

    fn read(&self, name: &str) -> Result<Option<Network>, Error> {
        let p = self.file(name);
        match fs::read(&p) {
            Ok(d) => serde_json::from_slice(&d)
                .map(Some)
                .map_err(|e| io_err(&p, std::io::Error::new(ErrorKind::InvalidData, e))),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(&p, e)),
        }
    }

    fn list_unlocked(&self) -> Result<Vec<Network>, Error> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(&self.dir, e)),
        };
        let mut out = Vec::new();
        for e in entries {
            let e = e.map_err(|e| io_err(&self.dir, e))?;
            let f = e.file_name();
            let Some(name) = f.to_str().and_then(|f| f.strip_suffix(".json")) else {
                continue;
            };
            if name.ends_with(".addrs") || !valid_name(name) {
                continue;
            }
            if let Some(n) = self.read(name)? {
                out.push(n);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Makes `bridge`, `host` and `none` if missing.
    fn ensure_predefined(&self) -> Result<(), Error> {
        if PREDEFINED.iter().all(|n| self.file(n).exists()) {
            return Ok(());
        }
        let _l = self.lock()?;
        for name in PREDEFINED {
            if self.read(name)?.is_some() {
                continue;
            }
            if name == "bridge" {
                let mut opts = BTreeMap::new();
                for (k, v) in [
                    ("com.docker.network.bridge.default_bridge", "true"),
                    ("com.docker.network.bridge.enable_icc", "true"),
                    ("com.docker.network.bridge.enable_ip_masquerade", "true"),
                    ("com.docker.network.bridge.host_binding_ipv4", "0.0.0.0"),
                    ("com.docker.network.driver.mtu", "1500"),
                ] {
                    opts.insert(k.to_string(), v.to_string());
                }
                self.create_bridge(name, None, None, false, false, BTreeMap::new(), opts)?;
            } else {
                let driver = if name == "host" { "host" } else { "null" };
                let n = blank(name, driver, Vec::new(), BTreeMap::new());
                self.write(&n)?;
            }
        }
        Ok(())
    }

    fn write(&self, n: &Network) -> Result<(), Error> {
        self.write_opt(n, true)
    }

    fn write_opt(&self, n: &Network, durable: bool) -> Result<(), Error> {
        let p = self.file(&n.name);
        let data =
            serde_json::to_vec_pretty(n).map_err(|e| io_err(&p, std::io::Error::other(e)))?;
        fsutil::write_atomic_opt(&p, &data, durable).map_err(|e| io_err(&p, e))
    }

    /// Every network, by name.
    pub fn list(&self) -> Result<Vec<Network>, Error> {
        self.ensure_predefined()?;
        self.list_unlocked()
    }

    /// The network of that name, full id or unique id prefix (names first, as Docker).
    pub fn get(&self, key: &str) -> Result<Network, Error> {
        self.ensure_predefined()?;
        if valid_name(key)
            && let Some(n) = self.read(key)?
        {
            return Ok(n);
        }
        let all = self.list_unlocked()?;
        if let Some(n) = all.iter().find(|n| n.id == key) {
            return Ok(n.clone());
        }
        let hits: Vec<&Network> = all.iter().filter(|n| n.id.starts_with(key)).collect();
        match hits.as_slice() {
            [n] if !key.is_empty() => Ok((*n).clone()),
            [] | [_] => Err(Error::NotFound(key.to_string())),
            many => Err(Error::Ambiguous(key.to_string(), many.len())),
        }
    }

    /// Creates a bridge network: checks the flags, leases the subnet host-wide, writes the
    /// network and its address book. Nothing is left when a step fails.
    pub fn create(&self, o: &CreateOptions) -> Result<Network, Error> {
        let driver = o.driver.as_deref().unwrap_or("bridge");
        if PREDEFINED.contains(&o.name.as_str()) || driver == "host" || driver == "null" {
            let which = if driver == "bridge" { &o.name } else { driver };
            return Err(Error::Invalid(format!(
                "{which} is a pre-defined network and cannot be created"
            )));
        }
        if !valid_name(&o.name) {
            return Err(Error::Invalid(format!(
                "invalid network name {:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
                o.name
            )));
        }
        if driver != "bridge" {
            return Err(Error::Invalid(format!(
                "plugin \"{driver}\" not found: only the bridge driver is supported"
            )));
        }
        let subnet = o.subnet.as_deref().map(Cidr::parse).transpose()?;
        let gateway = match (&o.gateway, subnet) {
            (None, _) => None,
            (Some(_), None) => {
                return Err(Error::Invalid(
                    "--gateway needs --subnet: every gateway must have a corresponding subnet"
                        .into(),
                ));
            }
            (Some(g), Some(s)) => {
                let a: Ipv4Addr = g
                    .parse()
                    .map_err(|_| Error::Invalid(format!("invalid gateway address: {g}")))?;
                if !s.is_host(a) {
                    return Err(Error::Invalid(format!(
                        "no matching subnet for gateway {a}: it is not a host address of {s}"
                    )));
                }
                Some(a)
            }
        };
        if let Some(s) = subnet
            && s.size() < 4
        {
            return Err(Error::Invalid(format!(
                "invalid subnet {s}: a bridge network needs at least a /30"
            )));
        }
        self.ensure_predefined()?;
        let _l = self.lock()?;
        if self.read(&o.name)?.is_some() {
            return Err(Error::Exists(o.name.clone()));
        }
        self.create_bridge(
            &o.name,
            subnet,
            gateway,
            o.internal,
            o.attachable,
            o.labels.clone(),
            BTreeMap::new(),
        )
    }

    /// Writes a bridge network with a leased subnet. Called with the store lock held.
    #[allow(clippy::too_many_arguments)]
    fn create_bridge(
        &self,
        name: &str,
        subnet: Option<Cidr>,
        gateway: Option<Ipv4Addr>,
        internal: bool,
        attachable: bool,
        labels: BTreeMap<String, String>,
        mut options: BTreeMap<String, String>,
    ) -> Result<Network, Error> {
        let pool = self.pool;
        let id = new_id();
        options.insert(BRIDGE_NAME_OPTION.into(), bridge_name(&self.root, name));
        let file = self.file(name);
        self.registry.allocate(subnet, &pool, &file, &id, |s| {
            // A /30 or bigger (checked, or the pool's): .1 exists.
            let gw = gateway
                .or_else(|| s.nth(1))
                .ok_or_else(|| Error::Invalid(format!("subnet {s} has no room for a gateway")))?;
            let mut n = blank(
                name,
                "bridge",
                vec![IpamConfig {
                    subnet: s,
                    gateway: gw,
                }],
                labels,
            );
            n.id = id.clone();
            n.internal = internal;
            n.attachable = attachable;
            n.options = options;
            let book = self.addresses(&n);
            book.init(&AddressBook::new(s, gw))?;
            if let Err(e) = self.write(&n) {
                book.remove();
                return Err(e);
            }
            Ok(n)
        })
    }

    /// Gives container `id` (named `name`) an address on bridge network `key` (`fixed`
    /// for `--ip`) and records its endpoint in `Containers`. State only: the caller makes
    /// the veth. Attaching again returns the address it holds.
    pub fn attach(
        &self,
        key: &str,
        id: &str,
        name: &str,
        fixed: Option<Ipv4Addr>,
    ) -> Result<Endpoint, Error> {
        self.attach_opt(key, id, name, fixed, None, true)
    }

    /// As [`NetworkStore::attach`], with the MAC address given (`--mac-address`; else
    /// the one derived from the address) and the fsyncs optional (`--rm` containers).
    pub fn attach_opt(
        &self,
        key: &str,
        id: &str,
        name: &str,
        fixed: Option<Ipv4Addr>,
        mac: Option<[u8; 6]>,
        durable: bool,
    ) -> Result<Endpoint, Error> {
        let n = self.get(key)?;
        let Some(cfg) = n.subnet().cloned() else {
            return Err(Error::Invalid(format!(
                "network {}: only bridge networks give addresses",
                n.name
            )));
        };
        let _l = self.lock()?;
        let mut n = self
            .read(&n.name)?
            .filter(|m| m.id == n.id)
            .ok_or_else(|| Error::NotFound(key.to_string()))?;
        if let Some(e) = n.containers.get(id)
            && let Ok(e) = serde_json::from_value::<Endpoint>(e.clone())
        {
            return Ok(e);
        }
        let book = self.addresses(&n);
        // Addresses of containers that are gone (their removal's write was lost in a
        // crash: it is not synced; or their create was killed before it wrote its record)
        // are taken back when the network runs short.
        let containers = self.root.join("containers");
        let gone = |who: &str| who != id && crate::container::store::is_gone(&containers.join(who));
        let mut taken_back: Vec<String> = Vec::new();
        let addr = book.update_opt(
            |b| match b.allocate(id, fixed) {
                Err(Error::AddressesExhausted(_) | Error::AddressInUse(..)) => {
                    b.used.retain(|_, who| {
                        let keep = !gone(who);
                        if !keep {
                            taken_back.push(who.clone());
                        }
                        keep
                    });
                    b.allocate(id, fixed)
                }
                r => r,
            },
            durable,
        )?;
        n.containers.retain(|who, _| !taken_back.contains(who));
        let e = Endpoint {
            name: name.into(),
            endpoint_id: new_id(),
            mac_address: super::endpoint::format_mac(
                mac.unwrap_or_else(|| super::endpoint::mac_for(addr)),
            ),
            ipv4_address: format!("{addr}/{}", cfg.subnet.prefix()),
            ipv6_address: String::new(),
        };
        // Serializing a struct of strings cannot fail.
        n.containers
            .insert(id.into(), serde_json::to_value(&e).expect("plain struct"));
        if let Err(err) = self.write_opt(&n, durable) {
            let _ = book.update(|b| Ok(b.release(addr)));
            return Err(err);
        }
        Ok(e)
    }

    /// Gives container `id`'s endpoint on network `key` its new name (`tug rename`).
    pub fn rename_endpoint(&self, key: &str, id: &str, name: &str) -> Result<(), Error> {
        let n = self.get(key)?;
        let _l = self.lock()?;
        let Some(mut n) = self.read(&n.name)?.filter(|m| m.id == n.id) else {
            return Ok(());
        };
        let Some(e) = n.containers.get_mut(id) else {
            return Ok(());
        };
        e["Name"] = serde_json::Value::String(name.to_string());
        self.write(&n)
    }

    /// Frees the address of container `id` on network `key` and drops its endpoint.
    pub fn detach(&self, key: &str, id: &str) -> Result<(), Error> {
        self.detach_opt(key, id, true)
    }

    /// As [`NetworkStore::detach`], with the fsyncs optional: a removal whose write a
    /// crash loses only holds an address until [`NetworkStore::attach`] takes it back.
    pub fn detach_opt(&self, key: &str, id: &str, durable: bool) -> Result<(), Error> {
        let n = self.get(key)?;
        let _l = self.lock()?;
        let Some(mut n) = self.read(&n.name)?.filter(|m| m.id == n.id) else {
            return Ok(());
        };
        if n.subnet().is_some() {
            self.addresses(&n)
                .update_opt(|b| Ok(b.release_all(id)), durable)?;
        }
        if n.containers.remove(id).is_some() {
            self.write_opt(&n, durable)?;
        }
        Ok(())
    }

    /// Removes a user network (not a predefined one, nor one with containers) and frees
    /// its subnet.
    pub fn remove(&self, key: &str) -> Result<Network, Error> {
        let n = self.get(key)?;
        if n.is_predefined() {
            return Err(Error::Predefined(n.name));
        }
        let _l = self.lock()?;
        let Some(n) = self.read(&n.name)?.filter(|m| m.id == n.id) else {
            return Err(Error::NotFound(key.to_string()));
        };
        if !n.containers.is_empty() {
            return Err(Error::InUse(n.name, n.id));
        }
        let p = self.file(&n.name);
        fs::remove_file(&p).map_err(|e| io_err(&p, e))?;
        self.addresses(&n).remove();
        self.registry.release(&n.id)?;
        Ok(n)
    }

    /// Removes every user network with no containers that `keep` selects; what it removed.
    pub fn prune(&self, keep: impl Fn(&Network) -> bool) -> Result<Vec<Network>, Error> {
        let mut gone = Vec::new();
        for n in self.list()? {
            if n.is_predefined() || !n.containers.is_empty() || !keep(&n) {
                continue;
            }
            match self.remove(&n.id) {
                Ok(n) => gone.push(n),
                Err(Error::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(gone)
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
