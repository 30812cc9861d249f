//! The compose commands other than `up` and `down`: each finds the project's containers
//! by their labels and calls the engine as the single-container command would.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::mpsc;

use clap::Args;

use super::{
    Member, ProjectFlags, check_services, events, load, members_of, out_err, progress, project_name,
};
use crate::cli::{CliError, CliResult, format};
use tug::Engine;
use tug::compose::{self, Project};
use tug::container::{AttachOptions, ExecOptions};

#[derive(Args, Debug)]
pub struct ConfigArgs {
    /// Print the service names, one per line
    #[arg(long)]
    pub services: bool,
    /// Print the volume names, one per line
    #[arg(long)]
    pub volumes: bool,
    /// Only validate the configuration, don't print anything
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct PsArgs {
    /// Show all stopped containers
    #[arg(short, long)]
    pub all: bool,
    /// Only display IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Display services
    #[arg(long)]
    pub services: bool,
    /// Format the output ("table", "json" or a Go template)
    #[arg(long)]
    pub format: Option<String>,
    pub service: Vec<String>,
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short, long)]
    pub follow: bool,
    /// Number of lines to show from the end of the logs for each container
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// Show timestamps
    #[arg(short, long)]
    pub timestamps: bool,
    /// Produce monochrome output (tug's is always monochrome)
    #[arg(long)]
    pub no_color: bool,
    /// Don't print prefix in logs
    #[arg(long)]
    pub no_log_prefix: bool,
    pub services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// Detached mode: run command in the background
    #[arg(short, long)]
    pub detach: bool,
    /// Set environment variables
    #[arg(short, long)]
    pub env: Vec<String>,
    /// Run the command as this user
    #[arg(short, long)]
    pub user: Option<String>,
    /// Path to workdir directory for this command
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Disable pseudo-TTY allocation
    #[arg(short = 'T', long = "no-TTY")]
    pub no_tty: bool,
    /// Index of the container if service has multiple replicas
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    /// Give extended privileges to the process
    #[arg(long)]
    pub privileged: bool,
    pub service: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    pub command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Automatically remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Run container in background and print container ID
    #[arg(short, long)]
    pub detach: bool,
    /// Set environment variables
    #[arg(short, long)]
    pub env: Vec<String>,
    /// Disable pseudo-TTY allocation
    #[arg(short = 'T', long = "no-TTY")]
    pub no_tty: bool,
    /// Don't start linked services
    #[arg(long)]
    pub no_deps: bool,
    /// Override the entrypoint of the image
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Run as specified username or uid
    #[arg(short, long)]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    pub service: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

pub fn config(flags: &ProjectFlags, a: ConfigArgs) -> CliResult {
    let p = load(flags)?;
    let mut out = std::io::stdout().lock();
    if a.quiet {
        return Ok(0);
    }
    if a.services {
        for s in p.services.keys() {
            writeln!(out, "{s}").map_err(out_err)?;
        }
    } else if a.volumes {
        for v in p.volumes.keys() {
            writeln!(out, "{v}").map_err(out_err)?;
        }
    } else {
        write!(out, "{}", compose::config_yaml(&p)).map_err(out_err)?;
    }
    Ok(0)
}

pub fn ps(engine: &Engine, flags: &ProjectFlags, a: PsArgs) -> CliResult {
    let name = project_name(flags)?;
    let mut ms = members_of(engine, &name, &a.service, true)?;
    if !a.all {
        ms.retain(|m| m.running());
    }
    let mut out = std::io::stdout().lock();
    if a.services {
        let mut seen: Vec<&str> = ms.iter().map(|m| m.service.as_str()).collect();
        seen.dedup();
        for s in seen {
            writeln!(out, "{s}").map_err(out_err)?;
        }
        return Ok(0);
    }
    if a.quiet {
        for m in &ms {
            writeln!(out, "{}", m.c.id).map_err(out_err)?;
        }
        return Ok(0);
    }
    let rows: Vec<serde_json::Value> = ms.iter().map(row).collect();
    match a.format.as_deref() {
        None | Some("table") => {
            let lines: Vec<Vec<String>> = ms
                .iter()
                .zip(&rows)
                .map(|(m, r)| {
                    vec![
                        m.name().to_string(),
                        m.c.config.image.clone(),
                        r["Command"].as_str().unwrap_or_default().to_string(),
                        m.service.clone(),
                        r["Status"].as_str().unwrap_or_default().to_string(),
                        r["Ports"].as_str().unwrap_or_default().to_string(),
                    ]
                })
                .collect();
            format::table(
                &mut out,
                &["NAME", "IMAGE", "COMMAND", "SERVICE", "STATUS", "PORTS"],
                &lines,
            )
            .map_err(out_err)?;
        }
        Some("json") => {
            for r in &rows {
                writeln!(out, "{r}").map_err(out_err)?;
            }
        }
        Some(f) => format::format_rows(&mut out, f, &BTreeMap::new(), &rows)?,
    }
    Ok(0)
}

