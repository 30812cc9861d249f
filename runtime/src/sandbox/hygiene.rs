//! What a process that is about to enter a container drops first, so that the
//! container's root learns nothing of the caller through it (CVE-2016-9962 and kin):
//! it becomes non-dumpable (its /proc files then need CAP_SYS_PTRACE, which containers
//! lack by default), closes every fd it was not told to keep, and wipes the caller's
//! arguments and environment from its memory (what /proc/PID/cmdline and environ show).

use crate::sandbox::StepError;
use std::os::fd::RawFd;

/// `prctl(PR_SET_DUMPABLE, 0)`; an `execve` makes the process dumpable again.
pub fn make_undumpable() -> Result<(), StepError> {
    nix::sys::prctl::set_dumpable(false).map_err(|e| StepError::new("PR_SET_DUMPABLE", e))
}

/// Closes every fd but those in `keep`.
pub fn close_fds_except(keep: &[RawFd]) {
    let mut keep: Vec<u32> = keep
        .iter()
        .filter(|f| **f >= 0)
        .map(|f| *f as u32)
        .collect();
    keep.sort_unstable();
    keep.dedup();
    let mut from = 0u32;
    for k in keep.iter().copied().chain(std::iter::once(u32::MAX)) {
        if k > from {
            let to = if k == u32::MAX { u32::MAX } else { k - 1 };
            // SAFETY: close_range closes fds of this process only; none of them is owned
            // by a Rust object that will use it afterwards (the caller keeps what it needs).
            unsafe { libc::syscall(libc::SYS_close_range, from, to, 0u32) };
        }
        from = k.saturating_add(1);
        if k == u32::MAX {
            break;
        }
    }
}

/// The (start, end) addresses of the argument and environment strings, from
/// /proc/self/stat (fields 48 to 51).
fn arg_env_ranges(stat: &str) -> Option<[(usize, usize); 2]> {
    // Fields after the command name, which is in parentheses and may hold anything.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): field n is f[n - 3].
    let n = |i: usize| f.get(i - 3)?.parse::<usize>().ok();
    Some([(n(48)?, n(49)?), (n(50)?, n(51)?)])
}

/// Overwrites this process's argument and environment strings with zeros. Call it only
/// in a process that will not read `std::env` again before `execve`.
pub fn scrub_args_and_environ() {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return;
    };
    let Some(ranges) = arg_env_ranges(&stat) else {
        return;
    };
    for (start, end) in ranges {
        if start == 0 || end <= start {
            continue;
        }
        // SAFETY: the kernel reports [start, end) as this process's argument or
        // environment strings, which sit in its writable stack mapping; nothing reads
        // them afterwards (the caller's promise), so writing zeros there is sound.
        unsafe { std::ptr::write_bytes(start as *mut u8, 0, end - start) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_come_from_the_right_stat_fields() {
        let mut fields: Vec<String> = (3..=52).map(|i| i.to_string()).collect();
        fields[0] = "S".into();
        let stat = format!("42 (a) b) c) {}", fields.join(" "));
        assert_eq!(arg_env_ranges(&stat), Some([(48, 49), (50, 51)]));
        let own = std::fs::read_to_string("/proc/self/stat").unwrap();
        let [(a0, a1), (e0, e1)] = arg_env_ranges(&own).unwrap();
        assert!(a0 < a1 && a1 <= e0 && e0 < e1, "{own}");
    }

    #[test]
    fn scrubbing_empties_cmdline_and_environ_of_a_child() {
        // In a forked child, so that the test process keeps its own.
        // SAFETY: the child only scrubs, reads its own /proc files and exits.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                scrub_args_and_environ();
                let env = std::fs::read("/proc/self/environ").unwrap_or_default();
                let cmd = std::fs::read("/proc/self/cmdline").unwrap_or_default();
                let clean = env.iter().all(|b| *b == 0) && cmd.iter().all(|b| *b == 0);
                // SAFETY: _exit in the forked child.
                unsafe { libc::_exit(if clean { 0 } else { 1 }) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                let st = nix::sys::wait::waitpid(child, None).unwrap();
                assert_eq!(st, nix::sys::wait::WaitStatus::Exited(child, 0));
            }
        }
    }
}
