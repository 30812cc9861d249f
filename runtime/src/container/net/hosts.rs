//! The hosts files that `container::net` keeps current: rewritten in place (they are
//! bind-mounted) when a container comes up or goes down on a user network, connects,
//! disconnects or is renamed; and beside each, the names file of the container's
//! embedded DNS server (see `network::dns::names`), rewritten at the same moments.

use std::collections::HashMap;
use std::io::Write;

use super::{primary, short};
use crate::container::Ctx;
use crate::container::Error;
use crate::container::etc;
use crate::container::record::{Container, EndpointSettings};
use crate::network::record::Network;

/// The records one refresh reads, each read once (a refresh writes the file of every
/// container of a network, and each file names every other one).
struct Records<'a> {
    cx: &'a Ctx<'a>,
    containers: HashMap<String, Option<Container>>,
    networks: HashMap<String, Option<Network>>,
}

impl<'a> Records<'a> {
    fn new(cx: &'a Ctx<'a>) -> Records<'a> {
        Records {
            cx,
            containers: HashMap::new(),
            networks: HashMap::new(),
        }
    }

    fn container(&mut self, id: &str) -> Option<&Container> {
        let store = self.cx.container_store();
        self.containers
            .entry(id.to_string())
            .or_insert_with(|| store.load(id).ok())
            .as_ref()
    }

    fn network(&mut self, name: &str) -> Option<Network> {
        let store = self.cx.network_store();
        self.networks
            .entry(name.to_string())
            .or_insert_with(|| store.get(name).ok())
            .clone()
    }
}

/// The names file of a container's embedded DNS server, in its dir.
pub(super) const DNS_NAMES: &str = "dns-names";

/// Whether `c` counts as up for name resolution (`changing` overrides its record).
fn is_up(c: &Container, changing: Option<(&str, bool)>) -> bool {
    match changing {
        Some((id, up)) if id == c.id => up,
        _ => c.state.running && !c.state.restarting,
    }
}

/// Whether a container's hosts file says more than `create` wrote (its own address,
/// `--add-host`s): names of peers on a user network, or links.
pub fn names_peers(c: &Container) -> bool {
    c.network_settings
        .networks
        .iter()
        .any(|(n, ep)| n != "bridge" || ep.links.as_ref().is_some_and(|l| !l.is_empty()))
}

