//! `tug run`, `create`, `start`, `rm`, `inspect` of containers, and the `tug container ...`
//! group (its other commands live in `lifecycle.rs`, `ps.rs` and `logs.rs`). Over 600
//! lines on purpose: `create_options` maps Docker's hundred-odd run flags onto
//! `CreateOptions` in one place, so that a flag's words and its meaning stay side by side.

use clap::{Args, Subcommand};

use super::lifecycle::{
    AttachArgs, KillArgs, PruneArgs, RenameArgs, RestartArgs, StopArgs, WaitArgs,
};
use super::logs::LogsArgs;
use super::ps::PsArgs;
use super::{CliError, CliResult, InspectArgs};
use tug::Engine;
use tug::container::{self, AttachOptions, CreateOptions};

#[derive(Subcommand, Debug)]
pub enum ContainerCommand {
    /// Create and run a new container from an image
    Run(RunArgs),
    /// Create a new container
    Create(CreateArgs),
    /// Start one or more stopped containers
    Start(StartArgs),
    /// Remove one or more containers
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Display detailed information on one or more containers
    Inspect(InspectArgs),
    /// Execute a command in a running container
    Exec(super::exec::ExecArgs),
    /// Display the running processes of a container
    Top(super::exec::TopArgs),
    /// List containers
    #[command(visible_aliases = ["ps", "list"])]
    Ls(PsArgs),
    /// Fetch the logs of a container
    Logs(LogsArgs),
    /// Stop one or more running containers
    Stop(StopArgs),
    /// Kill one or more running containers
    Kill(KillArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(WaitArgs),
    /// Restart one or more containers
    Restart(RestartArgs),
    /// Rename a container
    Rename(RenameArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach(AttachArgs),
    /// Remove all stopped containers
    Prune(PruneArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(super::cp::CpArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(super::stats::StatsArgs),
    /// Pause all processes within one or more containers
    Pause(super::stats::PauseArgs),
    /// List port mappings or a specific mapping for the container
    Port(super::port::PortArgs),
    /// Unpause all processes within one or more containers
    Unpause(super::stats::PauseArgs),
    /// Update configuration of one or more containers
    Update(super::update::UpdateArgs),
}

pub fn dispatch(engine: &Engine, c: ContainerCommand) -> CliResult {
    match c {
        ContainerCommand::Run(a) => run(engine, a),
        ContainerCommand::Create(a) => create(engine, a),
        ContainerCommand::Start(a) => start(engine, a),
        ContainerCommand::Rm(a) => rm(engine, a),
        ContainerCommand::Inspect(a) => inspect(
            engine,
            InspectArgs {
                kind: Some("container".into()),
                ..a
            },
        ),
        ContainerCommand::Exec(a) => super::exec::exec(engine, a),
        ContainerCommand::Top(a) => super::exec::top(engine, a),
        ContainerCommand::Ls(a) => super::ps::ps(engine, a),
        ContainerCommand::Logs(a) => super::logs::logs(engine, a),
        ContainerCommand::Stop(a) => super::lifecycle::stop(engine, a),
        ContainerCommand::Kill(a) => super::lifecycle::kill(engine, a),
        ContainerCommand::Wait(a) => super::lifecycle::wait(engine, a),
        ContainerCommand::Restart(a) => super::lifecycle::restart(engine, a),
        ContainerCommand::Rename(a) => super::lifecycle::rename(engine, a),
        ContainerCommand::Attach(a) => super::lifecycle::attach(engine, a),
        ContainerCommand::Prune(a) => super::lifecycle::prune(engine, a),
        ContainerCommand::Cp(a) => super::cp::cp(engine, a),
        ContainerCommand::Stats(a) => super::stats::stats(engine, a),
        ContainerCommand::Pause(a) => super::stats::pause(engine, a),
        ContainerCommand::Port(a) => super::port::port(engine, a),
        ContainerCommand::Unpause(a) => super::stats::unpause(engine, a),
        ContainerCommand::Update(a) => super::update::update(engine, a),
    }
}

/// The flags `run` and `create` share: everything that describes the container.
#[derive(Args, Debug, Clone)]
#[command(disable_help_flag = true)]
pub struct ContainerOptions {
    /// Print help
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Pull image before running ("always", "missing", "never")
    #[arg(long, default_value = "missing")]
    pub pull: String,
    /// Set platform if server is multi-platform capable (os/arch[/variant])
    #[arg(long)]
    pub platform: Option<String>,
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Container host name
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// Set environment variables (KEY=VALUE, or KEY to take it from tug's environment)
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long)]
    pub env_file: Vec<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long)]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Mount the container's root filesystem as read only
    #[arg(long)]
    pub read_only: bool,
    /// Give extended privileges to this container
    #[arg(long)]
    pub privileged: bool,
    /// Add a host device to the container (HOST[:CONTAINER][:PERMS])
    #[arg(long)]
    pub device: Vec<String>,
    /// User namespace to use (only `host`: tug makes no user namespace)
    #[arg(long)]
    pub userns: Option<String>,
    /// Add Linux capabilities
    #[arg(long)]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long)]
    pub cap_drop: Vec<String>,
    /// Connect a container to a network (bridge, none, host, container:<name|id>, or a network's name)
    #[arg(long, alias = "net", default_value = "bridge")]
    pub network: String,
    /// Add network-scoped alias for the container
    #[arg(long, alias = "net-alias")]
    pub network_alias: Vec<String>,
    /// IPv4 address (e.g., 172.30.100.104)
    #[arg(long)]
    pub ip: Option<std::net::Ipv4Addr>,
    /// Container MAC address (e.g., 92:d0:c6:0a:29:33)
    #[arg(long)]
    pub mac_address: Option<String>,
    /// Publish a container's port(s) to the host ([ip:][hostPort:]containerPort[/proto])
    #[arg(short = 'p', long)]
    pub publish: Vec<String>,
    /// Publish all exposed ports to random ports
    #[arg(short = 'P', long)]
    pub publish_all: bool,
    /// Expose a port or a range of ports
    #[arg(long)]
    pub expose: Vec<String>,
    /// Set custom DNS servers
    #[arg(long)]
    pub dns: Vec<String>,
    /// Set custom DNS search domains
    #[arg(long)]
    pub dns_search: Vec<String>,
    /// Set DNS options
    #[arg(long, alias = "dns-opt")]
    pub dns_option: Vec<String>,
    /// Add a custom host-to-IP mapping (host:ip)
    #[arg(long)]
    pub add_host: Vec<String>,
    /// Add link to another container (name[:alias])
    #[arg(long)]
    pub link: Vec<String>,
    /// Security Options (no-new-privileges, seccomp=unconfined|<profile.json>, systempaths=unconfined, apparmor=..., label=...)
    #[arg(long)]
    pub security_opt: Vec<String>,
    /// Set meta data on a container (KEY=VALUE)
    #[arg(short = 'l', long)]
    pub label: Vec<String>,
    /// Ulimit options (name=soft[:hard], e.g. nofile=1024:2048)
    #[arg(long)]
    pub ulimit: Vec<String>,
    /// Signal to stop the container
    #[arg(long)]
    pub stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container
    #[arg(long, allow_hyphen_values = true)]
    pub stop_timeout: Option<i64>,
    /// Size of /dev/shm
    #[arg(long, value_name = "bytes", value_parser = container::parse_bytes)]
    pub shm_size: Option<i64>,
    /// Run an init inside the container that forwards signals and reaps processes
    #[arg(long)]
    pub init: bool,
    /// Restart policy to apply when a container exits (no, on-failure[:max-retries], always, unless-stopped)
    #[arg(long, default_value = "no")]
    pub restart: String,
    /// Logging driver for the container (json-file, local, none)
    #[arg(long, default_value = "json-file")]
    pub log_driver: String,
    /// Runtime to use for this container (runc, the name Docker gives its default: tug's own)
    #[arg(long, default_value = "")]
    pub runtime: String,
    /// Log driver options (max-size=10m, max-file=3)
    #[arg(long)]
    pub log_opt: Vec<String>,
    /// PID namespace to use (host, container:<name|id>)
    #[arg(long, default_value = "")]
    pub pid: String,
    /// IPC mode to use (private, shareable, none, host, container:<name|id>)
    #[arg(long, default_value = "")]
    pub ipc: String,
    /// UTS namespace to use (host)
    #[arg(long, default_value = "")]
    pub uts: String,
    /// Cgroup namespace to use (host|private)
    #[arg(long, default_value = "")]
    pub cgroupns: String,
    /// Sysctl options (namespaced ones: net.*, kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*)
    #[arg(long)]
    pub sysctl: Vec<String>,
    /// Container NIS domain name
    #[arg(long)]
    pub domainname: Option<String>,
    /// Add additional groups to join
    #[arg(long)]
    pub group_add: Vec<String>,
    /// Tune host's OOM preferences (-1000 to 1000)
    #[arg(long, allow_hyphen_values = true)]
    pub oom_score_adj: Option<i64>,
    /// Optional parent cgroup for the container
    #[arg(long)]
    pub cgroup_parent: Option<String>,
    /// Add a rule to the cgroup allowed devices list (TYPE MAJOR:MINOR ACCESS)
    #[arg(long)]
    pub device_cgroup_rule: Vec<String>,
    /// Write the container ID to the file
    #[arg(long)]
    pub cidfile: Option<String>,
    /// Read in a line delimited file of labels
    #[arg(long)]
    pub label_file: Vec<String>,
    /// An owning process: when it exits, the container is stopped and removed (testkit)
    #[arg(long, hide = true)]
    pub owner_pid: Option<i32>,
    /// Bind mount a volume (SRC:DST[:MODE], or DST for an anonymous volume)
    #[arg(short = 'v', long = "volume")]
    pub volume: Vec<String>,
    /// Attach a filesystem mount to the container (type=bind|volume|tmpfs,source=,target=,...)
    #[arg(long)]
    pub mount: Vec<String>,
    /// Mount a tmpfs directory (DST[:OPTIONS])
    #[arg(long)]
    pub tmpfs: Vec<String>,
    /// Mount volumes from the specified container(s) (CONTAINER[:ro|rw])
    #[arg(long)]
    pub volumes_from: Vec<String>,
    #[command(flatten)]
    pub resources: super::resources::ResourceFlags,
    #[command(flatten)]
    pub health: super::health::HealthFlags,
    /// The image to run, then the command and its arguments (overriding the image's
    /// CMD). One list, so that flags stop at the image as Docker's do: in `run busybox
    /// -c 'echo hi'`, `-c` is the command's.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "IMAGE [COMMAND] [ARG...]"
    )]
    pub image_and_command: Vec<String>,
}

