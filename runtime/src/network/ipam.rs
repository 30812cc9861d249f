//! IP address management. Subnets are host-wide: every state root on the host shares
//! one registry (`$TUG_HOST_RUN/subnets.json`, default `/run/tug`), changed only under an
//! exclusive flock on `subnets.lock` and written atomically, so two roots (or two parallel
//! `network create`s) never get the same subnet. Automatic subnets are /24s taken in order
//! from a pool (default 172.17.0.0/16 to 172.31.255.0/24, `$TUG_ADDRESS_POOL` to change
//! it): a /24 holds 253 containers, plenty for a test or a compose project, and many
//! parallel state roots can each hold several networks (a /16 each, as Docker does, runs
//! out after 15). Subnets routed on the host (`/proc/net/route`) are skipped. An entry
//! whose owner (a network file of some root) is gone is reclaimed.
//!
//! Addresses inside a network belong to one state root: [`AddressBook`] (gateway kept,
//! containers from .2, fixed `--ip`, freed on release) kept in `<file>` under a lock.

use std::collections::BTreeMap;
use std::fs;
use std::io::ErrorKind;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Error;
use super::cidr::Cidr;
use crate::fsutil;

/// The host-wide run dir when `TUG_HOST_RUN` does not say (`EngineConfig::host_run`); not
/// `$TUG_RUN`, which is per state root.
pub const DEFAULT_HOST_RUN: &str = "/run/tug";

/// Where automatic subnets come from: `size`-prefix subnets of `range`, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool {
    pub range: Cidr,
    pub size: u8,
}

impl Pool {
    /// 172.16.0.0/12 in /24s, starting at 172.17.0.0/24 (the default bridge's, as Docker).
    pub fn default_pool() -> Pool {
        Pool {
            // Literal subnet: cannot fail.
            range: Cidr::new(Ipv4Addr::new(172, 16, 0, 0), 12).expect("valid literal"),
            size: 24,
        }
    }

    /// `BASE/PREFIX,SIZE` (`TUG_ADDRESS_POOL`'s form, e.g. `10.200.0.0/16,24`).
    pub fn parse(s: &str) -> Result<Pool, Error> {
        let bad = || Error::Invalid(format!("TUG_ADDRESS_POOL={s:?}: expected BASE/PREFIX,SIZE"));
        let (r, n) = s.split_once(',').ok_or_else(bad)?;
        let range = Cidr::parse(r.trim())?;
        let size: u8 = n.trim().parse().map_err(|_| bad())?;
        if size < range.prefix() || size > 30 {
            return Err(bad());
        }
        Ok(Pool { range, size })
    }

    /// The candidate subnets in order; the default pool starts at 172.17.0.0 (172.16/16
    /// is often used by hosts and VPNs).
    fn candidates(&self) -> impl Iterator<Item = Cidr> + '_ {
        let step = 1u64 << (32 - u32::from(self.size));
        let n = self.range.size() / step;
        let start = if *self == Pool::default_pool() {
            256
        } else {
            0
        };
        let base = u32::from(self.range.network()) as u64;
        (start..n).filter_map(move |i| {
            // In range by construction: base + i*step < base + range size <= 2^32.
            Cidr::new(Ipv4Addr::from((base + i * step) as u32), self.size)
        })
    }
}

/// The first subnet of `pool` that overlaps none of `taken` (other networks) nor
/// `routed` (the host's routes).
pub fn pick_subnet(pool: &Pool, taken: &[Cidr], routed: &[Cidr]) -> Option<Cidr> {
    pool.candidates()
        .find(|c| !taken.iter().chain(routed).any(|t| t.overlaps(c)))
}

/// The destinations routed on the host, from `/proc/net/route` (the default route left
/// out: it overlaps everything).
pub fn host_routes() -> Vec<Cidr> {
    fs::read_to_string("/proc/net/route")
        .map(|t| parse_proc_route(&t))
        .unwrap_or_default()
}

/// Parses `/proc/net/route`: destination and mask are the kernel's network-order bytes
/// printed as a native (little-endian, on the machines tug supports) integer.
pub fn parse_proc_route(text: &str) -> Vec<Cidr> {
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(d), Some(m)) = (f.get(1), f.get(7)) else {
            continue;
        };
        let (Ok(d), Ok(m)) = (u32::from_str_radix(d, 16), u32::from_str_radix(m, 16)) else {
            continue;
        };
        let (d, m) = (
            u32::from_be_bytes(d.to_le_bytes()),
            u32::from_be_bytes(m.to_le_bytes()),
        );
        let prefix = m.leading_ones() as u8;
        if prefix == 0 {
            continue;
        }
        if let Some(c) = Cidr::new(Ipv4Addr::from(d & super::cidr::mask(prefix)), prefix) {
            out.push(c);
        }
    }
    out
}

