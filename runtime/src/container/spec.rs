//! A container's configuration → its OCI runtime spec (`config.json`), with Docker's
//! defaults: namespaces, mounts, masked and read-only paths, capabilities.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    Capabilities, LinuxBuilder, LinuxCapabilitiesBuilder, LinuxNamespaceBuilder,
    LinuxNamespaceType, Mount, MountBuilder, ProcessBuilder, RootBuilder, Spec, SpecBuilder,
    UserBuilder,
};

use super::Error;

/// The runtime-spec version tug writes.
pub const OCI_VERSION: &str = "1.2.0";

/// Docker's masked paths.
pub const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Docker's read-only paths.
pub const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// What the spec is made from.
#[derive(Debug, Clone)]
pub struct SpecInput<'a> {
    /// The rootfs mount point (`<container>/rootfs`).
    pub rootfs: &'a Path,
    pub args: &'a [String],
    pub env: &'a [String],
    pub cwd: &'a str,
    /// Numeric `uid[:gid]` when the user is given that way (names resolve at start).
    pub uid_gid: (u32, u32),
    pub terminal: bool,
    pub hostname: &'a str,
    pub read_only: bool,
    /// `--network host`: keep the host's network namespace.
    pub host_network: bool,
    pub no_new_privileges: bool,
    /// The capabilities (bounding, permitted and effective alike).
    pub capabilities: &'a [oci_spec::runtime::Capability],
    /// The seccomp profile, resolved for this container; `None` when unconfined.
    pub seccomp: Option<oci_spec::runtime::LinuxSeccomp>,
    /// `--privileged`: no masked or read-only paths, /sys and its cgroups read-write.
    pub privileged: bool,
    /// `--security-opt systempaths=unconfined`: no masked or read-only paths.
    pub unconfined_paths: bool,
    /// The generated /etc files: (destination, source).
    pub etc_files: &'a [(&'a str, PathBuf)],
    /// The size of /dev/shm in bytes (`--shm-size`; Docker's default is 64 MiB).
    pub shm_size: u64,
}

/// Docker's default size of /dev/shm.
pub const DEFAULT_SHM_SIZE: u64 = 64 << 20;

fn mount(dest: &str, typ: &str, source: &str, options: &[&str]) -> Result<Mount, Error> {
    MountBuilder::default()
        .destination(dest)
        .typ(typ)
        .source(source)
        .options(options.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .build()
        .map_err(spec_err)
}

fn spec_err(e: oci_spec::OciSpecError) -> Error {
    Error::Invalid(format!("building the runtime spec: {e}"))
}

/// Docker's default mounts plus the generated /etc files.
fn mounts(input: &SpecInput) -> Result<Vec<Mount>, Error> {
    // Read-only unless --privileged (as Docker).
    let sys: &[&str] = if input.privileged {
        &["nosuid", "noexec", "nodev"]
    } else {
        &["nosuid", "noexec", "nodev", "ro"]
    };
    let cgroup: &[&str] = if input.privileged {
        &["nosuid", "noexec", "nodev"]
    } else {
        &["ro", "nosuid", "noexec", "nodev"]
    };
    let shm_size = match input.shm_size {
        0 => DEFAULT_SHM_SIZE,
        n => n,
    };
    let shm_size = if shm_size % 1024 == 0 {
        format!("size={}k", shm_size / 1024)
    } else {
        format!("size={shm_size}")
    };
    let mut m = vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"])?,
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        )?,
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        )?,
        mount("/sys", "sysfs", "sysfs", sys)?,
        mount("/sys/fs/cgroup", "cgroup", "cgroup", cgroup)?,
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        )?,
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", &shm_size],
        )?,
    ];
    for (dest, source) in input.etc_files {
        m.push(mount(
            dest,
            "bind",
            &source.display().to_string(),
            &["rbind", "rprivate"],
        )?);
    }
    Ok(m)
}