#[derive(Args, Debug)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Automatically remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Run container in background and print container ID
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Proxy received signals to the process (default true)
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub sig_proxy: bool,
    /// Override the key sequence for detaching a container
    #[arg(long)]
    pub detach_keys: Option<String>,
    /// Attach to STDIN, STDOUT or STDERR
    #[arg(short = 'a', long)]
    pub attach: Vec<String>,
    #[command(flatten)]
    pub options: ContainerOptions,
}

/// `-a/--attach`: the streams (stdin, stdout, stderr; any case) a foreground `run` is
/// attached to; all of them when none is named.
fn attach_streams(names: &[String]) -> Result<[bool; 3], CliError> {
    if names.is_empty() {
        return Ok([true; 3]);
    }
    let mut on = [false; 3];
    for n in names {
        match n.to_ascii_lowercase().as_str() {
            "stdin" => on[0] = true,
            "stdout" => on[1] = true,
            "stderr" => on[2] = true,
            _ => {
                return Err(CliError::usage(format!(
                    "invalid argument \"{n}\" for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and STDERR"
                )));
            }
        }
    }
    Ok(on)
}

#[derive(Args, Debug)]
#[command(disable_help_flag = true)]
pub struct CreateArgs {
    /// Automatically remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    #[command(flatten)]
    pub options: ContainerOptions,
}

