//! A running container's network, made and undone by its shim: the host ports reserved
//! before the clone, the interfaces made in the init's namespace before its release, the
//! DNAT rules, and at the exit their release and the lingering bridges' clean-up.

use std::os::fd::AsFd;

use super::{NetMode, attachment, open_netns, primary};
use crate::container::Ctx;
use crate::container::Error;
use crate::container::record::Container;
use crate::network::endpoint::{self, Attachment};
use crate::network::nft::{GroupPortMap, PortMap};
use crate::network::ports::{self, Reserved};

/// A running container's network, held by its shim: the interfaces it made and the host
/// ports it holds.
#[derive(Debug, Default)]
pub struct LiveNetwork {
    attachments: Vec<Attachment>,
    reserved: Vec<Reserved>,
    published: bool,
    /// The port group whose table counts this container as a member.
    group: Option<String>,
    networks: Vec<String>,
    /// Each joined network's name, id and driver, as its events name it.
    actors: Vec<NetworkActor>,
    /// The embedded DNS server (a container on a user network), handed to the shim's
    /// process by [`LiveNetwork::take_dns`].
    dns: Option<crate::network::dns::DnsServer>,
    /// The relay of its ports published on IPv6, handed to the shim's process by
    /// [`LiveNetwork::take_proxy`].
    proxy: Option<crate::network::ports::proxy::PortProxy>,
}

/// A network as its `connect` and `disconnect` events name it.
#[derive(Debug, Clone)]
pub struct NetworkActor {
    pub name: String,
    pub id: String,
    pub driver: String,
}

/// Whether `c` has a network namespace of its own with interfaces on networks (not
/// `none`, `host` or another container's): what [`up`] makes them in.
pub(crate) fn joins_networks(c: &Container) -> bool {
    NetMode::parse(&c.host_config.network_mode).own_netns()
        && !c.network_settings.networks.is_empty()
}

/// Before the clone: reserves the container's host ports (a taken port fails the start
/// before anything is made).
pub fn reserve_ports(c: &Container) -> crate::container::Result<Vec<Reserved>> {
    if c.host_config.port_bindings.is_empty() {
        return Ok(Vec::new());
    }
    let shared = c.host_config.port_group.is_some();
    Ok(ports::reserve_with(&c.host_config.port_bindings, shared)?)
}

/// The joined network namespace of a `container:<id>` container: the path of its
/// target's current namespace (the target must run).
pub(crate) fn joined_netns(
    cx: &Ctx<'_>,
    c: &Container,
) -> crate::container::Result<Option<String>> {
    let Some(target) = c.host_config.network_mode.strip_prefix("container:") else {
        return Ok(None);
    };
    let t = cx.container(target)?;
    if !t.state.running || t.state.pid <= 0 {
        return Err(Error::Conflict(format!(
            "cannot join network namespace of a non running container: {}",
            t.id
        )));
    }
    Ok(Some(format!("/proc/{}/ns/net", t.state.pid)))
}

