//! `tug create`: resolves the image, applies Docker's override rules, writes the
//! runtime spec, the metadata and the generated /etc files, and prepares the rootfs. A
//! failure midway removes everything made so far. Over 600 lines on purpose: the create
//! is one transaction, each step beside the undo of the ones before it.

use std::collections::BTreeMap;
use std::path::Path;

use super::namespaces::{IpcMode, NamespacePlan, PidMode, SHM_DIR};
use super::options::{CreateOptions, entrypoint_and_cmd, merge_env, process_env};
use super::record::{Config, Container, GraphDriver, HostConfig, LogConfig, State, now};
use super::spec::{SpecInput, runtime_spec};
use super::store::{ContainerStore, SPEC};
use super::{Error, Healthcheck, etc, names};
use crate::container::Ctx;
use crate::fsutil;
use crate::settings::StorageDriver;
use crate::snapshot::{Rootfs, Snapshots};

/// Removes a half-made container unless disarmed: setup failing midway leaves nothing.
struct CreateGuard<'a> {
    store: &'a ContainerStore,
    /// The new dir's lock, held until the record is written (or the dir removed): it
    /// tells a create in progress from one that died (`ContainerStore::reserve_name`).
    _lock: super::store::ContainerLock,
    volume_store: crate::volume::VolumeStore,
    id: super::ContainerId,
    name: Option<String>,
    /// The volumes this create made, removed again on failure.
    volumes: Vec<String>,
    /// The networks this create took an address on, given back on failure.
    network_store: crate::network::store::NetworkStore,
    networks: Vec<String>,
    armed: bool,
}

impl Drop for CreateGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            let _ = std::fs::remove_dir_all(self.store.dir(&self.id));
            if let Some(n) = &self.name {
                self.store.release_name(n, &self.id);
            }
            if !self.volumes.is_empty() {
                let _ = self.volume_store.remove_unused(&self.volumes, false);
            }
            for n in &self.networks {
                let _ = self.network_store.detach_opt(n, &self.id, false);
            }
        }
    }
}

