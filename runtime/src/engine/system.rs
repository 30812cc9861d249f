//! What `version`, `info` and `system df` report: the host, counts of the engine's
//! objects, and the disk they use.

use crate::container::Container;
use crate::container::record::Status;
use crate::engine::ImageSummary;
use crate::volume::Volume;
use crate::{Engine, Result};

/// Facts of the host and of this build, in the terms `docker version` and `docker info`
/// use.
#[derive(Debug, Clone)]
pub struct HostInfo {
    /// tug's version.
    pub version: String,
    /// The Docker API version tug's outputs follow.
    pub api_version: String,
    /// The kernel's release (`uname -r`).
    pub kernel_version: String,
    /// The distribution's `PRETTY_NAME`, or "Linux".
    pub operating_system: String,
    /// `linux`.
    pub os_type: String,
    /// The machine as the kernel names it (`x86_64`).
    pub architecture: String,
    /// The machine in Go's and the OCI's words (`amd64`).
    pub go_arch: String,
    pub ncpu: usize,
    /// The host's memory in bytes.
    pub mem_total: u64,
    /// The host name.
    pub name: String,
    /// 2 on a pure cgroup2 mount, else 1.
    pub cgroup_version: u8,
    /// The storage driver's name (`overlay2` or `vfs`).
    pub storage_driver: &'static str,
    /// The state root.
    pub root: String,
}

/// `info`: the host and counts of containers (by state) and images.
#[derive(Debug, Clone)]
pub struct Info {
    pub host: HostInfo,
    pub containers: usize,
    pub running: usize,
    pub paused: usize,
    pub stopped: usize,
    pub images: usize,
}

impl Info {
    /// `info` in the fields of Docker's `GET /info`, for the API's answer and for `tug
    /// info --format` alike.
    pub fn docker_json(&self) -> serde_json::Value {
        let h = &self.host;
        serde_json::json!({
            "ID": "",
            "Containers": self.containers,
            "ContainersRunning": self.running,
            "ContainersPaused": self.paused,
            "ContainersStopped": self.stopped,
            "Images": self.images,
            "Driver": h.storage_driver,
            "DockerRootDir": h.root,
            "OperatingSystem": h.operating_system,
            "OSType": h.os_type,
            "Architecture": h.architecture,
            "NCPU": h.ncpu,
            "MemTotal": h.mem_total,
            "Name": h.name,
            "ServerVersion": h.version,
            "KernelVersion": h.kernel_version,
            "CgroupDriver": "cgroupfs",
            "CgroupVersion": h.cgroup_version.to_string(),
            "LoggingDriver": "json-file",
            "Labels": [],
            "ExperimentalBuild": false,
            // Docker's default seccomp profile, and a cgroup namespace of its own for
            // every container (tug's default on v1 as on v2).
            "SecurityOptions": ["name=seccomp,profile=builtin", "name=cgroupns"],
            "Runtimes": { "tug": { "path": "tug" } },
            "DefaultRuntime": "tug",
            "Plugins": {
                "Volume": ["local"],
                "Network": ["bridge", "host", "null"],
                "Log": ["json-file", "local"],
            },
            "RegistryConfig": { "IndexConfigs": {}, "InsecureRegistryCIDRs": ["127.0.0.0/8"] },
            "Warnings": [],
        })
    }
}

/// `system df`: the disk each image, container and volume uses.
#[derive(Debug, Clone)]
pub struct DiskUsage {
    /// Each image (not a build's intermediate ones, which `images` leaves out too: the
    /// build cache counts them), with the number of containers made from it.
    pub images: Vec<(ImageSummary, usize)>,
    /// Of each image of `images`, in its order, the size of its layers that another of
    /// them has too (Docker's `SharedSize`; its unique size is the rest).
    pub shared_sizes: Vec<u64>,
    /// The size of every image's layers, a layer that several images have counted once
    /// (Docker's `LayersSize`: what the images take on disk).
    pub layers_size: u64,
    /// Each container, with the size of its writable layer.
    pub containers: Vec<(Container, u64)>,
    /// Each volume, with its size and the number of containers that use it.
    pub volumes: Vec<(Volume, u64, usize)>,
}

/// The architecture in Go's (and the OCI's) words.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

fn os_name() -> String {
    let release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    release
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "Linux".into())
}

/// The cgroup version of the host: 2 on a pure cgroup2 mount, else 1.
fn cgroup_version() -> u8 {
    // statfs would be exact; the presence of cgroup.controllers at the root is what
    // distinguishes a unified hierarchy from v1's tmpfs of controllers.
    if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        2
    } else {
        1
    }
}

