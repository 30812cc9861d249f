//! Starting a request: the image made sure of (pulled, or busybox made), a user network
//! made if missing, the container created (owned by this process, so that the shim
//! removes it if the process dies), files copied in, started, its log consumers fed, and
//! waited for. A failure on the way removes what was made.

use std::hash::{Hash, Hasher};
use std::net::Ipv4Addr;
use std::time::Duration;

use tug::container::CreateOptions;
use tug::container::{CopyIn, CopyOptions};
use tug::network::{PortSpec, Proto};

use crate::client::Tug;
use crate::container::{Container, Setup};
use crate::copy::{CopyToContainer, files_tar};
use crate::error::{Error, Result};
use crate::image::{ContainerState, Image};
use crate::ports::ContainerPort;
use crate::request::{
    ContainerRequest, DEFAULT_STARTUP_TIMEOUT, Healthcheck, PullPolicy, ReuseDirective,
};
use crate::wait::WaitFor;

/// The label that marks a container kept across runs with the hash of its request.
pub(crate) const REUSE_LABEL: &str = "tug.testkit.reuse-hash";
/// The label of a container kept for a process or a test run (it goes with them).
const SESSION_LABEL: &str = "tug.testkit.session-hash";
/// The label of a warm spare (its value: the pid of the process that keeps it); a
/// spare handed out keeps it.
pub(crate) const SPARE_LABEL: &str = "tug.testkit.spare";
/// The label of the user networks the testkit made for `with_network(name)`.
pub(crate) const MANAGED_NETWORK_LABEL: &str = "tug.testkit.managed";

/// Starts `req` on `tug`: see [`crate::runners::SyncRunner::start`].
pub(crate) fn start<I: Image>(tug: &Tug, req: ContainerRequest<I>) -> Result<Container<I>> {
    let reference = req.descriptor();
    match req.image().recipe() {
        // A module's own image (not renamed by the request): built if missing.
        Some(r) if r.reference() == reference => {
            if req.pull == PullPolicy::Never {
                tug.prepare_image_with(&reference, PullPolicy::Never)?;
            } else {
                tug.prepare_built(r)?;
            }
        }
        _ => tug.prepare_image_with(&reference, req.pull)?,
    }
    let engine = tug.engine();
    let mut opts = create_options(&req, &reference)?;
    // What a kept container is told apart by: the request, the image it runs (a module
    // rebuilt by a new version of the crate gets a new one) and how long it is kept.
    let image_id = engine
        .image(&reference)
        .map(|i| i.id.to_string())
        .unwrap_or_default();
    let directive = req.reuse.unwrap_or_else(ReuseDirective::from_env);
    let label = match directive {
        ReuseDirective::Always => REUSE_LABEL,
        _ => SESSION_LABEL,
    };
    let reuse_key = match directive {
        ReuseDirective::Never => None,
        ReuseDirective::Always => {
            opts.owner_pid = None;
            Some(reuse_hash(&opts, &req.copies, &image_id))
        }
        ReuseDirective::CurrentSession => Some(reuse_hash(
            &opts,
            &req.copies,
            &format!("{image_id} {}", session()),
        )),
        ReuseDirective::TestRun => {
            let (owner, run) = test_run();
            opts.owner_pid = Some(owner);
            Some(reuse_hash(&opts, &req.copies, &format!("{image_id} {run}")))
        }
    };
    // Processes that start the same kept container take turns, so that one starts it and
    // the others find it running and ready.
    let _turn = match &reuse_key {
        Some(key) => Some(take_turn(tug, key)?),
        None => None,
    };
    let network = managed_network(tug, req.network.as_deref())?;
    let timeout = req.startup_timeout.unwrap_or(DEFAULT_STARTUP_TIMEOUT);
    let setup = Setup {
        ready: (req.ready_conditions(), timeout),
        keep: reuse_key.is_some(),
        network,
    };
    if let Some(key) = &reuse_key {
        let running = engine
            .containers()
            .map_err(|e| Error::engine("listing containers", e))?
            .into_iter()
            .find(|c| c.state.running && c.config.labels.get(label) == Some(key));
        if let Some(found) = running {
            let c = Container::new(engine.clone(), &found, req.image, setup);
            c.record_live()?;
            return Ok(c);
        }
        opts.labels.push(format!("{label}={key}"));
    }
    // A warm spare (`with_spare`): taken when one is ready (or starting), else made
    // once this start is ready.
    let spare = match (req.spare, &reuse_key) {
        (Some(launch), None)
            if req.mapped.is_empty()
                && req.container_name.is_none()
                && (req.network.as_deref())
                    .is_none_or(|n| matches!(n, "" | "bridge" | "default")) =>
        {
            let key = spare_key(tug, &opts, &req.copies, &image_id);
            Some((launch(tug, &req, key.clone()), key))
        }
        _ => None,
    };
    if let Some((launch, key)) = spare {
        if let Some(record) = take_spare(engine, &key, timeout) {
            launch();
            let consumers = req.log_consumers.0.clone();
            let c = Container::new(engine.clone(), &record, req.image, setup);
            c.record_live()?;
            feed_consumers(&c, consumers)?;
            return Ok(c);
        }
        let c = start_new(engine, &reference, &opts, req, setup, None)?;
        launch();
        return Ok(c);
    }
    start_new(engine, &reference, &opts, req, setup, reuse_key.as_deref())
}

