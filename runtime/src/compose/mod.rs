//! Compose: the compose file model as `docker compose` v2 reads it (loading, variable
//! interpolation, merging of several files, validation with file:line errors), `config`'s
//! normalised YAML, the start order of services, and what a service's containers are
//! (names, labels, create options). Pure: nothing here touches the engine; the engine's
//! `compose_*` methods (`engine/compose.rs`) run a project.

mod config;
mod containers;
mod emit;
mod extends;
mod forms;
mod include;
mod interpolate;
mod load;
mod locate;
mod merge;
mod model;
mod node;
mod order;
mod parse;
pub(crate) mod run;
mod top;

pub use config::{to_value as config_value, to_yaml as config_yaml};
pub use containers::{
    LABEL_CONFIG_FILES, LABEL_CONFIG_HASH, LABEL_NUMBER, LABEL_ONEOFF, LABEL_PROJECT,
    LABEL_SERVICE, LABEL_VERSION, LABEL_WORKING_DIR, config_hash, container_name, create_options,
    healthcheck, network_labels, volume_labels,
};
pub use forms::split_shell;
pub use interpolate::{InterpolateError, interpolate};
pub use load::{DEFAULT_FILES, LoadOptions, load, normalize_name};
pub use model::*;
pub use node::{format_duration, parse_duration};
pub use order::start_order;
pub use run::{
    ComposeEvent, ComposeMember, DownOptions, Events, UpOptions, check_services, image_of, quiet,
    stop_how,
};

/// What goes wrong reading a compose project.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A bad value: its file, line (when found) and key path.
    #[error("{}", invalid_message(file, line, path, message))]
    Invalid {
        file: String,
        line: Option<usize>,
        path: String,
        message: String,
    },
    #[error(
        "no configuration file provided: not found in {0} (compose.yaml, docker-compose.yml, ...)"
    )]
    NoFile(String),
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
    #[error(
        "invalid project name {0:?}: must consist only of lowercase alphanumeric characters, hyphens, and underscores as well as start with a letter or number"
    )]
    BadName(String),
    /// A service's value that the engine cannot take (a bad port, a bad mount).
    #[error("service {service:?}: {message}")]
    Service { service: String, message: String },
    /// Running a project failed (a dependency unhealthy, a wait timed out, a missing
    /// image or service).
    #[error("{0}")]
    Run(String),
}

fn invalid_message(file: &str, line: &Option<usize>, path: &str, message: &str) -> String {
    let at = match line {
        Some(l) => format!("{file}:{l}"),
        None => file.to_string(),
    };
    if path.is_empty() {
        format!("{at}: {message}")
    } else {
        format!("{at}: {path}: {message}")
    }
}

#[cfg(test)]
mod config_tests;
#[cfg(test)]
mod tests;
