//! Starting a request: the image made sure of (pulled, or busybox made), a user network
//! made if missing, the container created (owned by this process, so that the shim
//! removes it if the process dies), files copied in, started, its log consumers fed, and
//! waited for. A failure on the way removes what was made.

use std::hash::{Hash, Hasher};
use std::net::Ipv4Addr;

use tug::container::CreateOptions;
use tug::container::{CopyIn, CopyOptions};
use tug::network::{PortSpec, Proto};

use crate::client::Tug;
use crate::container::{Container, Setup};
use crate::copy::{CopyToContainer, files_tar};
use crate::error::{Error, Result};
use crate::image::{ContainerState, Image};
use crate::ports::ContainerPort;
use crate::request::{ContainerRequest, DEFAULT_STARTUP_TIMEOUT, ReuseDirective};

/// The label that marks a reusable container with the hash of its request.
const REUSE_LABEL: &str = "tug.testkit.reuse-hash";
/// The label of the user networks the testkit made for `with_network(name)`.
pub(crate) const MANAGED_NETWORK_LABEL: &str = "tug.testkit.managed";

/// Starts `req` on `tug`: see [`crate::runners::SyncRunner::start`].
pub(crate) fn start<I: Image>(tug: &Tug, req: ContainerRequest<I>) -> Result<Container<I>> {
    let reference = req.descriptor();
    tug.prepare_image(&reference)?;
    let engine = tug.engine();
    let mut opts = create_options(&req, &reference)?;
    let reuse_key = match req.reuse {
        ReuseDirective::Never => None,
        ReuseDirective::Always => {
            opts.owner_pid = None;
            Some(reuse_hash(&opts, &req.copies, ""))
        }
        ReuseDirective::CurrentSession => Some(reuse_hash(&opts, &req.copies, &session())),
    };
    let network = managed_network(tug, req.network.as_deref())?;
    let timeout = req.startup_timeout.unwrap_or(DEFAULT_STARTUP_TIMEOUT);
    let setup = Setup {
        healthcheck: req.health_check.clone(),
        ready: (req.ready_conditions(), timeout),
        keep: reuse_key.is_some(),
        network,
    };
    if let Some(key) = &reuse_key {
        let running = engine
            .containers()
            .map_err(|e| Error::engine("listing containers", e))?
            .into_iter()
            .find(|c| c.state.running && c.config.labels.get(REUSE_LABEL) == Some(key));
        if let Some(found) = running {
            let c = Container::new(engine.clone(), &found, req.image, setup);
            c.record_live()?;
            return Ok(c);
        }
        opts.labels.push(format!("{REUSE_LABEL}={key}"));
    }
    let record = engine
        .create_container(&opts)
        .map_err(|e| Error::engine(format!("creating a container from {reference}"), e))?;
    let consumers = req.log_consumers.0.clone();
    let mut copies: Vec<CopyToContainer> =
        req.image.copy_to_sources().into_iter().cloned().collect();
    copies.extend(req.copies.iter().cloned());
    // From here on the handle removes the container when dropped, also on an error.
    let c = Container::new(engine.clone(), &record, req.image, setup);
    let made = copy_files(&c, &copies).and_then(|()| c.start_process());
    if let Err(e) = made {
        return Err(Error::Start {
            id: c.id().to_string(),
            logs: c.log_tail(20),
            cause: Box::new(e),
        });
    }
    if !consumers.is_empty() {
        let follower = engine
            .follow_logs(c.id(), true)
            .map_err(|e| Error::engine("following the logs", e))?;
        std::thread::spawn(move || {
            crate::logs::feed(follower, consumers);
        });
    }
    for cmd in c.image().exec_before_ready(c.state())? {
        c.exec(cmd)?;
    }
    c.wait_until_ready()?;
    for cmd in c.image().exec_after_start(c.state())? {
        c.exec(cmd)?;
    }
    Ok(c)
}

impl<I: Image> Container<I> {
    /// What [`Image::exec_after_start`] sees.
    fn state(&self) -> ContainerState {
        ContainerState {
            id: self.id().to_string(),
            ports: self.ports().unwrap_or_default(),
        }
    }
}

/// A key of this process's life: its pid and start time.
fn session() -> String {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The start time is field 22; fields after the command's closing parenthesis.
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let start = after.split_whitespace().nth(19).unwrap_or_default();
    format!("{}-{start}", std::process::id())
}

/// The hash of what a reusable container is made of.
fn reuse_hash(opts: &CreateOptions, copies: &[CopyToContainer], session: &str) -> String {
    let mut h = std::hash::DefaultHasher::new();
    format!("{opts:?}{copies:?}{session}").hash(&mut h);
    format!("{:016x}", h.finish())
}