/// After the clone, before the release: the container's interfaces in the namespace of
/// its init `pid` (`netns` when given: a namespace made in advance, which the init may
/// not have entered yet, with `premade`, its veth pair, if it has one: the first
/// network's), and the DNAT rules of its reserved ports. Undoes everything on error.
pub(crate) fn up(
    cx: &Ctx<'_>,
    c: &Container,
    pid: i32,
    netns: Option<&std::os::fd::OwnedFd>,
    reserved: Vec<Reserved>,
    mut premade: Option<crate::network::link::PremadeVeth>,
) -> crate::container::Result<LiveNetwork> {
    let mut live = LiveNetwork {
        reserved,
        ..Default::default()
    };
    if !NetMode::parse(&c.host_config.network_mode).own_netns() {
        return Ok(live);
    }
    let ns: std::fs::File = match netns {
        Some(ns) => ns
            .try_clone()
            .map_err(|e| Error::io(std::path::Path::new("the network namespace"), e))?
            .into(),
        None => open_netns(pid)?,
    };
    if !joins_networks(c) {
        // `--network none`: the loopback alone, up.
        crate::network::link::loopback_up_in(ns.as_fd())
            .map_err(|e| Error::from(crate::network::Error::from(e)))?;
        return Ok(live);
    }
    let store = cx.network_store();
    let first = primary(c);
    let mut order: Vec<&String> = c.network_settings.networks.keys().collect();
    order.sort_by_key(|n| Some((*n).clone()) != first);
    for (i, name) in order.into_iter().enumerate() {
        let ep = &c.network_settings.networks[name];
        let r = store.get(name).map_err(Error::from).and_then(|net| {
            let a = attachment(&net, ep, format!("eth{i}"), i == 0)?;
            let premade = if i == 0 { premade.take() } else { None };
            endpoint::up(cx.network_host(), ns.as_fd(), &c.id, &a, premade)?;
            Ok((a, net))
        });
        match r {
            Ok((a, net)) => {
                live.attachments.push(a);
                live.networks.push(name.clone());
                live.actors.push(NetworkActor {
                    name: net.name,
                    id: net.id,
                    driver: net.driver,
                });
            }
            Err(e) => {
                undo(cx, &c.id, live);
                return Err(e);
            }
        }
    }
    if let (Some(a), false) = (live.attachments.first(), live.reserved.is_empty()) {
        // IPv4 ports by DNAT; IPv6 ones through the shim's proxy.
        let maps = ipv4_maps(
            live.reserved
                .iter()
                .map(|r| (r.proto, r.host_ip, r.host_port, r.container_port)),
            a.address,
        );
        if !a.internal {
            match crate::network::ports::proxy::PortProxy::new(&live.reserved, a.address) {
                Ok(proxy) => live.proxy = proxy,
                Err(e) => {
                    undo(cx, &c.id, live);
                    return Err(Error::io(std::path::Path::new("the IPv6 port proxy"), e));
                }
            }
            if let Some(group) = &c.host_config.port_group {
                if let Err(e) = sync_group(cx, group, Some((c, a.address)), None) {
                    let _ = sync_group(cx, group, None, Some(&c.id));
                    undo(cx, &c.id, live);
                    return Err(e);
                }
                live.group = Some(group.clone());
            } else if let Err(e) = endpoint::publish(cx.network_host(), &c.id, &maps) {
                undo(cx, &c.id, live);
                return Err(e.into());
            } else {
                live.published = true;
            }
        }
    }
    // On a user network; or after leaving its last one, as Docker's resolver stays: the
    // resolv.conf still names the server, which then answers for no peers and forwards.
    if c.network_settings.networks.keys().any(|n| n != "bridge") || super::names_embedded_dns(c) {
        match open_dns(cx, c, &ns) {
            Ok(server) => live.dns = Some(server),
            Err(e) => {
                undo(cx, &c.id, live);
                return Err(e);
            }
        }
    }
    Ok(live)
}

/// The embedded DNS server of running container `c` (init `pid`) once it is on a user
/// network (`None` before), for its shim to serve from now on.
pub(crate) fn serve_dns(
    cx: &Ctx<'_>,
    c: &Container,
    pid: i32,
) -> crate::container::Result<Option<Box<dyn crate::shim::Service>>> {
    if !c.network_settings.networks.keys().any(|n| n != "bridge") {
        return Ok(None);
    }
    let server = open_dns(cx, c, &open_netns(pid)?)?;
    Ok(Some(Box::new(server)))
}

/// The embedded DNS server of `c`, its sockets opened in the namespace `ns`: it answers
/// from the names file beside its hosts file and forwards to its `--dns` servers, or
/// the engine's, or the host's.
fn open_dns(
    cx: &Ctx<'_>,
    c: &Container,
    ns: &std::fs::File,
) -> crate::container::Result<crate::network::dns::DnsServer> {
    use crate::network::dns;
    let names = std::path::Path::new(&c.hosts_path).with_file_name(super::hosts::DNS_NAMES);
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let upstreams = dns::upstreams(&c.host_config.dns, &cx.config().dns_upstream, &host);
    dns::DnsServer::open(ns.as_fd(), names, upstreams)
        .map_err(|e| Error::Sys(format!("starting the DNS server at {}:53", dns::ADDRESS), e))
}

