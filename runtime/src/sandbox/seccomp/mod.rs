//! seccomp: Docker's profile format ([`Profile`]), tug's default profile (Docker's,
//! [`default_profile`]), its resolution for one container into the runtime spec's
//! `linux.seccomp` (at create, on the host), the compiler to a BPF [`Program`] (once per
//! start, before the init is cloned) and the load (the init's and each exec's last steps).

mod bpf;
mod default;
mod profile;

pub use bpf::{Program, compile, native_arch};
pub use default::default_profile;
pub use profile::{Arg, Filter, Profile, Rule, Target, parse_kernel};

use crate::sandbox::StepError;

impl Program {
    /// Installs the filter on the calling thread (single-threaded here: the init or an
    /// exec'd process just before `execve`). Needs CAP_SYS_ADMIN or no_new_privs.
    pub fn load(&self) -> Result<(), StepError> {
        let prog = libc::sock_fprog {
            len: self.insns.len() as u16,
            filter: self.insns.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: seccomp(SECCOMP_SET_MODE_FILTER) reads `prog` and the `len`
        // instructions it points at, which live across the call; it writes nothing.
        let r = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0,
                &prog as *const libc::sock_fprog,
            )
        };
        if r != 0 {
            return Err(StepError::new(
                "loading the seccomp filter",
                std::io::Error::last_os_error(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