#[derive(Args, Debug)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short, long)]
    pub attach: bool,
    /// Attach container's STDIN
    #[arg(short, long)]
    pub interactive: bool,
    /// Override the key sequence for detaching a container
    #[arg(long)]
    pub detach_keys: Option<String>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short, long)]
    pub force: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short, long)]
    pub volumes: bool,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// The environment that `--env-file` and `-e` give (files first, then `-e`; a bare `KEY`
/// takes tug's own value), as `run`, `create` and `exec` read them.
pub(super) fn env_from_flags(
    env_files: &[String],
    env: &[String],
) -> Result<Vec<String>, CliError> {
    let lookup = |k: &str| std::env::var(k).ok();
    let mut out = Vec::new();
    for f in env_files {
        let text = std::fs::read_to_string(f)
            .map_err(|e| CliError::usage(format!("--env-file {f}: {e}")))?;
        out.extend(
            container::parse_env_file(f, &text, lookup)
                .map_err(|e| CliError::usage(tug::report(&e)))?,
        );
    }
    out.extend(
        env.iter()
            .filter_map(|e| container::resolve_env_arg(e, lookup)),
    );
    Ok(out)
}

/// The engine's description of a container from the shared flags.
/// `--pull`: the image pulled when it is missing (the default, as Docker's `run` and
/// `create`, saying so on STDERR), always, or never. The default `busybox` is made from the
/// host's busybox-static when missing, as the testkit makes it, so it needs no registry.
fn ensure_image(engine: &Engine, o: &ContainerOptions) -> Result<(), CliError> {
    use std::io::Write;
    let Some(image) = o.image_and_command.first() else {
        return Ok(());
    };
    if image.starts_with('-') {
        // An unknown flag in the image's place: create_options says so.
        return Ok(());
    }
    let missing =
        || -> Result<bool, CliError> { Ok(!engine.has_image(image).map_err(tug::Error::from)?) };
    let pull = match o.pull.as_str() {
        "always" => true,
        "missing" => missing()?,
        "never" => false,
        other => {
            return Err(CliError::usage(format!(
                "invalid pull option: '{other}': must be one of \"always\", \"missing\" or \"never\""
            )));
        }
    };
    if !pull {
        return Ok(());
    }
    let full = tug::registry::parse_reference(image)
        .map(|r| r.to_string())
        .unwrap_or_else(|_| image.clone());
    // Not locked: the pull's progress view writes to STDERR from its own thread.
    let mut err = std::io::stderr();
    if o.pull != "always" {
        let _ = writeln!(err, "Unable to find image '{}' locally", familiar(&full));
    }
    if matches!(image.as_str(), "busybox" | "busybox:latest") && missing()? {
        engine
            .create_busybox_image(image)
            .map_err(tug::Error::from)?;
        let _ = writeln!(err, "Made {image} from the host's busybox-static");
        return Ok(());
    }
    super::registry::pull_to(engine, image, o.platform.as_deref(), false, &mut err)?;
    Ok(())
}

