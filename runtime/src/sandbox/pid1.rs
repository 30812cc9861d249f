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
    name_self(argv);
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

/// Names the process for `ps` as Docker's is named: comm `docker-init`, command line
/// `/sbin/docker-init -- ARGV...` (else it would show the shim's, tug's own command on
/// the host).
fn name_self(argv: &[CString]) {
    let _ = nix::sys::prctl::set_name(c"docker-init");
    let mut line = format!("/sbin/{NAME} --").into_bytes();
    for a in argv {
        line.push(b' ');
        line.extend_from_slice(a.as_bytes());
    }
    set_command_line(&line);
}

/// Replaces the process's command line (`/proc/self/cmdline`, what `ps` shows) with
/// `text`, cut to fit, in the memory that holds it: the arguments and the environment
/// the process was started with, contiguous at the top of its stack (the kernel's
/// setproctitle convention: past the arguments' end, it reads up to the first NUL). No
/// privilege is needed, unlike prctl(PR_SET_MM). The environment is gone afterwards:
/// only for a process that reads no variable any more (the init, once its child runs).
fn set_command_line(text: &[u8]) {
    let Some((arg_start, arg_end, env_end)) = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| arg_env_area(&s))
    else {
        return;
    };
    if arg_start == 0 || arg_end <= arg_start || env_end < arg_end {
        return;
    }
    let size = env_end - arg_start;
    let n = text.len().min(size - 1);
    // SAFETY: [arg_start, env_end) is this process's own argument and environment
    // strings, mapped writable on its stack, as /proc/self/stat gives them. Nothing reads
    // them any more: glibc's environ is cleared first, and this process reads no
    // argument again.
    unsafe {
        libc::clearenv();
        let at = arg_start as *mut u8;
        std::ptr::write_bytes(at, 0, size);
        std::ptr::copy_nonoverlapping(text.as_ptr(), at, n);
    }
}

/// The arguments' start and end and the environment's end from the text of
/// `/proc/PID/stat` (fields 48, 49 and 51; the second, the command name, may hold spaces
/// and parentheses, so the fields are counted from its closing one).
fn arg_env_area(stat: &str) -> Option<(usize, usize, usize)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` begins with field 3.
    let field = |n: usize| fields.get(n - 3)?.parse::<usize>().ok();
    Some((field(48)?, field(49)?, field(51)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_argument_area_is_read_past_the_command_name() {
        // Fields 3..=52 of a real stat line; the name holds a space and a parenthesis.
        let mut fields: Vec<String> = (3..=52).map(|n| n.to_string()).collect();
        fields[48 - 3] = "140000".into();
        fields[49 - 3] = "140013".into();
        fields[50 - 3] = "140013".into();
        fields[51 - 3] = "140400".into();
        let stat = format!("1 (tug (a) b) {}\n", fields.join(" "));
        assert_eq!(arg_env_area(&stat), Some((140000, 140013, 140400)));
        assert_eq!(arg_env_area("1 (short) 3 4"), None);
    }

    #[test]
    fn faults_stay_deliverable() {
        let s = waited();
        assert!(s.contains(Signal::SIGTERM) && s.contains(Signal::SIGCHLD));
        assert!(!s.contains(Signal::SIGSEGV) && !s.contains(Signal::SIGKILL));
    }
}
