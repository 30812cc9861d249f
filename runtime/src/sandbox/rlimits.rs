//! The runtime spec's `process.rlimits`, set by the container's init and by each exec'd
//! process (while they still hold CAP_SYS_RESOURCE, so a hard limit may be raised) before
//! they become the user's process, as runc does.

use oci_spec::runtime::{PosixRlimitType, Process};

use super::failure::{Failure, setup_err};

/// Sets every limit of `process`.
pub(super) fn apply(process: &Process) -> Result<(), Failure> {
    for r in process.rlimits().as_deref().unwrap_or_default() {
        let limit = libc::rlimit {
            rlim_cur: r.soft(),
            rlim_max: r.hard(),
        };
        // SAFETY: setrlimit reads the rlimit struct, which lives across the call.
        if unsafe { libc::setrlimit(resource(r.typ()), &limit) } != 0 {
            let e = std::io::Error::last_os_error();
            return Err(setup_err(format!("setrlimit {:?}: {e}", r.typ())));
        }
    }
    Ok(())
}

/// The kernel's number of a limit.
fn resource(t: PosixRlimitType) -> libc::__rlimit_resource_t {
    match t {
        PosixRlimitType::RlimitCpu => libc::RLIMIT_CPU,
        PosixRlimitType::RlimitFsize => libc::RLIMIT_FSIZE,
        PosixRlimitType::RlimitData => libc::RLIMIT_DATA,
        PosixRlimitType::RlimitStack => libc::RLIMIT_STACK,
        PosixRlimitType::RlimitCore => libc::RLIMIT_CORE,
        PosixRlimitType::RlimitRss => libc::RLIMIT_RSS,
        PosixRlimitType::RlimitNproc => libc::RLIMIT_NPROC,
        PosixRlimitType::RlimitNofile => libc::RLIMIT_NOFILE,
        PosixRlimitType::RlimitMemlock => libc::RLIMIT_MEMLOCK,
        PosixRlimitType::RlimitAs => libc::RLIMIT_AS,
        PosixRlimitType::RlimitLocks => libc::RLIMIT_LOCKS,
        PosixRlimitType::RlimitSigpending => libc::RLIMIT_SIGPENDING,
        PosixRlimitType::RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        PosixRlimitType::RlimitNice => libc::RLIMIT_NICE,
        PosixRlimitType::RlimitRtprio => libc::RLIMIT_RTPRIO,
        PosixRlimitType::RlimitRttime => libc::RLIMIT_RTTIME,
    }
}