/// `docker.io/library/redis:7` as Docker says it in messages: `redis:7`.
fn familiar(full: &str) -> String {
    full.strip_prefix("docker.io/library/")
        .or_else(|| full.strip_prefix("docker.io/"))
        .unwrap_or(full)
        .to_string()
}

fn create_options(o: ContainerOptions, auto_remove: bool) -> Result<CreateOptions, CliError> {
    // Docker's default runtime's names are tug's own; another (kata, nvidia, runsc) is not
    // here, and refused as Docker's daemon refuses a runtime it does not know.
    if !matches!(o.runtime.as_str(), "" | "runc" | "io.containerd.runc.v2") {
        return Err(CliError::usage(format!(
            "unknown or invalid runtime name: {}",
            o.runtime
        )));
    }
    let mut words = o.image_and_command.into_iter();
    let image = words.next().unwrap_or_default();
    if image.starts_with('-') {
        // A flag clap did not know, taken as the image's place: say it as Docker does.
        return Err(CliError::usage(format!("unknown flag: {image}")));
    }
    let command: Vec<String> = words.collect();
    let env = env_from_flags(&o.env_file, &o.env)?;
    let mut labels = Vec::new();
    for f in &o.label_file {
        let text = std::fs::read_to_string(f)
            .map_err(|e| CliError::usage(format!("--label-file {f}: {e}")))?;
        labels.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_string),
        );
    }
    labels.extend(o.label);
    if o.restart != "no" && auto_remove {
        return Err(CliError::usage("Conflicting options: --restart and --rm"));
    }
    let vol_err = |e: tug::volume::Error| CliError::usage(tug::report(&e));
    let mut mounts = Vec::new();
    for v in &o.volume {
        mounts.push(tug::volume::parse_volume_flag(v).map_err(vol_err)?);
    }
    for m in &o.mount {
        mounts.push(tug::volume::parse_mount_flag(m).map_err(vol_err)?);
    }
    for t in &o.tmpfs {
        mounts.push(tug::volume::parse_tmpfs_flag(t).map_err(vol_err)?);
    }
    let volumes_from = o
        .volumes_from
        .iter()
        .map(|v| tug::volume::parse_volumes_from(v))
        .collect::<Result<Vec<_>, _>>()
        .map_err(vol_err)?;
    let publish = o
        .publish
        .iter()
        .map(|p| {
            tug::network::parse_publish(p)
                .map_err(|e| CliError::usage(format!("-p {p}: {}", tug::Report(&e))))
        })
        .collect::<Result<Vec<_>, _>>()?;
    match o.userns.as_deref() {
        None | Some("") | Some("host") => {}
        Some(other) => {
            return Err(CliError::usage(format!(
                "--userns {other:?}: only \"host\" is supported (tug runs containers without a user namespace)"
            )));
        }
    }
    // Docker's daemon returns these as the create's warnings; the CLI prints them.
    if let Ok(sec) = container::SecurityOptions::parse(&o.security_opt) {
        for w in sec.warnings() {
            eprintln!("WARNING: {w}");
        }
    }
    Ok(CreateOptions {
        // `run -d` says (`create -i` and `run -i` close it, as Docker's do).
        stdin_once: None,
        network_aliases: o.network_alias,
        ip: o.ip,
        mac_address: o.mac_address,
        publish,
        publish_all: o.publish_all,
        port_group: None,
        expose: o.expose,
        dns: o.dns,
        dns_search: o.dns_search,
        dns_options: o.dns_option,
        extra_hosts: o.add_host,
        links: o.link,
        mounts,
        volumes_from,
        image,
        name: o.name,
        hostname: o.hostname,
        env,
        workdir: o.workdir,
        user: o.user,
        entrypoint: o.entrypoint,
        command,
        interactive: o.interactive,
        tty: o.tty,
        console_size: if o.tty { stdin_window_size() } else { None },
        read_only: o.read_only,
        privileged: o.privileged,
        network: o.network,
        security_opt: o.security_opt,
        cap_add: o.cap_add,
        cap_drop: o.cap_drop,
        devices: o.device,
        labels,
        auto_remove,
        restart_policy: container::RestartPolicy::parse(&o.restart)
            .map_err(|e| CliError::usage(e.to_string()))?,
        log_opts: o.log_opt,
        owner_pid: o.owner_pid,
        resources: o.resources.resources(),
        ulimits: o
            .ulimit
            .iter()
            .map(|u| container::Ulimit::parse(u))
            .collect::<Result<_, _>>()
            .map_err(|e| CliError::usage(e.to_string()))?,
        stop_signal: o.stop_signal,
        stop_timeout: o.stop_timeout,
        shm_size: o.shm_size,
        init: o.init,
        healthcheck: o.health.healthcheck()?,
        pid_mode: o.pid,
        ipc_mode: o.ipc,
        uts_mode: o.uts,
        cgroupns_mode: o.cgroupns,
        sysctls: o.sysctl,
        domainname: o.domainname,
        group_add: o.group_add,
        oom_score_adj: o.oom_score_adj,
        cgroup_parent: o.cgroup_parent.filter(|p| !p.is_empty()),
        device_cgroup_rules: o.device_cgroup_rule,
        log_driver: Some(o.log_driver),
        cidfile: o.cidfile.map(Into::into),
    })
}