fn row(m: &Member) -> serde_json::Value {
    let c = &m.c;
    let mut cmd = c.path.clone();
    for x in &c.args {
        cmd.push(' ');
        cmd.push_str(x);
    }
    serde_json::json!({
        "ID": c.id.to_string(),
        "Name": m.name(),
        "Names": m.name(),
        "Image": c.config.image,
        "Command": serde_json::to_string(&cmd).unwrap_or(cmd),
        "Project": c.config.labels.get(compose::LABEL_PROJECT),
        "Service": m.service,
        "State": c.state.status,
        "Status": crate::cli::ps::status(c),
        "ExitCode": c.state.exit_code,
        "Health": c.state.health.as_ref().map_or("", |h| h.status.as_str()),
        "Ports": tug::network::ps_column(&c.network_settings.ports),
        "Publishers": tug::network::publishers(&c.network_settings.ports),
        "Labels": c.config.labels,
    })
}

/// The longest container name, for aligned prefixes.
fn width(names: &[String]) -> usize {
    names.iter().map(|n| n.len()).max().unwrap_or(0)
}

/// How [`print_logs`] shows entries.
struct LogView {
    follow: bool,
    tail: Option<usize>,
    timestamps: bool,
    /// `name  | ` before each line.
    prefix: bool,
    /// The prefix in a colour of its own per container (on a terminal, as compose does).
    color: bool,
}

/// The colours compose gives containers' prefixes, in turn (ANSI SGR codes).
const COLORS: &[&str] = &["36", "33", "32", "35", "34", "96", "93", "92", "95", "94"];

/// Whether prefixes are coloured: STDOUT is a terminal, and neither `--no-color` nor
/// `NO_COLOR` says otherwise.
fn colored(no_color: bool) -> bool {
    use std::io::IsTerminal;
    !no_color && std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal()
}

/// Prints each of `names`' log entries (prefixed `name  | ` unless told not), following
/// them until they exit when `view.follow`; entries come as they arrive, from one thread
/// per container. With `stop_on_first_exit`, each container's name is sent there when
/// its log ends.
fn print_logs(
    engine: &Engine,
    names: &[String],
    view: LogView,
    stop_on_first_exit: Option<mpsc::Sender<String>>,
) {
    let w = width(names);
    let (tx, rx) = mpsc::channel::<String>();
    let mut handles = Vec::new();
    let LogView {
        follow,
        tail,
        timestamps,
        prefix,
        color,
    } = view;
    for (i, n) in names.iter().enumerate() {
        let (engine, n, tx) = (engine.clone(), n.clone(), tx.clone());
        let exit_tx = stop_on_first_exit.clone();
        handles.push(std::thread::spawn(move || {
            let pre = match (prefix, color) {
                (false, _) => String::new(),
                (true, false) => format!("{n:<w$}  | "),
                (true, true) => {
                    let c = COLORS[i % COLORS.len()];
                    format!("\x1b[{c}m{n:<w$}  | \x1b[0m")
                }
            };
            let opts = tug::container::LogsOptions {
                follow,
                tail,
                since: None,
                until: None,
            };
            let _ = engine.container_logs(&n, &opts, &mut |e| {
                let mut line = pre.clone();
                if timestamps {
                    line.push_str(&e.time);
                    line.push(' ');
                }
                line.push_str(&e.log);
                if !line.ends_with('\n') {
                    line.push('\n');
                }
                let _ = tx.send(line);
            });
            if follow {
                if let Ok(c) = engine.container(&n) {
                    let _ = tx.send(format!("{n} exited with code {}\n", c.state.exit_code));
                }
                if let Some(t) = exit_tx {
                    let _ = t.send(n);
                }
            }
        }));
    }
    drop(tx);
    let mut out = std::io::stdout();
    for line in rx {
        if out
            .write_all(line.as_bytes())
            .and_then(|_| out.flush())
            .is_err()
        {
            break;
        }
    }
    for h in handles {
        let _ = h.join();
    }
}

