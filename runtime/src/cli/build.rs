//! `tug build` and `tug builder prune`.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, Subcommand};

use super::{CliError, CliResult};
use tug::Engine;
use tug::build::{BuildOptions, ContextSource, DockerfileSource, Event};

#[derive(Args, Debug)]
pub struct BuildArgs {
    /// Name and optionally a tag in the "name:tag" format
    #[arg(short, long = "tag")]
    pub tag: Vec<String>,
    /// Name of the Dockerfile (default: "PATH/Dockerfile"; "-" reads it from STDIN)
    #[arg(short, long)]
    pub file: Option<String>,
    /// Set build-time variables (KEY=VALUE, or KEY to take it from the environment)
    #[arg(long = "build-arg")]
    pub build_arg: Vec<String>,
    /// Set the target build stage to build
    #[arg(long)]
    pub target: Option<String>,
    /// Do not use cache when building the image
    #[arg(long)]
    pub no_cache: bool,
    /// Always attempt to pull the base images
    #[arg(long)]
    pub pull: bool,
    /// Suppress the build output and print image ID on success
    #[arg(short, long)]
    pub quiet: bool,
    /// Set the networking mode for the RUN instructions (default, none, host)
    #[arg(long)]
    pub network: Option<String>,
    /// Images to consider as cache sources
    #[arg(long)]
    pub cache_from: Vec<String>,
    /// Set metadata for an image (KEY=VALUE)
    #[arg(long)]
    pub label: Vec<String>,
    /// Set type of progress output (auto, plain, tty, quiet)
    #[arg(long, default_value = "auto")]
    pub progress: String,
    /// Write the image ID to the file
    #[arg(long)]
    pub iidfile: Option<PathBuf>,
    /// Set the target platform (only this machine's is built)
    #[arg(long)]
    pub platform: Option<String>,
    /// Remove intermediate containers after a successful build (always done)
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub rm: bool,
    /// Always remove intermediate containers (always done)
    #[arg(long)]
    pub force_rm: bool,
    /// Build context: a directory, or "-" for a tar archive or a Dockerfile on STDIN
    pub path: String,
}

#[derive(Subcommand, Debug)]
pub enum BuilderCommand {
    /// Remove build cache
    Prune(PruneArgs),
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Remove all unused build cache, not just dangling ones (the same here)
    #[arg(short, long)]
    pub all: bool,
}

