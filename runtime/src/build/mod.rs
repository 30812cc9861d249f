//! `tug build`: Dockerfiles into images. The pure parts are here: the parser
//! ([`dockerfile`]), what config instructions do to an image config ([`config`]), the build
//! context with its `.dockerignore` rules ([`context`], [`ignore`]), which stages a target
//! needs ([`plan`]), what COPY writes ([`copy`]), the cache's keys and entries ([`cache`])
//! and Docker's history texts ([`history`]). The builder that runs the steps is the
//! Engine's `build` (in `engine/build.rs`): RUN in a container of the image so far, COPY
//! and ADD into an overlay of it without a container, each step's result an image in the
//! store that the cache names.

pub mod cache;
pub mod config;
pub mod context;
pub mod copy;
pub mod dockerfile;
mod glob;
pub mod history;
pub mod ignore;
pub mod plan;

use std::path::PathBuf;

/// Where the Dockerfile comes from.
#[derive(Debug, Clone)]
pub enum DockerfileSource {
    /// A file (`-f path`, or `<context>/Dockerfile`).
    Path(PathBuf),
    /// Text read elsewhere (`-f -`, `tug build - < Dockerfile`), named `name` in errors.
    Text { name: String, text: String },
    /// A path inside the context (a context that came as an archive).
    InContext(String),
}

/// Where the build context comes from.
#[derive(Debug, Clone)]
pub enum ContextSource {
    /// No context (`tug build - < Dockerfile`): COPY can only take heredocs and stages.
    None,
    /// A directory.
    Dir(PathBuf),
    /// A tar archive (plain or gzip), as `tug build - < context.tar` or the Docker API
    /// send it; unpacked into the build's scratch space.
    Tar(Vec<u8>),
}

/// What `tug build` asks for.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    pub context: ContextSource,
    pub dockerfile: DockerfileSource,
    /// `-t`: names for the result.
    pub tags: Vec<String>,
    /// `--build-arg KEY=VALUE`.
    pub build_args: Vec<(String, String)>,
    /// `--target`: the stage to build (None: the last).
    pub target: Option<String>,
    /// `--no-cache`: run every step (the results still fill the cache).
    pub no_cache: bool,
    /// `--pull`: pull every base image even when it is in the store.
    pub pull: bool,
    /// `--network`: RUN's network when the instruction names none (`default` is the
    /// bridge with NAT).
    pub network: Option<String>,
    /// `--cache-from`: images whose builds' steps may be reused (their config's cache
    /// trail names the steps), pulled if the store lacks them.
    pub cache_from: Vec<String>,
    /// `--label KEY=VALUE`: labels of the result.
    pub labels: Vec<(String, String)>,
    /// `SOURCE_DATE_EPOCH`: the time of every `created` field and the latest mtime of
    /// every layer entry, so the same inputs give the same image digest.
    pub source_date_epoch: Option<u64>,
    /// An image stored after every step, config steps too, and told ([`Event::Image`]),
    /// as Docker's classic builder commits one per step and prints its id (the API's
    /// `/build`): a user can run the image of the last step that worked.
    pub step_images: bool,
}

impl BuildOptions {
    /// A build of `context` with its `Dockerfile`, no other option.
    pub fn new(context: impl Into<PathBuf>) -> BuildOptions {
        let context = context.into();
        BuildOptions {
            dockerfile: DockerfileSource::Path(context.join("Dockerfile")),
            context: ContextSource::Dir(context),
            tags: Vec::new(),
            build_args: Vec::new(),
            target: None,
            no_cache: false,
            pull: false,
            network: None,
            cache_from: Vec::new(),
            labels: Vec::new(),
            source_date_epoch: None,
            step_images: false,
        }
    }
}

/// What a build reports as it goes, for a progress view. `step` numbers every step of
/// the build from 1 (as BuildKit's `#N`).
#[derive(Debug, Clone)]
pub enum Event<'a> {
    /// A step starts: `[stage n/m] INSTRUCTION` (`stage` is the stage's name or index).
    Step {
        step: usize,
        stage: &'a str,
        index: usize,
        total: usize,
        text: &'a str,
    },
    /// The step's result came from the cache.
    Cached { step: usize },
    /// A line a RUN printed (without its newline).
    Output {
        step: usize,
        line: &'a str,
        stderr: bool,
    },
    /// The step is done.
    Done { step: usize, seconds: f64 },
    /// A base image is pulled.
    Pulling { reference: &'a str },
    /// A RUN's container was made (`id`), and runs the command.
    Running { step: usize, container: &'a str },
    /// The RUN's container is removed.
    Removed { step: usize, container: &'a str },
    /// The image the step left (the base image for a FROM); only with
    /// [`BuildOptions::step_images`].
    Image { step: usize, id: &'a crate::Digest },
}

/// The result of a build.
#[derive(Debug, Clone)]
pub struct Built {
    /// The image id (its config's digest).
    pub id: crate::Digest,
    pub manifest_digest: crate::Digest,
    /// The names given with `-t`.
    pub tags: Vec<String>,
    /// Steps run and steps taken from the cache.
    pub steps_run: usize,
    pub steps_cached: usize,
}

/// What `tug builder prune` freed.
#[derive(Debug, Clone, Default)]
pub struct BuildCachePrune {
    /// Cache entries removed.
    pub entries: usize,
    /// Images of the cache removed (the ones no tag and no container holds).
    pub images: Vec<crate::Digest>,
}

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Dockerfile does not parse, or a step is wrong (a COPY source not found, an
    /// unknown stage): the file, line and column, and what.
    #[error(transparent)]
    Dockerfile(#[from] dockerfile::Error),
    /// A RUN exited non-zero.
    #[error(
        "{file}:{line}: RUN failed: the command {command} returned a non-zero code: {code}{}",
        tail_text(.tail)
    )]
    RunFailed {
        file: String,
        line: usize,
        command: String,
        code: i32,
        /// Its last lines of output.
        tail: Vec<String>,
    },
    /// The build context cannot be read.
    #[error("{0}")]
    Context(String),
}

fn tail_text(tail: &[String]) -> String {
    if tail.is_empty() {
        return String::new();
    }
    let mut s = String::from("\nthe last lines of its output:");
    for l in tail {
        s.push_str("\n  ");
        s.push_str(l);
    }
    s
}
