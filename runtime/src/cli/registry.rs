//! `tug pull`, `push`, `login`, `logout`: flags to engine calls, and the progress view
//! (bars on a terminal, plain lines otherwise, nothing with `-q`).

use std::collections::HashMap;
use std::io::{IsTerminal, Read, Write};
use std::sync::Mutex;

use clap::Args;

use super::{CliError, CliResult};
use tug::Engine;
use tug::registry::{Credentials, Platform, PullOptions, PushOptions};
use tug::registry::{Event, Observer, Silent};

#[derive(Args, Debug)]
pub struct PullArgs {
    /// Set platform if server is multi-platform capable (os/arch[/variant])
    #[arg(long)]
    pub platform: Option<String>,
    /// Suppress verbose output
    #[arg(short, long)]
    pub quiet: bool,
    /// The image: NAME[:TAG|@DIGEST]
    pub name: String,
}

#[derive(Args, Debug)]
pub struct PushArgs {
    /// Suppress verbose output
    #[arg(short, long)]
    pub quiet: bool,
    /// The image: NAME[:TAG]
    pub name: String,
}

#[derive(Args, Debug)]
pub struct LoginArgs {
    /// Username
    #[arg(short, long)]
    pub username: Option<String>,
    /// Password
    #[arg(short, long)]
    pub password: Option<String>,
    /// Take the password from stdin
    #[arg(long)]
    pub password_stdin: bool,
    /// The registry (default: Docker Hub)
    pub server: Option<String>,
}

#[derive(Args, Debug)]
pub struct LogoutArgs {
    /// The registry (default: Docker Hub)
    pub server: Option<String>,
}

/// `tug pull`.
pub fn pull(engine: &Engine, a: PullArgs) -> CliResult {
    let mut out = std::io::stdout().lock();
    let name = pull_to(engine, &a.name, a.platform.as_deref(), a.quiet, &mut out)?;
    // As `docker pull`: the image's full name last, also with -q.
    writeln!(out, "{name}").map_err(CliError::output)?;
    Ok(0)
}

/// Pulls `name` as `tug pull` does, writing its progress lines to `out` (STDOUT for
/// `pull`, STDERR for a `run` that pulls a missing image) and, unless `quiet`, its
/// digest and status. Returns the image's full name.
pub fn pull_to(
    engine: &Engine,
    name: &str,
    platform: Option<&str>,
    quiet: bool,
    out: &mut dyn Write,
) -> Result<String, CliError> {
    let platform = platform
        .map(Platform::parse)
        .transpose()
        .map_err(|e| CliError::usage(tug::report(&e)))?;
    let options = PullOptions {
        platform,
        ..PullOptions::default()
    };
    let r = tug::registry::parse_reference(name).map_err(|e| CliError::usage(tug::report(&e)))?;
    let io = CliError::output;
    if !quiet {
        let what = match (&r.tag, &r.digest) {
            (Some(t), _) => t.clone(),
            (None, Some(d)) => d.to_string(),
            (None, None) => "latest".into(),
        };
        writeln!(out, "{what}: Pulling from {}", r.repository).map_err(io)?;
    }
    // Up to date when the name already named what the registry has.
    let before = engine.image(name).ok().map(|i| i.id);
    let report = if quiet {
        engine.pull(name, &options, &Silent)
    } else {
        let view = View::new("Downloading");
        let r = engine.pull(name, &options, &view);
        view.finish();
        r
    }
    .map_err(|e| CliError::from(tug::Error::from(e)))?;
    if !quiet {
        writeln!(out, "Digest: {}", report.repo_digest).map_err(io)?;
        let after = engine.image(name).ok().map(|i| i.id);
        let status = if before.is_some() && before == after {
            "Image is up to date for"
        } else {
            "Downloaded newer image for"
        };
        writeln!(out, "Status: {status} {name}").map_err(io)?;
    }
    Ok(report.name.to_string())
}

/// `tug push`.
pub fn push(engine: &Engine, a: PushArgs) -> CliResult {
    let options = PushOptions {
        chunk_size: match std::env::var("TUG_PUSH_CHUNK_SIZE") {
            Ok(v) => v
                .parse()
                .map_err(|_| CliError::usage(format!("TUG_PUSH_CHUNK_SIZE={v:?}: not a number")))?,
            Err(_) => PushOptions::default().chunk_size,
        },
        ..PushOptions::default()
    };
    let r =
        tug::registry::parse_reference(&a.name).map_err(|e| CliError::usage(tug::report(&e)))?;
    let mut out = std::io::stdout().lock();
    let io = CliError::output;
    if !a.quiet {
        writeln!(
            out,
            "The push refers to repository [{}/{}]",
            r.registry, r.repository
        )
        .map_err(io)?;
    }
    let report = if a.quiet {
        engine.push(&a.name, &options, &Silent)
    } else {
        let view = View::new("Pushing");
        let r = engine.push(&a.name, &options, &view);
        view.finish();
        r
    }
    .map_err(|e| CliError::from(tug::Error::from(e)))?;
    let tag = r.tag.clone().unwrap_or_else(|| "latest".into());
    if a.quiet {
        writeln!(out, "{}", report.name).map_err(io)?;
    } else {
        writeln!(
            out,
            "{tag}: digest: {} size: {}",
            report.manifest_digest, report.manifest_size
        )
        .map_err(io)?;
    }
    Ok(0)
}