pub fn logs(engine: &Engine, flags: &ProjectFlags, a: LogsArgs) -> CliResult {
    let name = project_name(flags)?;
    let ms = members_of(engine, &name, &a.services, false)?;
    let names: Vec<String> = ms.iter().map(|m| m.name().to_string()).collect();
    let tail = match a.tail.as_str() {
        "all" | "" => None,
        n => Some(
            n.parse::<usize>()
                .map_err(|_| CliError::usage(format!("--tail {n}: must be a number or all")))?,
        ),
    };
    let view = LogView {
        follow: a.follow,
        tail,
        timestamps: a.timestamps,
        prefix: !a.no_log_prefix,
        color: colored(a.no_color),
    };
    print_logs(engine, &names, view, None);
    Ok(0)
}

/// `up`'s attached mode: every container's logs, prefixed, until they all exit (or one
/// does, with `abort`: the others are stopped and its exit code is the result). Ctrl-C
/// (or SIGTERM) stops the project's containers (exit 130); a second one kills them.
pub fn attach_logs(
    engine: &Engine,
    p: &Project,
    all: &[(String, String)],
    a: &super::up::UpArgs,
) -> CliResult {
    let (abort, timeout) = (a.abort_on_container_exit, a.timeout);
    use nix::sys::signal::{SigSet, Signal};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    let names: Vec<String> = all.iter().map(|(_, n)| n.clone()).collect();
    let mut set = SigSet::empty();
    set.add(Signal::SIGINT);
    set.add(Signal::SIGTERM);
    let _ = set.thread_block();
    let how: Vec<_> = all
        .iter()
        .map(|(s, n)| (n.clone(), super::stop_how(Some(p), s, timeout)))
        .collect();
    let stop_all = {
        let engine = engine.clone();
        move || {
            eprintln!("Gracefully stopping... (press Ctrl+C again to force)");
            for (n, (t, sig)) in how.iter().rev() {
                progress("Container", n, "Stopping");
                let _ = engine.stop_container(n, *t, sig.as_deref());
                progress("Container", n, "Stopped");
            }
        }
    };
    let interrupted = Arc::new(AtomicBool::new(false));
    {
        let (stop_all, interrupted) = (stop_all.clone(), interrupted.clone());
        let (engine, names) = (engine.clone(), names.clone());
        std::thread::spawn(move || {
            if set.wait().is_err() {
                return;
            }
            interrupted.store(true, Ordering::SeqCst);
            // The graceful stop runs beside this thread, which waits for a second signal.
            std::thread::spawn(stop_all);
            if set.wait().is_ok() {
                for n in &names {
                    let _ = engine.kill_container(n, None);
                }
            }
        });
    }
    let first_exit: Arc<Mutex<Option<String>>> = Arc::default();
    let (exit_tx, exit_rx) = mpsc::channel::<String>();
    if abort {
        let (stop_all, first_exit) = (stop_all.clone(), first_exit.clone());
        std::thread::spawn(move || {
            if let Ok(n) = exit_rx.recv() {
                if let Ok(mut f) = first_exit.lock() {
                    *f = Some(n);
                }
                stop_all();
            }
        });
    } else {
        drop(exit_rx);
    }
    let view = LogView {
        follow: true,
        tail: None,
        timestamps: false,
        prefix: true,
        color: colored(a.no_color),
    };
    print_logs(engine, &names, view, abort.then_some(exit_tx));
    if interrupted.load(Ordering::SeqCst) {
        return Ok(130);
    }
    let first = first_exit.lock().ok().and_then(|f| f.clone());
    match first {
        Some(n) if abort => Ok(engine.container(&n)?.state.exit_code),
        _ => Ok(0),
    }
}

