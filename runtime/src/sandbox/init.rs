//! The container's init: cloned into new namespaces, it sets up the container in named
//! steps, reports `Ready`, waits for `start`, becomes the user and execs the process. Any
//! failure goes back over the sync socket with the exit code it maps to.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::mount::{MsFlags, mount};
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::sys::stat::{Mode, umask};
use nix::unistd::{Gid, Pid, Uid};
use oci_spec::runtime::LinuxNamespaceType;

use super::sync::{self, InitFailure};
use super::{Error, RootfsSource, SandboxConfig, Stdio, caps, devices, mounts, signals, tty, user};

/// A failure inside the init: what kind, and the message for the user.
type Failure = (InitFailure, String);

fn setup_err(msg: impl Into<String>) -> Failure {
    (InitFailure::Setup, msg.into())
}

/// The clone flags for the spec's namespaces (those without a path: new ones).
pub fn clone_flags(spec: &oci_spec::runtime::Spec) -> CloneFlags {
    let mut flags = CloneFlags::empty();
    let namespaces = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    for ns in namespaces {
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
    child_end: &OwnedFd,
    parent_end: &OwnedFd,
) -> Result<Pid, Error> {
    let flags = clone_flags(&config.spec);
    let child_fd = child_end.as_raw_fd();
    let parent_fd = parent_end.as_raw_fd();
    let mut stack = vec![0u8; 1 << 20];
    let cb = Box::new(move || -> isize {
        // SAFETY: this is the child's copy of the supervisor's end; closing it lets the
        // init see EOF if the supervisor dies.
        unsafe { libc::close(parent_fd) };
        init_main(config, child_fd) as isize
    });
    // SAFETY: no CLONE_VM: the child gets a copy of our memory (like fork) and runs `cb`
    // on its own copy of `stack`, which is large enough for the init's shallow calls. The
    // caller is single-threaded at this point (the start path makes no threads before).
    unsafe { nix::sched::clone(cb, &mut stack, flags, Some(libc::SIGCHLD)) }
        .map_err(|e| Error::sys("clone of the container init", e))
}

/// The init's body: set up, wait, exec. Returns only with an exit code on failure.
fn init_main(config: &SandboxConfig, sock: RawFd) -> i32 {
    let failure = match run(config, sock) {
        Ok(never) => match never {},
        Err(f) => f,
    };
    if !failure.1.is_empty() {
        sync::send_failed(sock, failure.0, &failure.1);
    }
    failure.0.exit_code()
}

fn run(config: &SandboxConfig, sock: RawFd) -> Result<std::convert::Infallible, Failure> {
    // The container dies with its supervisor until the shim supervises it.
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    umask(Mode::empty());
    let spec = &config.spec;
    let root_path = spec
        .root()
        .as_ref()
        .map(|r| r.path().clone())
        .ok_or_else(|| setup_err("the spec has no root"))?;

    let console = setup_rootfs(config, &root_path)?;
    mounts::pivot(&root_path).map_err(|e| setup_err(format!("pivot_root: {e}")))?;
    setup_after_pivot(config)?;

    // Ready: hand over the pty master, then wait for the supervisor's start.
    let master = console.as_ref().map(|(m, _)| m.as_raw_fd());
    sync::send_ready(sock, master).map_err(|e| setup_err(format!("reporting ready: {e}")))?;
    let slave = console.map(|(_, s)| s);
    if !sync::wait_start(sock) {
        return Err((InitFailure::Setup, String::new()));
    }
    exec_process(config, slave)
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
            .map_err(|e| setup_err(format!("mounting the rootfs: {e}")))?,
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
    for m in config.spec.mounts().as_deref().unwrap_or_default() {
        mounts::mount_in_root(
            &root,
            m.destination(),
            m.typ().as_deref(),
            m.source().as_deref(),
            m.options().as_deref().unwrap_or_default(),
        )
        .map_err(setup_err)?;
    }
    devices::populate(&root).map_err(setup_err)?;
    if config.stdio != Stdio::Tty {
        return Ok(None);
    }
    let (master, slave) = tty::open_in_container(&root).map_err(setup_err)?;
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

/// Masks, read-only paths, a read-only root, the hostname (after pivot_root).
fn setup_after_pivot(config: &SandboxConfig) -> Result<(), Failure> {
    let spec = &config.spec;
    if let Some(linux) = spec.linux() {
        mounts::mask(linux.masked_paths().as_deref().unwrap_or_default()).map_err(setup_err)?;
        mounts::read_only(linux.readonly_paths().as_deref().unwrap_or_default())
            .map_err(setup_err)?;
    }
    if spec.root().as_ref().and_then(|r| r.readonly()) == Some(true) {
        mounts::remount_read_only("/")
            .map_err(|e| setup_err(format!("making the rootfs read-only: {e}")))?;
    }
    if let Some(h) = spec.hostname() {
        nix::unistd::sethostname(h).map_err(|e| setup_err(format!("sethostname: {e}")))?;
    }
    Ok(())
}

/// Becomes the user and execs the process: stdio, user, env, cwd, capabilities, fds.
fn exec_process(
    config: &SandboxConfig,
    slave: Option<OwnedFd>,
) -> Result<std::convert::Infallible, Failure> {
    let process = config
        .spec
        .process()
        .as_ref()
        .ok_or_else(|| setup_err("the spec has no process"))?;
    match (&config.stdio, &slave) {
        (Stdio::Tty, Some(s)) => tty::make_controlling(s).map_err(setup_err)?,
        // Without a terminal the container still gets a session of its own (as runc
        // does), so the caller's terminal signals reach it only through the supervisor.
        (Stdio::Inherit { stdin }, _) => {
            nix::unistd::setsid().map_err(|e| setup_err(format!("setsid: {e}")))?;
            if !stdin {
                let null = std::fs::File::open("/dev/null")
                    .map_err(|e| setup_err(format!("opening /dev/null: {e}")))?;
                // SAFETY: dup2 onto fd 0, which no Rust object owns.
                unsafe { libc::dup2(null.as_raw_fd(), 0) };
            }
        }
        _ => {}
    }
    drop(slave);

    let exec_user = resolve_user(config, process)?;
    let mut env: Vec<String> = process.env().clone().unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", exec_user.home));
    }
    let cwd = process.cwd();
    if std::fs::metadata(cwd).is_err() {
        std::fs::create_dir_all(cwd)
            .map_err(|e| setup_err(format!("creating the working dir {}: {e}", cwd.display())))?;
    }
    nix::unistd::chdir(cwd).map_err(|e| setup_err(format!("chdir to {}: {e}", cwd.display())))?;

    switch_user(process, &exec_user)?;

    let args = process.args().clone().unwrap_or_default();
    let Some(cmd) = args.first() else {
        return Err(setup_err("no command specified"));
    };
    let path_env = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("");
    let exe = find_executable(cmd, path_env)?;
    let c = |s: &str| CString::new(s).map_err(|_| setup_err(format!("{s:?} holds a NUL byte")));
    let argv: Vec<CString> = args.iter().map(|a| c(a)).collect::<Result<_, _>>()?;
    let envp: Vec<CString> = env.iter().map(|a| c(a)).collect::<Result<_, _>>()?;

    umask(Mode::from_bits_truncate(0o022));
    // Every fd but stdio closes on exec (the sync socket too: that tells the supervisor
    // the exec succeeded).
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets flags on our own fds.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC as libc::c_uint,
        )
    };
    signals::reset_for_exec();
    // The user switch cleared the parent-death signal: set it again.
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    let Err(err) = nix::unistd::execve(&exe, &argv, &envp);
    Err(exec_error(cmd, err))
}

