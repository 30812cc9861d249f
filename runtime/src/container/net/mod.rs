//! Containers on networks: the `--network` mode, the address a container gets at create
//! (kept until `rm`), its interfaces and published ports while it runs (made by its shim,
//! see `network::endpoint` and `network::ports`), `/etc/hosts` files kept current so that
//! names resolve on user networks, and `network connect`/`disconnect`.
//!
//! Names resolve two ways, with no daemon: every start, stop, connect and disconnect
//! rewrites (in place: the file is bind-mounted) the hosts file of each running container
//! of the networks concerned, and beside it the names file of the container's embedded
//! DNS server (`network::dns`, served at 127.0.0.11 by the container's own shim), so names
//! follow containers as they come and go. On a user network `/etc/resolv.conf` names
//! 127.0.0.11, which forwards outside names; on the default bridge it keeps the host's
//! servers.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::os::fd::AsFd;

use super::Error;
use super::record::{Container, EndpointSettings, NetworkSettings};
use crate::container::Ctx;
use crate::network::endpoint::{self, Attachment};
use crate::network::ports::{self, PortBindings};
use crate::network::record::Network;

mod hosts;
mod link_env;
mod live;
pub use hosts::names_peers;
pub(crate) use live::joins_networks;
pub use live::{LiveNetwork, NetworkActor, exposed_keys, reserve_ports};
pub(crate) use live::{down, gc_bridges, joined_netns, repair_after_dead_shim, serve_dns, up};

/// What `--network` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetMode {
    None,
    Host,
    /// The network namespace of another container (its name or id).
    Container(String),
    /// A bridge network: `bridge` (the default) or a user network's name or id.
    Bridge(String),
}

impl NetMode {
    /// Parses `--network` (empty: the default bridge).
    pub fn parse(s: &str) -> NetMode {
        match s {
            "" | "bridge" | "default" => NetMode::Bridge("bridge".into()),
            "none" => NetMode::None,
            "host" => NetMode::Host,
            _ => match s.strip_prefix("container:") {
                Some(c) => NetMode::Container(c.to_string()),
                None => NetMode::Bridge(s.to_string()),
            },
        }
    }

    /// Whether the container gets its own network namespace.
    pub fn own_netns(&self) -> bool {
        matches!(self, NetMode::None | NetMode::Bridge(_))
    }
}

/// The network part of a container's record, decided at create.
#[derive(Debug, Default)]
pub struct NetPlan {
    /// `HostConfig.NetworkMode`.
    pub mode: String,
    pub settings: NetworkSettings,
    pub port_bindings: PortBindings,
    /// `Config.ExposedPorts` keys.
    pub exposed: Vec<String>,
    /// `HostConfig.Links` (`/db:/web/mysql`).
    pub links: Vec<String>,
    /// The variables of the legacy links on the default bridge (`DB_PORT_6379_TCP`...),
    /// for the process's environment.
    pub link_env: Vec<String>,
    /// The networks the container got an address on (undone if the create fails).
    pub attached: Vec<String>,
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::Invalid(msg.into())
}

/// The first 12 hex of an id.
pub(super) fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

