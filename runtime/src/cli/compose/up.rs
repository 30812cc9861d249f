//! `compose up` (networks, volumes, images, then each service's containers in dependency
//! order, honouring the conditions; a second `up` converges by config hash) and `compose
//! down` (the reverse), with the waiting they need.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use clap::Args;

use super::{Member, ProjectFlags, check_services, load, members, progress, stop};
use crate::cli::{CliError, CliResult};
use tug::Engine;
use tug::compose::{self, Condition, MountType, Project};

#[derive(Args, Debug, Default)]
pub struct UpArgs {
    /// Detached mode: run containers in the background
    #[arg(short, long)]
    pub detach: bool,
    /// Build images before starting containers
    #[arg(long)]
    pub build: bool,
    /// Don't build an image, even if it's missing
    #[arg(long)]
    pub no_build: bool,
    /// Pull image before running ("always"|"missing"|"never")
    #[arg(long, default_value = "missing")]
    pub pull: String,
    /// Scale SERVICE to NUM instances (SERVICE=NUM)
    #[arg(long)]
    pub scale: Vec<String>,
    /// Wait for services to be running|healthy (implies detached mode)
    #[arg(long)]
    pub wait: bool,
    /// Maximum duration in seconds to wait for the project to be running|healthy
    #[arg(long)]
    pub wait_timeout: Option<u64>,
    /// Don't start linked services
    #[arg(long)]
    pub no_deps: bool,
    /// Recreate containers even if their configuration hasn't changed
    #[arg(long)]
    pub force_recreate: bool,
    /// If containers already exist, don't recreate them
    #[arg(long)]
    pub no_recreate: bool,
    /// Remove containers for services not defined in the Compose file
    #[arg(long)]
    pub remove_orphans: bool,
    /// Stops all containers if any container was stopped (attached mode)
    #[arg(long)]
    pub abort_on_container_exit: bool,
    /// Don't start the services after creating them
    #[arg(long)]
    pub no_start: bool,
    /// Use this timeout in seconds for container shutdown
    #[arg(short, long)]
    pub timeout: Option<u64>,
    /// Produce monochrome output
    #[arg(long)]
    pub no_color: bool,
    pub services: Vec<String>,
}

#[derive(Args, Debug, Default)]
pub struct DownArgs {
    /// Remove named volumes declared in the "volumes" section and anonymous volumes
    #[arg(short, long)]
    pub volumes: bool,
    /// Remove containers for services not defined in the Compose file
    #[arg(long)]
    pub remove_orphans: bool,
    /// Remove images used by services ("local"|"all")
    #[arg(long)]
    pub rmi: Option<String>,
    /// Specify a shutdown timeout in seconds
    #[arg(short, long)]
    pub timeout: Option<u64>,
}

/// The image a service's containers run: its `image`, else `<project>-<service>`.
pub fn image_of(p: &Project, service: &str) -> String {
    p.services[service]
        .image
        .clone()
        .unwrap_or_else(|| format!("{}-{service}", p.name))
}

/// Builds the service's image (`tag` it as [`image_of`]).
pub fn build_service(engine: &Engine, p: &Project, service: &str) -> Result<(), CliError> {
    let s = &p.services[service];
    let Some(b) = &s.build else { return Ok(()) };
    let image = image_of(p, service);
    progress("Service", service, "Building");
    let ctx = std::path::PathBuf::from(&b.context);
    let mut opts = tug::build::BuildOptions::new(&ctx);
    if let Some(text) = &b.dockerfile_inline {
        opts.dockerfile = tug::build::DockerfileSource::Text {
            name: "Dockerfile".into(),
            text: text.clone(),
        };
    } else if let Some(f) = &b.dockerfile {
        opts.dockerfile = tug::build::DockerfileSource::Path(ctx.join(f));
    }
    opts.tags = vec![image.clone()];
    opts.target = b.target.clone();
    opts.build_args = b
        .args
        .iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v)))
        .collect();
    engine
        .build(&opts, &mut |_| {})
        .map_err(|e| CliError::other(format!("building {service}: {}", tug::report(&e))))?;
    progress("Service", service, "Built");
    Ok(())
}