/// `--log-driver` and its `--log-opt` pairs, checked: `json-file` (the default) and
/// `local` keep the log (`max-size`, `max-file`); `none` keeps nothing and takes no
/// option.
fn log_config(driver: Option<&str>, opts: &[String]) -> Result<LogConfig, Error> {
    let mut lc = LogConfig::default();
    match driver.unwrap_or("json-file") {
        "json-file" => {}
        d @ ("local" | "none") => lc.kind = d.into(),
        d => {
            return Err(Error::Invalid(format!(
                "failed to create task for container: logging driver \"{d}\" is not supported by tug (json-file, local, none)"
            )));
        }
    }
    if lc.kind == "none" && !opts.is_empty() {
        return Err(Error::Invalid(format!(
            "unknown log opt '{}' for none log driver",
            opts[0].split_once('=').map(|(k, _)| k).unwrap_or(&opts[0])
        )));
    }
    for o in opts {
        let (k, v) = o
            .split_once('=')
            .ok_or_else(|| Error::Invalid(format!("--log-opt {o:?}: use KEY=VALUE")))?;
        lc.config.insert(k.into(), v.into());
    }
    crate::shim::log::Rotation::from_opts(lc.config.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(|e| Error::Invalid(e.to_string()))?;
    Ok(lc)
}

/// `uid[:gid]` when both are numeric (the spec's user); names resolve at start.
fn numeric_user(user: &str) -> (u32, u32) {
    let (u, g) = user.split_once(':').unwrap_or((user, "0"));
    match (u.parse(), g.parse()) {
        (Ok(u), Ok(g)) => (u, g),
        _ => (0, 0),
    }
}

/// The number of CPUs online (Docker's limit for `--cpus` and `--cpuset-cpus`).
fn online_cpus() -> usize {
    // SAFETY: sysconf only reads a system value.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    if n > 0 { n as usize } else { 1 }
}

/// Writes a file of the new container's dir, which nothing reads before its record is
/// written (last, atomically): no temporary file and rename, which cost a directory
/// update and an inode each (a tenth of a millisecond or more here) on every create.
fn write_file(p: &Path, data: &str, durable: bool) -> Result<(), Error> {
    fsutil::write_new(p, data.as_bytes(), durable).map_err(|e| Error::io(p, e))
}

fn host_file(p: &str) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

impl Ctx<'_> {
    /// The namespace flags checked with Docker's rules, the containers they join
    /// resolved to ids.
    fn namespace_plan(
        &self,
        opts: &CreateOptions,
        own_netns: bool,
    ) -> crate::container::Result<NamespacePlan> {
        use super::namespaces as ns;
        let mut pid = PidMode::parse(&opts.pid_mode)?;
        let mut ipc = IpcMode::parse(&opts.ipc_mode)?;
        let uts_host = ns::parse_uts(&opts.uts_mode)?;
        let cgroupns_private = ns::parse_cgroupns(&opts.cgroupns_mode, true)?;
        if uts_host && opts.hostname.is_some() {
            return Err(Error::Invalid(
                "conflicting options: hostname and the UTS mode".into(),
            ));
        }
        if let PidMode::Container(t) = &pid {
            pid = PidMode::Container(self.container(t)?.id.to_string());
        }
        let mut shm_dir = None;
        if let IpcMode::Container(t) = &ipc {
            let donor = self.container(t)?;
            if !matches!(donor.host_config.ipc_mode.as_str(), "shareable" | "host") {
                return Err(Error::Invalid(format!(
                    "container {}: non-shareable IPC (hint: use IpcMode:shareable for the donor container)",
                    donor.id
                )));
            }
            shm_dir = Some(if donor.host_config.ipc_mode == "host" {
                "/dev/shm".into()
            } else {
                self.container_store().dir(&donor.id).join(SHM_DIR)
            });
            ipc = IpcMode::Container(donor.id.to_string());
        }
        let mut sysctls = BTreeMap::new();
        for s in &opts.sysctls {
            let (k, v) = ns::parse_sysctl(s)?;
            sysctls.insert(k, v);
        }
        ns::check_sysctls(&sysctls, own_netns, &ipc)?;
        let oom_score_adj = match opts.oom_score_adj {
            Some(a) if !(-1000..=1000).contains(&a) => {
                return Err(Error::Invalid(format!(
                    "Invalid value {a}, range for oom score adj is [-1000, 1000]"
                )));
            }
            a => a.map(|a| a as i32),
        };
        if let Some(d) = &opts.domainname
            && (d.len() > 64 || d.contains(['/', '\0']))
        {
            return Err(Error::Invalid(format!("invalid domainname: {d:?}")));
        }
        for g in &opts.group_add {
            if g.is_empty() || g.contains([',', ':']) {
                return Err(Error::Invalid(format!("--group-add: invalid group {g:?}")));
            }
        }
        Ok(NamespacePlan {
            pid,
            ipc,
            uts_host,
            cgroupns_private,
            shm_dir,
            sysctls,
            domainname: opts.domainname.clone(),
            group_add: opts.group_add.clone(),
            oom_score_adj,
        })
    }

    /// The work of `Engine::create_container`.
    pub(crate) fn create_container(
        &self,
        opts: &CreateOptions,
    ) -> crate::container::Result<Container> {
        self.create_with_spec(opts).map(|(c, _)| c)
    }

    pub(super) fn create_with_spec(
        &self,
        opts: &CreateOptions,
    ) -> crate::container::Result<(Container, oci_spec::runtime::Spec)> {
        let Some(cidfile) = &opts.cidfile else {
            return self.create_made(opts);
        };
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(cidfile)
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::Invalid(format!(
                    "Container ID file found, make sure the other container isn't running or delete {}",
                    cidfile.display()
                )));
            }
            Err(e) => {
                return Err(Error::Invalid(format!(
                    "failed to create the container ID file: {e}"
                )));
            }
        }
        let made = self.create_made(opts).and_then(|(c, spec)| {
            std::fs::write(cidfile, c.id.as_str())
                .map_err(|e| Error::io(cidfile, e))
                .map(|()| (c, spec))
        });
        if made.is_err() {
            let _ = std::fs::remove_file(cidfile);
        }
        made
    }

    /// The create itself (under `--cidfile`'s handling).
    fn create_made(
        &self,
        opts: &CreateOptions,
    ) -> crate::container::Result<(Container, oci_spec::runtime::Spec)> {
        let security = super::security::SecurityOptions::parse(&opts.security_opt)?;
        let capabilities =
            super::security::capabilities(opts.privileged, &opts.cap_add, &opts.cap_drop)?;
        let seccomp = security.seccomp(opts.privileged, &capabilities)?;
        let device_flags = opts
            .devices
            .iter()
            .map(|d| super::devices::parse_device_flag(d))
            .collect::<Result<Vec<_>, _>>()?;
        let (mut device_nodes, device_rules) = super::devices::requested(&device_flags)?;
        let cgroup_rule_flags = opts
            .device_cgroup_rules
            .iter()
            .map(|r| {
                crate::sandbox::cgroups::devices::parse_rule(r)
                    .ok_or_else(|| Error::Invalid(format!("invalid device cgroup format '{r}'")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if opts.privileged {
            device_nodes.extend(super::devices::host_devices());
        }
        let net_mode = super::net::NetMode::parse(&opts.network);
        let host_network = net_mode == super::net::NetMode::Host;
        let ns = self.namespace_plan(opts, net_mode.own_netns())?;
        if let Some(p) = &opts.cgroup_parent {
            crate::sandbox::cgroups::check_parent(p)?;
        }
        let mut resources = opts.resources.clone().validate(online_cpus())?;
        crate::sandbox::cgroups::discard_unsupported(&self.config().cgroup_root, &mut resources);
        // Docker takes `/name` for `name` (its records keep the slash).
        let wanted_name = opts
            .name
            .as_deref()
            .map(|n| n.strip_prefix('/').unwrap_or(n));
        if let Some(n) = wanted_name {
            if !names::valid_name(n) {
                return Err(Error::Invalid(format!(
                    "Invalid container name ({n}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
                )));
            }
            if n.len() > names::MAX_NAME_LEN {
                return Err(Error::Invalid(format!(
                    "Invalid container name ({}...): a name has at most {} characters",
                    &n[..32],
                    names::MAX_NAME_LEN
                )));
            }
        }
        for e in &opts.env {
            if e.starts_with('=') || e.is_empty() {
                return Err(Error::Invalid(format!("invalid environment variable: {e}")));
            }
        }
        if opts.shm_size.is_some_and(|s| s < 0) {
            return Err(Error::Invalid("SHM size can not be less than 0".into()));
        }
        if let Some(sig) = &opts.stop_signal {
            super::lifecycle::parse_signal(sig)
                .map_err(|_| Error::Invalid(format!("Invalid signal: {sig}")))?;
        }
        for d in &opts.dns {
            if d.parse::<std::net::IpAddr>().is_err() {
                return Err(Error::Invalid(format!(
                    "invalid argument \"{d}\" for \"--dns\" flag: {d} is not an ip address"
                )));
            }
        }
        let image_store = self.image_store()?;
        let image = image_store.resolve(&opts.image)?;
        let image_config = image.config.config().clone().unwrap_or_default();
        // What OCI's config type drops: the image's HEALTHCHECK and SHELL.
        let image_blob = image_store.read_blob(&image.id)?;
        let healthcheck = match (
            &opts.healthcheck,
            Healthcheck::from_image_config(&image_blob),
        ) {
            (Some(flags), Some(image)) => Some(flags.merged_over(&image)),
            (flags, image) => flags.clone().or(image),
        };
        if let Some(h) = &healthcheck {
            h.validate().map_err(Error::Invalid)?;
        }

        let store = self.container_store();
        let id = super::ContainerId::random();
        let dir = store.create_dir(&id)?;
        let lock = store.lock(&id).inspect_err(|_| {
            let _ = std::fs::remove_dir(&dir);
        })?;
        let mut guard = CreateGuard {
            store: &store,
            _lock: lock,
            volume_store: self.volume_store(),
            volumes: Vec::new(),
            network_store: self.network_store(),
            networks: Vec::new(),
            id: id.clone(),
            name: None,
            armed: true,
        };
        let name = match wanted_name {
            Some(n) => {
                store.reserve_name(n, &id)?;
                n.to_string()
            }
            None => {
                let mut attempt = 0;
                loop {
                    let n = names::random_name(attempt);
                    match store.reserve_name(&n, &id) {
                        Ok(()) => break n,
                        Err(Error::Conflict(_)) if attempt < 20 => attempt += 1,
                        Err(e) => return Err(e),
                    }
                }
            }
        };
        guard.name = Some(name.clone());
        let mut volumes_from = Vec::new();
        for vf in &opts.volumes_from {
            let other = store.load(&store.resolve(&vf.container)?)?;
            volumes_from.push((vf.clone(), other.mounts));
        }
        let mount_plan = crate::volume::plan::plan_mounts(
            &guard.volume_store,
            &id,
            &opts.mounts,
            &volumes_from,
            image_config.volumes().as_deref().unwrap_or_default(),
            &mut guard.volumes,
        )?;

        let durable = !opts.auto_remove;
        let image_exposed: Vec<String> = image_config
            .exposed_ports()
            .as_deref()
            .unwrap_or_default()
            .iter()
            .filter_map(|k| crate::network::ports::parse_expose(k).ok())
            .flatten()
            .collect();
        let net_plan = self.plan_network(&id, &name, opts, &image_exposed, durable)?;
        guard.networks = net_plan.attached.clone();

        let (entrypoint, cmd) = entrypoint_and_cmd(
            image_config.entrypoint().as_deref().unwrap_or_default(),
            image_config.cmd().as_deref().unwrap_or_default(),
            opts.entrypoint.as_deref(),
            &opts.command,
        );
        let argv: Vec<String> = entrypoint.iter().chain(cmd.iter()).cloned().collect();
        let Some((path, args)) = argv.split_first() else {
            return Err(Error::Invalid("no command specified".into()));
        };
        let hostname = match (&opts.hostname, host_network || ns.uts_host) {
            (Some(h), _) => h.clone(),
            (None, true) => nix::unistd::gethostname()
                .ok()
                .and_then(|h| h.into_string().ok())
                .unwrap_or_else(|| id.short().to_string()),
            (None, false) => id.short().to_string(),
        };
        let config_env = merge_env(image_config.env().as_deref().unwrap_or_default(), &opts.env);
        let env = process_env(&hostname, opts.tty, &net_plan.link_env, &config_env);
        let workdir = opts
            .workdir
            .clone()
            .or_else(|| image_config.working_dir().clone())
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| "/".into());
        if !workdir.starts_with('/') {
            return Err(Error::Invalid(format!(
                "the working directory '{workdir}' is invalid, it needs to be an absolute path"
            )));
        }
        let user = opts
            .user
            .clone()
            .or_else(|| image_config.user().clone())
            .unwrap_or_default();

        // The generated /etc files.
        let hostname_path = dir.join("hostname");
        let hosts_path = dir.join("hosts");
        let resolv_path = dir.join("resolv.conf");
        write_file(&hostname_path, &format!("{hostname}\n"), false)?;
        let joined = net_plan.mode.strip_prefix("container:");
        let gateway = self.host_gateway_for(
            &opts.extra_hosts,
            net_plan.settings.networks.values().next(),
        );
        let extra_hosts = etc::extra_host_lines(&opts.extra_hosts, gateway.as_deref())
            .map_err(|e| Error::Invalid(e.to_string()))?;
        let mut hosts = if host_network {
            host_file("/etc/hosts")
        } else if let Some(t) = joined {
            host_file(&self.container(t)?.hosts_path)
        } else {
            let mut h = etc::hosts_default();
            if let Some(ep) = net_plan.settings.networks.values().next() {
                h.push_str(&format!("{}\t{hostname}\n", ep.ip_address));
            }
            h
        };
        hosts.push_str(&extra_hosts);
        write_file(&hosts_path, &hosts, false)?;
        let user_network = net_plan.settings.networks.keys().any(|n| n != "bridge");
        let resolv = self.resolv_conf_text(&etc::DnsPlan {
            joined,
            user_network,
            host_network,
            dns: &opts.dns,
            search: &opts.dns_search,
            options: &opts.dns_options,
        })?;
        // Not fsync'd, as Docker does not: a crash can leave these three files missing or
        // empty, and the start writes them again then (`restore_etc_files`).
        write_file(&resolv_path, &resolv, false)?;

        // The rootfs: the image's layers, then the init layer (the mount points tug
        // itself needs, shared by all containers), then the writable layer.
        let mut lowers = image_store.unpack(&Snapshots::open(self.root())?, &image.layers)?;
        lowers.push(super::commit::shared_init_layer(self.root())?);
        let rootfs_dir = dir.join("rootfs");
        let mkdir = |p: &Path| std::fs::create_dir(p).map_err(|e| Error::io(p, e));
        mkdir(&rootfs_dir)?;
        let mut data = BTreeMap::new();
        let driver = match self.config().storage_driver {
            StorageDriver::Overlay => {
                let (upper, work) = (dir.join("upper"), dir.join("work"));
                mkdir(&upper)?;
                mkdir(&work)?;
                let lower: Vec<String> = lowers
                    .iter()
                    .rev()
                    .map(|p| p.display().to_string())
                    .collect();
                data.insert("LowerDir".into(), lower.join(":"));
                data.insert("UpperDir".into(), upper.display().to_string());
                data.insert("WorkDir".into(), work.display().to_string());
                data.insert("MergedDir".into(), rootfs_dir.display().to_string());
                "overlay2"
            }
            StorageDriver::Vfs => {
                Rootfs {
                    lowers,
                    upper: dir.join("upper"),
                    work: dir.join("work"),
                    volatile: false,
                }
                .copy_into(&rootfs_dir)?;
                data.insert("Dir".into(), rootfs_dir.display().to_string());
                "vfs"
            }
        };

        let etc_files = [
            ("/etc/resolv.conf", resolv_path.clone()),
            ("/etc/hostname", hostname_path.clone()),
            ("/etc/hosts", hosts_path.clone()),
        ];
        let mut spec = runtime_spec(&SpecInput {
            rootfs: &rootfs_dir,
            args: &argv,
            env: &env,
            cwd: &workdir,
            uid_gid: numeric_user(&user),
            terminal: opts.tty,
            hostname: &hostname,
            read_only: opts.read_only,
            host_network: !net_mode.own_netns(),
            no_new_privileges: security.no_new_privileges,
            capabilities: &capabilities,
            seccomp,
            privileged: opts.privileged,
            unconfined_paths: security.unconfined_paths,
            etc_files: &etc_files,
            shm_size: opts.shm_size.unwrap_or(0).max(0) as u64,
        })?;
        mount_plan.apply_to_spec(&mut spec);
        if let (true, Some((rows, cols)), Some(p)) =
            (opts.tty, opts.console_size, spec.process_mut().as_mut())
        {
            let size = oci_spec::runtime::BoxBuilder::default()
                .height(u64::from(rows))
                .width(u64::from(cols))
                .build()
                .map_err(|e| Error::Invalid(format!("console size: {e}")))?;
            p.set_console_size(Some(size));
        }
        let mut ns = ns;
        if ns.ipc == IpcMode::Shareable {
            ns.shm_dir = Some(dir.join(SHM_DIR));
            std::fs::create_dir(dir.join(SHM_DIR)).map_err(|e| Error::io(&dir, e))?;
        }
        ns.apply_to_spec(&mut spec);
        let rlimits = super::ulimit::with_docker_defaults(&opts.ulimits)
            .iter()
            .map(super::ulimit::Ulimit::rlimit)
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(p) = spec.process_mut() {
            p.set_rlimits(Some(rlimits));
        }
        if opts.init {
            let mut a = spec.annotations().clone().unwrap_or_default();
            a.insert(crate::sandbox::pid1::ANNOTATION.into(), "true".into());
            spec.set_annotations(Some(a));
        }
        if let Some(linux) = spec.linux_mut() {
            let mut r = resources.to_oci().unwrap_or_default();
            let mut cgroup_rules = if opts.privileged {
                crate::sandbox::cgroups::devices::allow_all()
            } else {
                crate::sandbox::cgroups::devices::docker_default()
            };
            cgroup_rules.extend(device_rules);
            cgroup_rules.extend(cgroup_rule_flags);
            r.set_devices(Some(cgroup_rules));
            linux.set_resources(Some(r));
            if !device_nodes.is_empty() {
                linux.set_devices(Some(device_nodes));
            }
            let cgroup = crate::sandbox::cgroups::container_cgroup_path(
                self.root(),
                &id,
                opts.cgroup_parent.as_deref().unwrap_or(""),
            );
            linux.set_cgroups_path(Some(std::path::Path::new("/").join(cgroup)));
        }
        let spec_path = dir.join(SPEC);
        let spec_json = serde_json::to_vec(&spec).map_err(|e| Error::Invalid(e.to_string()))?;
        fsutil::write_new(&spec_path, &spec_json, durable).map_err(|e| Error::io(&spec_path, e))?;

        let labels = opts
            .labels
            .iter()
            .map(|l| match l.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (l.clone(), String::new()),
            })
            .collect();
        let container = Container {
            id: id.clone(),
            created: now(),
            path: path.clone(),
            args: args.to_vec(),
            state: State::created(),
            image: image.id.to_string(),
            resolv_conf_path: resolv_path.display().to_string(),
            hostname_path: hostname_path.display().to_string(),
            hosts_path: hosts_path.display().to_string(),
            log_path: String::new(),
            name: format!("/{name}"),
            restart_count: 0,
            driver: driver.into(),
            platform: "linux".into(),
            graph_driver: GraphDriver {
                name: driver.into(),
                data,
            },
            mounts: mount_plan
                .points
                .iter()
                .filter_map(|p| serde_json::to_value(p).ok())
                .collect(),
            config: Config {
                hostname: hostname.clone(),
                domainname: opts.domainname.clone().unwrap_or_default(),
                user,
                // As the docker CLI sends it: `run -d -i` attaches no stdin.
                attach_stdin: opts.interactive && opts.stdin_once.unwrap_or(true),
                attach_stdout: true,
                attach_stderr: true,
                tty: opts.tty,
                open_stdin: opts.interactive,
                stdin_once: opts.interactive && opts.stdin_once.unwrap_or(true),
                env: config_env,
                cmd: (!cmd.is_empty()).then_some(cmd),
                healthcheck,
                image: opts.image.clone(),
                volumes: (!mount_plan.config_volumes.is_empty())
                    .then(|| serde_json::json!(mount_plan.config_volumes)),
                working_dir: opts
                    .workdir
                    .clone()
                    .or_else(|| image_config.working_dir().clone())
                    .unwrap_or_default(),
                entrypoint: (!entrypoint.is_empty()).then_some(entrypoint),
                on_build: None,
                labels,
                exposed_ports: (!net_plan.exposed.is_empty()).then(|| {
                    net_plan
                        .exposed
                        .iter()
                        .map(|k| (k.clone(), serde_json::json!({})))
                        .collect()
                }),
                stop_signal: opts
                    .stop_signal
                    .clone()
                    .or_else(|| image_config.stop_signal().clone()),
                stop_timeout: opts.stop_timeout,
                shell: super::health::shell_from_image_config(&image_blob),
            },
            host_config: HostConfig {
                network_mode: net_plan.mode.clone(),
                readonly_rootfs: opts.read_only,
                privileged: opts.privileged,
                security_opt: (!opts.security_opt.is_empty()).then(|| opts.security_opt.clone()),
                cap_add: (!opts.cap_add.is_empty()).then(|| opts.cap_add.clone()),
                cap_drop: (!opts.cap_drop.is_empty()).then(|| opts.cap_drop.clone()),
                ulimits: (!opts.ulimits.is_empty()).then(|| opts.ulimits.clone()),
                devices: Some(device_flags),
                auto_remove: opts.auto_remove,
                binds: (!mount_plan.binds.is_empty()).then(|| mount_plan.binds.clone()),
                mounts: (!mount_plan.host_mounts.is_empty())
                    .then(|| mount_plan.host_mounts.clone()),
                tmpfs: (!mount_plan.tmpfs.is_empty()).then(|| mount_plan.tmpfs.clone()),
                volumes_from: (!mount_plan.volumes_from.is_empty())
                    .then(|| mount_plan.volumes_from.clone()),
                links: (!net_plan.links.is_empty()).then(|| net_plan.links.clone()),
                port_bindings: net_plan.port_bindings.clone(),
                publish_all_ports: opts.publish_all,
                port_group: opts.port_group.clone(),
                dns: opts.dns.clone(),
                dns_search: opts.dns_search.clone(),
                dns_options: opts.dns_options.clone(),
                extra_hosts: (!opts.extra_hosts.is_empty()).then(|| opts.extra_hosts.clone()),
                init: opts.init.then_some(true),
                shm_size: match opts.shm_size {
                    Some(n) if n > 0 => n,
                    _ => super::spec::DEFAULT_SHM_SIZE as i64,
                },
                restart_policy: opts.restart_policy.clone(),
                log_config: log_config(opts.log_driver.as_deref(), &opts.log_opts)?,
                pid_mode: ns.pid.record(),
                ipc_mode: ns.ipc.record(),
                uts_mode: if ns.uts_host {
                    "host".into()
                } else {
                    String::new()
                },
                cgroupns_mode: if ns.cgroupns_private {
                    "private"
                } else {
                    "host"
                }
                .into(),
                sysctls: (!ns.sysctls.is_empty()).then(|| ns.sysctls.clone()),
                group_add: (!opts.group_add.is_empty()).then(|| opts.group_add.clone()),
                oom_score_adj: ns.oom_score_adj.unwrap_or(0),
                cgroup_parent: opts.cgroup_parent.clone().unwrap_or_default(),
                device_cgroup_rules: (!opts.device_cgroup_rules.is_empty())
                    .then(|| opts.device_cgroup_rules.clone()),
                resources,
            },
            network_settings: net_plan.settings,
        };
        if let Some(pid) = opts.owner_pid {
            crate::shim::owner::record(&dir, pid).map_err(Error::from)?;
        }
        store.save(&container, durable)?;
        guard.armed = false;
        super::journal::emit(self.root(), &container, "create", &[]);
        Ok((container, spec))
    }
}