/// Creates `req`'s container and makes it ready; a kept one (`reuse_key`) is removed
/// again on a failure, so that no later start finds it half made.
fn start_new<I: Image>(
    engine: &tug::Engine,
    reference: &str,
    opts: &CreateOptions,
    req: ContainerRequest<I>,
    setup: Setup,
    reuse_key: Option<&str>,
) -> Result<Container<I>> {
    let record = engine
        .create_container(opts)
        .map_err(|e| Error::engine(format!("creating a container from {reference}"), e))?;
    let consumers = req.log_consumers.0.clone();
    let mut copies: Vec<CopyToContainer> =
        req.image.copy_to_sources().into_iter().cloned().collect();
    copies.extend(req.copies.iter().cloned());
    // From here on the handle removes the container when dropped, also on an error; a
    // kept one is removed here, so that no later start finds it half made.
    let c = Container::new(engine.clone(), &record, req.image, setup);
    match make_ready(&c, &copies, consumers) {
        Ok(()) => Ok(c),
        Err(e) => {
            if reuse_key.is_some() {
                let _ = crate::container::remove_with_volumes(engine, c.id());
            }
            Err(e)
        }
    }
}

/// Copies the files in, starts the process, feeds the log consumers, runs the image's
/// commands and waits for the ready conditions.
fn make_ready<I: Image>(
    c: &Container<I>,
    copies: &[CopyToContainer],
    consumers: Vec<std::sync::Arc<dyn crate::logs::LogConsumer>>,
) -> Result<()> {
    let made = copy_files(c, copies).and_then(|()| c.start_process());
    if let Err(e) = made {
        return Err(Error::Start {
            id: c.id().to_string(),
            logs: c.log_tail(20),
            cause: Box::new(e),
        });
    }
    feed_consumers(c, consumers)?;
    for cmd in c.image().exec_before_ready(c.state())? {
        c.exec(cmd)?;
    }
    c.wait_until_ready()?;
    for cmd in c.image().exec_after_start(c.state())? {
        c.exec(cmd)?;
    }
    Ok(())
}

/// Feeds the container's log, from its start and on, to the request's log consumers.
fn feed_consumers<I: Image>(
    c: &Container<I>,
    consumers: Vec<std::sync::Arc<dyn crate::logs::LogConsumer>>,
) -> Result<()> {
    if !consumers.is_empty() {
        let follower = c
            .engine()
            .follow_logs(c.id(), true)
            .map_err(|e| Error::engine("following the logs", e))?;
        std::thread::spawn(move || {
            crate::logs::feed(follower, consumers);
        });
    }
    Ok(())
}

/// The record of `key`'s spare when one is ready (or gets ready within `timeout`) and
/// still running; a spare that died waiting is removed.
fn take_spare(
    engine: &tug::Engine,
    key: &str,
    timeout: Duration,
) -> Option<tug::container::Container> {
    let id = crate::spare::take(key, timeout)?;
    match engine.container(&id) {
        Ok(c) if c.state.running => Some(c),
        _ => {
            let _ = crate::container::remove_with_volumes(engine, &id);
            None
        }
    }
}

