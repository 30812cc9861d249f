//! The process-level entry points the `tug` binary needs besides the [`Engine`]: the
//! hidden shim mode, the sealed re-exec before an exec, and the clean-up of an interrupted
//! command. They are public on purpose and only for the binary (and other binaries that
//! act as `tug`); everything else a face does goes through the Engine.

use std::path::Path;

/// The hidden subcommand that runs a shim (`tug __shim <id>`): the engine starts shims
/// as `<tug binary> __shim <id>`, so a binary that serves as `tug` must route it to
/// [`shim_main`].
pub const SHIM_SUBCOMMAND: &str = crate::shim::SUBCOMMAND;

/// The shim's main (`tug __shim <id>`): supervises container `id` until it is gone.
/// Returns the process's exit code.
pub fn shim_main(id: &str) -> i32 {
    crate::shim::main(id)
}

/// Re-executes this process from a sealed copy (or protected mount) of its binary, so
/// that a process that enters a container cannot write the host's `tug`
/// (CVE-2019-5736). Returns only if the binary is protected already, or with why it
/// cannot be done.
pub fn reexec_sealed(run_root: &Path) -> Result<(), crate::sandbox::StepError> {
    crate::sandbox::exeseal::reexec_sealed(run_root)
}

/// Removes the staging files and dirs this process was writing: the last act of an image
/// command interrupted by a signal.
pub fn remove_own_staging() {
    crate::fsutil::remove_own_staging()
}
