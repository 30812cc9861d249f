//! The container's init: cloned into new namespaces, it sets up the container in named
//! steps, reports `Ready`, waits for `start`, becomes the user and execs the process. Any
//! failure goes back over the sync socket with the exit code it maps to. The exec step
//! itself lives in `exec.rs`.

use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use nix::mount::{MsFlags, mount};
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::sys::stat::{Mode, umask};
use nix::unistd::Pid;
use oci_spec::runtime::LinuxNamespaceType;

use super::failure::{Failure, InitFailure, setup_err};
use super::sync;
use super::{
    Error, RootfsSource, SandboxConfig, Stdio, cgroups, devices, mounts, seccomp, tty, volumes,
};

/// The spec's namespaces.
fn namespaces(spec: &oci_spec::runtime::Spec) -> Vec<oci_spec::runtime::LinuxNamespace> {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default()
}

/// The clone flags for the spec's namespaces (those without a path: new ones).
pub fn clone_flags(spec: &oci_spec::runtime::Spec) -> CloneFlags {
    let mut flags = CloneFlags::empty();
    for ns in namespaces(spec) {
        if ns.path().is_some() {
            continue;
        }
        flags |= match ns.typ() {
            LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
            LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
            LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
            LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
            LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
            LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
            LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
            LinuxNamespaceType::Time => CloneFlags::empty(),
        };
    }
    flags
}

/// Clones the init. The child runs [`init_main`] on a copy of the caller's memory, so it
/// reads `config` directly; it never returns into the caller's code.
pub fn clone_init(
    config: &SandboxConfig,
    filter: Option<&seccomp::Program>,
    child_end: &OwnedFd,
    parent_end: &OwnedFd,
) -> Result<Pid, Error> {
    // The init unshares its cgroup namespace only after the supervisor moved it into the
    // container's cgroup, so that the container sees that cgroup as its root.
    let mut flags = clone_flags(&config.spec) - CloneFlags::CLONE_NEWCGROUP;
    // A namespace made in advance is entered instead (the first step of `run`): making
    // one is most of the clone's cost.
    if config.netns.is_some() {
        flags -= CloneFlags::CLONE_NEWNET;
    }
    let child_fd = child_end.as_raw_fd();
    let parent_fd = parent_end.as_raw_fd();
    let mut stack = vec![0u8; 1 << 20];
    let cb = Box::new(move || -> isize {
        // SAFETY: this is the child's copy of the supervisor's end; closing it lets the
        // init see EOF if the supervisor dies.
        unsafe { libc::close(parent_fd) };
        init_main(config, filter, child_fd) as isize
    });
    // SAFETY: no CLONE_VM: the child gets a copy of our memory (like fork) and runs `cb`
    // on its own copy of `stack`, which is large enough for the init's shallow calls. The
    // caller is single-threaded at this point (the start path makes no threads before).
    unsafe { nix::sched::clone(cb, &mut stack, flags, Some(libc::SIGCHLD)) }
        .map_err(|e| Error::sys("clone of the container init", e))
}

/// Joins the namespaces the spec gives a path for (`--network container:<id>`) before
/// anything is set up in them.
fn join_namespaces(spec: &oci_spec::runtime::Spec) -> Result<(), Failure> {
    for ns in namespaces(spec) {
        let Some(path) = ns.path() else { continue };
        let flag = match ns.typ() {
            LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
            LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
            LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
            // Joined by the supervisor before the clone (a PID namespace is entered by
            // the children of the process that joins it): see `pid_namespace_to_join`.
            LinuxNamespaceType::Pid => continue,
            other => {
                return Err(setup_err(format!(
                    "joining a {other:?} namespace by path is not supported"
                )));
            }
        };
        let fd = std::fs::File::open(path)
            .map_err(|e| setup_err(format!("opening namespace {}: {e}", path.display())))?;
        nix::sched::setns(&fd, flag)
            .map_err(|e| setup_err(format!("joining namespace {}: {e}", path.display())))?;
    }
    Ok(())
}

/// The init's body: set up, wait, exec. Returns only with an exit code on failure.
fn init_main(config: &SandboxConfig, filter: Option<&seccomp::Program>, sock: RawFd) -> i32 {
    let failure = match run(config, filter, sock) {
        Ok(never) => match never {},
        Err(f) => f,
    };
    if !failure.1.is_empty() {
        sync::send_failed(sock, failure.0, &failure.1);
    }
    failure.0.exit_code()
}

