//! The process-level entry points the `tug` binary needs besides the [`Engine`](crate::Engine): the
//! hidden shim mode and the clean-up of an interrupted command (an exec needs no sealed
//! re-exec: the container's shim runs it). They are public on purpose and only for the
//! binary (and other binaries that act as `tug`); everything else a face does goes
//! through the Engine.

/// The hidden subcommand that runs a shim (`tug __shim <id>`): the engine starts shims
/// as `<tug binary> __shim <id>`, so a binary that serves as `tug` must route it to
/// [`shim_main`].
pub const SHIM_SUBCOMMAND: &str = crate::shim::SUBCOMMAND;

/// The shim's main (`tug __shim <id>`): supervises container `id` until it is gone.
/// Returns the process's exit code.
pub fn shim_main(id: &str) -> i32 {
    crate::container::shim_main(id)
}

/// The hidden subcommand of a zygote of shims (see `shim::zygote`).
pub const ZYGOTE_SUBCOMMAND: &str = crate::shim::zygote::SUBCOMMAND;

/// The zygote's main (`tug __zygote`): forks shims for its starter until it closes the
/// zygote's socket. Returns the process's exit code.
pub fn zygote_main() -> i32 {
    crate::shim::zygote::zygote_main(crate::container::zygote_shim_main)
}

/// Removes the staging files and dirs this process was writing: the last act of an image
/// command interrupted by a signal.
pub fn remove_own_staging() {
    crate::fsutil::remove_own_staging()
}

/// Says that the running executable is `tug` (whatever its file is named), so that a
/// shim started by exec (from a multi-threaded command such as `build`) runs this very
/// binary, not a `tug` found beside it or on PATH. The `tug` binary calls it first.
pub fn running_as_tug() {
    crate::shim::RUNNING_AS_TUG.store(true, std::sync::atomic::Ordering::Relaxed);
}