/// One subnet in the host-wide registry, with the network file that owns it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Lease {
    pub subnet: Cidr,
    /// `<root>/networks/<name>.json` of the owning network.
    pub owner: PathBuf,
    /// The owning network's id: a file at `owner` with another id does not own it.
    pub id: String,
}

/// The host-wide subnet registry (see the module doc).
#[derive(Debug, Clone)]
pub struct SubnetRegistry {
    dir: PathBuf,
}

fn io_err(p: &Path, e: std::io::Error) -> Error {
    Error::io(p.display(), e)
}

impl SubnetRegistry {
    pub fn open(dir: &Path) -> SubnetRegistry {
        SubnetRegistry { dir: dir.into() }
    }

    fn file(&self) -> PathBuf {
        self.dir.join("subnets.json")
    }

    fn read(&self) -> Result<Vec<Lease>, Error> {
        let p = self.file();
        match fs::read(&p) {
            Ok(d) => serde_json::from_slice(&d)
                .map_err(|e| io_err(&p, std::io::Error::new(ErrorKind::InvalidData, e))),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(io_err(&p, e)),
        }
    }

    /// The leases whose owner file still names them.
    fn live(&self) -> Result<Vec<Lease>, Error> {
        Ok(self.read()?.into_iter().filter(owner_alive).collect())
    }

    /// Every live lease.
    pub fn leases(&self) -> Result<Vec<Lease>, Error> {
        let _l = self.lock()?;
        self.live()
    }

    fn lock(&self) -> Result<fsutil::LockGuard, Error> {
        fs::create_dir_all(&self.dir).map_err(|e| io_err(&self.dir, e))?;
        let p = self.dir.join("subnets.lock");
        fsutil::lock_exclusive(&p).map_err(|e| io_err(&p, e))
    }

    /// Leases `want` (or the first free subnet of `pool`) to `owner`/`id`, then runs
    /// `commit` with it while still holding the lock, so the owner file it writes exists
    /// before anyone else looks. Nothing is leased when `commit` fails.
    pub fn allocate<T>(
        &self,
        want: Option<Cidr>,
        pool: &Pool,
        owner: &Path,
        id: &str,
        commit: impl FnOnce(Cidr) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let _l = self.lock()?;
        let mut leases = self.live()?;
        let taken: Vec<Cidr> = leases.iter().map(|l| l.subnet).collect();
        let subnet = match want {
            Some(w) => {
                if let Some(t) = taken.iter().find(|t| t.overlaps(&w)) {
                    return Err(Error::Overlap(format!("{w} overlaps {t}")));
                }
                w
            }
            None => pick_subnet(pool, &taken, &host_routes()).ok_or(Error::PoolExhausted)?,
        };
        leases.push(Lease {
            subnet,
            owner: owner.into(),
            id: id.into(),
        });
        let p = self.file();
        fsutil::write_json_atomic(&p, &leases).map_err(|e| io_err(&p, e))?;
        match commit(subnet) {
            Ok(v) => Ok(v),
            Err(e) => {
                leases.pop();
                let _ = fsutil::write_json_atomic(&p, &leases);
                Err(e)
            }
        }
    }

    /// Gives back the subnet of network `id` (and drops dead leases).
    pub fn release(&self, id: &str) -> Result<(), Error> {
        let _l = self.lock()?;
        let leases: Vec<Lease> = self.live()?.into_iter().filter(|l| l.id != id).collect();
        let p = self.file();
        fsutil::write_json_atomic(&p, &leases).map_err(|e| io_err(&p, e))
    }
}

/// Whether the lease's owner file exists and carries its id.
fn owner_alive(l: &Lease) -> bool {
    #[derive(Deserialize)]
    struct Owner {
        #[serde(rename = "Id")]
        id: String,
    }
    fs::read(&l.owner)
        .ok()
        .and_then(|d| serde_json::from_slice::<Owner>(&d).ok())
        .is_some_and(|o| o.id == l.id)
}

