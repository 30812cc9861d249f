//! The testkit's one error type ([`TestcontainersError`] by testcontainers' name): each
//! variant says what failed and, for a container that did not come up, shows its last
//! log lines.
//!
//! It is what a test prints (`{e}`, or `unwrap`'s message), so its text is the whole story:
//! an engine error is shown with its causes through [`tug::Report`], the one printer of
//! tug's error chains, and is kept as a field (not a `source()`), so that nothing prints
//! a cause twice.

use std::time::Duration;

use crate::ports::ContainerPort;

/// Every error of the testkit.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No `tug` binary to run the containers' shims.
    #[error(
        "no tug binary found: set TUG_BIN, or put `tug` beside the test binary ({beside}) or on PATH (cargo build -p tug builds it)"
    )]
    NoTugBinary { beside: String },
    /// The engine could not be opened, or preparing an image failed.
    #[error("{0}")]
    Setup(String),
    /// An engine operation failed.
    #[error("{what}: {}", tug::Report(&**cause))]
    Engine {
        what: String,
        cause: Box<tug::Error>,
    },
    /// The container was made but did not start; it was removed again.
    #[error("container {id} did not start: {cause}{}", show_logs(logs))]
    Start {
        id: String,
        cause: Box<Error>,
        logs: String,
    },
    /// A wait strategy did not succeed before the startup timeout.
    #[error(
        "timed out after {after:?} waiting for {condition} (container {id}){}",
        show_logs(logs)
    )]
    WaitTimeout {
        id: String,
        condition: String,
        after: Duration,
        logs: String,
    },
    /// The container exited while a wait strategy waited for something else.
    #[error(
        "container {id} exited with code {code}{} while waiting for {condition}{}",
        show_reason(reason),
        show_logs(logs)
    )]
    Exited {
        id: String,
        condition: String,
        code: i32,
        /// The engine's word on why (`State.Error`), when it has one.
        reason: String,
        logs: String,
    },
    /// The container port is not published (no `with_exposed_port`/`with_mapped_port`).
    #[error("container {id}: port {port} is not published: use with_exposed_port({port})")]
    PortNotExposed { id: String, port: ContainerPort },
    /// An exec did not do what its [`crate::core::CmdWaitFor`] asked.
    #[error("exec {cmd:?} in {id}: {why}")]
    Exec {
        id: String,
        cmd: Vec<String>,
        why: String,
    },
    /// A bad argument (a regex, a path, what tug does not support).
    #[error("{0}")]
    Invalid(String),
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
}

/// testcontainers' name for the error type.
pub type TestcontainersError = Error;

fn show_reason(reason: &str) -> String {
    if reason.is_empty() {
        String::new()
    } else {
        format!(" ({reason})")
    }
}

fn show_logs(logs: &str) -> String {
    if logs.is_empty() {
        "\n(no log output)".into()
    } else {
        format!("\nlast log lines:\n{logs}")
    }
}

impl Error {
    pub(crate) fn engine(what: impl Into<String>, source: impl Into<tug::Error>) -> Error {
        Error::Engine {
            what: what.into(),
            cause: Box::new(source.into()),
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::Io("reading a container's output".into(), e)
    }
}

/// The testkit's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
