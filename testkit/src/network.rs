//! [`Network`]: a user-defined bridge network for a test's containers, removed on drop.
//! Containers on it reach each other by name and by alias.

use tug::network::store::{CreateOptions, NetworkStore};

use crate::client::Tug;
use crate::error::{Error, Result};

/// A user network with a unique name (`tugtest-` and random hex), removed when dropped
/// (after the containers on it: drop them first, or they are removed with it...).
///
/// ```no_run
/// use tug_testkit::{GenericImage, ImageExt, Network, WaitFor};
///
/// let net = Network::new().unwrap();
/// let _db = GenericImage::new("busybox", "latest")
///     .with_cmd(["sleep", "60"])
///     .with_network(net.name())
///     .with_name(format!("db-{}", net.name()))
///     .start()
///     .unwrap();
/// ```
#[derive(Debug)]
pub struct Network {
    store: NetworkStore,
    name: String,
    removed: bool,
}

impl Network {
    /// A new network on [`Tug::shared`].
    pub fn new() -> Result<Network> {
        Network::new_on(Tug::shared()?)
    }

    /// A new network on `tug`'s state root.
    pub fn new_on(tug: &Tug) -> Result<Network> {
        let mut bytes = [0u8; 6];
        getrandom::fill(&mut bytes)
            .map_err(|e| Error::Setup(format!("random network name: {e}")))?;
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let name = format!("tugtest-{hex}");
        let store = NetworkStore::open(tug.engine().root());
        store
            .create(&CreateOptions {
                name: name.clone(),
                ..Default::default()
            })
            .map_err(|e| Error::Setup(format!("creating network {name}: {e}")))?;
        Ok(Network {
            store,
            name,
            removed: false,
        })
    }

    /// The network's name, for [`crate::ImageExt::with_network`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Removes the network now, with the error a drop would swallow.
    pub fn rm(mut self) -> Result<()> {
        self.removed = true;
        self.store
            .remove(&self.name)
            .map_err(|e| Error::Setup(format!("removing network {}: {e}", self.name)))?;
        Ok(())
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        if !self.removed {
            let _ = self.store.remove(&self.name);
        }
    }
}