/// A start failed half-way: everything `up` made goes at once (bridges too, when
/// unused).
fn undo(cx: &Ctx<'_>, id: &str, live: LiveNetwork) {
    let host = cx.network_host();
    let _ = endpoint::unpublish(host, id);
    for a in live.attachments.iter().rev() {
        let _ = endpoint::down(host, id, a);
    }
}

impl LiveNetwork {
    /// `NetworkSettings.Ports` while running.
    pub fn ports(&self, exposed: &[String]) -> ports::PortMapJson {
        ports::actual(&self.reserved, exposed)
    }

    /// The embedded DNS server, for the shim to serve while the process runs.
    pub fn take_dns(&mut self) -> Option<Box<dyn crate::shim::Service>> {
        self.dns
            .take()
            .map(|s| Box::new(s) as Box<dyn crate::shim::Service>)
    }

    /// The proxy of its IPv6 ports, if it publishes any, for the shim's process.
    pub fn take_proxy(&mut self) -> Option<Box<dyn crate::shim::Service>> {
        self.proxy
            .take()
            .map(|s| Box::new(s) as Box<dyn crate::shim::Service>)
    }

    /// The networks whose hosts files change when this container comes or goes.
    pub fn networks(&self) -> &[String] {
        &self.networks
    }

    /// The networks it joined, as their events name them.
    pub fn actors(&self) -> &[NetworkActor] {
        &self.actors
    }
}

/// The container's process is gone: its port rules and host ports go, its veths leave
/// their bridges (the kernel deletes them with its namespace). Networks connected while
/// it ran (`network connect`) count too: they are read from its record. Returns the
/// bridges it used, for [`gc_bridges`] once the shim is done, and the networks whose
/// hosts files change.
pub(crate) fn down(cx: &Ctx<'_>, id: &str, live: LiveNetwork) -> (Vec<String>, Vec<String>) {
    // The rules go before the ports are free again: no other container's rules for the
    // same host port may meet these.
    if live.published {
        let _ = endpoint::unpublish(cx.network_host(), id);
    }
    if let Some(group) = &live.group {
        let _ = sync_group(cx, group, None, Some(id));
    }
    drop(live.reserved);
    let mut attachments = live.attachments;
    let mut networks = live.networks;
    if let Ok(c) = cx.container_store().load(id) {
        let store = cx.network_store();
        for (name, ep) in &c.network_settings.networks {
            if networks.contains(name) {
                continue;
            }
            if let Ok(net) = store.get(name)
                && let Ok(a) = attachment(&net, ep, String::new(), false)
            {
                attachments.push(a);
                networks.push(name.clone());
            }
        }
    }
    for a in attachments.iter().rev() {
        let _ = endpoint::release(cx.network_host(), id, a);
    }
    (
        attachments.into_iter().map(|a| a.bridge).collect(),
        networks,
    )
}

/// How long a bridge its last container left stays for the next one: containers run one
/// after another (a test suite, a script) find it there instead of paying ~70 ms to
/// remove and make it again. A container that joined the bridge meanwhile (and may have
/// left it again between two of a script's runs) keeps it for its own linger.
pub const BRIDGE_LINGER: std::time::Duration = std::time::Duration::from_millis(750);

/// Removes those of `bridges` (and their tables) that no container uses any more, after
/// [`BRIDGE_LINGER`]. The shim calls it last, when no client waits for it.
pub(crate) fn gc_bridges(cx: &Ctx<'_>, bridges: &[String]) {
    if bridges.is_empty() {
        return;
    }
    std::thread::sleep(BRIDGE_LINGER);
    for b in bridges {
        let _ = endpoint::gc(cx.network_host(), b, BRIDGE_LINGER);
    }
}

