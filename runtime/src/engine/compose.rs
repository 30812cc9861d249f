//! The engine's compose operations: a project of `crate::compose` (the pure model) run
//! through this engine. `up` (networks, volumes, images, then each service's containers
//! in dependency order, honouring the conditions; a second `up` converges by config
//! hash), `down` (the reverse), the project's containers found by their labels, and the
//! reaper that takes a project down once its owner process is gone (the testkit's
//! clean-up when a test binary is SIGKILLed). The CLI's `compose` command and the
//! testkit's `Compose` fixture both call these.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::Engine;
use crate::compose::{
    self, ComposeEvent, ComposeMember, Condition, DownOptions, Events, LABEL_NUMBER, LABEL_ONEOFF,
    LABEL_PROJECT, LABEL_SERVICE, MountType, Project, UpOptions, check_services, image_of, quiet,
    stop_how,
};

fn fail(message: impl Into<String>) -> crate::Error {
    crate::compose::run::fail(message).into()
}

fn step(ev: Events, kind: &str, name: &str, what: &str) {
    ev(ComposeEvent::Step { kind, name, what });
}

impl Engine {
    /// The containers of project `name` (one-offs too with `oneoff`), by service then
    /// number.
    pub fn compose_members(&self, name: &str, oneoff: bool) -> crate::Result<Vec<ComposeMember>> {
        let mut out: Vec<ComposeMember> = self
            .containers()?
            .into_iter()
            .filter(|c| c.config.labels.get(LABEL_PROJECT).map(String::as_str) == Some(name))
            .map(|c| {
                let l = &c.config.labels;
                ComposeMember {
                    service: l.get(LABEL_SERVICE).cloned().unwrap_or_default(),
                    number: l
                        .get(LABEL_NUMBER)
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(0),
                    oneoff: l.get(LABEL_ONEOFF).is_some_and(|o| o == "True"),
                    c,
                }
            })
            .filter(|m| oneoff || !m.oneoff)
            .collect();
        out.sort_by(|a, b| (&a.service, a.number).cmp(&(&b.service, b.number)));
        Ok(out)
    }

    /// [`Engine::compose_members`] of the named services (all when none is named).
    pub fn compose_members_of(
        &self,
        name: &str,
        services: &[String],
        oneoff: bool,
    ) -> crate::Result<Vec<ComposeMember>> {
        let mut m = self.compose_members(name, oneoff)?;
        if !services.is_empty() {
            m.retain(|x| services.contains(&x.service));
        }
        Ok(m)
    }

    /// The container of replica `index` (from 1) of `service` in project `name`.
    pub fn compose_replica(
        &self,
        name: &str,
        service: &str,
        index: u32,
    ) -> crate::Result<ComposeMember> {
        self.compose_members(name, false)?
            .into_iter()
            .find(|m| m.service == service && m.number == index)
            .ok_or_else(|| {
                fail(format!(
                    "service {service:?} is not running container #{index}"
                ))
            })
    }

    /// Stops container `name` of `service` as [`stop_how`] says.
    pub fn compose_stop(
        &self,
        p: Option<&Project>,
        service: &str,
        name: &str,
        timeout: Option<u64>,
    ) -> crate::Result<()> {
        let (timeout, signal) = stop_how(p, service, timeout);
        self.stop_container(name, timeout, signal.as_deref())?;
        Ok(())
    }