/// The addresses handed out on one network (pure: the file wrapper is [`AddressFile`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressBook {
    pub subnet: Cidr,
    pub gateway: Ipv4Addr,
    /// Address to the container (or other user) that holds it.
    pub used: BTreeMap<Ipv4Addr, String>,
}

impl AddressBook {
    pub fn new(subnet: Cidr, gateway: Ipv4Addr) -> AddressBook {
        AddressBook {
            subnet,
            gateway,
            used: BTreeMap::new(),
        }
    }

    /// Gives `who` the lowest free host address (after the gateway, `.1` by default), or
    /// `fixed` (`--ip`) when given and free.
    pub fn allocate(&mut self, who: &str, fixed: Option<Ipv4Addr>) -> Result<Ipv4Addr, Error> {
        let a = match fixed {
            Some(a) => {
                if !self.subnet.is_host(a) {
                    return Err(Error::Invalid(format!(
                        "invalid address {a}: it does not belong to subnet {}",
                        self.subnet
                    )));
                }
                if a == self.gateway || self.used.contains_key(&a) {
                    return Err(Error::AddressInUse(a.to_string(), self.subnet.to_string()));
                }
                a
            }
            None => (1..u32::try_from(self.subnet.size()).unwrap_or(u32::MAX))
                .filter_map(|n| self.subnet.nth(n))
                .find(|a| {
                    self.subnet.is_host(*a) && *a != self.gateway && !self.used.contains_key(a)
                })
                .ok_or_else(|| Error::AddressesExhausted(self.subnet.to_string()))?,
        };
        self.used.insert(a, who.to_string());
        Ok(a)
    }

    /// Frees `a`; whether it was held.
    pub fn release(&mut self, a: Ipv4Addr) -> bool {
        self.used.remove(&a).is_some()
    }

    /// Frees every address `who` holds.
    pub fn release_all(&mut self, who: &str) -> Vec<Ipv4Addr> {
        let gone: Vec<Ipv4Addr> = self
            .used
            .iter()
            .filter(|(_, w)| *w == who)
            .map(|(a, _)| *a)
            .collect();
        for a in &gone {
            self.used.remove(a);
        }
        gone
    }
}

/// An [`AddressBook`] kept in a file, changed under an exclusive flock on `<file>.lock`
/// and written atomically, so parallel `run`s never share an address.
#[derive(Debug, Clone)]
pub struct AddressFile {
    path: PathBuf,
}

impl AddressFile {
    pub fn open(path: &Path) -> AddressFile {
        AddressFile { path: path.into() }
    }

    /// Writes a new, empty book (on network creation).
    pub fn init(&self, book: &AddressBook) -> Result<(), Error> {
        fsutil::write_json_atomic(&self.path, book).map_err(|e| io_err(&self.path, e))
    }

    /// Runs `f` on the book under the lock and saves it when `f` succeeds.
    pub fn update<T>(
        &self,
        f: impl FnOnce(&mut AddressBook) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.update_opt(f, true)
    }

    /// As [`AddressFile::update`], with the fsync optional (a `--rm` container's address
    /// need not survive a crash: the container does not either).
    pub fn update_opt<T>(
        &self,
        f: impl FnOnce(&mut AddressBook) -> Result<T, Error>,
        durable: bool,
    ) -> Result<T, Error> {
        let lp = self.path.with_extension("lock");
        let _l = fsutil::lock_exclusive(&lp).map_err(|e| io_err(&lp, e))?;
        let mut book = self.read()?;
        let v = f(&mut book)?;
        let data =
            serde_json::to_vec(&book).map_err(|e| io_err(&self.path, std::io::Error::other(e)))?;
        fsutil::write_atomic_opt(&self.path, &data, durable).map_err(|e| io_err(&self.path, e))?;
        Ok(v)
    }

    pub fn read(&self) -> Result<AddressBook, Error> {
        let d = fs::read(&self.path).map_err(|e| io_err(&self.path, e))?;
        serde_json::from_slice(&d)
            .map_err(|e| io_err(&self.path, std::io::Error::new(ErrorKind::InvalidData, e)))
    }

    /// Removes the file and its lock (on network removal).
    pub fn remove(&self) {
        let _ = fs::remove_file(&self.path);
        let _ = fs::remove_file(self.path.with_extension("lock"));
    }
}

#[cfg(test)]
#[path = "ipam_tests.rs"]
mod tests;