/// Builds the spec.
pub fn runtime_spec(input: &SpecInput) -> Result<Spec, Error> {
    let caps: Capabilities = input.capabilities.iter().copied().collect();
    let capabilities = LinuxCapabilitiesBuilder::default()
        .bounding(caps.clone())
        .effective(caps.clone())
        .permitted(caps)
        .inheritable(Capabilities::new())
        .ambient(Capabilities::new())
        .build()
        .map_err(spec_err)?;
    let process = ProcessBuilder::default()
        .terminal(input.terminal)
        .user(
            UserBuilder::default()
                .uid(input.uid_gid.0)
                .gid(input.uid_gid.1)
                .build()
                .map_err(spec_err)?,
        )
        .args(input.args.to_vec())
        .env(input.env.to_vec())
        .cwd(input.cwd)
        .capabilities(capabilities)
        .no_new_privileges(input.no_new_privileges)
        .build()
        .map_err(spec_err)?;
    let mut types = vec![
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Mount,
        LinuxNamespaceType::Cgroup,
    ];
    if !input.host_network {
        types.push(LinuxNamespaceType::Network);
    }
    let namespaces = types
        .into_iter()
        .map(|t| LinuxNamespaceBuilder::default().typ(t).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(spec_err)?;
    let confined = !input.privileged && !input.unconfined_paths;
    let paths = |list: &[&str]| -> Vec<String> {
        if confined {
            list.iter().map(|s| s.to_string()).collect()
        } else {
            Vec::new()
        }
    };
    let mut linux = LinuxBuilder::default()
        .namespaces(namespaces)
        .masked_paths(paths(MASKED_PATHS))
        .readonly_paths(paths(READONLY_PATHS))
        .build()
        .map_err(spec_err)?;
    linux.set_seccomp(input.seccomp.clone());
    SpecBuilder::default()
        .version(OCI_VERSION)
        .root(
            RootBuilder::default()
                .path(input.rootfs)
                .readonly(input.read_only)
                .build()
                .map_err(spec_err)?,
        )
        .process(process)
        .hostname(input.hostname)
        .mounts(mounts(input)?)
        .linux(linux)
        .build()
        .map_err(spec_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spec as JSON with the capability sets sorted (they are hash sets).
    fn stable_json(spec: &Spec) -> serde_json::Value {
        let mut v = serde_json::to_value(spec).unwrap();
        if let Some(caps) = v.pointer_mut("/process/capabilities") {
            for set in caps.as_object_mut().unwrap().values_mut() {
                if let Some(a) = set.as_array_mut() {
                    a.sort_by(|x, y| x.as_str().cmp(&y.as_str()));
                }
            }
        }
        v
    }

    #[test]
    fn spec_has_dockers_defaults() {
        let etc = [
            ("/etc/hostname", PathBuf::from("/c/hostname")),
            ("/etc/hosts", PathBuf::from("/c/hosts")),
        ];
        let args = ["sh".to_string(), "-c".into(), "id".into()];
        let env = ["PATH=/bin".to_string(), "HOSTNAME=box".into()];
        let spec = runtime_spec(&SpecInput {
            rootfs: Path::new("/c/rootfs"),
            args: &args,
            env: &env,
            cwd: "/tmp",
            uid_gid: (1000, 1000),
            terminal: false,
            hostname: "box",
            read_only: true,
            host_network: false,
            no_new_privileges: true,
            capabilities: crate::sandbox::caps::DOCKER_DEFAULT,
            seccomp: None,
            privileged: false,
            unconfined_paths: false,
            etc_files: &etc,
            shm_size: 0,
        })
        .unwrap();
        insta::assert_json_snapshot!(stable_json(&spec));
    }

    #[test]
    fn host_network_keeps_the_hosts_namespace() {
        let spec = runtime_spec(&SpecInput {
            rootfs: Path::new("/r"),
            args: &["true".to_string()],
            env: &[],
            cwd: "/",
            uid_gid: (0, 0),
            terminal: true,
            hostname: "h",
            read_only: false,
            host_network: true,
            no_new_privileges: false,
            capabilities: crate::sandbox::caps::DOCKER_DEFAULT,
            seccomp: None,
            privileged: false,
            unconfined_paths: false,
            etc_files: &[],
            shm_size: 0,
        })
        .unwrap();
        let ns = spec.linux().as_ref().unwrap().namespaces().clone().unwrap();
        assert!(ns.iter().all(|n| n.typ() != LinuxNamespaceType::Network));
        assert_eq!(ns.len(), 5);
    }
}