impl Ctx<'_> {
    /// Rewrites the hosts files that change: those of the running containers on
    /// `networks` (user networks: the default bridge resolves no names but links), and
    /// the own file of `changing` when it comes up. `changing`: a container whose state
    /// is changing right now, and whether it counts as up.
    pub(crate) fn refresh_hosts(&self, networks: &[String], changing: Option<(&str, bool)>) {
        let mut r = Records::new(self);
        let mut targets: Vec<String> = Vec::new();
        if let Some((id, true)) = changing {
            targets.push(id.to_string());
        }
        for n in networks.iter().filter(|n| n.as_str() != "bridge") {
            let Some(net) = r.network(n) else { continue };
            for id in net.containers.keys() {
                if !targets.contains(id) && r.container(id).is_some_and(|c| is_up(c, changing)) {
                    targets.push(id.clone());
                }
            }
        }
        for id in targets {
            let Some(c) = r.container(&id).cloned() else {
                continue;
            };
            let text = self.hosts_text(&mut r, &c, changing);
            let _ = write_in_place(&c, &text);
            let _ = write_dns_names(&c, &dns_names_text(&mut r, &c, changing));
        }
    }

    /// The hosts file of `c`: Docker's defaults, its own address and hostname, the names
    /// of the running containers on its user networks, its links and `--add-host`s.
    fn hosts_text(
        &self,
        r: &mut Records<'_>,
        c: &Container,
        changing: Option<(&str, bool)>,
    ) -> String {
        let mut out = crate::container::etc::hosts_default();
        let mut lines: Vec<String> = Vec::new();
        let nets = &c.network_settings.networks;
        if let Some(own) = primary(c).and_then(|n| nets.get(&n)) {
            lines.push(format!("{}\t{}", own.ip_address, c.config.hostname));
        }
        for name in nets.keys().filter(|n| n.as_str() != "bridge") {
            let Some(net) = r.network(name) else { continue };
            for id in net.containers.keys().filter(|i| i.as_str() != c.id) {
                let Some(peer) = r.container(id) else {
                    continue;
                };
                if !is_up(peer, changing) {
                    continue;
                }
                if let Some(ep) = peer.network_settings.networks.get(name) {
                    let names = endpoint_names(peer, ep);
                    lines.push(format!("{}\t{}", ep.ip_address, names.join(" ")));
                }
            }
        }
        for ep in nets.values() {
            for l in ep.links.iter().flatten() {
                let (target, alias) = l.split_once(':').unwrap_or((l, l));
                let Ok(t) = self.container(target) else {
                    continue;
                };
                if !t.state.running {
                    continue;
                }
                let ip = t
                    .network_settings
                    .networks
                    .get("bridge")
                    .or_else(|| t.network_settings.networks.values().next())
                    .map(|e| e.ip_address.clone())
                    .unwrap_or_default();
                if ip.is_empty() {
                    continue;
                }
                let mut names = vec![alias.to_string()];
                if alias != t.short_name() {
                    names.push(t.short_name().to_string());
                }
                names.push(short(&t.id).to_string());
                lines.push(format!("{ip}\t{}", names.join(" ")));
            }
        }
        for l in lines {
            out.push_str(&l);
            out.push('\n');
        }
        out.push_str(&self.extra_hosts_text(c));
        out
    }

    /// The resolv.conf of a container: a joined container's own, the embedded DNS
    /// server's on a user network (see `network::dns`), else the host's with the `--dns`
    /// flags applied.
    pub(crate) fn resolv_conf_text(&self, plan: &etc::DnsPlan<'_>) -> Result<String, Error> {
        let host = || std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        Ok(match plan.joined {
            Some(t) => {
                std::fs::read_to_string(&self.container(t)?.resolv_conf_path).unwrap_or_default()
            }
            None if plan.user_network => {
                etc::resolv_conf_embedded(&host(), plan.search, plan.options)
            }
            None => etc::resolv_conf(
                &host(),
                plan.host_network,
                plan.dns,
                plan.search,
                plan.options,
            ),
        })
    }

    /// Writes again the generated /etc files of `c` that a crash damaged. `create`
    /// writes its hostname, hosts and resolv.conf without an fsync (Docker writes them
    /// anew at each start); a crash soon after can leave one missing, empty, or with
    /// blocks of zeros, and its bind mount would then fail or show nothing. Each such
    /// file gets the content it would have now; a sound one is left as it is, with any
    /// change made in the container since. Costs three small reads per start.
    pub(crate) fn restore_etc_files(&self, c: &Container) {
        let damaged = |p: &str| {
            !p.is_empty() && std::fs::read(p).map_or(true, |b| b.is_empty() || b.contains(&0))
        };
        let mode = c.host_config.network_mode.as_str();
        let joined = mode.strip_prefix("container:");
        let host_network = mode == "host";
        let write = |p: &str, text: &str| {
            let _ =
                crate::fsutil::write_atomic_opt(std::path::Path::new(p), text.as_bytes(), false);
        };
        if damaged(&c.hostname_path) {
            write(&c.hostname_path, &format!("{}\n", c.config.hostname));
        }
        if damaged(&c.hosts_path) {
            let text = match (joined, host_network) {
                (Some(t), _) => self.container(t).ok().map(|t| {
                    std::fs::read_to_string(&t.hosts_path).unwrap_or_default()
                        + &self.extra_hosts_text(c)
                }),
                (None, true) => Some(
                    std::fs::read_to_string("/etc/hosts").unwrap_or_default()
                        + &self.extra_hosts_text(c),
                ),
                (None, false) => Some(self.hosts_text(&mut Records::new(self), c, None)),
            };
            if let Some(text) = text {
                write(&c.hosts_path, &text);
            }
        }
        if damaged(&c.resolv_conf_path) {
            let plan = etc::DnsPlan {
                joined,
                user_network: c.network_settings.networks.keys().any(|n| n != "bridge"),
                host_network,
                dns: &c.host_config.dns,
                search: &c.host_config.dns_search,
                options: &c.host_config.dns_options,
            };
            if let Ok(text) = self.resolv_conf_text(&plan) {
                write(&c.resolv_conf_path, &text);
            }
        }
    }

    /// The `--add-host` lines of `c` (checked at create).
    fn extra_hosts_text(&self, c: &Container) -> String {
        let extra = c.host_config.extra_hosts.as_deref().unwrap_or_default();
        let own = primary(c).and_then(|n| c.network_settings.networks.get(&n));
        let gateway = self.host_gateway_for(extra, own);
        etc::extra_host_lines(extra, gateway.as_deref()).unwrap_or_default()
    }

    /// The address `--add-host NAME:host-gateway` stands for: the gateway of the
    /// container's own bridge network (the host's address there, which it reaches), else
    /// the default bridge's, as Docker's default host-gateway IP is docker0's.
    /// (Looked up only when an `extra_hosts` value asks for it.)
    pub(crate) fn host_gateway_for(
        &self,
        extra_hosts: &[String],
        own: Option<&EndpointSettings>,
    ) -> Option<String> {
        let asked = extra_hosts
            .iter()
            .any(|h| h.ends_with(crate::container::etc::HOST_GATEWAY));
        if !asked {
            return None;
        }
        if let Some(ep) = own.filter(|e| !e.gateway.is_empty()) {
            return Some(ep.gateway.clone());
        }
        let bridge = self.network_store().get("bridge").ok()?;
        Some(bridge.subnet()?.gateway.to_string())
    }
}