fn resolve_user(
    config: &SandboxConfig,
    process: &oci_spec::runtime::Process,
) -> Result<user::ExecUser, Failure> {
    let spec_user = match &config.user {
        Some(u) => u.clone(),
        None => {
            let u = process.user();
            if u.uid() == 0 && u.gid() == 0 {
                String::new()
            } else {
                format!("{}:{}", u.uid(), u.gid())
            }
        }
    };
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let group = std::fs::read_to_string("/etc/group").unwrap_or_default();
    user::resolve(&spec_user, &passwd, &group).map_err(|e| setup_err(e.to_string()))
}

fn switch_user(process: &oci_spec::runtime::Process, u: &user::ExecUser) -> Result<(), Failure> {
    let capabilities = process.capabilities().as_ref();
    let bounding = caps::kernel_set(capabilities.and_then(|c| c.bounding().as_ref()));
    let effective = caps::kernel_set(capabilities.and_then(|c| c.effective().as_ref()));
    let permitted = caps::kernel_set(capabilities.and_then(|c| c.permitted().as_ref()));
    let inheritable = caps::kernel_set(capabilities.and_then(|c| c.inheritable().as_ref()));
    caps::limit_bounding(&bounding).map_err(setup_err)?;
    nix::sys::prctl::set_keepcaps(true).map_err(|e| setup_err(format!("keepcaps: {e}")))?;
    // The primary group comes first in the group list, as with Docker.
    let mut groups: Vec<Gid> = std::iter::once(u.gid)
        .chain(u.sgids.iter().copied().filter(|g| *g != u.gid))
        .map(Gid::from_raw)
        .collect();
    groups.extend(
        process
            .user()
            .additional_gids()
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(|g| Gid::from_raw(*g)),
    );
    nix::unistd::setgroups(&groups).map_err(|e| setup_err(format!("setgroups: {e}")))?;
    let gid = Gid::from_raw(u.gid);
    nix::unistd::setresgid(gid, gid, gid)
        .map_err(|e| setup_err(format!("setgid {}: {e}", u.gid)))?;
    let uid = Uid::from_raw(u.uid);
    nix::unistd::setresuid(uid, uid, uid)
        .map_err(|e| setup_err(format!("setuid {}: {e}", u.uid)))?;
    let _ = nix::sys::prctl::set_keepcaps(false);
    caps::apply(&effective, &permitted, &inheritable).map_err(setup_err)?;
    if process.no_new_privileges() == Some(true) {
        nix::sys::prctl::set_no_new_privs().map_err(|e| setup_err(format!("no_new_privs: {e}")))?;
    }
    Ok(())
}

