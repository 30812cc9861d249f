//! Capabilities: Docker's default set, and applying a spec's sets to the init before exec.

use std::str::FromStr;

use crate::sandbox::StepError;
use caps::{CapSet, Capability, CapsHashSet};
use oci_spec::runtime::{Capabilities, Capability as OciCap};

/// Docker's default capabilities (moby's `oci/caps/defaults.go`), in Docker's order.
pub const DOCKER_DEFAULT: &[OciCap] = &[
    OciCap::Chown,
    OciCap::DacOverride,
    OciCap::Fsetid,
    OciCap::Fowner,
    OciCap::Mknod,
    OciCap::NetRaw,
    OciCap::Setgid,
    OciCap::Setuid,
    OciCap::Setfcap,
    OciCap::Setpcap,
    OciCap::NetBindService,
    OciCap::SysChroot,
    OciCap::Kill,
    OciCap::AuditWrite,
];

/// Docker's default set as the spec's type.
pub fn docker_default() -> Capabilities {
    DOCKER_DEFAULT.iter().copied().collect()
}

/// The kernel's capability for a spec capability (`None` for one the caps crate does not
/// know, which is then simply not granted).
pub fn to_kernel(c: &OciCap) -> Option<Capability> {
    Capability::from_str(&format!("CAP_{c}")).ok()
}

/// A spec set as a kernel set.
pub fn kernel_set(set: Option<&Capabilities>) -> CapsHashSet {
    set.map(|s| s.iter().filter_map(to_kernel).collect())
        .unwrap_or_default()
}

/// The bitmask of a set, as `/proc/<pid>/status` prints it (`CapBnd: 00000000a80425fb`).
pub fn mask(set: &CapsHashSet) -> u64 {
    set.iter().fold(0, |m, c| m | c.bitmask())
}

/// Drops every capability outside `keep` from the bounding set (needs CAP_SETPCAP: call
/// it while still root).
///
/// It asks the kernel, not `/proc/sys/kernel/cap_last_cap`: inside the container that
/// file may be the image's (a volume over /proc), and a forged `0` there once kept every
/// capability in the bounding set. `PR_CAPBSET_DROP` answers EINVAL past the last one.
pub fn limit_bounding(keep: &CapsHashSet) -> Result<(), StepError> {
    let keep = mask(keep);
    for n in 0..64u32 {
        if keep & (1u64 << n) != 0 {
            continue;
        }
        // SAFETY: prctl(PR_CAPBSET_DROP, n) takes plain integers and touches no memory.
        let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, n as libc::c_ulong, 0, 0, 0) };
        if r != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINVAL) {
                return Err(StepError::new(
                    format!("dropping capability {n} from the bounding set"),
                    e,
                ));
            }
        }
    }
    Ok(())
}

/// Sets the effective, permitted and inheritable sets, and clears the ambient set.
/// Called after the user switch (with keepcaps), so a root process keeps them through
/// exec and a non-root one loses them there, as with Docker.
pub fn apply(
    effective: &CapsHashSet,
    permitted: &CapsHashSet,
    inheritable: &CapsHashSet,
) -> Result<(), StepError> {
    let err = |what: &str, e: caps::errors::CapsError| {
        StepError::new(format!("setting {what} capabilities"), e)
    };
    // The effective set must stay within the permitted one at every step.
    let current_p = caps::read(None, CapSet::Permitted).map_err(|e| err("permitted", e))?;
    let e_now: CapsHashSet = effective.intersection(&current_p).copied().collect();
    caps::set(None, CapSet::Effective, &e_now).map_err(|e| err("effective", e))?;
    caps::set(None, CapSet::Inheritable, inheritable).map_err(|e| err("inheritable", e))?;
    caps::set(None, CapSet::Permitted, permitted).map_err(|e| err("permitted", e))?;
    caps::set(None, CapSet::Effective, effective).map_err(|e| err("effective", e))?;
    let _ = caps::clear(None, CapSet::Ambient);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_default_mask_is_dockers() {
        // CapBnd of `docker run busybox grep Cap /proc/self/status`.
        assert_eq!(mask(&kernel_set(Some(&docker_default()))), 0xa80425fb);
    }
}
