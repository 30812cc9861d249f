//! What the container operations need of the engine, handed down by it: the settings,
//! the firewall made once for them, and the `tug` binary for shims. The container module
//! never names the `Engine` (imports run one way, down); the engine builds a [`Ctx`] for
//! each call (`Engine::cx`), and what outlives the call (a log follower, the shim's
//! supervisor) keeps an [`OwnedCtx`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use super::ContainerStore;
use crate::network::endpoint::Host;
use crate::network::firewall::Firewall;
use crate::network::ipam::SubnetRegistry;
use crate::network::store::NetworkStore;
use crate::settings::EngineConfig;
use crate::volume::VolumeStore;

/// The engine's facts a container operation uses, borrowed from the engine.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub(crate) config: &'a EngineConfig,
    pub(crate) firewall: &'a Arc<dyn Firewall>,
    /// The `tug` binary to start shims with, when the caller chose one.
    pub(crate) tug_binary: Option<&'a Path>,
}

impl<'a> Ctx<'a> {
    pub(crate) fn config(&self) -> &'a EngineConfig {
        self.config
    }

    /// The state root.
    pub(crate) fn root(&self) -> &'a Path {
        &self.config.root
    }

    /// The run root.
    pub(crate) fn run_root(&self) -> &'a Path {
        &self.config.run_root
    }

    pub(crate) fn tug_binary(&self) -> Option<&'a Path> {
        self.tug_binary
    }

    /// The host side of networking: the firewall and the host-wide run dir.
    pub(crate) fn network_host(&self) -> Host<'a> {
        Host {
            firewall: self.firewall.as_ref(),
            run_dir: &self.config.host_run,
        }
    }

    pub(crate) fn container_store(&self) -> ContainerStore {
        ContainerStore::open(self.root())
    }

    pub(crate) fn image_store(&self) -> Result<crate::image::Store, crate::image::Error> {
        crate::image::Store::open(self.root())
    }

    pub(crate) fn volume_store(&self) -> VolumeStore {
        VolumeStore::open(self.root())
    }

    /// The network store of the state root, leasing subnets from the configured address
    /// pool in the host-wide registry.
    pub(crate) fn network_store(&self) -> NetworkStore {
        let registry = SubnetRegistry::open(&self.config.host_run);
        NetworkStore::with_registry(self.root(), registry).with_pool(self.config.address_pool)
    }

    /// Removes the anonymous volumes among a removed container's `mounts` that no other
    /// container uses.
    pub(crate) fn remove_anonymous_volumes(
        &self,
        mounts: &[Value],
    ) -> crate::container::Result<Vec<String>> {
        Ok(crate::volume::plan::remove_anonymous(
            &self.volume_store(),
            mounts,
        )?)
    }

    /// A copy that owns its facts, for what outlives the call.
    pub(crate) fn owned(self) -> OwnedCtx {
        OwnedCtx {
            config: self.config.clone(),
            firewall: self.firewall.clone(),
            tug_binary: self.tug_binary.map(Path::to_path_buf),
        }
    }
}

/// A [`Ctx`] that owns its facts.
#[derive(Debug, Clone)]
pub(crate) struct OwnedCtx {
    config: EngineConfig,
    firewall: Arc<dyn Firewall>,
    tug_binary: Option<PathBuf>,
}

impl OwnedCtx {
    /// The facts from the settings `config` (the shim's, read from its environment).
    pub(crate) fn new(config: EngineConfig) -> OwnedCtx {
        OwnedCtx {
            firewall: config.firewall.firewall(),
            config,
            tug_binary: None,
        }
    }

    pub(crate) fn cx(&self) -> Ctx<'_> {
        Ctx {
            config: &self.config,
            firewall: &self.firewall,
            tug_binary: self.tug_binary.as_deref(),
        }
    }
}
