//! `--init`: a small PID 1 of tug's own, as Docker's `docker-init` (tini). The container's
//! init, instead of becoming the user's process, forks it and stays: it forwards the
//! signals it gets to it, reaps every zombie of the container (orphans are re-parented to
//! PID 1), and exits with its exit code (128 + n when signal n killed it).
//!
//! It is the init the shim cloned, going on in tug's code (already loaded: nothing is
//! exec'd from the host, and no loader is needed in the image), after the user,
//! capabilities, seccomp filter, limits and no_new_privs are set. It stays non-dumpable
//! (no execve makes it dumpable again, so its /proc files need CAP_SYS_PTRACE) and holds
//! no fd but stdio.

use std::convert::Infallible;
use std::ffi::CString;

use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, sigprocmask};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid};

use super::failure::{Failure, setup_err};
use super::signals;

/// The spec annotation that asks for it (`HostConfig.Init`).
pub const ANNOTATION: &str = "io.tug.init";

/// What `ps` shows as PID 1's name, as with Docker.
const NAME: &str = "docker-init";

/// The signals the init waits for: all but those a fault raises (which must stay
/// deliverable to crash it) and the two that cannot be blocked.
fn waited() -> SigSet {
    let mut set = SigSet::all();
    for s in [
        Signal::SIGFPE,
        Signal::SIGILL,
        Signal::SIGSEGV,
        Signal::SIGBUS,
        Signal::SIGABRT,
        Signal::SIGTRAP,
        Signal::SIGSYS,
        Signal::SIGKILL,
        Signal::SIGSTOP,
    ] {
        set.remove(s);
    }
    set
}

/// Forks the user's process (`exe` with `argv` and `envp`, already found in the
/// container's PATH) and supervises it until it exits; then exits with its code. Returns
/// only on a failure before the fork.
pub(super) fn run(
    exe: &CString,
    argv: &[CString],
    envp: &[CString],
) -> Result<Infallible, Failure> {
    let set = waited();
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&set), None)
        .map_err(|e| setup_err(format!("blocking signals for --init: {e}")))?;
    // SAFETY: the init is single-threaded (a clone of the single-threaded shim), so the
    // child may run any code.
    let child = match unsafe { nix::unistd::fork() } {
        Ok(ForkResult::Child) => exec_child(exe, argv, envp),
        Ok(ForkResult::Parent { child }) => child,
        Err(e) => return Err(setup_err(format!("fork for --init: {e}"))),
    };
    // Every fd but stdio goes, the sync socket too: with the child's exec, that tells the
    // supervisor the container runs.
    // SAFETY: close_range closes only this process's own fds, none of them owned by a
    // Rust object that is used after this point.
    unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) };
    name_self();
    loop {
        let Ok(sig) = set.wait() else { continue };
        if sig != Signal::SIGCHLD {
            // The child may be gone already: then its exit is reaped next.
            let _ = kill(child, sig);
            continue;
        }
        if let Some(code) = reap(child) {
            // SAFETY: _exit ends the process at once, running nothing of the shim's.
            unsafe { libc::_exit(code) };
        }
    }
}

/// The child: its own process group, in the terminal's foreground (as tini does, so
/// that a shell's job control works), default signals, and the exec.
fn exec_child(exe: &CString, argv: &[CString], envp: &[CString]) -> ! {
    let _ = nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0));
    // SIGTTOU is still blocked here, so a background group may take the terminal.
    let _ = nix::unistd::tcsetpgrp(std::io::stdin(), nix::unistd::getpgrp());
    super::exec::cloexec_all_but_stdio();
    signals::reset_for_exec();
    let Err(err) = nix::unistd::execve(exe, argv, envp);
    let msg = format!("{NAME}: exec {:?} failed: {}\n", exe, err.desc());
    // SAFETY: write reads `msg`, which lives across the call; _exit ends the child.
    unsafe {
        libc::write(2, msg.as_ptr().cast(), msg.len());
        libc::_exit(if err == nix::Error::ENOENT { 127 } else { 126 })
    }
}

/// Reaps every zombie; the exit code once `child` is among them.
fn reap(child: Pid) -> Option<i32> {
    let mut code = None;
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, c)) if pid == child => code = Some(c),
            Ok(WaitStatus::Signaled(pid, s, _)) if pid == child => code = Some(128 + s as i32),
            Ok(WaitStatus::StillAlive) | Err(_) => return code,
            Ok(_) => {}
        }
    }
}

/// Names the process `docker-init` for `ps` (its comm; its command line stays the
/// shim's, which only CAP_SYS_RESOURCE could change).
fn name_self() {
    let _ = nix::sys::prctl::set_name(c"docker-init");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_stay_deliverable() {
        let s = waited();
        assert!(s.contains(Signal::SIGTERM) && s.contains(Signal::SIGCHLD));
        assert!(!s.contains(Signal::SIGSEGV) && !s.contains(Signal::SIGKILL));
    }
}