/// `tug build`.
pub fn build(engine: &Engine, a: BuildArgs) -> CliResult {
    if let Some(p) = &a.platform {
        let native = format!("linux/{}", native_arch());
        if p != &native && p.trim_start_matches("linux/") != native_arch() {
            return Err(CliError::usage(format!(
                "--platform {p}: tug builds for this machine only ({native})"
            )));
        }
    }
    let progress = match (a.quiet, a.progress.as_str()) {
        (true, _) | (_, "quiet") => Progress::Quiet,
        (_, "plain") => Progress::Plain,
        (_, "tty") => Progress::Tty,
        (_, "auto") if std::io::stderr().is_terminal() => Progress::Tty,
        (_, "auto") => Progress::Plain,
        (_, other) => {
            return Err(CliError::usage(format!(
                "--progress {other}: expected auto, plain, tty or quiet"
            )));
        }
    };
    let build_args = a
        .build_arg
        .iter()
        .filter_map(|kv| match kv.split_once('=') {
            Some((k, v)) => Some((k.to_string(), v.to_string())),
            None => std::env::var(kv).ok().map(|v| (kv.clone(), v)),
        })
        .collect();
    let labels = a
        .label
        .iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (kv.clone(), String::new()),
        })
        .collect();
    // The context: a dir, or STDIN (a tar archive, or a Dockerfile alone).
    let mut stdin_dockerfile: Option<String> = None;
    let context = if a.path == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| CliError::other(format!("reading the build context from STDIN: {e}")))?;
        if is_tar(&bytes) {
            ContextSource::Tar(bytes)
        } else {
            if a.file.as_deref() == Some("-") {
                return Err(CliError::usage(
                    "the Dockerfile and the context cannot both come from STDIN",
                ));
            }
            stdin_dockerfile = Some(String::from_utf8(bytes).map_err(|_| {
                CliError::usage("STDIN is neither a tar archive nor a Dockerfile (not UTF-8)")
            })?);
            ContextSource::None
        }
    } else {
        let p = PathBuf::from(&a.path);
        if !p.is_dir() {
            // Docker exits 1 here too.
            return Err(CliError {
                code: 1,
                message: format!(
                    "unable to prepare context: path {:?} not found or not a directory",
                    a.path
                ),
            });
        }
        ContextSource::Dir(p)
    };
    let dockerfile = match (stdin_dockerfile, a.file.as_deref()) {
        (Some(text), _) => DockerfileSource::Text {
            name: "Dockerfile".into(),
            text,
        },
        (None, Some("-")) => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| CliError::other(format!("reading the Dockerfile from STDIN: {e}")))?;
            DockerfileSource::Text {
                name: "Dockerfile".into(),
                text,
            }
        }
        // With a context archive, -f names a file inside it, as Docker has it.
        (None, Some(f)) if matches!(context, ContextSource::Tar(_)) => {
            DockerfileSource::InContext(f.to_string())
        }
        // Else a relative -f names a file of the current dir.
        (None, Some(f)) => DockerfileSource::Path(PathBuf::from(f)),
        (None, None) => match &context {
            ContextSource::Dir(d) => DockerfileSource::Path(d.join("Dockerfile")),
            // A context archive carries its Dockerfile at its root.
            _ => DockerfileSource::InContext("Dockerfile".into()),
        },
    };
    let source_date_epoch = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if !v.is_empty() => Some(v.parse::<u64>().map_err(|_| {
            CliError::usage(format!(
                "SOURCE_DATE_EPOCH={v}: expected seconds since 1970"
            ))
        })?),
        _ => None,
    }
    .or_else(|| {
        a.build_arg
            .iter()
            .find_map(|kv| kv.strip_prefix("SOURCE_DATE_EPOCH="))
            .and_then(|v| v.parse().ok())
    });
    let opts = BuildOptions {
        context,
        dockerfile,
        tags: a.tag.clone(),
        build_args,
        target: a.target.clone(),
        no_cache: a.no_cache,
        pull: a.pull,
        network: a.network.clone(),
        cache_from: a.cache_from.clone(),
        labels,
        source_date_epoch,
        step_images: false,
    };
    let started = Instant::now();
    let mut printer = Printer::new(progress);
    let built = engine.build(&opts, &mut |e| printer.event(e));
    printer.finish();
    // `docker build` exits 1 whatever made the build fail (a pull, a step, the store).
    let built = built.map_err(|e| CliError {
        code: 1,
        message: tug::report(&e),
    })?;
    if let Some(f) = &a.iidfile {
        std::fs::write(f, built.id.to_string())
            .map_err(|e| CliError::other(format!("--iidfile {}: {e}", f.display())))?;
    }
    if matches!(progress, Progress::Quiet) {
        println!("{}", built.id);
    } else {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "writing image {} done", built.id);
        for t in &built.tags {
            let _ = writeln!(err, "naming to {t} done");
        }
        let _ = writeln!(
            err,
            "built in {:.1}s: {} run, {} cached",
            started.elapsed().as_secs_f64(),
            plural(built.steps_run, "step"),
            built.steps_cached
        );
    }
    Ok(0)
}

/// `tug builder prune`.
pub fn builder(engine: &Engine, c: BuilderCommand) -> CliResult {
    match c {
        BuilderCommand::Prune(a) => {
            if !a.force {
                super::system::confirm("WARNING! This will remove all dangling build cache.")?;
            }
            let r = engine.prune_build_cache()?;
            for id in &r.images {
                println!("Deleted: {id}");
            }
            println!(
                "Total: {} cache entries, {} images",
                r.entries,
                r.images.len()
            );
            Ok(0)
        }
    }
}

/// `1 step`, `2 steps`.
fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn native_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// A tar archive (plain, or gzip/bzip2/xz compressed) rather than a Dockerfile.
fn is_tar(b: &[u8]) -> bool {
    b.starts_with(&[0x1f, 0x8b])
        || b.starts_with(b"BZh")
        || b.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0])
        || b.get(257..262) == Some(b"ustar")
}

#[derive(Debug, Clone, Copy)]
enum Progress {
    Quiet,
    Plain,
    Tty,
}

/// Prints build events to STDERR. Plain (BuildKit's `--progress plain`): `#3 [2/5] RUN
/// ...`, the RUN's output lines with their time, `#3 DONE 0.4s` or `#3 CACHED`. On a
/// terminal: one line per step, finished with its time or CACHED, and while a RUN runs,
/// its last lines in a small window that is redrawn in place and cleared at the end.
struct Printer {
    mode: Progress,
    step_started: Instant,
    /// The current step's line (tty), redrawn when it finishes.
    current: String,
    /// The last lines of the current RUN's output (tty).
    window: std::collections::VecDeque<String>,
    /// How many lines of the window are on screen.
    drawn: usize,
}