/// What [`crate::ImageExt::with_spare`] sets (for image types that can be cloned and
/// sent to a thread): a copy of `req` without log consumers and without a spare of its
/// own, started in the background when the returned closure runs, and put in the pool
/// under `key` once ready.
pub(crate) fn launch_spare<I: Image + Clone + 'static>(
    tug: &Tug,
    req: &ContainerRequest<I>,
    key: String,
) -> Box<dyn FnOnce() + Send> {
    let mut req = req.clone();
    req.spare = None;
    req.log_consumers = Default::default();
    req.labels
        .push((SPARE_LABEL.to_string(), std::process::id().to_string()));
    let engine = tug.engine().clone();
    Box::new(move || {
        if !crate::spare::begin(&key) {
            return;
        }
        std::thread::spawn(move || {
            static SWEPT: std::sync::Once = std::sync::Once::new();
            SWEPT.call_once(|| remove_orphaned_spares(&engine));
            let tug = Tug::on(engine);
            let id = start(&tug, req).ok().map(Container::detach);
            crate::spare::finish(&key, id);
        });
    })
}

/// Removes the spares that an ended process left created but never started (it ended
/// while their background start was between the create and the shim, which is what
/// removes an owned container when its owner goes): run once per process, before its
/// first spare.
fn remove_orphaned_spares(engine: &tug::Engine) {
    let Ok(all) = engine.containers() else {
        return;
    };
    for c in all {
        let Some(pid) = c.config.labels.get(SPARE_LABEL) else {
            continue;
        };
        let owner_alive = pid
            .parse::<u32>()
            .is_ok_and(|p| std::path::Path::new(&format!("/proc/{p}")).exists());
        if c.state.status == tug::container::Status::Created && !owner_alive {
            let _ = crate::container::remove_with_volumes(engine, c.id.as_ref());
        }
    }
}

/// The key of a request's spares: what the container is made of, on which state root.
fn spare_key(tug: &Tug, opts: &CreateOptions, copies: &[CopyToContainer], image: &str) -> String {
    let root = tug.engine().root().display().to_string();
    reuse_hash(opts, copies, &format!("{image} spare {root}"))
}

/// The lock of one kept container's key, under the run root (`TUG_RUN`), held while a
/// process finds or starts it.
fn take_turn(tug: &Tug, key: &str) -> Result<std::fs::File> {
    let dir = tug.engine().run_root().join("testkit");
    std::fs::create_dir_all(&dir).map_err(|e| Error::Setup(format!("{}: {e}", dir.display())))?;
    let path = dir.join(format!("{key}.lock"));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::Setup(format!("{}: {e}", path.display())))?;
    file.lock()
        .map_err(|e| Error::Setup(format!("locking {}: {e}", path.display())))?;
    Ok(file)
}

/// The test run this process is part of: its owner's pid (the process whose end
/// removes the run's shared containers) and a key of the run. Under `cargo nextest`
/// (`NEXTEST_RUN_ID` set; each test is a process, started by nextest) the owner is
/// nextest, the parent; else this process.
fn test_run() -> (i32, String) {
    if let Ok(run) = std::env::var("NEXTEST_RUN_ID") {
        let parent = std::os::unix::process::parent_id() as i32;
        return (parent, format!("nextest-{run}-{parent}"));
    }
    (std::process::id() as i32, session())
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
    let loopback = Some(std::net::IpAddr::from(Ipv4Addr::LOCALHOST));
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
        healthcheck: healthcheck(req),
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

/// The container's healthcheck: the request's over the image's. A wait on it
/// ([`WaitFor::healthcheck`]) wants the first result soon: unless the request sets them,
/// the shim probes every poll interval (100 ms by default) during a start period as long
/// as the startup timeout (Docker's start interval and start period: failures there do
/// not count, the first success makes the container healthy), and the image's or
/// Docker's interval after that.
fn healthcheck<I: Image>(req: &ContainerRequest<I>) -> Option<Healthcheck> {
    let wait = req.ready_conditions().into_iter().find_map(|w| match w {
        WaitFor::Healthcheck(h) => Some(h),
        _ => None,
    });
    let Some(wait) = wait else {
        return req.health_check.clone();
    };
    let mut h = req.health_check.clone().unwrap_or_default();
    if h.start_period.is_none() {
        h.start_period = Some(req.startup_timeout.unwrap_or(DEFAULT_STARTUP_TIMEOUT));
    }
    if h.start_interval.is_none() {
        h.start_interval = Some(wait.poll_interval.unwrap_or(Duration::from_millis(100)));
    }
    Some(h)
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