/// The detach keys of an attached session: `--detach-keys`, else `detachKeys` of the
/// client's config.json (`$DOCKER_CONFIG` or `~/.docker`, the file `login` writes), else
/// `None` (Ctrl-P Ctrl-Q).
pub fn detach_keys(flag: Option<&str>) -> Result<Option<container::DetachKeys>, CliError> {
    let from_config = || {
        let text = std::fs::read_to_string(tug::registry::config_path()).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        v.get("detachKeys")?.as_str().map(str::to_string)
    };
    match flag.map(str::to_string).or_else(from_config) {
        Some(keys) if !keys.is_empty() => container::DetachKeys::parse(&keys)
            .map(Some)
            .map_err(|e| CliError::usage(e.to_string())),
        _ => Ok(None),
    }
}

/// An error that Docker's daemon (not its CLI) would report: exit 1.
pub fn daemon_side(e: CliError) -> CliError {
    CliError { code: 1, ..e }
}

/// Prints the create's warnings as Docker's CLI does.
fn warn(engine: &Engine, opts: &CreateOptions) {
    for w in engine.create_warnings(opts) {
        eprintln!("WARNING: {w}");
    }
}

pub fn run(engine: &Engine, a: RunArgs) -> CliResult {
    let streams = attach_streams(&a.attach)?;
    if a.detach && !a.attach.is_empty() {
        return Err(CliError::usage("Conflicting options: -a and -d"));
    }
    ensure_image(engine, &a.options)?;
    if a.detach {
        let mut opts = create_options(a.options, a.rm)?;
        // As Docker's `run -d -i`: stdin stays open for each later `attach`.
        opts.stdin_once = Some(false);
        warn(engine, &opts);
        let c = engine.run_detached(&opts)?;
        println!("{}", c.id);
        return Ok(0);
    }
    let stdin = a.options.interactive && streams[0];
    let detach_keys = detach_keys(a.detach_keys.as_deref())?;
    let mut opts = create_options(a.options, a.rm)?;
    opts.stdin_once = Some(stdin);
    warn(engine, &opts);
    let attach = AttachOptions {
        stdin,
        sig_proxy: a.sig_proxy,
        detach_keys,
        skip_stdout: !streams[1],
        skip_stderr: !streams[2],
    };
    Ok(engine.run_container(&opts, attach)?)
}