/// The exposed port keys of a record (`Config.ExposedPorts`).
pub fn exposed_keys(c: &Container) -> Vec<String> {
    c.config
        .exposed_ports
        .as_ref()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// Cleans up after a container whose shim died (killed): its port table and host veths
/// (the kernel removed the container's ends with its namespace), and the bridges left
/// without users.
pub(crate) fn repair_after_dead_shim(cx: &Ctx<'_>, c: &Container) {
    let store = cx.network_store();
    let host = cx.network_host();
    let _ = endpoint::unpublish(host, &c.id);
    if let Some(group) = &c.host_config.port_group {
        let _ = sync_group(cx, group, None, Some(&c.id));
    }
    for (name, ep) in &c.network_settings.networks {
        if let Ok(net) = store.get(name)
            && let Ok(a) = attachment(&net, ep, String::new(), false)
        {
            let _ = endpoint::down(host, &c.id, &a);
        }
    }
}

/// After the networks of running container `before` changed (it is now `after`): its
/// default route and its published ports follow its primary network ([`primary`]), as
/// Docker's follow its gateway endpoint. Nothing moves while the primary network stays.
/// With none that can carry them (no network left, or an internal one) there is no
/// default route, and the ports, still held, reach nothing: no other container that
/// gets the old address later is reached through them.
pub(crate) fn move_gateway(
    cx: &Ctx<'_>,
    before: &Container,
    after: &Container,
) -> crate::container::Result<()> {
    let new = primary(after);
    if primary(before) == new || !after.state.running || after.state.pid <= 0 {
        return Ok(());
    }
    let store = cx.network_store();
    // (address, prefix, gateway) on the new primary network, when it can carry them.
    let via = new.and_then(|n| {
        let net = store.get(&n).ok().filter(|net| !net.internal)?;
        let ep = after.network_settings.networks.get(&n)?;
        Some((
            ep.ip_address.parse::<std::net::Ipv4Addr>().ok()?,
            ep.ip_prefix_len,
            net.subnet()?.gateway,
        ))
    });
    let ns = open_netns(after.state.pid)?;
    crate::network::link::set_default_route_in(ns.as_fd(), via)
        .map_err(|e| Error::from(crate::network::Error::from(e)))?;
    let published = after.published_ports();
    if published.is_empty() {
        return Ok(());
    }
    let address = via.map(|(a, _, _)| a);
    if let Some(group) = &after.host_config.port_group {
        sync_group(
            cx,
            group,
            None,
            address.is_none().then_some(after.id.as_str()),
        )?;
    } else if let Some(address) = address {
        let maps = ipv4_maps(
            published
                .iter()
                .map(|p| (p.proto, p.host_ip, p.host_port, p.container_port)),
            address,
        );
        endpoint::publish(cx.network_host(), &after.id, &maps)?;
    } else {
        endpoint::unpublish(cx.network_host(), &after.id)?;
    }
    // The IPv6 side, in the shim.
    let payload = address.map(|a| a.octets().to_vec()).unwrap_or_default();
    cx.ask_shim(
        &after.id,
        crate::shim::proto::PROXY,
        &payload,
        "its port proxy",
    )
}

/// The DNAT rules of the IPv4 ones among `bindings` (protocol, host address, host port,
/// container port) to the container's `address`; an unspecified host address is every
/// local one.
fn ipv4_maps(
    bindings: impl Iterator<Item = (ports::Proto, std::net::IpAddr, u16, u16)>,
    address: std::net::Ipv4Addr,
) -> Vec<PortMap> {
    bindings
        .filter_map(
            |(proto, host_ip, host_port, container_port)| match host_ip {
                std::net::IpAddr::V4(ip) => Some(PortMap {
                    proto,
                    host_ip: (!ip.is_unspecified()).then_some(ip),
                    host_port,
                    container_ip: address,
                    container_port,
                }),
                std::net::IpAddr::V6(_) => None,
            },
        )
        .collect()
}

/// Rewrites port group `group`'s table over its running members: the containers of this
/// root in the group that run, with `joining` (a container starting, with its address)
/// and without `leaving` (one whose process is gone). Each shared host port goes to every
/// member in turn. Under the group's lock, so that members starting and stopping at once
/// each see the others.
fn sync_group(
    cx: &Ctx<'_>,
    group: &str,
    joining: Option<(&Container, std::net::Ipv4Addr)>,
    leaving: Option<&str>,
) -> crate::container::Result<()> {
    // nftables tables are host-wide: the group's name is scoped to this state root.
    let key = format!("{}:{group}", cx.config.root.display());
    let table = endpoint::group_table(&key);
    let dir = cx.config.run_root.join("port-groups");
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let lock_path = dir.join(format!("{table}.lock"));
    let _lock = crate::fsutil::lock_exclusive(&lock_path).map_err(|e| Error::io(&lock_path, e))?;
    let store = cx.container_store();
    let skip = |id: &str| leaving == Some(id) || joining.is_some_and(|(j, _)| j.id.as_str() == id);
    let mut members: Vec<(Container, std::net::Ipv4Addr)> = Vec::new();
    for id in store.ids()? {
        let id = id.to_string();
        if skip(&id) {
            continue;
        }
        let Ok(c) = store.load(&id) else { continue };
        if !c.state.running {
            continue;
        }
        if c.host_config.port_group.as_deref() != Some(group) {
            // Another group holding one of the joining container's host ports (both
            // bound them with SO_REUSEPORT): the port is taken, as for any container.
            if let Some((j, _)) = joining
                && c.host_config.port_group.is_some()
                && let Some(port) = shared_host_port(j, &c)
            {
                return Err(crate::network::Error::PortInUse(port).into());
            }
            continue;
        }
        let ip = primary(&c)
            .and_then(|n| c.network_settings.networks.get(&n))
            .and_then(|ep| ep.ip_address.parse().ok());
        if let Some(ip) = ip {
            members.push((c, ip));
        }
    }
    if let Some((c, ip)) = joining {
        members.push((c.clone(), ip));
    }
    members.sort_by_key(|(_, ip)| *ip);
    let backends: Vec<std::net::Ipv4Addr> = members.iter().map(|(_, ip)| *ip).collect();
    // The shared ports: the fixed host ports of the members' bindings (all alike).
    let mut maps = Vec::new();
    if let Some((c, _)) = members.first() {
        for (key, list) in &c.host_config.port_bindings {
            let (container_port, proto) = ports::split_key(key)?;
            for b in list {
                let Ok(host_port) = b.host_port.parse::<u16>() else {
                    continue;
                };
                // An IPv6 address is the members' proxies' (SO_REUSEPORT shares it).
                let host_ip = match b.host_ip.parse::<std::net::IpAddr>() {
                    Ok(std::net::IpAddr::V6(_)) => continue,
                    Ok(std::net::IpAddr::V4(ip)) => (!ip.is_unspecified()).then_some(ip),
                    Err(_) => None,
                };
                maps.push(GroupPortMap {
                    proto,
                    host_ip,
                    host_port,
                    backends: backends.clone(),
                    container_port,
                });
            }
        }
    }
    endpoint::publish_group(cx.network_host(), &key, &maps)?;
    Ok(())
}

/// A fixed host port (`ip:port`) that both `a` and `b` publish, if any.
fn shared_host_port(a: &Container, b: &Container) -> Option<String> {
    let fixed = |c: &Container| -> Vec<(String, String, String)> {
        c.host_config
            .port_bindings
            .iter()
            .flat_map(|(key, list)| {
                let proto = key.rsplit('/').next().unwrap_or("tcp").to_string();
                list.iter()
                    .map(move |b| (proto.clone(), b.host_ip.clone(), b.host_port.clone()))
            })
            .filter(|(_, _, port)| !port.is_empty())
            .collect()
    };
    let theirs = fixed(b);
    fixed(a).into_iter().find_map(|(proto, ip, port)| {
        theirs
            .iter()
            .any(|(p2, ip2, port2)| {
                *p2 == proto
                    && *port2 == port
                    && (ip == *ip2
                        || ip.is_empty()
                        || ip2.is_empty()
                        || ip == "0.0.0.0"
                        || ip2 == "0.0.0.0")
            })
            .then(|| {
                format!(
                    "{}:{port}",
                    if ip.is_empty() {
                        "0.0.0.0"
                    } else {
                        ip.as_str()
                    }
                )
            })
    })
}