impl Ctx<'_> {
    /// Decides the network of a new container `id` named `name`: checks the flags as
    /// Docker does, gives it its address, and fills the record's network fields.
    /// `image_exposed`: the image's ExposedPorts keys.
    pub(super) fn plan_network(
        &self,
        id: &str,
        name: &str,
        opts: &super::CreateOptions,
        image_exposed: &[String],
        durable: bool,
    ) -> crate::container::Result<NetPlan> {
        let mode = NetMode::parse(&opts.network);
        let mut plan = NetPlan::default();
        let mut exposed: Vec<String> = image_exposed.to_vec();
        for e in &opts.expose {
            for k in ports::parse_expose(e)
                .map_err(|err| invalid(format!("--expose {e}: {}", crate::Report(&err))))?
            {
                if !exposed.contains(&k) {
                    exposed.push(k);
                }
            }
        }
        let publishing = !opts.publish.is_empty() || opts.publish_all;
        match &mode {
            NetMode::Container(_) | NetMode::Host | NetMode::None => {
                if !opts.network_aliases.is_empty() {
                    return Err(invalid(
                        "network-scoped alias is supported only for containers in user defined networks",
                    ));
                }
                if opts.ip.is_some() {
                    return Err(invalid(
                        "user specified IP address is supported on user defined networks only",
                    ));
                }
                if !opts.links.is_empty() && !matches!(mode, NetMode::None) {
                    return Err(invalid(
                        "conflicting options: container type network can't be used with links. This would result in undefined behavior",
                    ));
                }
            }
            NetMode::Bridge(_) => {}
        }
        if let NetMode::Container(_) = &mode {
            if publishing {
                return Err(invalid(
                    "conflicting options: port publishing and the container type network mode",
                ));
            }
            if opts.mac_address.is_some() || !opts.dns.is_empty() || !opts.extra_hosts.is_empty() {
                return Err(invalid(
                    "conflicting options: dns, mac address and extra hosts cannot be used with the container type network mode",
                ));
            }
        }
        plan.port_bindings = match &mode {
            NetMode::Bridge(_) => ports::bindings(&opts.publish, &exposed, opts.publish_all)?,
            // Docker discards published ports with host networking (and has none to
            // publish without a network).
            _ => PortBindings::new(),
        };
        for k in plan.port_bindings.keys() {
            if !exposed.contains(k) {
                exposed.push(k.clone());
            }
        }
        plan.exposed = exposed;
        plan.mode = match &mode {
            NetMode::None => "none".into(),
            NetMode::Host => "host".into(),
            NetMode::Container(c) => {
                let target = self.container(c)?;
                if target.id == id {
                    return Err(invalid("cannot join own network namespace"));
                }
                format!("container:{}", target.id)
            }
            NetMode::Bridge(n) => n.clone(),
        };
        let NetMode::Bridge(net_name) = &mode else {
            return Ok(plan);
        };
        let store = self.network_store();
        let net = store.get(net_name)?;
        if net.driver != "bridge" {
            return Err(invalid(format!(
                "network {} is not a bridge network",
                net.name
            )));
        }
        let user_defined = net.name != "bridge";
        if !user_defined && !opts.network_aliases.is_empty() {
            return Err(invalid(
                "network-scoped alias is supported only for containers in user defined networks",
            ));
        }
        if !user_defined && opts.ip.is_some() {
            return Err(invalid(
                "user specified IP address is supported on user defined networks only",
            ));
        }
        let mac = match &opts.mac_address {
            Some(m) => Some(endpoint::parse_mac(m)?),
            None => None,
        };
        // Links name running containers (checked before the address is taken).
        let mut endpoint_links = Vec::new();
        for l in &opts.links {
            let (target, alias) = l.split_once(':').unwrap_or((l, l));
            if target.is_empty() || alias.is_empty() {
                return Err(invalid(format!("invalid link: {l:?} (use name[:alias])")));
            }
            let t = self
                .container(target)
                .map_err(|_| invalid(format!("could not get container for {target}")))?;
            if !t.state.running {
                return Err(invalid(format!(
                    "Cannot link to a non running container: {} AS /{name}/{alias}",
                    t.name
                )));
            }
            plan.links.push(format!("{}:/{name}/{alias}", t.name));
            // Docker's link variables are for the default bridge only.
            if let Some(ep) = t.network_settings.networks.get("bridge")
                && net.name == "bridge"
            {
                let exposed: Vec<String> = t
                    .config
                    .exposed_ports
                    .iter()
                    .flatten()
                    .map(|(k, _)| k.clone())
                    .collect();
                plan.link_env.extend(link_env::link_env(
                    name,
                    alias,
                    &ep.ip_address,
                    &exposed,
                    &t.config.env,
                ));
            }
            endpoint_links.push(format!("{}:{alias}", t.short_name()));
        }
        let ep = store.attach_opt(&net.name, id, name, opts.ip, mac, durable)?;
        plan.attached.push(net.name.clone());
        let settings = endpoint_settings(&net, id, name, &ep, mac, opts, endpoint_links)?;
        if !user_defined {
            plan.settings.ip_address = settings.ip_address.clone();
            plan.settings.gateway = settings.gateway.clone();
            plan.settings.ip_prefix_len = settings.ip_prefix_len;
            plan.settings.mac_address = settings.mac_address.clone();
        }
        plan.settings.networks.insert(net.name.clone(), settings);
        Ok(plan)
    }

    /// Gives back the addresses of container `c` (at `rm`) and what a dead shim left.
    pub(crate) fn release_networks(&self, c: &Container) {
        if c.network_settings.networks.is_empty() {
            return;
        }
        let store = self.network_store();
        for n in c.network_settings.networks.keys() {
            let _ = store.detach_opt(n, &c.id, false);
        }
    }

    /// The work of `Engine::connect_network`.
    pub(crate) fn connect_network(
        &self,
        network: &str,
        container: &str,
        aliases: &[String],
        ip: Option<Ipv4Addr>,
    ) -> crate::container::Result<()> {
        let c = self.container(container)?;
        if !NetMode::parse(&c.host_config.network_mode).own_netns()
            || c.host_config.network_mode == "none"
        {
            return Err(invalid(format!(
                "container {} is not on a bridge network (network mode {}): it cannot be connected",
                c.short_name(),
                c.host_config.network_mode
            )));
        }
        let store = self.network_store();
        let net = store.get(network)?;
        if c.network_settings.networks.contains_key(&net.name) {
            return Err(invalid(format!(
                "endpoint with name {} already exists in network {}",
                c.short_name(),
                net.name
            )));
        }
        if net.name == "bridge" && (!aliases.is_empty() || ip.is_some()) {
            return Err(invalid(
                "network-scoped alias and user specified IP address are supported only on user defined networks",
            ));
        }
        let ep = store.attach(&net.name, &c.id, c.short_name(), ip)?;
        let opts = super::CreateOptions {
            network_aliases: aliases.to_vec(),
            ip,
            ..Default::default()
        };
        let settings =
            endpoint_settings(&net, &c.id, c.short_name(), &ep, None, &opts, Vec::new())?;
        let cstore = self.container_store();
        let updated = cstore.update(&c.id, |r| {
            r.network_settings
                .networks
                .insert(net.name.clone(), settings.clone());
        })?;
        let Some(updated) = updated else {
            let _ = store.detach(&net.name, &c.id);
            return Err(Error::NotFound(container.to_string()));
        };
        let undo_record = || {
            let _ = cstore.update(&c.id, |r| {
                r.network_settings.networks.remove(&net.name);
            });
            let _ = store.detach(&net.name, &c.id);
        };
        // A first user network brings the embedded DNS server, as Docker's: the
        // resolv.conf names it (for a stopped container, its shim serves it at start).
        let first_user_network = net.name != "bridge" && !names_embedded_dns(&updated);
        if updated.state.running && updated.state.pid > 0 {
            let up = open_netns(updated.state.pid).and_then(|ns| {
                let a = attachment(&net, &settings, free_iface(ns.as_fd())?, false)?;
                endpoint::up(self.network_host(), ns.as_fd(), &c.id, &a, None)?;
                Ok(a)
            });
            let a = match up {
                Ok(a) => a,
                Err(e) => {
                    undo_record();
                    return Err(e);
                }
            };
            self.refresh_hosts(std::slice::from_ref(&net.name), None);
            if first_user_network && let Err(e) = self.ask_shim_for_dns(&c.id) {
                let _ = endpoint::down(self.network_host(), &c.id, &a);
                undo_record();
                self.refresh_hosts(std::slice::from_ref(&net.name), None);
                return Err(e);
            }
            // The new network may be the primary one now (the one `--network` named
            // came back, or it is the first by name after that one left).
            live::move_gateway(self, &c, &updated)?;
        }
        if first_user_network {
            let resolv = super::etc::resolv_conf_embedded(
                &std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
                &updated.host_config.dns_search,
                &updated.host_config.dns_options,
            );
            // In place: a running container has the file bind-mounted.
            std::fs::write(&updated.resolv_conf_path, resolv)
                .map_err(|e| Error::io(std::path::Path::new(&updated.resolv_conf_path), e))?;
        }
        Ok(())
    }

    /// Asks the shim of running container `id` to serve its embedded DNS server.
    fn ask_shim_for_dns(&self, id: &str) -> crate::container::Result<()> {
        self.ask_shim(id, crate::shim::proto::DNS, &[], "its DNS server")
    }

    /// Sends running container `id`'s shim a `kind` frame that it answers with `STARTED`
    /// or `FAILED` (`what` the request is about, for an error). A shim that does not
    /// answer within ten seconds (one of an older tug, which ignores frames it does not
    /// know) is an error, not a hang.
    pub(super) fn ask_shim(
        &self,
        id: &str,
        kind: u8,
        payload: &[u8],
        what: &str,
    ) -> crate::container::Result<()> {
        use crate::shim::{self, proto};
        let talk = |e| Error::Sys(format!("asking the container's shim for {what}"), e);
        let mut sock = shim::connect(self.run_root(), id).map_err(talk)?;
        sock.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .map_err(talk)?;
        proto::write_frame(&mut sock, kind, payload).map_err(talk)?;
        match proto::read_frame(&mut sock).map_err(talk)? {
            Some((proto::STARTED, _)) => Ok(()),
            Some((proto::FAILED, p)) => Err(Error::Invalid(
                String::from_utf8_lossy(p.get(4..).unwrap_or_default()).into_owned(),
            )),
            _ => Err(Error::Conflict(format!("container {id} is not running"))),
        }
    }

    /// The work of `Engine::disconnect_network`.
    pub(crate) fn disconnect_network(
        &self,
        network: &str,
        container: &str,
    ) -> crate::container::Result<()> {
        let c = self.container(container)?;
        let store = self.network_store();
        let net = store.get(network)?;
        let Some(settings) = c.network_settings.networks.get(&net.name).cloned() else {
            return Err(invalid(format!(
                "container {} is not connected to network {}",
                c.id, net.name
            )));
        };
        if c.state.running {
            let a = attachment(&net, &settings, String::new(), false)?;
            endpoint::down(self.network_host(), &c.id, &a)?;
        }
        let updated = self.container_store().update(&c.id, |r| {
            r.network_settings.networks.remove(&net.name);
            if net.name == "bridge" {
                r.network_settings.ip_address.clear();
                r.network_settings.gateway.clear();
                r.network_settings.ip_prefix_len = 0;
                r.network_settings.mac_address.clear();
            }
        })?;
        store.detach(&net.name, &c.id)?;
        // The network that carried its route and ports may be the one gone.
        if let Some(after) = &updated {
            live::move_gateway(self, &c, after)?;
        }
        // Its peers forget it, and its own hosts and names files forget that network's
        // peers (running or not: a stopped container's files are used at its start).
        self.refresh_hosts(std::slice::from_ref(&net.name), Some((c.id.as_str(), true)));
        Ok(())
    }
}

