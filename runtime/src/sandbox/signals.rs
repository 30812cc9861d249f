//! Signals: the supervisor blocks the signals it handles (before the clone, so none is
//! lost) and reads them from a signalfd; the init restores default dispositions and an
//! empty mask before exec.

use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal, sigprocmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};

/// Signals a foreground supervisor forwards to the container (`--sig-proxy`).
pub const FORWARDED: &[Signal] = &[
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGCONT,
];

/// The supervisor's blocked signals, read through a signalfd; the old mask comes back on
/// drop.
pub struct SignalReader {
    fd: SignalFd,
    old: SigSet,
}

impl SignalReader {
    /// Blocks SIGCHLD, SIGWINCH and the forwarded signals.
    pub fn new() -> nix::Result<SignalReader> {
        let mut set = SigSet::empty();
        set.add(Signal::SIGCHLD);
        set.add(Signal::SIGWINCH);
        for s in FORWARDED {
            set.add(*s);
        }
        let mut old = SigSet::empty();
        sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut old))?;
        let fd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)?;
        Ok(SignalReader { fd, old })
    }

    pub fn fd(&self) -> &SignalFd {
        &self.fd
    }

    /// The next pending signal, if any.
    pub fn read(&mut self) -> Option<Signal> {
        match self.fd.read_signal() {
            Ok(Some(info)) => Signal::try_from(info.ssi_signo as i32).ok(),
            _ => None,
        }
    }
}

impl Drop for SignalReader {
    fn drop(&mut self) {
        let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&self.old), None);
    }
}

/// In the init, before exec: every signal back to its default action (Rust ignores
/// SIGPIPE, and an ignored signal would stay ignored across exec) and an empty mask.
pub fn reset_for_exec() {
    for s in Signal::iterator() {
        if matches!(s, Signal::SIGKILL | Signal::SIGSTOP) {
            continue;
        }
        // SAFETY: installing SIG_DFL runs no handler code; this process is single-threaded.
        let _ = unsafe { nix::sys::signal::signal(s, SigHandler::SigDfl) };
    }
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
}
