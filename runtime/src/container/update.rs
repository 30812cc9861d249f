//! `tug update`: new resource limits and a new restart policy for a container, running
//! or not. The record and the runtime spec change (a later start uses them), and a
//! running container's cgroup is changed in place; its shim reads the restart policy
//! again at the next exit.

use super::Error;
use super::record::{Container, RestartPolicy};
use crate::container::Ctx;
use crate::sandbox::cgroups::{self, Resources};

/// What `tug update` changes: the limits that are set (0, `None` or empty: unchanged,
/// as Docker's update takes them), and the restart policy when given.
#[derive(Debug, Clone, Default)]
pub struct UpdateOptions {
    pub resources: Resources,
    pub restart_policy: Option<RestartPolicy>,
}

/// `old` with the limits `new` sets, checked with Docker's rules.
fn merged(old: &Resources, new: &Resources, ncpus: usize) -> Result<Resources, Error> {
    let mut r = old.clone();
    if new.memory != 0 {
        // Docker keeps the swap limit unless it is given too; a memory limit above it
        // must come with a new one.
        if new.memory_swap == 0 && old.memory_swap > 0 && new.memory > old.memory_swap {
            return Err(Error::Invalid(
                "Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time".into(),
            ));
        }
        r.memory = new.memory;
    }
    let set = |dst: &mut i64, v: i64| {
        if v != 0 {
            *dst = v;
        }
    };
    set(&mut r.memory_swap, new.memory_swap);
    set(&mut r.memory_reservation, new.memory_reservation);
    set(&mut r.cpu_shares, new.cpu_shares);
    set(&mut r.cpu_quota, new.cpu_quota);
    set(&mut r.cpu_period, new.cpu_period);
    if new.nano_cpus != 0 {
        // `--cpus` replaces a quota and period given before, as Docker's.
        r.nano_cpus = new.nano_cpus;
        r.cpu_quota = 0;
        r.cpu_period = 0;
    } else if new.cpu_quota != 0 || new.cpu_period != 0 {
        r.nano_cpus = 0;
    }
    if !new.cpuset_cpus.is_empty() {
        r.cpuset_cpus = new.cpuset_cpus.clone();
    }
    if !new.cpuset_mems.is_empty() {
        r.cpuset_mems = new.cpuset_mems.clone();
    }
    if new.pids_limit.is_some() {
        r.pids_limit = new.pids_limit;
    }
    if new.blkio_weight != 0 {
        r.blkio_weight = new.blkio_weight;
    }
    r.validate(ncpus).map_err(Error::from)
}

impl Ctx<'_> {
    /// The work of `Engine::update_container`.
    pub(crate) fn update_container(
        &self,
        name: &str,
        opts: &UpdateOptions,
        ncpus: usize,
    ) -> crate::container::Result<Container> {
        let store = self.container_store();
        let c = self.container(name)?;
        if let Some(p) = &opts.restart_policy
            && c.host_config.auto_remove
            && p.name != "no"
            && !p.name.is_empty()
        {
            return Err(Error::Invalid(
                "Restart policy cannot be updated because AutoRemove is enabled for the container"
                    .into(),
            ));
        }
        let mut resources = merged(&c.host_config.resources, &opts.resources, ncpus)?;
        cgroups::discard_unsupported(&self.config().cgroup_root, &mut resources);
        let _lock = store.lock(&c.id)?;
        let mut c = store.load(&c.id)?;
        if c.state.running && !c.state.restarting {
            cgroups::update_for(
                &self.config().cgroup_root,
                self.root(),
                &c.id,
                &c.host_config.cgroup_parent,
                &resources,
            )
            .map_err(|e| {
                Error::Invalid(format!(
                    "Cannot update container {}: {}",
                    c.id,
                    crate::Report(&e)
                ))
            })?;
        }
        // The spec's limits too: a v1 init joins the hierarchies they name at its next
        // start.
        let mut spec = store.load_spec(&c.id)?;
        if let Some(linux) = spec.linux_mut() {
            let devices = linux.resources().as_ref().and_then(|r| r.devices().clone());
            let mut r = resources.to_oci().unwrap_or_default();
            r.set_devices(devices);
            linux.set_resources(Some(r));
        }
        store.save_spec(&c.id, &spec)?;
        c.host_config.resources = resources;
        if let Some(p) = &opts.restart_policy {
            c.host_config.restart_policy = p.clone();
        }
        store.save(&c, true)?;
        // Docker's `update` event.
        super::journal::emit(self.root(), &c, "update", &[]);
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_keeps_what_it_is_not_told_and_checks_the_rest() {
        let old = Resources {
            memory: 64 << 20,
            memory_swap: 128 << 20,
            cpu_quota: 50_000,
            cpu_period: 100_000,
            ..Default::default()
        };
        let new = Resources {
            nano_cpus: 1_000_000_000,
            pids_limit: Some(50),
            ..Default::default()
        };
        let r = merged(&old, &new, 2).unwrap();
        assert_eq!(
            (
                r.memory,
                r.memory_swap,
                r.nano_cpus,
                r.cpu_quota,
                r.pids_limit
            ),
            (64 << 20, 128 << 20, 1_000_000_000, 0, Some(50))
        );
        let bigger = Resources {
            memory: 256 << 20,
            ..Default::default()
        };
        assert!(
            merged(&old, &bigger, 2)
                .unwrap_err()
                .to_string()
                .contains("update the memoryswap at the same time")
        );
        let tiny = Resources {
            memory: 1 << 20,
            memory_swap: 2 << 20,
            ..Default::default()
        };
        assert!(merged(&old, &tiny, 2).is_err());
    }
}