/// Whether `c`'s resolv.conf names the embedded DNS server.
pub(super) fn names_embedded_dns(c: &Container) -> bool {
    let text = std::fs::read_to_string(&c.resolv_conf_path).unwrap_or_default();
    text.lines().any(|l| {
        let mut f = l.split_whitespace();
        f.next() == Some("nameserver")
            && f.next() == Some(crate::network::dns::ADDRESS.to_string().as_str())
    })
}

/// The network that holds `eth0` and the default route: the one `--network` named, else
/// the first by name.
pub fn primary(c: &Container) -> Option<String> {
    let nets = &c.network_settings.networks;
    let mode = &c.host_config.network_mode;
    let mode = if mode.is_empty() || mode == "default" {
        "bridge"
    } else {
        mode
    };
    if nets.contains_key(mode) {
        return Some(mode.to_string());
    }
    nets.keys().next().cloned()
}

fn endpoint_settings(
    net: &Network,
    id: &str,
    name: &str,
    ep: &crate::network::record::Endpoint,
    mac: Option<[u8; 6]>,
    opts: &super::CreateOptions,
    links: Vec<String>,
) -> crate::container::Result<EndpointSettings> {
    let (addr, prefix) = ep
        .ipv4_address
        .split_once('/')
        .and_then(|(a, p)| Some((a.parse::<Ipv4Addr>().ok()?, p.parse::<u8>().ok()?)))
        .ok_or_else(|| invalid(format!("network {}: bad endpoint address", net.name)))?;
    let gateway = net
        .subnet()
        .map(|c| c.gateway.to_string())
        .unwrap_or_default();
    let mac = mac.unwrap_or_else(|| endpoint::mac_for(addr));
    let user_defined = net.name != "bridge";
    let aliases = opts.network_aliases.clone();
    let mut dns_names = Vec::new();
    if user_defined {
        dns_names.push(name.to_string());
        dns_names.extend(aliases.iter().cloned());
        dns_names.push(short(id).to_string());
    }
    Ok(EndpointSettings {
        ipam_config: opts
            .ip
            .map(|ip| BTreeMap::from([("IPv4Address".to_string(), ip.to_string())])),
        links: (!links.is_empty()).then_some(links),
        aliases: (!aliases.is_empty()).then_some(aliases),
        mac_address: endpoint::format_mac(mac),
        network_id: net.id.clone(),
        endpoint_id: ep.endpoint_id.clone(),
        gateway,
        ip_address: addr.to_string(),
        ip_prefix_len: prefix,
        dns_names: (!dns_names.is_empty()).then_some(dns_names),
    })
}