impl Engine {
    /// The host and this build, for `version` and `info`. Reading it cannot fail: a fact
    /// that cannot be read is empty.
    pub fn host_info(&self) -> HostInfo {
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        HostInfo {
            version: env!("CARGO_PKG_VERSION").into(),
            api_version: "1.47".into(),
            kernel_version: kernel.trim().into(),
            operating_system: os_name(),
            os_type: std::env::consts::OS.into(),
            architecture: std::env::consts::ARCH.into(),
            go_arch: go_arch().into(),
            ncpu: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            mem_total: crate::sandbox::cgroups::host_memory(),
            name: nix::unistd::gethostname()
                .map(|h| h.to_string_lossy().into_owned())
                .unwrap_or_default(),
            cgroup_version: cgroup_version(),
            storage_driver: self.config().storage_driver.name(),
            root: self.root().display().to_string(),
        }
    }

    /// `info`: the host, and how many containers (by state) and images there are.
    pub fn info(&self) -> Result<Info> {
        let containers = self.containers()?;
        let count = |s: Status| containers.iter().filter(|c| c.state.status == s).count();
        let running = count(Status::Running) + count(Status::Restarting);
        let paused = count(Status::Paused);
        Ok(Info {
            host: self.host_info(),
            containers: containers.len(),
            running,
            paused,
            stopped: containers.len() - running - paused,
            images: self.image_store()?.list()?.len(),
        })
    }

    /// `system df`: every image, container and volume with the disk it uses.
    pub fn disk_usage(&self) -> Result<DiskUsage> {
        let containers = self.containers()?;
        let store = self.image_store()?;
        let all = self.images()?;
        // A layer is the same layer in two images when it has the same chain id (the same
        // layers under it): its size, each chain id counted once.
        let chains: Vec<Vec<(crate::Digest, u64)>> = all
            .iter()
            .map(|i| {
                let ids = i.image.chain_ids();
                ids.into_iter()
                    .zip(&i.image.layers)
                    .map(|(c, l)| (c, store.layer_size(l)))
                    .collect()
            })
            .collect();
        let unique: std::collections::HashMap<&crate::Digest, u64> =
            chains.iter().flatten().map(|(c, n)| (c, *n)).collect();
        let layers_size = unique.values().sum();
        let intermediate = self.intermediate_images()?;
        let listed: Vec<usize> = (0..all.len())
            .filter(|&k| {
                !(all[k].image.names.is_empty() && intermediate.contains(&all[k].image.id))
            })
            .collect();
        let mut refs: std::collections::HashMap<&crate::Digest, usize> = Default::default();
        for &k in &listed {
            for (c, _) in &chains[k] {
                *refs.entry(c).or_default() += 1;
            }
        }
        let shared_sizes = listed
            .iter()
            .map(|&k| {
                chains[k]
                    .iter()
                    .filter(|(c, _)| refs.get(c).is_some_and(|n| *n > 1))
                    .map(|(_, n)| n)
                    .sum()
            })
            .collect();
        let images = all
            .into_iter()
            .enumerate()
            .filter(|(k, _)| listed.contains(k))
            .map(|(_, i)| {
                let id = i.image.id.to_string();
                let n = containers.iter().filter(|c| c.image == id).count();
                (i, n)
            })
            .collect();
        let store = self.container_store();
        let containers = containers
            .into_iter()
            .map(|c| {
                let size = crate::fsutil::dir_size(&store.dir(&c.id).join("upper"));
                (c, size)
            })
            .collect();
        let mut volumes = Vec::new();
        for v in self.volumes()? {
            let size = crate::fsutil::dir_size(std::path::Path::new(&v.mountpoint));
            let links = self.volume_users(&v.name)?.len();
            volumes.push((v, size, links));
        }
        Ok(DiskUsage {
            images,
            shared_sizes,
            layers_size,
            containers,
            volumes,
        })
    }
}

impl Engine {
    /// `tug events`: the journal's events that pass `filter`, from `since` (else those
    /// from now on) to `until`, given to `sink` in order; without `until` it follows the
    /// journal until `sink` returns false. No daemon: every tug process appends to the
    /// journal (see [`crate::events`]).
    pub fn events(
        &self,
        filter: &crate::events::EventFilter,
        since: Option<std::time::SystemTime>,
        until: Option<std::time::SystemTime>,
        sink: &mut dyn FnMut(&crate::events::Event) -> bool,
    ) -> Result<()> {
        self.events_while(filter, since, until, &|| true, sink)
    }

    /// [`Engine::events`] that also ends, between two reads of the journal, once `alive`
    /// says false (the API's `/events` when its client went).
    pub fn events_while(
        &self,
        filter: &crate::events::EventFilter,
        since: Option<std::time::SystemTime>,
        until: Option<std::time::SystemTime>,
        alive: &dyn Fn() -> bool,
        sink: &mut dyn FnMut(&crate::events::Event) -> bool,
    ) -> Result<()> {
        let start = since.unwrap_or_else(std::time::SystemTime::now);
        let mut reader = crate::events::JournalReader::open(self.root());
        loop {
            // Read after the clock: an event written meanwhile is read next round.
            let now = std::time::SystemTime::now();
            for e in reader.read_new() {
                let t = e.at();
                if t < start || until.is_some_and(|u| t > u) || !filter.matches(&e) {
                    continue;
                }
                if !sink(&e) {
                    return Ok(());
                }
            }
            if until.is_some_and(|u| now > u) || !alive() {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}