/// For a user network by name: made (with the testkit's label) if missing. Returns the
/// name when the network is one the testkit made, to remove with its last container.
fn managed_network(tug: &Tug, network: Option<&str>) -> Result<Option<String>> {
    let Some(name) = network.filter(|n| {
        !matches!(*n, "" | "bridge" | "default" | "none" | "host") && !n.starts_with("container:")
    }) else {
        return Ok(None);
    };
    let engine = tug.engine();
    if let Ok(n) = engine.network(name) {
        return Ok(n
            .labels
            .contains_key(MANAGED_NETWORK_LABEL)
            .then(|| name.to_string()));
    }
    let made = engine.create_network(&tug::network::CreateOptions {
        name: name.to_string(),
        labels: [(MANAGED_NETWORK_LABEL.to_string(), "true".to_string())].into(),
        ..Default::default()
    });
    // Another test may have made it at the same time: then it is there now.
    if let Err(e) = made
        && engine.network(name).is_err()
    {
        return Err(Error::engine(format!("creating network {name}"), e));
    }
    Ok(Some(name.to_string()))
}

/// The engine's create options for `req`.
fn create_options<I: Image>(req: &ContainerRequest<I>, reference: &str) -> Result<CreateOptions> {
    let image = &req.image;
    let env = image
        .env_vars()
        .into_iter()
        .map(|(k, v)| format!("{}={}", k.into(), v.into()))
        .chain(req.env.iter().map(|(k, v)| format!("{k}={v}")))
        .collect();
    let command = match &req.cmd {
        Some(c) => c.clone(),
        None => image
            .cmd()
            .into_iter()
            .map(|a| a.into().into_owned())
            .collect(),
    };
    let loopback = Some(Ipv4Addr::LOCALHOST);
    let proto = |p: ContainerPort| match p {
        ContainerPort::Tcp(_) => Ok(Proto::Tcp),
        ContainerPort::Udp(_) => Ok(Proto::Udp),
        ContainerPort::Sctp(_) => Err(Error::Invalid(format!(
            "port {p}: tug publishes tcp and udp ports only"
        ))),
    };
    let mut publish = Vec::new();
    for p in req.exposed_ports() {
        publish.push(PortSpec {
            host_ip: loopback,
            host_ports: None,
            container_ports: (p.as_u16(), p.as_u16()),
            proto: proto(p)?,
        });
    }
    for &(h, c) in &req.mapped {
        publish.push(PortSpec {
            host_ip: loopback,
            host_ports: Some((h, h)),
            container_ports: (c.as_u16(), c.as_u16()),
            proto: proto(c)?,
        });
    }
    let mut mounts = image
        .mounts()
        .into_iter()
        .chain(&req.mounts)
        .map(|m| m.spec().map_err(Error::Invalid))
        .collect::<Result<Vec<_>>>()?;
    if let Some(bytes) = req.shm_size {
        let size = format!("size={bytes}");
        let shm = tug::volume::MountSpec::tmpfs("/dev/shm", &["mode=1777", &size])
            .map_err(|e| Error::Invalid(format!("with_shm_size({bytes}): {e}")))?;
        mounts.push(shm);
    }
    Ok(CreateOptions {
        image: reference.to_string(),
        name: req.container_name.clone(),
        hostname: req.hostname.clone(),
        env,
        workdir: req.workdir.clone(),
        user: req.user.clone(),
        entrypoint: req
            .entrypoint
            .clone()
            .or_else(|| image.entrypoint().map(String::from)),
        command,
        network: req.network.clone().unwrap_or_default(),
        network_aliases: req.aliases.clone(),
        publish,
        labels: req.labels.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        owner_pid: Some(std::process::id() as i32),
        mounts,
        resources: req.resources.clone(),
        privileged: req.privileged,
        cap_add: req.cap_add.clone(),
        cap_drop: req.cap_drop.clone(),
        read_only: req.readonly_rootfs,
        security_opt: req.security_opts.clone(),
        ulimits: req
            .ulimits
            .iter()
            .map(|u| {
                tug::container::Ulimit::new(&u.name, u.soft, u.hard.unwrap_or(u.soft))
                    .map_err(|e| Error::Invalid(format!("with_ulimit: {e}")))
            })
            .collect::<Result<_>>()?,
        ..Default::default()
    })
}

/// Copies the request's files into the created container.
fn copy_files<I: Image>(c: &Container<I>, copies: &[CopyToContainer]) -> Result<()> {
    if copies.is_empty() {
        return Ok(());
    }
    let tar = files_tar(copies)?;
    let mut input: &[u8] = &tar;
    c.engine()
        .copy_to_container(c.id(), CopyIn::Tar(&mut input), "/", CopyOptions::default())
        .map_err(|e| Error::engine("copying files into the container", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuse_keys_follow_the_request_and_session() {
        let a = CreateOptions {
            image: "busybox:latest".into(),
            ..Default::default()
        };
        let mut b = a.clone();
        assert_eq!(reuse_hash(&a, &[], ""), reuse_hash(&b, &[], ""));
        b.command = vec!["sleep".into()];
        assert_ne!(reuse_hash(&a, &[], ""), reuse_hash(&b, &[], ""));
        assert_ne!(reuse_hash(&a, &[], ""), reuse_hash(&a, &[], &session()));
        assert_eq!(session(), session());
    }
}