/// `tug login`.
pub fn login(engine: &Engine, a: LoginArgs) -> CliResult {
    let server = a.server.unwrap_or_else(|| "docker.io".into());
    let interactive = std::io::stdin().is_terminal();
    let username = match a.username {
        Some(u) => u,
        None if interactive && !a.password_stdin => prompt("Username: ", true)?,
        None => return Err(CliError::usage("login: give the user name with -u")),
    };
    let password = match (a.password, a.password_stdin) {
        (Some(_), true) => {
            return Err(CliError::usage(
                "--password and --password-stdin are mutually exclusive",
            ));
        }
        (Some(p), false) => p,
        (None, true) => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| CliError::other(format!("reading the password from stdin: {e}")))?;
            s.trim_end_matches(['\n', '\r']).to_string()
        }
        (None, false) if interactive => prompt("Password: ", false)?,
        (None, false) => {
            return Err(CliError::usage(
                "login: give the password with --password-stdin or -p",
            ));
        }
    };
    if password.is_empty() {
        return Err(CliError::usage("login: the password is empty"));
    }
    let creds = Credentials { username, password };
    engine
        .login(&server, &creds)
        .map_err(|e| CliError::from(tug::Error::from(e)))?;
    println!("Login Succeeded");
    Ok(0)
}

/// Asks for one line on the terminal; with `echo` off for a password (restored after).
fn prompt(label: &str, echo: bool) -> Result<String, CliError> {
    use nix::sys::termios::{LocalFlags, SetArg, tcgetattr, tcsetattr};
    let err = |e: std::io::Error| CliError::other(format!("reading from the terminal: {e}"));
    eprint!("{label}");
    let stdin = std::io::stdin();
    let saved = if echo {
        None
    } else {
        let t = tcgetattr(&stdin).map_err(|e| err(e.into()))?;
        let mut quiet = t.clone();
        quiet.local_flags.remove(LocalFlags::ECHO);
        tcsetattr(&stdin, SetArg::TCSANOW, &quiet).map_err(|e| err(e.into()))?;
        Some(t)
    };
    let mut line = String::new();
    let read = stdin.read_line(&mut line);
    if let Some(t) = saved {
        let _ = tcsetattr(&stdin, SetArg::TCSANOW, &t);
        eprintln!();
    }
    read.map_err(err)?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// `tug logout`.
pub fn logout(engine: &Engine, a: LogoutArgs) -> CliResult {
    let server = a.server.unwrap_or_else(|| "docker.io".into());
    let host = tug::registry::server_host(&server);
    let removed = engine
        .logout(&server)
        .map_err(|e| CliError::from(tug::Error::from(e)))?;
    if removed {
        println!("Removing login credentials for {host}");
    } else {
        println!("Not logged in to {host}");
    }
    Ok(0)
}

/// The progress view: one indicatif bar per blob on a terminal, else a plain line per
/// blob when it is done.
struct View {
    bars: Option<(
        indicatif::MultiProgress,
        Mutex<HashMap<String, indicatif::ProgressBar>>,
    )>,
    verb: &'static str,
}

impl View {
    fn new(verb: &'static str) -> View {
        let bars = std::io::stderr().is_terminal().then(|| {
            (
                indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::stderr()),
                Mutex::new(HashMap::new()),
            )
        });
        View { bars, verb }
    }

    /// Ends the view: the cursor goes below the last bar's line.
    fn finish(&self) {
        if self.bars.is_some() {
            eprintln!();
        }
    }
}

impl Observer for View {
    fn event(&self, event: Event<'_>) {
        let Some((multi, bars)) = &self.bars else {
            if let Event::Done { digest, status } = event {
                eprintln!("{}: {status}", digest.short());
            }
            return;
        };
        let mut bars = bars.lock().unwrap_or_else(|p| p.into_inner());
        match event {
            Event::Start { digest, size } => {
                // Hidden until configured: `multi.add` gives it the terminal.
                let bar = indicatif::ProgressBar::with_draw_target(
                    Some(size),
                    indicatif::ProgressDrawTarget::hidden(),
                );
                // The template is a constant that indicatif accepts; else the default.
                if let Ok(style) = indicatif::ProgressStyle::with_template(
                    "{prefix}: {msg} [{bar:30}] {bytes}/{total_bytes}",
                ) {
                    bar.set_style(style.progress_chars("=> "));
                }
                bar.set_prefix(digest.short().to_string());
                bar.set_message(self.verb);
                bars.insert(digest.to_string(), multi.add(bar));
            }
            Event::Advance { digest, bytes } => {
                if let Some(b) = bars.get(&digest.to_string()) {
                    b.inc(bytes);
                }
            }
            Event::Done { digest, status } => {
                // The bar's line stays, with the outcome, as Docker's view does.
                let bar = bars
                    .remove(&digest.to_string())
                    .unwrap_or_else(|| multi.add(indicatif::ProgressBar::new(0)));
                if let Ok(style) = indicatif::ProgressStyle::with_template("{prefix}: {msg}") {
                    bar.set_style(style);
                }
                bar.set_prefix(digest.short().to_string());
                bar.finish_with_message(status.to_string());
            }
        }
    }
}
