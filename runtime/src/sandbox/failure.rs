//! How a step of the container's start fails, in one place: the kinds (which decide
//! Docker's exit codes 125, 126 and 127, and cross the sync socket as one byte), the
//! failure the init's and the exec intermediate's steps return, and the messages of a
//! failed `execve`, in Docker's words. The supervisor gets a failure as
//! `sandbox::Error::Init`.

/// Why the init failed, which decides the CLI's exit code as Docker's does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitFailure {
    /// Setting up the container failed (125).
    Setup,
    /// The command could not be executed: permission denied, a directory... (126).
    NotExecutable,
    /// The command was not found (127).
    NotFound,
}

impl InitFailure {
    /// Docker's exit code for it.
    pub fn exit_code(self) -> i32 {
        match self {
            InitFailure::Setup => 125,
            InitFailure::NotExecutable => 126,
            InitFailure::NotFound => 127,
        }
    }

    /// The byte that stands for this kind on the sync socket.
    pub(super) fn tag(self) -> u8 {
        match self {
            InitFailure::Setup => b's',
            InitFailure::NotExecutable => b'x',
            InitFailure::NotFound => b'n',
        }
    }

    /// The kind a sync-socket byte stands for (an unknown byte is a setup failure).
    pub(super) fn from_tag(t: u8) -> InitFailure {
        match t {
            b'x' => InitFailure::NotExecutable,
            b'n' => InitFailure::NotFound,
            _ => InitFailure::Setup,
        }
    }
}

/// A failure inside the init (or an exec's intermediate): what kind, and the message for
/// the user. It crosses the sync socket to the supervisor.
pub(super) type Failure = (InitFailure, String);

/// A failure to set up the container (125).
pub(super) fn setup_err(msg: impl Into<String>) -> Failure {
    (InitFailure::Setup, msg.into())
}

/// The failure of `execve(cmd)`: not found (127) or not executable (126), as Docker says
/// it.
pub(super) fn exec_error(cmd: &str, e: nix::Error) -> Failure {
    let kind = match e {
        nix::Error::ENOENT => InitFailure::NotFound,
        _ => InitFailure::NotExecutable,
    };
    let why = match e {
        nix::Error::EACCES => "permission denied".to_string(),
        nix::Error::ENOENT => "no such file or directory".to_string(),
        nix::Error::ENOEXEC => "exec format error".to_string(),
        other => other.desc().to_lowercase(),
    };
    (kind, format!("exec: \"{cmd}\": {why}"))
}