/// Pulls (or for `busybox`, makes) `image`.
pub fn pull_image(engine: &Engine, image: &str) -> Result<(), CliError> {
    if matches!(image, "busybox" | "busybox:latest")
        && !engine.has_image(image).map_err(tug::Error::from)?
    {
        engine
            .create_busybox_image(image)
            .map_err(tug::Error::from)?;
        return Ok(());
    }
    let mut err = std::io::stderr();
    crate::cli::registry::pull_to(engine, image, None, true, &mut err)?;
    Ok(())
}

/// Makes sure the service's image is there: built, pulled or made, as `pull` and
/// `build` say.
fn ensure_image(engine: &Engine, p: &Project, service: &str, a: &UpArgs) -> Result<(), CliError> {
    let s = &p.services[service];
    let image = image_of(p, service);
    let have = engine.has_image(&image).map_err(tug::Error::from)?;
    if s.build.is_some() && !a.no_build && (a.build || !have) {
        return build_service(engine, p, service);
    }
    let policy = s.pull_policy.as_deref().unwrap_or(a.pull.as_str());
    let pull = match policy {
        "always" => true,
        "never" => false,
        _ => !have,
    };
    if pull {
        progress("Image", &image, "Pulling");
        pull_image(engine, &image)?;
        progress("Image", &image, "Pulled");
    } else if !have {
        return Err(CliError::other(format!(
            "service {service:?}: image {image} is missing (pull policy {policy})"
        )));
    }
    Ok(())
}

/// Creates the project's networks and volumes that are missing (external ones must
/// exist).
pub fn ensure_resources(engine: &Engine, p: &Project, services: &[String]) -> Result<(), CliError> {
    let mut nets: Vec<&String> = Vec::new();
    for s in services {
        for n in p.services[s].network_names() {
            if let Some((k, _)) = p.networks.get_key_value(&n)
                && !nets.contains(&k)
            {
                nets.push(k);
            }
        }
    }
    for key in nets {
        let n = &p.networks[key];
        if engine.network(&n.name).is_ok() {
            continue;
        }
        if n.external {
            return Err(CliError::other(format!(
                "network {} declared as external, but could not be found",
                n.name
            )));
        }
        progress("Network", &n.name, "Creating");
        engine.create_network(&tug::network::CreateOptions {
            name: n.name.clone(),
            driver: Some("bridge".into()),
            subnet: n.subnets.first().cloned(),
            gateway: n.gateways.first().cloned(),
            internal: n.internal,
            attachable: true,
            labels: compose::network_labels(p, key),
        })?;
        progress("Network", &n.name, "Created");
    }
    for (key, v) in &p.volumes {
        if engine.volume(&v.name).is_ok() {
            continue;
        }
        if v.external {
            return Err(CliError::other(format!(
                "external volume {:?} not found",
                v.name
            )));
        }
        progress("Volume", &v.name, "Creating");
        engine.create_volume(&tug::volume::VolumeOptions {
            name: Some(v.name.clone()),
            driver: v.driver.clone(),
            labels: Some(compose::volume_labels(p, key)),
            options: (!v.driver_opts.is_empty()).then(|| v.driver_opts.clone()),
        })?;
        progress("Volume", &v.name, "Created");
    }
    Ok(())
}