/// The names of `c` on a user network where its endpoint is `ep`: its name, its aliases
/// there, its short id.
fn endpoint_names(c: &Container, ep: &EndpointSettings) -> Vec<String> {
    let mut names = vec![c.short_name().to_string()];
    for a in ep.aliases.iter().flatten() {
        if !names.contains(a) {
            names.push(a.clone());
        }
    }
    names.push(short(&c.id).to_string());
    names
}

/// The names file of `c`'s DNS server: a line `network<TAB>address<TAB>names` for each
/// running container on each of its user networks, itself included (Docker's server
/// answers a container's own name too), and one for each of its links' aliases there.
fn dns_names_text(r: &mut Records<'_>, c: &Container, changing: Option<(&str, bool)>) -> String {
    let mut out = String::new();
    for name in c.network_settings.networks.keys() {
        if name == "bridge" {
            continue;
        }
        let Some(net) = r.network(name) else { continue };
        for id in net.containers.keys() {
            let peer = if *id == c.id {
                Some(c)
            } else {
                r.container(id).filter(|p| is_up(p, changing))
            };
            let Some(ep) = peer.and_then(|p| p.network_settings.networks.get(name)) else {
                continue;
            };
            let names = endpoint_names(peer.expect("checked above"), ep);
            out.push_str(&format!("{name}\t{}\t{}\n", ep.ip_address, names.join(" ")));
        }
        // Its `--link name:alias`es on this network: the alias is the linked container's
        // name for this container only (as Docker's server answers).
        let links = c
            .network_settings
            .networks
            .get(name)
            .and_then(|e| e.links.clone());
        for link in links.into_iter().flatten() {
            let Some((target, alias)) = link.split_once(':') else {
                continue;
            };
            for id in net.containers.keys().filter(|id| **id != c.id) {
                let Some(p) = r.container(id).filter(|p| is_up(p, changing)) else {
                    continue;
                };
                if p.short_name() != target {
                    continue;
                }
                if let Some(ep) = p.network_settings.networks.get(name) {
                    out.push_str(&format!("{name}\t{}\t{alias}\n", ep.ip_address));
                }
            }
        }
    }
    out
}

/// Replaces (write and rename: the DNS server sees a new inode) the names file of `c`'s
/// DNS server; a container that was never on a user network has none (one that left
/// its last gets an empty one).
fn write_dns_names(c: &Container, text: &str) -> Result<(), Error> {
    if c.hosts_path.is_empty() {
        return Ok(());
    }
    let p = std::path::Path::new(&c.hosts_path).with_file_name(DNS_NAMES);
    if !c.network_settings.networks.keys().any(|n| n != "bridge") && !p.exists() {
        return Ok(());
    }
    crate::fsutil::write_atomic_opt(&p, text.as_bytes(), false).map_err(|e| Error::io(&p, e))
}

/// Writes container `c`'s /etc/hosts in place (it is bind-mounted into the container).
fn write_in_place(c: &Container, text: &str) -> Result<(), Error> {
    if c.hosts_path.is_empty() || c.host_config.network_mode == "host" {
        return Ok(());
    }
    let p = std::path::Path::new(&c.hosts_path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(p)
        .map_err(|e| Error::io(p, e))?;
    f.write_all(text.as_bytes()).map_err(|e| Error::io(p, e))
}
