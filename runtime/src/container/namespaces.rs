//! The namespace modes of `run`/`create` (`--pid`, `--ipc`, `--uts`, `--cgroupns`) and
//! `--sysctl`, checked with Docker's rules and messages. Each host mode drops exactly the
//! namespace Docker's drops, nothing more: capabilities, seccomp, masked paths and the
//! read-only /proc/sys stay as they are.

use std::collections::BTreeMap;

use super::Error;

/// `--pid`: the container's PID namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PidMode {
    /// Its own (the default).
    Private,
    /// The host's: the container sees (but, without CAP_SYS_PTRACE, cannot trace) every
    /// host process.
    Host,
    /// Another container's (its name or id; recorded as the id).
    Container(String),
}

impl PidMode {
    /// Parses `--pid` as Docker's CLI does (`""`, `host`, `container:<name|id>`).
    pub fn parse(s: &str) -> Result<PidMode, Error> {
        match s {
            "" | "private" => Ok(PidMode::Private),
            "host" => Ok(PidMode::Host),
            _ => match s.strip_prefix("container:") {
                Some(c) if !c.is_empty() => Ok(PidMode::Container(c.into())),
                _ => Err(Error::Invalid("--pid: invalid PID mode".into())),
            },
        }
    }

    /// `HostConfig.PidMode` (empty for the default, as Docker's).
    pub fn record(&self) -> String {
        match self {
            PidMode::Private => String::new(),
            PidMode::Host => "host".into(),
            PidMode::Container(c) => format!("container:{c}"),
        }
    }
}

/// `--ipc`: the container's IPC namespace and its /dev/shm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpcMode {
    /// Its own, with a /dev/shm no other container can join (Docker's default).
    Private,
    /// Its own, with a /dev/shm that `--ipc container:<it>` shares.
    Shareable,
    /// Its own, with no /dev/shm at all.
    None,
    /// The host's IPC namespace and /dev/shm.
    Host,
    /// Another (shareable, running) container's IPC namespace and /dev/shm.
    Container(String),
}

impl IpcMode {
    /// Parses `--ipc` (`""` is Docker's default, `private`).
    pub fn parse(s: &str) -> Result<IpcMode, Error> {
        match s {
            "" | "private" => Ok(IpcMode::Private),
            "shareable" => Ok(IpcMode::Shareable),
            "none" => Ok(IpcMode::None),
            "host" => Ok(IpcMode::Host),
            _ => match s.strip_prefix("container:") {
                Some(c) if !c.is_empty() => Ok(IpcMode::Container(c.into())),
                _ => Err(Error::Invalid("--ipc: invalid IPC mode".into())),
            },
        }
    }

    /// `HostConfig.IpcMode`.
    pub fn record(&self) -> String {
        match self {
            IpcMode::Private => "private".into(),
            IpcMode::Shareable => "shareable".into(),
            IpcMode::None => "none".into(),
            IpcMode::Host => "host".into(),
            IpcMode::Container(c) => format!("container:{c}"),
        }
    }
}

/// `--uts host`: the host's hostname and domain name (no UTS namespace).
pub fn parse_uts(s: &str) -> Result<bool, Error> {
    match s {
        "" => Ok(false),
        "host" => Ok(true),
        _ => Err(Error::Invalid("--uts: invalid UTS mode".into())),
    }
}

/// `--cgroupns`: `true` for a private cgroup namespace. Unset, Docker's default: private
/// on cgroup v2, host on v1 (`v2` says which this host has).
pub fn parse_cgroupns(s: &str, v2: bool) -> Result<bool, Error> {
    match s {
        "" => Ok(v2),
        "private" => Ok(true),
        "host" => Ok(false),
        _ => Err(Error::Invalid("--cgroupns: invalid CGROUP mode".into())),
    }
}

/// The IPC sysctls Docker allows by name (the `kernel.` ones namespaced with IPC).
const IPC_SYSCTLS: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// Whether a sysctl belongs to the IPC namespace.
fn is_ipc_sysctl(key: &str) -> bool {
    IPC_SYSCTLS.contains(&key) || key.starts_with("fs.mqueue.")
}

