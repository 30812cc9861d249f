//! The network commands on the [`Engine`]: what `tug network create|ls|inspect|rm|prune`,
//! `system prune` and the testkit call. Removing a network also removes its kernel
//! devices (bridge, firewall table) when a container's shim left them lingering, which
//! only `network rm` used to do.

use crate::Engine;
use crate::network::{CreateOptions, Error, Network};

impl Engine {
    /// `network create`.
    pub fn create_network(&self, opts: &CreateOptions) -> Result<Network, Error> {
        self.network_store().create(opts)
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
        Ok(net)
    }

    /// `network prune` and `system prune`: every user network without containers that
    /// `keep` selects, with its devices; their names.
    pub fn prune_networks(&self, keep: impl Fn(&Network) -> bool) -> Result<Vec<String>, Error> {
        let gone = self.network_store().prune(keep)?;
        for n in &gone {
            remove_devices(self.network_host(), n);
        }
        Ok(gone.into_iter().map(|n| n.name).collect())
    }
}

/// A removed network's bridge and table, when a container's shim left them lingering.
fn remove_devices(host: crate::network::endpoint::Host<'_>, net: &Network) {
    if let Some(b) = net.bridge_device() {
        let _ = crate::network::endpoint::gc(host, b);
    }
}
