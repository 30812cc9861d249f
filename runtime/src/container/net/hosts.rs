//! The hosts files that `container::net` keeps current: rewritten in place (they are
//! bind-mounted) when a container comes up or goes down on a user network, connects,
//! disconnects or is renamed.

use std::collections::HashMap;
use std::io::Write;

use super::{primary, short};
use crate::Engine;
use crate::container::Error;
use crate::container::record::Container;
use crate::network::record::Network;

/// The records one refresh reads, each read once (a refresh writes the file of every
/// container of a network, and each file names every other one).
struct Records<'a> {
    engine: &'a Engine,
    containers: HashMap<String, Option<Container>>,
    networks: HashMap<String, Option<Network>>,
}

impl<'a> Records<'a> {
    fn new(engine: &'a Engine) -> Records<'a> {
        Records {
            engine,
            containers: HashMap::new(),
            networks: HashMap::new(),
        }
    }

    fn container(&mut self, id: &str) -> Option<&Container> {
        let store = self.engine.container_store();
        self.containers
            .entry(id.to_string())
            .or_insert_with(|| store.load(id).ok())
            .as_ref()
    }

    fn network(&mut self, name: &str) -> Option<Network> {
        let store = self.engine.network_store();
        self.networks
            .entry(name.to_string())
            .or_insert_with(|| store.get(name).ok())
            .clone()
    }
}

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

impl Engine {
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
                    let mut names = vec![peer.short_name().to_string()];
                    for a in ep.aliases.iter().flatten() {
                        if !names.contains(a) {
                            names.push(a.clone());
                        }
                    }
                    names.push(short(&peer.id).to_string());
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
        // Checked at create.
        let extra = c.host_config.extra_hosts.as_deref().unwrap_or_default();
        out.push_str(&crate::container::etc::extra_host_lines(extra).unwrap_or_default());
        out
    }
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
