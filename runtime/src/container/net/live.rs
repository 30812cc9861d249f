//! A running container's network, made and undone by its shim: the host ports reserved
//! before the clone, the interfaces made in the init's namespace before its release, the
//! DNAT rules, and at the exit their release and the lingering bridges' clean-up.

use std::os::fd::AsFd;

use super::{NetMode, attachment, open_netns, primary};
use crate::Engine;
use crate::container::Error;
use crate::container::record::Container;
use crate::network::endpoint::{self, Attachment};
use crate::network::nft::PortMap;
use crate::network::ports::{self, Reserved};

/// A running container's network, held by its shim: the interfaces it made and the host
/// ports it holds.
#[derive(Debug, Default)]
pub struct LiveNetwork {
    attachments: Vec<Attachment>,
    reserved: Vec<Reserved>,
    published: bool,
    networks: Vec<String>,
}

/// Before the clone: reserves the container's host ports (a taken port fails the start
/// before anything is made).
pub fn reserve_ports(c: &Container) -> crate::Result<Vec<Reserved>> {
    if c.host_config.port_bindings.is_empty() {
        return Ok(Vec::new());
    }
    Ok(ports::reserve(&c.host_config.port_bindings)?)
}

/// The joined network namespace of a `container:<id>` container: the path of its
/// target's current namespace (the target must run).
pub fn joined_netns(engine: &Engine, c: &Container) -> crate::Result<Option<String>> {
    let Some(target) = c.host_config.network_mode.strip_prefix("container:") else {
        return Ok(None);
    };
    let t = engine.container(target)?;
    if !t.state.running || t.state.pid <= 0 {
        return Err(Error::Conflict(format!(
            "cannot join network namespace of a non running container: {}",
            t.id
        ))
        .into());
    }
    Ok(Some(format!("/proc/{}/ns/net", t.state.pid)))
}

/// After the clone, before the release: the container's interfaces in the namespace of
/// its init `pid`, and the DNAT rules of its reserved ports. Undoes everything on error.
pub fn up(
    engine: &Engine,
    c: &Container,
    pid: i32,
    reserved: Vec<Reserved>,
) -> crate::Result<LiveNetwork> {
    let mut live = LiveNetwork {
        reserved,
        ..Default::default()
    };
    if !NetMode::parse(&c.host_config.network_mode).own_netns()
        || c.network_settings.networks.is_empty()
    {
        return Ok(live);
    }
    let ns = open_netns(pid)?;
    let store = engine.network_store();
    let first = primary(c);
    let mut order: Vec<&String> = c.network_settings.networks.keys().collect();
    order.sort_by_key(|n| Some((*n).clone()) != first);
    for (i, name) in order.into_iter().enumerate() {
        let ep = &c.network_settings.networks[name];
        let r = store.get(name).map_err(crate::Error::from).and_then(|net| {
            let a = attachment(&net, ep, format!("eth{i}"), i == 0)?;
            endpoint::up(engine.network_host(), ns.as_fd(), &c.id, &a)?;
            Ok(a)
        });
        match r {
            Ok(a) => {
                live.attachments.push(a);
                live.networks.push(name.clone());
            }
            Err(e) => {
                undo(engine, &c.id, live);
                return Err(e);
            }
        }
    }
    if let (Some(a), false) = (live.attachments.first(), live.reserved.is_empty()) {
        let maps: Vec<PortMap> = live
            .reserved
            .iter()
            .map(|r| PortMap {
                proto: r.proto,
                host_ip: (!r.host_ip.is_unspecified()).then_some(r.host_ip),
                host_port: r.host_port,
                container_ip: a.address,
                container_port: r.container_port,
            })
            .collect();
        if !a.internal {
            if let Err(e) = endpoint::publish(engine.network_host(), &c.id, &maps) {
                undo(engine, &c.id, live);
                return Err(e.into());
            }
            live.published = true;
        }
    }
    Ok(live)
}

/// A start failed half-way: everything `up` made goes at once (bridges too, when
/// unused).
fn undo(engine: &Engine, id: &str, live: LiveNetwork) {
    let host = engine.network_host();
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

    /// The networks whose hosts files change when this container comes or goes.
    pub fn networks(&self) -> &[String] {
        &self.networks
    }
}

/// The container's process is gone: its port rules and host ports go, its veths leave
/// their bridges (the kernel deletes them with its namespace). Networks connected while
/// it ran (`network connect`) count too: they are read from its record. Returns the
/// bridges it used, for [`gc_bridges`] once the shim is done, and the networks whose
/// hosts files change.
pub fn down(engine: &Engine, id: &str, live: LiveNetwork) -> (Vec<String>, Vec<String>) {
    // The rules go before the ports are free again: no other container's rules for the
    // same host port may meet these.
    if live.published {
        let _ = endpoint::unpublish(engine.network_host(), id);
    }
    drop(live.reserved);
    let mut attachments = live.attachments;
    let mut networks = live.networks;
    if let Ok(c) = engine.container_store().load(id) {
        let store = engine.network_store();
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
        let _ = endpoint::release(engine.network_host(), id, a);
    }
    (
        attachments.into_iter().map(|a| a.bridge).collect(),
        networks,
    )
}

/// How long a bridge its last container left stays for the next one: containers run one
/// after another (a test suite, a script) find it there instead of paying ~70 ms to
/// remove and make it again.
pub const BRIDGE_LINGER: std::time::Duration = std::time::Duration::from_millis(750);

/// Removes those of `bridges` (and their tables) that no container uses any more, after
/// [`BRIDGE_LINGER`]. The shim calls it last, when no client waits for it.
pub fn gc_bridges(engine: &Engine, bridges: &[String]) {
    if bridges.is_empty() {
        return;
    }
    std::thread::sleep(BRIDGE_LINGER);
    for b in bridges {
        let _ = endpoint::gc(engine.network_host(), b);
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
pub fn repair_after_dead_shim(engine: &Engine, c: &Container) {
    let store = engine.network_store();
    let host = engine.network_host();
    let _ = endpoint::unpublish(host, &c.id);
    for (name, ep) in &c.network_settings.networks {
        if let Ok(net) = store.get(name)
            && let Ok(a) = attachment(&net, ep, String::new(), false)
        {
            let _ = endpoint::down(host, &c.id, &a);
        }
    }
}