fn run(
    config: &SandboxConfig,
    filter: Option<&seccomp::Program>,
    sock: RawFd,
) -> Result<std::convert::Infallible, Failure> {
    // The container dies with its supervisor (the shim): no process outlives the one
    // that reaps it and records its exit.
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    // No /proc access to the init for anything in the container before it execs.
    super::hygiene::make_undumpable().map_err(setup_err)?;
    umask(Mode::empty());
    let spec = &config.spec;
    // Before anything that sees the network namespace (sysfs, sysctls, the mounts).
    if let Some(ns) = &config.netns {
        nix::sched::setns(ns.as_fd(), CloneFlags::CLONE_NEWNET)
            .map_err(|e| setup_err(format!("entering the network namespace: {e}")))?;
    }
    let root_path = spec
        .root()
        .as_ref()
        .map(|r| r.path().clone())
        .ok_or_else(|| setup_err("the spec has no root"))?;

    join_namespaces(spec)?;
    let cgroup_mounts = cgroup_mount_plan(spec);
    let cgroup_join = cgroups::join::prepare(spec, &config.cgroup_root).map_err(setup_err)?;
    let console = setup_rootfs(config, &root_path)?;
    mounts::pivot(&root_path).map_err(|e| setup_err(format!("pivot_root: {e}")))?;
    setup_after_pivot(config)?;

    // Ready: hand over the pty master, then wait for the supervisor's start. The cgroup
    // steps (join it on v1, enter the cgroup namespace, mount the container's
    // /sys/fs/cgroup) come as soon as the supervisor says the cgroup is ready, which is
    // usually while it still sets up the network: off the start's critical path.
    let master = console.as_ref().map(|(m, _)| m.as_raw_fd());
    sync::send_ready(sock, master).map_err(|e| setup_err(format!("reporting ready: {e}")))?;
    let slave = console.map(|(_, s)| s);
    let mut cgroup_join = Some(cgroup_join);
    // Done once, on the first of "cgroup ready" and "start".
    let mut cgroup_steps = || -> Result<(), Failure> {
        let Some(plan) = cgroup_join.take() else {
            return Ok(());
        };
        if let Some(plan) = plan {
            cgroups::join::join(plan).map_err(setup_err)?;
        }
        enter_cgroup_namespace(spec, &cgroup_mounts)
    };
    loop {
        match sync::wait_go(sock) {
            Some(sync::Go::CgroupReady) => cgroup_steps()?,
            Some(sync::Go::Start) => break,
            None => return Err((InitFailure::Setup, String::new())),
        }
    }
    cgroup_steps()?;
    if let Some(adj) = spec.process().as_ref().and_then(|p| p.oom_score_adj()) {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string())
            .map_err(|e| setup_err(format!("writing oom_score_adj {adj}: {e}")))?;
    }
    super::exec::exec_process(config, filter, slave)
}

/// Mounts the rootfs and everything in it (before pivot_root); returns the pty pair when
/// the process has a terminal.
fn setup_rootfs(
    config: &SandboxConfig,
    root_path: &Path,
) -> Result<Option<(OwnedFd, OwnedFd)>, Failure> {
    mounts::make_private().map_err(|e| setup_err(format!("making mounts private: {e}")))?;
    match &config.rootfs {
        RootfsSource::Overlay(r) => r
            .mount_overlay(root_path)
            .map_err(|e| setup_err(format!("mounting the rootfs: {}", crate::Report(&e))))?,
        RootfsSource::Dir(dir) => mount(
            Some(dir.as_path()),
            root_path,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(|e| setup_err(format!("mounting the rootfs {}: {e}", dir.display())))?,
    }
    let root = mounts::RootDir::open(root_path)
        .map_err(|e| setup_err(format!("opening the rootfs: {e}")))?;
    volumes::prepare(&root, &config.spec).map_err(setup_err)?;
    for m in config.spec.mounts().as_deref().unwrap_or_default() {
        if m.typ().as_deref() == Some("cgroup") {
            // Mounted after the cgroup namespace exists (enter_cgroup_namespace).
            continue;
        }
        mounts::mount_in_root(
            &root,
            m.destination(),
            m.typ().as_deref(),
            m.source().as_deref(),
            m.options().as_deref().unwrap_or_default(),
        )
        .map_err(setup_err)?;
    }
    // A /dev bind-mounted from the host is left as it is (as runc does): the nodes and
    // links would otherwise be made in the host's directory and stay there.
    let dev_is_bind = config
        .spec
        .mounts()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .any(|m| {
            mounts::relative(m.destination()) == Path::new("dev")
                && mounts::parse_options(m.options().as_deref().unwrap_or_default()).bind
        });
    if !dev_is_bind {
        devices::populate(&root).map_err(setup_err)?;
    }
    let spec_devices = config
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.devices().clone());
    devices::create_spec_devices(&root, spec_devices.as_deref().unwrap_or_default())
        .map_err(setup_err)?;
    if config.stdio != Stdio::Tty {
        return Ok(None);
    }
    let (master, slave) = tty::open_in_container(&root).map_err(setup_err)?;
    // The first size (`process.consoleSize`), so the first output is laid out for the
    // client's terminal before any resize arrives.
    if let Some(size) = config
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.console_size())
    {
        let ws = libc::winsize {
            ws_row: u16::try_from(size.height()).unwrap_or(u16::MAX),
            ws_col: u16::try_from(size.width()).unwrap_or(u16::MAX),
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        tty::set_window_size(master.as_fd(), &ws);
    }
    if dev_is_bind {
        return Ok(Some((master, slave)));
    }
    let n = tty::pty_number(&master).map_err(setup_err)?;
    let console = root
        .touch(Path::new("dev/console"))
        .map_err(|e| setup_err(format!("creating /dev/console: {e}")))?;
    let pts = root
        .open_path(&PathBuf::from(format!("dev/pts/{n}")))
        .map_err(|e| setup_err(format!("opening /dev/pts/{n}: {e}")))?;
    mount(
        Some(mounts::fd_path(&pts).as_str()),
        mounts::fd_path(&console).as_str(),
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| setup_err(format!("mounting /dev/console: {e}")))?;
    Ok(Some((master, slave)))
}