pub fn create(engine: &Engine, a: CreateArgs) -> CliResult {
    ensure_image(engine, &a.options)?;
    let opts = create_options(a.options, a.rm)?;
    warn(engine, &opts);
    let c = engine.create_container(&opts)?;
    println!("{}", c.id);
    Ok(0)
}

pub fn start(engine: &Engine, a: StartArgs) -> CliResult {
    if !a.attach && !a.interactive {
        let mut code = 0;
        for name in &a.containers {
            match engine.start_detached(name) {
                Ok(_) => println!("{name}"),
                Err(e) => {
                    eprintln!("tug: {}", CliError::from(e).message);
                    code = 1;
                }
            }
        }
        return Ok(code);
    }
    if a.containers.len() > 1 {
        return Err(CliError::usage(
            "you cannot start and attach multiple containers at once",
        ));
    }
    let detach_keys = detach_keys(a.detach_keys.as_deref()).map_err(daemon_side)?;
    let attach = AttachOptions {
        stdin: a.interactive,
        sig_proxy: true,
        detach_keys,
        ..Default::default()
    };
    Ok(engine.start_container(&a.containers[0], attach)?)
}

pub fn rm(engine: &Engine, a: RmArgs) -> CliResult {
    let mut code = 0;
    for name in &a.containers {
        match engine.remove_container(name, a.force) {
            Ok(c) => {
                if a.volumes
                    && let Err(e) = engine.remove_anonymous_volumes(&c.mounts)
                {
                    eprintln!("tug: {}", CliError::from(e).message);
                    code = 1;
                }
                println!("{name}")
            }
            Err(e) => {
                eprintln!("tug: {}", CliError::from(e).message);
                code = 1;
            }
        }
    }
    Ok(code)
}

/// `tug inspect` (containers first, then images) and `tug container inspect`.
pub fn inspect(engine: &Engine, a: InspectArgs) -> CliResult {
    // Without --type, each name is a container if one has it, else an image, as Docker
    // looks them up; a name that is neither is "No such object".
    let any = a.kind.is_none();
    let mut values = Vec::new();
    let mut missing = Vec::new();
    for name in &a.names {
        match engine.inspect_container(name) {
            Ok(v) => values.push(v),
            Err(tug::Error::Container(container::Error::NotFound(_))) if any => {
                match engine.inspect_image(name) {
                    Ok(v) => values.push(v),
                    Err(tug::Error::Image(tug::image::Error::NotFound(_))) => {
                        missing.push(name.clone())
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Err(tug::Error::Container(container::Error::NotFound(_))) => missing.push(name.clone()),
            Err(e) => return Err(e.into()),
        }
    }
    super::print_inspect(&values, a.format.as_deref())?;
    if missing.is_empty() {
        return Ok(0);
    }
    let what = if any { "object" } else { "container" };
    for m in &missing {
        eprintln!("Error: No such {what}: {m}");
    }
    Ok(1)
}

/// The size (rows, columns) of the terminal on stdin, if it is one: a `-t` container's
/// pty starts with it, so its first output is laid out right (resizes follow).
fn stdin_window_size() -> Option<(u16, u16)> {
    // SAFETY: a zeroed winsize is a valid value of this plain C struct.
    let mut ws: nix::libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ fills the winsize struct passed by pointer; stdin is fd 0.
    let r = unsafe { nix::libc::ioctl(0, nix::libc::TIOCGWINSZ, &mut ws) };
    (r == 0 && ws.ws_row > 0 && ws.ws_col > 0).then_some((ws.ws_row, ws.ws_col))
}