fn env_args(env: &[String]) -> Vec<String> {
    env.iter()
        .filter_map(|e| tug::container::resolve_env_arg(e, |k| std::env::var(k).ok()))
        .collect()
}

pub fn exec(engine: &Engine, flags: &ProjectFlags, a: ExecArgs) -> CliResult {
    use std::io::IsTerminal;
    let name = project_name(flags)?;
    let m = engine.compose_replica(&name, &a.service, a.index)?;
    let tty = !a.no_tty && !a.detach && std::io::stdin().is_terminal();
    let opts = ExecOptions {
        command: a.command,
        env: env_args(&a.env),
        user: a.user,
        workdir: a.workdir,
        interactive: !a.detach,
        tty,
        detach: a.detach,
        privileged: a.privileged,
        ..Default::default()
    };
    Ok(engine.exec_container(m.name(), &opts)?)
}

pub fn run(engine: &Engine, flags: &ProjectFlags, a: RunArgs) -> CliResult {
    use std::io::IsTerminal;
    let p = load(flags)?;
    check_services(&p, std::slice::from_ref(&a.service))?;
    let deps = if a.no_deps {
        Vec::new()
    } else {
        let mut d = compose::start_order(&p, std::slice::from_ref(&a.service), false);
        d.retain(|s| *s != a.service);
        d
    };
    if !deps.is_empty() {
        let o = tug::compose::UpOptions {
            services: deps,
            ..Default::default()
        };
        engine.compose_up(&p, &o, &events)?;
    }
    let image = tug::compose::image_of(&p, &a.service);
    let o = tug::compose::UpOptions::default();
    engine.compose_ensure_image(&p, &a.service, &o, &events)?;
    engine.compose_ensure_resources(&p, std::slice::from_ref(&a.service), &events)?;
    let mut opts = compose::create_options(&p, &a.service, 1, &image)
        .map_err(|e| CliError::other(tug::report(&e)))?;
    // compose names a one-off `<project>-<service>-run-<12 random hex>`.
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).map_err(|e| CliError::other(format!("getrandom: {e}")))?;
    let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    opts.name = Some(
        a.name
            .clone()
            .unwrap_or_else(|| format!("{}-{}-run-{id}", p.name, a.service)),
    );
    for l in opts.labels.iter_mut() {
        if l.starts_with(compose::LABEL_ONEOFF) {
            *l = format!("{}=True", compose::LABEL_ONEOFF);
        }
    }
    // A one-off publishes no ports (compose's `--service-ports` would).
    opts.publish.clear();
    opts.port_group = None;
    opts.env.extend(env_args(&a.env));
    if let Some(e) = a.entrypoint {
        opts.entrypoint = Some(e);
        opts.command.clear();
    }
    if !a.command.is_empty() {
        // The service's entrypoint list's tail leads `command`; replace only the command.
        let s = &p.services[&a.service];
        let lead = s
            .entrypoint
            .as_ref()
            .map_or(0, |e| e.len().saturating_sub(1));
        opts.command.truncate(lead);
        opts.command.extend(a.command);
    }
    if a.user.is_some() {
        opts.user = a.user;
    }
    if a.workdir.is_some() {
        opts.workdir = a.workdir;
    }
    opts.auto_remove = a.rm;
    opts.restart_policy = Default::default();
    opts.tty = !a.no_tty && !a.detach && std::io::stdin().is_terminal();
    opts.interactive = !a.detach;
    if a.detach {
        let c = engine.run_detached(&opts)?;
        println!("{}", c.short_name());
        return Ok(0);
    }
    Ok(engine.run_container(
        &opts,
        AttachOptions {
            stdin: true,
            sig_proxy: true,
            ..Default::default()
        },
    )?)
}