/// The run-time attachment of an endpoint (`iface` is unused by `down`).
pub(super) fn attachment(
    net: &Network,
    ep: &EndpointSettings,
    iface: String,
    default_route: bool,
) -> crate::container::Result<Attachment> {
    let cfg = net
        .subnet()
        .ok_or_else(|| invalid(format!("network {} has no subnet", net.name)))?;
    let bridge = net
        .bridge_device()
        .ok_or_else(|| invalid(format!("network {} has no bridge device", net.name)))?;
    let address: Ipv4Addr = ep.ip_address.parse().map_err(|_| {
        invalid(format!(
            "network {}: bad address {:?}",
            net.name, ep.ip_address
        ))
    })?;
    let mac = endpoint::parse_mac(&ep.mac_address).unwrap_or_else(|_| endpoint::mac_for(address));
    Ok(Attachment {
        bridge: bridge.to_string(),
        subnet: cfg.subnet,
        gateway: cfg.gateway,
        internal: net.internal,
        iface,
        address,
        mac,
        // As Docker: an internal network gives no default route, so that a connection
        // out fails at once instead of timing out.
        default_route: default_route && !net.internal,
    })
}

/// The first `ethN` not taken in the network namespace `ns` (a container connected to
/// more networks while it runs).
pub(super) fn free_iface(ns: std::os::fd::BorrowedFd<'_>) -> crate::container::Result<String> {
    let names = crate::network::link::run_in_netns(ns, || {
        crate::network::link::Netlink::open()?.link_names()
    })
    .and_then(|r| r)
    .map_err(crate::network::Error::from)?;
    Ok((0..)
        .map(|i| format!("eth{i}"))
        .find(|n| !names.contains(n))
        .unwrap_or_default())
}

pub(super) fn open_netns(pid: i32) -> crate::container::Result<std::fs::File> {
    let p = format!("/proc/{pid}/ns/net");
    std::fs::File::open(&p).map_err(|e| Error::io(std::path::Path::new(&p), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_modes_parse_as_docker_names_them() {
        assert_eq!(NetMode::parse(""), NetMode::Bridge("bridge".into()));
        assert_eq!(NetMode::parse("default"), NetMode::Bridge("bridge".into()));
        assert_eq!(NetMode::parse("none"), NetMode::None);
        assert_eq!(NetMode::parse("host"), NetMode::Host);
        assert_eq!(
            NetMode::parse("container:web"),
            NetMode::Container("web".into())
        );
        assert_eq!(NetMode::parse("appnet"), NetMode::Bridge("appnet".into()));
        assert!(NetMode::parse("appnet").own_netns());
        assert!(NetMode::parse("none").own_netns());
        assert!(!NetMode::parse("host").own_netns());
        assert!(!NetMode::parse("container:x").own_netns());
    }
}