/// The cgroup file systems to mount at /sys/fs/cgroup when the spec asks for a `cgroup`
/// mount (read from the host's mount table before pivot_root).
fn cgroup_mount_plan(spec: &oci_spec::runtime::Spec) -> Vec<cgroups::mount::CgroupMount> {
    let wanted = spec
        .mounts()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .any(|m| m.typ().as_deref() == Some("cgroup"));
    if !wanted {
        return Vec::new();
    }
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    cgroups::mount::plan(&mountinfo, &cgroups::v1::controllers_for_spec(spec))
}

/// After the supervisor placed the init in its cgroup: a new cgroup namespace (when the
/// spec asks for one), then the container's read-only /sys/fs/cgroup.
fn enter_cgroup_namespace(
    spec: &oci_spec::runtime::Spec,
    plan: &[cgroups::mount::CgroupMount],
) -> Result<(), Failure> {
    let private = clone_flags(spec).contains(CloneFlags::CLONE_NEWCGROUP);
    if private {
        nix::sched::unshare(CloneFlags::CLONE_NEWCGROUP)
            .map_err(|e| setup_err(format!("unshare of the cgroup namespace: {e}")))?;
    }
    // In the host's cgroup namespace (`--cgroupns host`) a cgroupfs shows the whole
    // tree: the container's own cgroup is bound over it, as runc does.
    let own = if private {
        None
    } else {
        Some(std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default())
    };
    cgroups::mount::mount_all(plan, own.as_deref()).map_err(setup_err)
}

/// The PID namespace the spec asks to join (`--pid container:<id>`): its path.
pub(super) fn pid_namespace_to_join(spec: &oci_spec::runtime::Spec) -> Option<PathBuf> {
    namespaces(spec)
        .into_iter()
        .find(|n| n.typ() == LinuxNamespaceType::Pid)
        .and_then(|n| n.path().clone())
}

/// Whether the container has a UTS namespace of its own (else its hostname and domain
/// name are the host's, and never set: `--uts host`).
fn own_uts(spec: &oci_spec::runtime::Spec) -> bool {
    namespaces(spec)
        .iter()
        .any(|n| n.typ() == LinuxNamespaceType::Uts && n.path().is_none())
}

/// Writes the spec's sysctls under the container's /proc/sys (before it is made
/// read-only), but the per-interface ones (see `sandbox::sysctl`). `create` admits only namespaced ones (`--sysctl`), so these change the
/// container's namespaces, never the host.
fn apply_sysctls(spec: &oci_spec::runtime::Spec) -> Result<(), Failure> {
    let Some(sysctls) = spec.linux().as_ref().and_then(|l| l.sysctl().clone()) else {
        return Ok(());
    };
    for (k, v) in sysctls {
        let path = super::sysctl::path_of(&k).map_err(setup_err)?;
        // An interface's come with the network, after the init is ready.
        if super::sysctl::interface_of(&k).is_some() {
            continue;
        }
        std::fs::write(&path, &v).map_err(|e| setup_err(format!("sysctl {k}={v}: {e}")))?;
    }
    Ok(())
}

/// Sysctls, masks, read-only paths, a read-only root, the hostname (after pivot_root).
fn setup_after_pivot(config: &SandboxConfig) -> Result<(), Failure> {
    let spec = &config.spec;
    apply_sysctls(spec)?;
    if let Some(linux) = spec.linux() {
        mounts::mask(linux.masked_paths().as_deref().unwrap_or_default()).map_err(setup_err)?;
        mounts::read_only(linux.readonly_paths().as_deref().unwrap_or_default())
            .map_err(setup_err)?;
    }
    if spec.root().as_ref().and_then(|r| r.readonly()) == Some(true) {
        mounts::remount_read_only("/")
            .map_err(|e| setup_err(format!("making the rootfs read-only: {e}")))?;
    }
    if !own_uts(spec) {
        return Ok(());
    }
    if let Some(h) = spec.hostname() {
        nix::unistd::sethostname(h).map_err(|e| setup_err(format!("sethostname: {e}")))?;
    }
    if let Some(d) = spec.domainname().as_deref().filter(|d| !d.is_empty()) {
        // SAFETY: the pointer and length describe `d`'s bytes, which outlive the call.
        let r = unsafe { libc::setdomainname(d.as_ptr().cast(), d.len()) };
        if r != 0 {
            let e = std::io::Error::last_os_error();
            return Err(setup_err(format!("setdomainname: {e}")));
        }
    }
    Ok(())
}