/// Parses one `--sysctl KEY=VALUE` with Docker's allow-list: the namespaced sysctls only
/// (IPC's `kernel.msg*`, `kernel.sem`, `kernel.shm*`, `fs.mqueue.*`; the network's
/// `net.*`). Anything else would change the host, and is refused with Docker's message.
pub fn parse_sysctl(s: &str) -> Result<(String, String), Error> {
    let refused = || {
        Error::Invalid(format!(
            "invalid argument \"{s}\" for \"--sysctl\" flag: sysctl '{s}' is not allowed"
        ))
    };
    let (k, v) = s.split_once('=').ok_or_else(refused)?;
    if !(is_ipc_sysctl(k) || k.starts_with("net.")) {
        return Err(refused());
    }
    if k.split('.')
        .any(|p| p.is_empty() || p == ".." || p.contains('/'))
    {
        return Err(refused());
    }
    Ok((k.to_string(), v.to_string()))
}

/// Checks the sysctls against the namespaces the container gets, as runc does: none of
/// a namespace the container shares with the host (or, for the network, with another
/// container's, which is that one's to set).
pub fn check_sysctls(
    sysctls: &BTreeMap<String, String>,
    own_netns: bool,
    ipc: &IpcMode,
) -> Result<(), Error> {
    for k in sysctls.keys() {
        if k.starts_with("net.") && !own_netns {
            return Err(Error::Invalid(format!(
                "sysctl {k:?} not allowed in host network namespace"
            )));
        }
        match ipc {
            IpcMode::Host if is_ipc_sysctl(k) => {
                return Err(Error::Invalid(format!(
                    "sysctl {k:?} is not allowed in host IPC namespace"
                )));
            }
            // The joined namespace is its owner's to set (and may be the host's).
            IpcMode::Container(c) if is_ipc_sysctl(k) => {
                return Err(Error::Invalid(format!(
                    "sysctl {k:?} is not allowed in the IPC namespace of container {c}"
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The directory under a container's state dir where a shareable /dev/shm lives (a
/// tmpfs its shim mounts while it runs, bind-mounted into it and its joiners).
pub const SHM_DIR: &str = "shm";

/// What the namespace flags make of a container's runtime spec, decided at create.
#[derive(Debug, Clone)]
pub struct NamespacePlan {
    pub pid: PidMode,
    pub ipc: IpcMode,
    pub uts_host: bool,
    pub cgroupns_private: bool,
    /// The host dir bind-mounted at /dev/shm (`shareable`, or the joined container's).
    pub shm_dir: Option<std::path::PathBuf>,
    pub sysctls: BTreeMap<String, String>,
    pub domainname: Option<String>,
    /// `--group-add`: names or gids, resolved in the container's /etc/group at start.
    pub group_add: Vec<String>,
    pub oom_score_adj: Option<i32>,
}

impl NamespacePlan {
    /// Changes the spec that `spec::runtime_spec` made (Docker's defaults: every
    /// namespace its own, a private /dev/shm) to what the flags ask for.
    pub fn apply_to_spec(&self, spec: &mut oci_spec::runtime::Spec) {
        use oci_spec::runtime::LinuxNamespaceType as T;
        if let Some(linux) = spec.linux_mut() {
            let mut nss = linux.namespaces().clone().unwrap_or_default();
            nss.retain(|n| match n.typ() {
                T::Pid => self.pid != PidMode::Host,
                T::Ipc => self.ipc != IpcMode::Host,
                T::Uts => !self.uts_host,
                T::Cgroup => self.cgroupns_private,
                _ => true,
            });
            linux.set_namespaces(Some(nss));
            if !self.sysctls.is_empty() {
                linux.set_sysctl(Some(self.sysctls.clone().into_iter().collect()));
            }
        }
        let mut mounts = spec.mounts().clone().unwrap_or_default();
        let shm_bind = |source: &str| {
            oci_spec::runtime::MountBuilder::default()
                .destination("/dev/shm")
                .typ("bind")
                .source(source)
                .options(
                    ["rbind", "nosuid", "noexec", "nodev"]
                        .map(String::from)
                        .to_vec(),
                )
                .build()
                .ok()
        };
        let replacement = match (&self.ipc, &self.shm_dir) {
            (IpcMode::Private, _) => None,
            (IpcMode::None, _) => Some(None),
            (IpcMode::Host, _) => Some(shm_bind("/dev/shm")),
            (_, Some(dir)) => Some(shm_bind(&dir.display().to_string())),
            (_, None) => None,
        };
        if let Some(r) = replacement {
            let at = mounts
                .iter()
                .position(|m| m.destination() == std::path::Path::new("/dev/shm"));
            if let Some(at) = at {
                match r {
                    Some(m) => mounts[at] = m,
                    None => {
                        mounts.remove(at);
                    }
                }
            }
            spec.set_mounts(Some(mounts));
        }
        if self.uts_host {
            spec.set_hostname(None);
        } else if let Some(d) = &self.domainname {
            spec.set_domainname(Some(d.clone()));
        }
        if let Some(p) = spec.process_mut() {
            p.set_oom_score_adj(self.oom_score_adj);
        }
        if !self.group_add.is_empty() {
            let mut a = spec.annotations().clone().unwrap_or_default();
            a.insert(
                crate::sandbox::user::GROUP_ADD_ANNOTATION.into(),
                self.group_add.join(","),
            );
            spec.set_annotations(Some(a));
        }
    }
}

/// Puts the path of a namespace to join into the spec (the init, or for a PID
/// namespace its supervisor, joins it).
pub fn join_namespace(
    spec: &mut oci_spec::runtime::Spec,
    typ: oci_spec::runtime::LinuxNamespaceType,
    path: String,
) -> Result<(), Error> {
    let Some(linux) = spec.linux_mut() else {
        return Ok(());
    };
    let mut nss = linux.namespaces().clone().unwrap_or_default();
    nss.retain(|n| n.typ() != typ);
    nss.push(
        oci_spec::runtime::LinuxNamespaceBuilder::default()
            .typ(typ)
            .path(path)
            .build()
            .map_err(|e| Error::Invalid(format!("spec: {e}")))?,
    );
    linux.set_namespaces(Some(nss));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_as_dockers() {
        assert_eq!(PidMode::parse("host").unwrap(), PidMode::Host);
        assert_eq!(
            PidMode::parse("container:db").unwrap(),
            PidMode::Container("db".into())
        );
        assert_eq!(
            PidMode::parse("hots").unwrap_err().to_string(),
            "--pid: invalid PID mode"
        );
        assert_eq!(IpcMode::parse("").unwrap().record(), "private");
        assert_eq!(
            IpcMode::parse("container:").unwrap_err().to_string(),
            "--ipc: invalid IPC mode"
        );
        assert!(parse_uts("host").unwrap());
        assert!(parse_uts("private").is_err());
        assert!(parse_cgroupns("", true).unwrap());
        assert!(!parse_cgroupns("", false).unwrap());
        assert!(!parse_cgroupns("host", true).unwrap());
    }

    #[test]
    fn only_namespaced_sysctls_pass() {
        assert!(parse_sysctl("net.ipv4.ip_forward=1").is_ok());
        assert!(parse_sysctl("kernel.shmmax=1000").is_ok());
        assert!(parse_sysctl("fs.mqueue.msg_max=20").is_ok());
        assert_eq!(
            parse_sysctl("kernel.hostname=x").unwrap_err().to_string(),
            "invalid argument \"kernel.hostname=x\" for \"--sysctl\" flag: sysctl 'kernel.hostname=x' is not allowed"
        );
        assert!(parse_sysctl("vm.swappiness=1").is_err());
        assert!(parse_sysctl("net.ipv4").is_err());
        assert!(parse_sysctl("net.../x=1").is_err());
        let m: BTreeMap<_, _> = [("net.ipv4.ip_forward".to_string(), "1".to_string())].into();
        assert!(check_sysctls(&m, true, &IpcMode::Private).is_ok());
        assert!(check_sysctls(&m, false, &IpcMode::Private).is_err());
        let m: BTreeMap<_, _> = [("kernel.sem".to_string(), "1 2 3 4".to_string())].into();
        assert!(check_sysctls(&m, false, &IpcMode::Shareable).is_ok());
        assert!(check_sysctls(&m, false, &IpcMode::Host).is_err());
        assert!(check_sysctls(&m, false, &IpcMode::Container("c".into())).is_err());
    }
}