/// Finds `cmd` as Go's `exec.LookPath` does (which Docker's messages come from).
pub fn find_executable(cmd: &str, path_env: &str) -> Result<CString, Failure> {
    let to_c = |p: &Path| {
        CString::new(p.as_os_str().as_bytes())
            .map_err(|_| setup_err(format!("{cmd:?} holds a NUL byte")))
    };
    if cmd.contains('/') {
        return match std::fs::metadata(cmd) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err((
                InitFailure::NotFound,
                format!("exec: \"{cmd}\": stat {cmd}: no such file or directory"),
            )),
            Ok(m) if m.is_dir() => Err((
                InitFailure::NotExecutable,
                format!("exec: \"{cmd}\": is a directory"),
            )),
            _ => to_c(Path::new(cmd)),
        };
    }
    for dir in path_env.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let p = Path::new(dir).join(cmd);
        let Ok(m) = std::fs::metadata(&p) else {
            continue;
        };
        if m.is_file() && nix::unistd::access(&p, nix::unistd::AccessFlags::X_OK).is_ok() {
            return to_c(&p);
        }
    }
    Err((
        InitFailure::NotFound,
        format!("exec: \"{cmd}\": executable file not found in $PATH"),
    ))
}

fn exec_error(cmd: &str, e: nix::Error) -> Failure {
    let kind = match e {
        nix::Error::ENOENT => InitFailure::NotFound,
        _ => InitFailure::NotExecutable,
    };
    let why = match e {
        nix::Error::EACCES => "permission denied".to_string(),
        nix::Error::ENOENT => "no such file or directory".to_string(),
        nix::Error::ENOEXEC => "exec format error".to_string(),
        other => other.desc().to_lowercase(),
    };
    (kind, format!("exec: \"{cmd}\": {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn executables_are_found_as_go_finds_them() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("tool");
        std::fs::write(&exe, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let plain = dir.path().join("data");
        std::fs::write(&plain, "x").unwrap();
        let path = format!("/nonexistent:{}", dir.path().display());

        let found = find_executable("tool", &path).unwrap();
        assert_eq!(found.to_str().unwrap(), exe.to_str().unwrap());
        let (kind, msg) = find_executable("data", &path).unwrap_err();
        assert_eq!(
            kind,
            InitFailure::NotFound,
            "a file without x bits is skipped"
        );
        assert_eq!(msg, r#"exec: "data": executable file not found in $PATH"#);
        let d = dir.path().display().to_string();
        let (kind, msg) = find_executable(&d, &path).unwrap_err();
        assert_eq!(
            (kind, msg),
            (
                InitFailure::NotExecutable,
                format!("exec: \"{d}\": is a directory")
            )
        );
        let (kind, _) = find_executable("/no/such", &path).unwrap_err();
        assert_eq!(kind, InitFailure::NotFound);
    }

    #[test]
    fn exec_errors_map_to_dockers_codes() {
        assert_eq!(exec_error("x", nix::Error::EACCES).0.exit_code(), 126);
        assert_eq!(exec_error("x", nix::Error::ENOENT).0.exit_code(), 127);
        assert_eq!(
            exec_error("x", nix::Error::ENOEXEC).1,
            r#"exec: "x": exec format error"#
        );
    }
}
