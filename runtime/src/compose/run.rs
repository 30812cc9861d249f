//! What the engine's compose operations take and report (`Engine::compose_up`,
//! `compose_down`...), and the small pure helpers the faces share: the options, the
//! progress events, a project's member containers, a service's image and stop settings.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{Error as ComposeError, Project};
use crate::container::Container;

/// What a compose operation reports as it goes, as compose prints it: ` Container
/// demo-web-1  Started` (a step), or a warning.
#[derive(Debug, Clone, Copy)]
pub enum ComposeEvent<'a> {
    /// `kind` (`Container`, `Network`, `Volume`, `Image`, `Service`) `name` is `what`
    /// (`Creating`, `Started`, `Healthy`...).
    Step {
        kind: &'a str,
        name: &'a str,
        what: &'a str,
    },
    /// Something the user should know (orphan containers).
    Warning(&'a str),
}

/// Where compose operations report their [`ComposeEvent`]s.
pub type Events<'a> = &'a dyn Fn(ComposeEvent<'_>);

/// Reports nothing.
pub fn quiet(_: ComposeEvent<'_>) {}

pub(crate) fn fail(message: impl Into<String>) -> ComposeError {
    ComposeError::Run(message.into())
}

/// A container of a project, with what its labels say.
#[derive(Debug, Clone)]
pub struct ComposeMember {
    pub c: Container,
    pub service: String,
    /// The replica number (`com.docker.compose.container-number`).
    pub number: u32,
    /// A one-off container of `compose run`.
    pub oneoff: bool,
}

impl ComposeMember {
    pub fn name(&self) -> &str {
        self.c.short_name()
    }
    pub fn running(&self) -> bool {
        self.c.state.running
    }
}

/// How `compose up` runs a project ([`crate::Engine::compose_up`]).
#[derive(Debug, Clone, Default)]
pub struct UpOptions {
    /// The services to bring up (with their dependencies); all when empty.
    pub services: Vec<String>,
    /// Build images before starting containers.
    pub build: bool,
    /// Don't build an image, even if it's missing.
    pub no_build: bool,
    /// `always`, `missing` (the default, `None`) or `never`; a service's `pull_policy`
    /// comes first.
    pub pull: Option<String>,
    /// Replicas per service, over the file's `deploy.replicas`.
    pub scale: BTreeMap<String, u32>,
    /// Wait until every container is running, and healthy when it has a healthcheck.
    pub wait: bool,
    /// The deadline of the waits (dependencies' conditions and `wait`); 300 s if `None`.
    pub wait_timeout: Option<Duration>,
    /// Don't start the services' dependencies.
    pub no_deps: bool,
    pub force_recreate: bool,
    pub no_recreate: bool,
    /// Remove the containers of services the files no longer have (else: a warning).
    pub remove_orphans: bool,
    /// Create the containers, don't start them.
    pub no_start: bool,
    /// Seconds a recreated container gets to stop (over its `stop_grace_period`).
    pub timeout: Option<u64>,
}

/// How `compose down` takes a project down ([`crate::Engine::compose_down`]).
#[derive(Debug, Clone, Default)]
pub struct DownOptions {
    /// Remove the project's named volumes and its containers' anonymous ones.
    pub volumes: bool,
    /// Remove the containers of services the files no longer have.
    pub remove_orphans: bool,
    /// Remove images: `local` (those built for a service) or `all`.
    pub rmi: Option<String>,
    /// Seconds each container gets to stop (over its `stop_grace_period`).
    pub timeout: Option<u64>,
}

/// The image a service's containers run: its `image`, else `<project>-<service>`.
pub fn image_of(p: &Project, service: &str) -> String {
    p.services[service]
        .image
        .clone()
        .unwrap_or_else(|| format!("{}-{service}", p.name))
}

/// How long `service`'s containers get to stop (`flag` seconds over its
/// `stop_grace_period`), and the signal that asks them (its `stop_signal`, else the
/// image's).
pub fn stop_how(
    p: Option<&Project>,
    service: &str,
    flag: Option<u64>,
) -> (Option<Duration>, Option<String>) {
    let s = p.and_then(|p| p.services.get(service));
    let timeout = flag
        .map(Duration::from_secs)
        .or_else(|| s.and_then(|s| s.stop_grace_period));
    (timeout, s.and_then(|s| s.stop_signal.clone()))
}

/// Checks that every named service exists.
pub fn check_services(p: &Project, names: &[String]) -> Result<(), ComposeError> {
    for n in names {
        if !p.services.contains_key(n) {
            return Err(fail(format!("no such service: {n}")));
        }
    }
    Ok(())
}
