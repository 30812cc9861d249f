//! The network commands on the [`Engine`]: what `tug network create|ls|inspect|rm|prune`,
//! `system prune` and the testkit call. Removing a network also removes its kernel
//! devices (bridge, firewall table) when a container's shim left them lingering, which
//! only `network rm` used to do.

use std::net::Ipv4Addr;

use crate::Engine;
use crate::container::{PortProbe, PublishedPort};
use crate::network::store::NetworkStore;
use crate::network::{CreateOptions, Error, Network};

impl Engine {
    /// `network create`.
    pub fn create_network(&self, opts: &CreateOptions) -> Result<Network, Error> {
        let net = self.network_store().create(opts)?;
        self.network_event("create", &net.id, &net.name, &[("type", &net.driver)]);
        Ok(net)
    }

    /// A network event in the journal (`tug events`, the API's `/events`).
    fn network_event(&self, action: &str, id: &str, name: &str, extra: &[(&str, &str)]) {
        let mut attrs: std::collections::BTreeMap<String, String> = extra
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        attrs.insert("name".into(), name.into());
        crate::events::emit(self.root(), "network", action, id, attrs);
    }

    /// Every network.
    pub fn networks(&self) -> Result<Vec<Network>, Error> {
        self.network_store().list()
    }

    /// Network `name` (a name, an id or an id prefix).
    pub fn network(&self, name: &str) -> Result<Network, Error> {
        self.network_store().get(name)
    }

    /// `network rm`: refuses while a container is attached; removes the bridge and its
    /// table too.
    pub fn remove_network(&self, name: &str) -> Result<Network, Error> {
        let net = self.network_store().remove(name)?;
        remove_devices(self.network_host(), &net);
        self.network_event("destroy", &net.id, &net.name, &[("type", &net.driver)]);
        Ok(net)
    }

    /// `network prune` and `system prune`: every user network without containers that
    /// `keep` selects, with its devices; their names.
    pub fn prune_networks(&self, keep: impl Fn(&Network) -> bool) -> Result<Vec<String>, Error> {
        let gone = self.network_store().prune(keep)?;
        for n in &gone {
            remove_devices(self.network_host(), n);
            self.network_event("destroy", &n.id, &n.name, &[("type", &n.driver)]);
        }
        Ok(gone.into_iter().map(|n| n.name).collect())
    }
}

/// A removed network's bridge and table, when a container's shim left them lingering.
fn remove_devices(host: crate::network::endpoint::Host<'_>, net: &Network) {
    if let Some(b) = net.bridge_device() {
        let _ = crate::network::endpoint::gc(host, b, std::time::Duration::ZERO);
    }
}

/// A container on networks: connect, disconnect, its published ports, and whether a port
/// listens inside it.
impl Engine {
    /// The network store of this engine's state root, leasing subnets from the engine's
    /// address pool in its host-wide registry.
    pub(crate) fn network_store(&self) -> NetworkStore {
        self.cx().network_store()
    }

    /// `tug network connect`: gives the container an address on `network` and, when it
    /// runs, an interface there at once (and the `connect` event: a container that does
    /// not run says it at its start, as Docker's does).
    pub fn connect_network(
        &self,
        network: &str,
        container: &str,
        aliases: &[String],
        ip: Option<Ipv4Addr>,
    ) -> crate::Result<()> {
        self.cx().connect_network(network, container, aliases, ip)?;
        // Docker says `connect` when the container's endpoint joins: now when it runs;
        // else at its start, where its shim says it for each network it joins.
        if self
            .container(container)
            .is_ok_and(|c| c.state.running || c.state.paused)
        {
            self.network_attach_event("connect", network, container);
        }
        Ok(())
    }

    /// `connect`/`disconnect` in the journal, with Docker's `container` attribute.
    fn network_attach_event(&self, action: &str, network: &str, container: &str) {
        let (Ok(n), Ok(c)) = (self.network(network), self.container(container)) else {
            return;
        };
        let id = c.id.to_string();
        self.network_event(
            action,
            &n.id,
            &n.name,
            &[("container", &id), ("type", &n.driver)],
        );
    }

    /// `tug network disconnect`: takes the container off `network` (its interface there
    /// goes at once when it runs) and frees its address.
    pub fn disconnect_network(&self, network: &str, container: &str) -> crate::Result<()> {
        self.cx().disconnect_network(network, container)?;
        self.network_attach_event("disconnect", network, container);
        Ok(())
    }

    /// The published ports of container `name` while it runs (none once it stopped), in
    /// container port order.
    pub fn published_ports(&self, name: &str) -> crate::Result<Vec<PublishedPort>> {
        Ok(self.cx().published_ports(name)?)
    }

    /// A probe of the TCP ports listening in running container `name`, kept for
    /// repeated questions (a wait loop): see [`PortProbe::listens`].
    pub fn port_probe(&self, name: &str) -> crate::Result<PortProbe> {
        Ok(self.cx().port_probe(name)?)
    }

    /// Whether a TCP socket (IPv4 or IPv6) listens on `port` inside running container
    /// `name` (its own network namespace: not a published host port).
    pub fn is_port_listening(&self, name: &str, port: u16) -> crate::Result<bool> {
        Ok(self.cx().is_port_listening(name, port)?)
    }
}