/// Creates replica `n` of `service` (binds' host paths made when missing, its other
/// networks connected).
pub fn create_replica(
    engine: &Engine,
    p: &Project,
    service: &str,
    n: u32,
) -> Result<String, CliError> {
    let s = &p.services[service];
    for m in &s.volumes {
        if m.kind == MountType::Bind
            && m.create_host_path
            && let Some(src) = &m.source
            && !std::path::Path::new(src).exists()
        {
            std::fs::create_dir_all(src)
                .map_err(|e| CliError::other(format!("creating {src}: {e}")))?;
        }
    }
    let opts = compose::create_options(p, service, n, &image_of(p, service))
        .map_err(|e| CliError::other(tug::report(&e)))?;
    let name = opts.name.clone().unwrap_or_default();
    progress("Container", &name, "Creating");
    engine.create_container(&opts)?;
    for net in s.network_names().iter().skip(1) {
        let sn = s.networks.get(net).cloned().unwrap_or_default();
        let mut aliases = vec![service.to_string()];
        aliases.extend(sn.aliases);
        let ip = sn.ipv4_address.and_then(|i| i.parse().ok());
        engine.connect_network(&p.networks[net].name, &name, &aliases, ip)?;
    }
    progress("Container", &name, "Created");
    Ok(name)
}

/// The number of replicas `up` runs for each service (`--scale` over the file).
fn scales(p: &Project, a: &UpArgs) -> Result<BTreeMap<String, u32>, CliError> {
    let mut out: BTreeMap<String, u32> = p
        .services
        .iter()
        .map(|(k, s)| (k.clone(), s.replicas()))
        .collect();
    for sc in &a.scale {
        let (svc, n) = sc
            .split_once('=')
            .and_then(|(s, n)| Some((s, n.parse::<u32>().ok()?)))
            .ok_or_else(|| CliError::usage(format!("--scale {sc}: expected SERVICE=NUM")))?;
        check_services(p, &[svc.to_string()])?;
        out.insert(svc.to_string(), n);
    }
    Ok(out)
}