/// The output lines a terminal view keeps on screen.
const WINDOW: usize = 6;

impl Printer {
    fn new(mode: Progress) -> Printer {
        Printer {
            mode,
            step_started: Instant::now(),
            current: String::new(),
            window: std::collections::VecDeque::new(),
            drawn: 0,
        }
    }

    fn event(&mut self, e: Event<'_>) {
        match self.mode {
            Progress::Quiet => {}
            Progress::Plain => self.plain(e),
            Progress::Tty => self.tty(e),
        }
    }

    fn plain(&mut self, e: Event<'_>) {
        let mut out = std::io::stderr().lock();
        let _ = match e {
            Event::Step {
                step,
                stage,
                index,
                total,
                text,
            } => {
                self.step_started = Instant::now();
                writeln!(out, "#{step} [{}] {text}", position(stage, index, total))
            }
            Event::Output { step, line, .. } => {
                let t = self.step_started.elapsed().as_secs_f64();
                writeln!(out, "#{step} {t:.3} {line}")
            }
            Event::Cached { step } => writeln!(out, "#{step} CACHED"),
            Event::Done { step, seconds } => writeln!(out, "#{step} DONE {seconds:.1}s"),
            Event::Pulling { reference } => writeln!(out, "pulling {reference}"),
            Event::Running { .. } | Event::Removed { .. } | Event::Image { .. } => Ok(()),
        };
    }

    fn tty(&mut self, e: Event<'_>) {
        let mut out = std::io::stderr().lock();
        match e {
            Event::Step {
                step,
                stage,
                index,
                total,
                text,
            } => {
                self.step_started = Instant::now();
                let width = terminal_width().saturating_sub(16).max(20);
                let text: String = text.chars().take(width).collect();
                self.current = format!("#{step} [{}] {text}", position(stage, index, total));
                let _ = writeln!(out, "\x1b[1m=> {}\x1b[0m", self.current);
            }
            Event::Output { line, .. } => {
                if self.window.len() == WINDOW {
                    self.window.pop_front();
                }
                let width = terminal_width().saturating_sub(4).max(20);
                self.window.push_back(line.chars().take(width).collect());
                self.clear_window(&mut out);
                for l in &self.window {
                    let _ = writeln!(out, "\x1b[2m   {l}\x1b[0m");
                }
                self.drawn = self.window.len();
            }
            Event::Cached { .. } => self.finish_step(&mut out, "CACHED".into()),
            Event::Done { seconds, .. } => self.finish_step(&mut out, format!("{seconds:.1}s")),
            Event::Pulling { reference } => {
                let _ = writeln!(out, "=> pulling {reference}");
            }
            Event::Running { .. } | Event::Removed { .. } | Event::Image { .. } => {}
        }
        let _ = out.flush();
    }

    /// Clears the output window and rewrites the step's line with how it ended.
    fn finish_step(&mut self, out: &mut impl Write, how: String) {
        self.clear_window(out);
        self.window.clear();
        // Up to the step's line, rewritten in place.
        let _ = write!(out, "\x1b[1A\x1b[2K");
        let _ = writeln!(out, "\x1b[34m=> {} \x1b[0m{how}", self.current);
    }

    fn clear_window(&mut self, out: &mut impl Write) {
        for _ in 0..self.drawn {
            let _ = write!(out, "\x1b[1A\x1b[2K");
        }
        self.drawn = 0;
    }

    fn finish(&mut self) {
        if matches!(self.mode, Progress::Tty) && self.drawn > 0 {
            // A failed RUN: leave its last lines on screen, under its step.
            self.drawn = 0;
        }
    }
}

/// `2/5`, or `stage 2/5` for a named stage.
fn position(stage: &str, index: usize, total: usize) -> String {
    if stage.is_empty() {
        format!("{index}/{total}")
    } else {
        format!("{stage} {index}/{total}")
    }
}

/// The terminal's width (80 when it cannot be told).
fn terminal_width() -> usize {
    let mut ws: nix::libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ fills the winsize struct passed by pointer; stderr is fd 2.
    let r = unsafe { nix::libc::ioctl(2, nix::libc::TIOCGWINSZ, &mut ws) };
    if r == 0 && ws.ws_col > 0 {
        usize::from(ws.ws_col)
    } else {
        80
    }
}
