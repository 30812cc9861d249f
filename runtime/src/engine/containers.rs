//! The container commands that work on its cgroup: `pause`, `unpause` (the freezer) and
//! `stats` (usage counters).

use crate::Engine;
use crate::container::{Container, ContainerStats, Error};
use crate::sandbox::cgroups;

impl Engine {
    /// `tug pause`: freezes every process of a running container.
    pub fn pause_container(&self, name: &str) -> crate::Result<Container> {
        self.set_paused(name, true)
    }

    /// `tug unpause`: thaws a paused container.
    pub fn unpause_container(&self, name: &str) -> crate::Result<Container> {
        self.set_paused(name, false)
    }

    fn set_paused(&self, name: &str, pause: bool) -> crate::Result<Container> {
        let store = self.container_store();
        let id = store.resolve(name)?;
        let _lock = store.lock(&id)?;
        // `container` shows a container whose process died as exited.
        let mut c = self.container(&id)?;
        if !c.state.running {
            return Err(Error::Conflict(format!("Container {id} is not running")).into());
        }
        if pause && c.state.paused {
            return Err(Error::Conflict(format!("Container {id} is already paused")).into());
        }
        if !pause && !c.state.paused {
            return Err(Error::Conflict(format!("Container {id} is not paused")).into());
        }
        let cg = cgroups::open_for(&self.config().cgroup_root, self.root(), &id)?;
        if pause {
            cg.freeze()?;
        } else {
            cg.thaw()?;
        }
        c.state.set_paused(pause);
        store.save(&c, true)?;
        Ok(c)
    }

    /// `tug stats`: the usage of container `name` (zeros when it is not running).
    pub fn container_stats(&self, name: &str) -> crate::Result<ContainerStats> {
        let c = self.container(name)?;
        let stats = if c.state.running {
            Some(cgroups::open_for(&self.config().cgroup_root, self.root(), &c.id)?.stats()?)
        } else {
            None
        };
        Ok(ContainerStats {
            container: c,
            stats,
        })
    }
}