/// Waits until container `name` of `service` is healthy, as its shim's healthcheck
/// monitor says (`State.Health`, polled): an error once it is unhealthy, stops, or
/// `deadline` passes. A container without a healthcheck counts as healthy once it runs.
pub fn wait_healthy(engine: &Engine, name: &str, deadline: Instant) -> Result<(), CliError> {
    use tug::container::HealthStatus;
    loop {
        let c = engine.container(name)?;
        if !c.state.running && !c.state.restarting {
            return Err(CliError::other(format!(
                "container {name} exited ({}) before it was healthy",
                c.state.exit_code
            )));
        }
        match &c.state.health {
            None if c.state.running => return Ok(()),
            Some(h) if h.status == HealthStatus::Healthy => return Ok(()),
            Some(h) if h.status == HealthStatus::Unhealthy => {
                let last = h
                    .log
                    .last()
                    .map(|r| r.output.trim().to_string())
                    .unwrap_or_default();
                return Err(CliError::other(format!(
                    "container {name} is unhealthy: {last}"
                )));
            }
            _ => {}
        }
        if Instant::now() >= deadline {
            return Err(CliError::other(format!(
                "container {name}: still not healthy after the wait timeout"
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until container `name` exited; an error unless it exited 0.
fn wait_completed(engine: &Engine, name: &str) -> Result<(), CliError> {
    let code = engine.wait_container(name)?;
    if code != 0 {
        return Err(CliError::other(format!(
            "service container {name} didn't complete successfully: exit {code}"
        )));
    }
    Ok(())
}

/// Waits for `service`'s dependencies' conditions.
fn wait_dependencies(
    engine: &Engine,
    p: &Project,
    service: &str,
    deadline: Instant,
) -> Result<(), CliError> {
    let running = members(engine, &p.name, false)?;
    for (dep, d) in &p.services[service].depends_on {
        for m in running.iter().filter(|m| &m.service == dep) {
            match d.condition {
                Condition::Started => {}
                Condition::Healthy => {
                    progress("Container", m.name(), "Waiting");
                    wait_healthy(engine, m.name(), deadline)?;
                    progress("Container", m.name(), "Healthy");
                }
                Condition::CompletedSuccessfully => {
                    progress("Container", m.name(), "Waiting");
                    wait_completed(engine, m.name())?;
                    progress("Container", m.name(), "Exited");
                }
            }
        }
    }
    Ok(())
}

/// Brings `service` to `want` replicas that match the model: unchanged ones are kept
/// (started if stopped; restarted with `restart`, when a dependency with `restart: true`
/// was recreated), changed ones recreated, extra ones removed. Returns the replicas'
/// names, and whether any was made anew.
fn converge(
    engine: &Engine,
    p: &Project,
    service: &str,
    want: u32,
    restart: bool,
    a: &UpArgs,
) -> Result<(Vec<String>, bool), CliError> {
    let mut made = false;
    let hash = compose::config_hash(p, service);
    let existing: Vec<Member> = members(engine, &p.name, false)?
        .into_iter()
        .filter(|m| m.service == service)
        .collect();
    let mut names = Vec::new();
    for m in existing.iter().filter(|m| m.number > want) {
        progress("Container", m.name(), "Stopping");
        stop(engine, Some(p), service, m.name(), a.timeout)?;
        engine.remove_container(m.name(), true)?;
        progress("Container", m.name(), "Removed");
    }
    for n in 1..=want {
        let current = existing.iter().find(|m| m.number == n);
        let name = match current {
            Some(m) => {
                let same = m.c.config.labels.get(compose::LABEL_CONFIG_HASH) == Some(&hash);
                if (same && !a.force_recreate) || a.no_recreate {
                    if !m.running() {
                        progress("Container", m.name(), "Starting");
                        engine.start_detached(m.name())?;
                        progress("Container", m.name(), "Started");
                    } else if restart {
                        progress("Container", m.name(), "Restarting");
                        let (timeout, _) = super::stop_how(Some(p), service, a.timeout);
                        engine.restart_container(m.name(), timeout)?;
                        progress("Container", m.name(), "Started");
                    } else {
                        progress("Container", m.name(), "Running");
                    }
                    names.push(m.name().to_string());
                    continue;
                }
                progress("Container", m.name(), "Recreate");
                stop(engine, Some(p), service, m.name(), a.timeout)?;
                engine.remove_container(m.name(), true)?;
                create_replica(engine, p, service, n)?
            }
            None => create_replica(engine, p, service, n)?,
        };
        made = true;
        if !a.no_start {
            progress("Container", &name, "Starting");
            engine.start_detached(&name)?;
            progress("Container", &name, "Started");
        }
        names.push(name);
    }
    Ok((names, made))
}

/// Warns about (or with `remove` removes) containers of services the files no longer have.
fn orphans(engine: &Engine, p: &Project, remove: bool) -> Result<(), CliError> {
    let orphans: Vec<Member> = members(engine, &p.name, false)?
        .into_iter()
        .filter(|m| !p.services.contains_key(&m.service))
        .collect();
    if orphans.is_empty() {
        return Ok(());
    }
    if !remove {
        let names: Vec<&str> = orphans.iter().map(|m| m.name()).collect();
        eprintln!(
            "WARN: Found orphan containers ([{}]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.",
            names.join(" ")
        );
        return Ok(());
    }
    for m in orphans {
        progress("Container", m.name(), "Removing");
        engine.remove_container(m.name(), true)?;
        progress("Container", m.name(), "Removed");
    }
    Ok(())
}

pub fn up(engine: &Engine, flags: &ProjectFlags, a: UpArgs) -> CliResult {
    let p = load(flags)?;
    check_services(&p, &a.services)?;
    let wanted: Vec<String> = if a.services.is_empty() {
        p.services.keys().cloned().collect()
    } else {
        a.services.clone()
    };
    let order = compose::start_order(&p, &wanted, a.no_deps);
    let scales = scales(&p, &a)?;
    let deadline = Instant::now() + Duration::from_secs(a.wait_timeout.unwrap_or(300));
    for s in &order {
        ensure_image(engine, &p, s, &a)?;
    }
    ensure_resources(engine, &p, &order)?;
    orphans(engine, &p, a.remove_orphans)?;
    let mut all = Vec::new();
    let mut remade: Vec<&String> = Vec::new();
    for s in &order {
        if !a.no_start {
            wait_dependencies(engine, &p, s, deadline)?;
        }
        let restart = p.services[s]
            .depends_on
            .iter()
            .any(|(dep, d)| d.restart && remade.contains(&dep));
        let (names, made) = converge(engine, &p, s, scales[s], restart, &a)?;
        if made {
            remade.push(s);
        }
        for n in names {
            all.push((s.clone(), n));
        }
    }
    if a.wait {
        for (_, n) in &all {
            progress("Container", n, "Waiting");
            wait_healthy(engine, n, deadline)?;
            progress("Container", n, "Healthy");
        }
    }
    if a.detach || a.wait || a.no_start {
        return Ok(0);
    }
    super::cmds::attach_logs(engine, &p, &all, &a)
}

pub fn down(engine: &Engine, flags: &ProjectFlags, a: DownArgs) -> CliResult {
    // Without the files (gone, or another dir), `-p` still finds the containers.
    let project = load(flags).ok();
    let name = match (&project, &flags.project_name) {
        (_, Some(n)) => n.clone(),
        (Some(p), None) => p.name.clone(),
        (None, None) => return Err(load(flags).unwrap_err()),
    };
    let mut ms = members(engine, &name, true)?;
    if let Some(p) = &project
        && !a.remove_orphans
    {
        ms.retain(|m| m.oneoff || p.services.contains_key(&m.service));
    }
    // Dependents first: the reverse of the start order.
    let order: Vec<String> = project
        .as_ref()
        .map(|p| compose::start_order(p, &p.services.keys().cloned().collect::<Vec<_>>(), false))
        .unwrap_or_default();
    ms.sort_by_key(|m| std::cmp::Reverse(order.iter().position(|s| *s == m.service)));
    let mut images = Vec::new();
    let mut anon = Vec::new();
    for m in &ms {
        if m.running() {
            progress("Container", m.name(), "Stopping");
            stop(engine, project.as_ref(), &m.service, m.name(), a.timeout)?;
            progress("Container", m.name(), "Stopped");
        }
        progress("Container", m.name(), "Removing");
        let c = engine.remove_container(m.name(), true)?;
        if a.volumes {
            anon.extend(c.mounts.clone());
        }
        progress("Container", m.name(), "Removed");
        images.push((m.service.clone(), c.config.image.clone()));
    }
    if a.volumes && !anon.is_empty() {
        engine.remove_anonymous_volumes(&anon)?;
    }
    // Networks and volumes the project made (by their labels, so a project whose files
    // changed still loses its old ones).
    for n in engine.networks()? {
        if n.labels.get(compose::LABEL_PROJECT) == Some(&name) {
            progress("Network", &n.name, "Removing");
            engine.remove_network(&n.name)?;
            progress("Network", &n.name, "Removed");
        }
    }
    if a.volumes {
        for v in engine.volumes()? {
            if v.labels
                .as_ref()
                .and_then(|l| l.get(compose::LABEL_PROJECT))
                == Some(&name)
            {
                progress("Volume", &v.name, "Removing");
                engine.remove_volume(&v.name, true)?;
                progress("Volume", &v.name, "Removed");
            }
        }
    }
    if let Some(mode) = &a.rmi {
        if !matches!(mode.as_str(), "local" | "all") {
            return Err(CliError::usage(format!(
                "--rmi {mode}: expected local or all"
            )));
        }
        let mut seen = Vec::new();
        for (svc, img) in images {
            let built = project
                .as_ref()
                .and_then(|p| p.services.get(&svc))
                .is_some_and(|s| s.image.is_none());
            if (mode == "all" || built) && !seen.contains(&img) {
                progress("Image", &img, "Removing");
                if engine.remove_image(&img, false).is_ok() {
                    progress("Image", &img, "Removed");
                }
                seen.push(img);
            }
        }
    }
    Ok(0)
}