    /// Builds the service's image (tagged as [`image_of`] says); nothing for a service
    /// without `build`.
    pub fn compose_build(&self, p: &Project, service: &str, ev: Events) -> crate::Result<()> {
        let s = &p.services[service];
        let Some(b) = &s.build else { return Ok(()) };
        let image = image_of(p, service);
        step(ev, "Service", service, "Building");
        let ctx = std::path::PathBuf::from(&b.context);
        let mut opts = crate::build::BuildOptions::new(&ctx);
        if let Some(text) = &b.dockerfile_inline {
            opts.dockerfile = crate::build::DockerfileSource::Text {
                name: "Dockerfile".into(),
                text: text.clone(),
            };
        } else if let Some(f) = &b.dockerfile {
            opts.dockerfile = crate::build::DockerfileSource::Path(ctx.join(f));
        }
        opts.tags = vec![image.clone()];
        opts.target = b.target.clone();
        opts.build_args = b
            .args
            .iter()
            .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v)))
            .collect();
        self.build(&opts, &mut |_| {})
            .map_err(|e| fail(format!("building {service}: {}", crate::report(&e))))?;
        step(ev, "Service", service, "Built");
        Ok(())
    }

    /// Pulls `image` (a missing `busybox` is made from the host's busybox-static).
    pub fn compose_pull_image(&self, image: &str, ev: Events) -> crate::Result<()> {
        step(ev, "Image", image, "Pulling");
        if matches!(image, "busybox" | "busybox:latest") && !self.has_image(image)? {
            self.create_busybox_image(image)?;
        } else {
            self.pull(
                image,
                &crate::registry::PullOptions::default(),
                &crate::registry::Silent,
            )?;
        }
        step(ev, "Image", image, "Pulled");
        Ok(())
    }

    /// Makes sure the service's image is there: built, pulled or made, as the options'
    /// `pull` and `build` (and the service's `pull_policy`) say.
    pub fn compose_ensure_image(
        &self,
        p: &Project,
        service: &str,
        o: &UpOptions,
        ev: Events,
    ) -> crate::Result<()> {
        let s = &p.services[service];
        let image = image_of(p, service);
        let have = self.has_image(&image)?;
        if s.build.is_some() && !o.no_build && (o.build || !have) {
            return self.compose_build(p, service, ev);
        }
        let policy = s
            .pull_policy
            .as_deref()
            .or(o.pull.as_deref())
            .unwrap_or("missing");
        let pull = match policy {
            "always" => true,
            "never" => false,
            _ => !have,
        };
        if pull {
            self.compose_pull_image(&image, ev)?;
        } else if !have {
            return Err(fail(format!(
                "service {service:?}: image {image} is missing (pull policy {policy})"
            )));
        }
        Ok(())
    }

    /// Creates the networks `services` use and the project's volumes, those missing
    /// (external ones must exist).
    pub fn compose_ensure_resources(
        &self,
        p: &Project,
        services: &[String],
        ev: Events,
    ) -> crate::Result<()> {
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
            if self.network(&n.name).is_ok() {
                continue;
            }
            if n.external {
                return Err(fail(format!(
                    "network {} declared as external, but could not be found",
                    n.name
                )));
            }
            step(ev, "Network", &n.name, "Creating");
            self.create_network(&crate::network::CreateOptions {
                name: n.name.clone(),
                driver: Some("bridge".into()),
                subnet: n.subnets.first().cloned(),
                gateway: n.gateways.first().cloned(),
                internal: n.internal,
                attachable: true,
                // The network's own labels, then compose's (which win).
                labels: n
                    .labels
                    .clone()
                    .into_iter()
                    .chain(compose::network_labels(p, key))
                    .collect(),
            })?;
            step(ev, "Network", &n.name, "Created");
        }
        for (key, v) in &p.volumes {
            if self.volume(&v.name).is_ok() {
                continue;
            }
            if v.external {
                return Err(fail(format!("external volume {:?} not found", v.name)));
            }
            step(ev, "Volume", &v.name, "Creating");
            self.create_volume(&crate::volume::VolumeOptions {
                name: Some(v.name.clone()),
                driver: v.driver.clone(),
                labels: Some(
                    v.labels
                        .clone()
                        .into_iter()
                        .chain(compose::volume_labels(p, key))
                        .collect(),
                ),
                options: (!v.driver_opts.is_empty()).then(|| v.driver_opts.clone()),
            })?;
            step(ev, "Volume", &v.name, "Created");
        }
        Ok(())
    }

    /// Creates replica `n` of `service` (binds' host paths made when missing, its other
    /// networks connected); returns its name.
    pub fn compose_create_replica(
        &self,
        p: &Project,
        service: &str,
        n: u32,
        ev: Events,
    ) -> crate::Result<String> {
        let s = &p.services[service];
        for m in &s.volumes {
            if m.kind == MountType::Bind
                && m.create_host_path
                && let Some(src) = &m.source
                && !Path::new(src).exists()
            {
                std::fs::create_dir_all(src)
                    .map_err(|e| crate::Error::Io(format!("creating {src}"), e))?;
            }
        }
        let opts = compose::create_options(p, service, n, &image_of(p, service))?;
        let name = opts.name.clone().unwrap_or_default();
        step(ev, "Container", &name, "Creating");
        self.create_container(&opts)?;
        for net in s.networks_in_order().iter().skip(1) {
            let sn = s.networks.get(net).cloned().unwrap_or_default();
            let mut aliases = vec![service.to_string()];
            aliases.extend(sn.aliases);
            let ip = sn.ipv4_address.and_then(|i| i.parse().ok());
            self.connect_network(&p.networks[net].name, &name, &aliases, ip)?;
        }
        step(ev, "Container", &name, "Created");
        Ok(name)
    }

    /// Waits until container `name` is healthy, as its shim's healthcheck monitor says
    /// (`State.Health`, read again each time the shim writes in the container's dir, as
    /// inotify tells): an error once it is unhealthy, stops, or `deadline` passes. A
    /// container without a healthcheck counts as healthy once it runs.
    pub fn compose_wait_healthy(&self, name: &str, deadline: Instant) -> crate::Result<()> {
        use crate::container::HealthStatus;
        use crate::container::state_watch::StateWatch;
        let mut watch = None;
        loop {
            let c = self.container(name)?;
            // Watched before the state is judged, so no write after this read is missed.
            if watch.is_none() {
                watch = Some(StateWatch::new(&self.container_store().dir(&c.id)));
                continue;
            }
            if !c.state.running && !c.state.restarting {
                return Err(fail(format!(
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
                    return Err(fail(format!("container {name} is unhealthy: {last}")));
                }
                _ => {}
            }
            if Instant::now() >= deadline {
                return Err(fail(format!(
                    "container {name}: still not healthy after the wait timeout"
                )));
            }
            // The tick only covers a write the watch cannot see (a shim found dead).
            let tick =
                Duration::from_millis(250).min(deadline.saturating_duration_since(Instant::now()));
            match watch.as_ref().and_then(Option::as_ref) {
                Some(w) => w.wait(tick),
                None => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// Waits until container `name` exited; an error unless it exited 0.
    fn compose_wait_completed(&self, name: &str) -> crate::Result<()> {
        let code = self.wait_container(name)?;
        if code != 0 {
            return Err(fail(format!(
                "service container {name} didn't complete successfully: exit {code}"
            )));
        }
        Ok(())
    }

    /// Waits for `service`'s dependencies' conditions.
    fn compose_wait_dependencies(
        &self,
        p: &Project,
        service: &str,
        deadline: Instant,
        ev: Events,
    ) -> crate::Result<()> {
        let running = self.compose_members(&p.name, false)?;
        for (dep, d) in &p.services[service].depends_on {
            for m in running.iter().filter(|m| &m.service == dep) {
                match d.condition {
                    Condition::Started => {}
                    Condition::Healthy => {
                        step(ev, "Container", m.name(), "Waiting");
                        self.compose_wait_healthy(m.name(), deadline)?;
                        step(ev, "Container", m.name(), "Healthy");
                    }
                    Condition::CompletedSuccessfully => {
                        step(ev, "Container", m.name(), "Waiting");
                        self.compose_wait_completed(m.name())?;
                        step(ev, "Container", m.name(), "Exited");
                    }
                }
            }
        }
        Ok(())
    }

    /// Brings `service` to `want` replicas that match the model: unchanged ones are kept
    /// (started if stopped; restarted with `restart`, when a dependency with `restart:
    /// true` was recreated), changed ones recreated, extra ones removed. Returns the
    /// replicas' names, and whether any was made anew.
    fn compose_converge(
        &self,
        p: &Project,
        service: &str,
        want: u32,
        restart: bool,
        o: &UpOptions,
        ev: Events,
    ) -> crate::Result<(Vec<String>, bool)> {
        let mut made = false;
        let hash = compose::config_hash(p, service);
        let existing: Vec<ComposeMember> = self
            .compose_members(&p.name, false)?
            .into_iter()
            .filter(|m| m.service == service)
            .collect();
        let mut names = Vec::new();
        for m in existing.iter().filter(|m| m.number > want) {
            step(ev, "Container", m.name(), "Stopping");
            self.compose_stop(Some(p), service, m.name(), o.timeout)?;
            self.remove_container(m.name(), true)?;
            step(ev, "Container", m.name(), "Removed");
        }
        for n in 1..=want {
            let current = existing.iter().find(|m| m.number == n);
            let name = match current {
                Some(m) => {
                    let same = m.c.config.labels.get(compose::LABEL_CONFIG_HASH) == Some(&hash);
                    if (same && !o.force_recreate) || o.no_recreate {
                        if !m.running() {
                            step(ev, "Container", m.name(), "Starting");
                            self.start_detached(m.name())?;
                            step(ev, "Container", m.name(), "Started");
                        } else if restart {
                            step(ev, "Container", m.name(), "Restarting");
                            let (timeout, _) = stop_how(Some(p), service, o.timeout);
                            self.restart_container(m.name(), timeout)?;
                            step(ev, "Container", m.name(), "Started");
                        } else {
                            step(ev, "Container", m.name(), "Running");
                        }
                        names.push(m.name().to_string());
                        continue;
                    }
                    step(ev, "Container", m.name(), "Recreate");
                    self.compose_stop(Some(p), service, m.name(), o.timeout)?;
                    self.remove_container(m.name(), true)?;
                    self.compose_create_replica(p, service, n, ev)?
                }
                None => self.compose_create_replica(p, service, n, ev)?,
            };
            made = true;
            if !o.no_start {
                step(ev, "Container", &name, "Starting");
                self.start_detached(&name)?;
                step(ev, "Container", &name, "Started");
            }
            names.push(name);
        }
        Ok((names, made))
    }

    /// Warns about (or with `remove` removes) containers of services the files no
    /// longer have.
    fn compose_orphans(&self, p: &Project, remove: bool, ev: Events) -> crate::Result<()> {
        let orphans: Vec<ComposeMember> = self
            .compose_members(&p.name, false)?
            .into_iter()
            .filter(|m| !p.services.contains_key(&m.service))
            .collect();
        if orphans.is_empty() {
            return Ok(());
        }
        if !remove {
            let names: Vec<&str> = orphans.iter().map(|m| m.name()).collect();
            ev(ComposeEvent::Warning(&format!(
                "Found orphan containers ([{}]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.",
                names.join(" ")
            )));
            return Ok(());
        }
        for m in orphans {
            step(ev, "Container", m.name(), "Removing");
            self.remove_container(m.name(), true)?;
            step(ev, "Container", m.name(), "Removed");
        }
        Ok(())
    }

    /// `compose up`: the images, networks and volumes, then each service's containers
    /// in dependency order, waiting for the conditions of `depends_on`; a second `up`
    /// converges (unchanged containers keep running). Returns every container brought
    /// up, as (service, container name), in start order.
    pub fn compose_up(
        &self,
        p: &Project,
        o: &UpOptions,
        ev: Events,
    ) -> crate::Result<Vec<(String, String)>> {
        check_services(p, &o.services)?;
        let wanted: Vec<String> = if o.services.is_empty() {
            p.services.keys().cloned().collect()
        } else {
            o.services.clone()
        };
        let order = compose::start_order(p, &wanted, o.no_deps);
        let mut scales: BTreeMap<String, u32> = p
            .services
            .iter()
            .map(|(k, s)| (k.clone(), s.replicas()))
            .collect();
        for (s, n) in &o.scale {
            check_services(p, std::slice::from_ref(s))?;
            scales.insert(s.clone(), *n);
        }
        let deadline = Instant::now() + o.wait_timeout.unwrap_or(Duration::from_secs(300));
        for s in &order {
            self.compose_ensure_image(p, s, o, ev)?;
        }
        self.compose_ensure_resources(p, &order, ev)?;
        self.compose_orphans(p, o.remove_orphans, ev)?;
        let mut all = Vec::new();
        let mut remade: Vec<&String> = Vec::new();
        for s in &order {
            if !o.no_start {
                self.compose_wait_dependencies(p, s, deadline, ev)?;
            }
            let restart = p.services[s]
                .depends_on
                .iter()
                .any(|(dep, d)| d.restart && remade.contains(&dep));
            let (names, made) = self.compose_converge(p, s, scales[s], restart, o, ev)?;
            if made {
                remade.push(s);
            }
            for n in names {
                all.push((s.clone(), n));
            }
        }
        if o.wait {
            for (_, n) in &all {
                step(ev, "Container", n, "Waiting");
                self.compose_wait_healthy(n, deadline)?;
                step(ev, "Container", n, "Healthy");
            }
        }
        Ok(all)
    }

    /// `compose down` of project `name`: its containers (dependents first), the networks
    /// it made and, with `volumes`, its volumes, found by their labels (so a project
    /// whose files changed, or are gone when `project` is `None`, still loses them).
    pub fn compose_down(
        &self,
        name: &str,
        project: Option<&Project>,
        o: &DownOptions,
        ev: Events,
    ) -> crate::Result<()> {
        if let Some(mode) = &o.rmi
            && !matches!(mode.as_str(), "local" | "all")
        {
            return Err(fail(format!("--rmi {mode}: expected local or all")));
        }
        let mut ms = self.compose_members(name, true)?;
        if let Some(p) = project
            && !o.remove_orphans
        {
            ms.retain(|m| m.oneoff || p.services.contains_key(&m.service));
        }
        // Dependents first: the reverse of the start order.
        let order: Vec<String> = project
            .map(|p| {
                compose::start_order(p, &p.services.keys().cloned().collect::<Vec<_>>(), false)
            })
            .unwrap_or_default();
        ms.sort_by_key(|m| std::cmp::Reverse(order.iter().position(|s| *s == m.service)));
        let mut images = Vec::new();
        let mut anon = Vec::new();
        for m in &ms {
            if m.running() {
                step(ev, "Container", m.name(), "Stopping");
                self.compose_stop(project, &m.service, m.name(), o.timeout)?;
                step(ev, "Container", m.name(), "Stopped");
            }
            step(ev, "Container", m.name(), "Removing");
            let c = self.remove_container(m.name(), true)?;
            if o.volumes {
                anon.extend(c.mounts.clone());
            }
            step(ev, "Container", m.name(), "Removed");
            images.push((m.service.clone(), c.config.image.clone()));
        }
        if o.volumes && !anon.is_empty() {
            self.remove_anonymous_volumes(&anon)?;
        }
        for n in self.networks()? {
            if n.labels.get(LABEL_PROJECT).map(String::as_str) == Some(name) {
                step(ev, "Network", &n.name, "Removing");
                self.remove_network(&n.name)?;
                step(ev, "Network", &n.name, "Removed");
            }
        }
        if o.volumes {
            for v in self.volumes()? {
                if v.labels
                    .as_ref()
                    .and_then(|l| l.get(LABEL_PROJECT))
                    .map(String::as_str)
                    == Some(name)
                {
                    step(ev, "Volume", &v.name, "Removing");
                    self.remove_volume(&v.name, true)?;
                    step(ev, "Volume", &v.name, "Removed");
                }
            }
        }
        if let Some(mode) = &o.rmi {
            let mut seen = Vec::new();
            for (svc, img) in images {
                // Built for a service without `image:`; without the files, by the name
                // such an image gets (`<project>-<service>`).
                let built = match project {
                    Some(p) => p.services.get(&svc).is_some_and(|s| s.image.is_none()),
                    None => {
                        let own = format!("{name}-{svc}");
                        img == own || img == format!("{own}:latest")
                    }
                };
                if (mode == "all" || built) && !seen.contains(&img) {
                    step(ev, "Image", &img, "Removing");
                    if self.remove_image_no_prune(&img, false).is_ok() {
                        step(ev, "Image", &img, "Removed");
                    }
                    seen.push(img);
                }
            }
        }
        Ok(())
    }

    /// The reaper of project `name`: waits until process `owner` is gone (dead, or its
    /// pid taken by another process), then takes the project down with its volumes and
    /// the images built for it (`down -v --rmi local`). What the testkit's `Compose` fixture runs beside a test, so that a
    /// test binary killed by SIGKILL leaves no container, network or volume. Returns at
    /// once when `owner` is already gone.
    pub fn compose_reap(&self, name: &str, owner: i32) -> crate::Result<()> {
        crate::shim::owner::wait_gone(owner);
        let o = DownOptions {
            volumes: true,
            remove_orphans: true,
            timeout: Some(0),
            rmi: Some("local".into()),
        };
        // A container removed meanwhile (by another `down`) fails one pass; the next
        // finds what is left.
        let mut last = Ok(());
        for _ in 0..3 {
            last = self.compose_down(name, None, &o, &quiet);
            if last.is_ok() {
                break;
            }
        }
        last
    }
}
