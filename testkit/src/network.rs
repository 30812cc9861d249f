//! [`Network`]: a user-defined bridge network for a test's containers, removed on drop.
//! Containers on it reach each other by name and by alias.

use tug::network::CreateOptions;

use crate::client::Tug;
use crate::error::{Error, Result};

/// A user network with a unique name (`tugtest-` and random hex), removed when dropped.
/// A network with containers cannot be removed: drop them first (declare the network
/// before them, so that it drops after them).
///
/// ```
/// use tug_testkit::{GenericImage, ImageExt, Network, core::WaitFor, runners::SyncRunner};
///
/// let net = Network::new().unwrap();
/// let db = GenericImage::new("busybox", "latest")
///     .with_cmd(["nc", "-ll", "-p", "5432", "-e", "echo", "pong"])
///     .with_network(&net)
///     .with_network_alias("db")
///     .with_wait_for(WaitFor::port(5432))
///     .start()
///     .unwrap();
/// let app = GenericImage::new("busybox", "latest")
///     .with_cmd(["sleep", "60"])
///     .with_network(net.name())
///     .start()
///     .unwrap();
/// let out = app.exec(["nc", "db", "5432"]).unwrap();
/// assert_eq!(out.stdout, b"pong\n");
/// drop((app, db)); // the containers first, then the network
/// ```
#[derive(Debug)]
pub struct Network {
    engine: tug::Engine,
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
        let engine = tug.engine().clone();
        engine
            .create_network(&CreateOptions {
                name: name.clone(),
                ..Default::default()
            })
            .map_err(|e| Error::engine(format!("creating network {name}"), e))?;
        Ok(Network {
            engine,
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
        self.engine
            .remove_network(&self.name)
            .map_err(|e| Error::engine(format!("removing network {}", self.name), e))?;
        Ok(())
    }
}

/// So that `with_network(&net)` reads as well as `with_network(net.name())`.
impl From<&Network> for String {
    fn from(n: &Network) -> String {
        n.name.clone()
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        if !self.removed {
            let _ = self.engine.remove_network(&self.name);
        }
    }
}
