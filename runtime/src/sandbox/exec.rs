//! The last step of the init: stdio, the user (resolved in the container's own files),
//! environment, working dir, capabilities, closing fds, and the `execve` whose errors map
//! to Docker's exit codes (126, 127).

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::sys::signal::Signal;
use nix::sys::stat::{Mode, umask};
use nix::unistd::{Gid, Uid};

use super::failure::{Failure, InitFailure, exec_error, setup_err};
use super::{SandboxConfig, Stdio, caps, seccomp, signals, tty, user};

/// Becomes the user and execs the process: stdio, user, env, cwd, capabilities, fds.
pub(super) fn exec_process(
    config: &SandboxConfig,
    filter: Option<&seccomp::Program>,
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
                // /dev/null, or an empty pipe where there is none (a host dir on /dev).
                let null: OwnedFd = match std::fs::File::open("/dev/null") {
                    Ok(f) => f.into(),
                    Err(_) => {
                        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
                            .map_err(|e| setup_err(format!("pipe for stdin: {e}")))?
                            .0
                    }
                };
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
        // Made 0755 whatever the umask, as Docker makes a missing working dir.
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(cwd)
            .map_err(|e| setup_err(format!("creating the working dir {}: {e}", cwd.display())))?;
    }
    nix::unistd::chdir(cwd).map_err(|e| setup_err(format!("chdir to {}: {e}", cwd.display())))?;
    check_cwd_inside(cwd)?;

    super::rlimits::apply(process)?;
    switch_user(process, &exec_user, filter)?;
    let init = config
        .spec
        .annotations()
        .as_ref()
        .is_some_and(|a| a.get(super::pid1::ANNOTATION).is_some_and(|v| v == "true"));
    match become_process(process, &env, true, init)? {}
}

/// Refuses a working dir outside the container's root (CVE-2024-21626: `-w
/// /proc/self/fd/N` with N a directory fd of the runtime's). The kernel names a cwd that
/// the process's root cannot reach `(unreachable)/...`.
pub(super) fn check_cwd_inside(cwd: &Path) -> Result<(), Failure> {
    match nix::unistd::getcwd() {
        Ok(p) if p.is_absolute() => Ok(()),
        _ => Err((
            InitFailure::NotExecutable,
            format!("the working dir {} is outside the container", cwd.display()),
        )),
    }
}

/// The last steps of every container process (the init's and exec's): the user already
/// switched, find the command in the container's PATH, close every fd but stdio on exec,
/// reset signals, and `execve`. With `pdeathsig` the process dies with its supervisor.
/// With `init` (`--init`) it forks the command and stays as its PID 1 ([`super::pid1`]).
/// Returns only on failure, with the exit code Docker gives it.
pub(super) fn become_process(
    process: &oci_spec::runtime::Process,
    env: &[String],
    pdeathsig: bool,
    init: bool,
) -> Result<std::convert::Infallible, Failure> {
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
    if init {
        if pdeathsig {
            let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
        }
        return super::pid1::run(&exe, &argv, &envp);
    }
    // Every fd but stdio closes on exec (the sync socket too: that tells the supervisor
    // the exec succeeded).
    cloexec_all_but_stdio();
    signals::reset_for_exec();
    if pdeathsig {
        // The user switch cleared the parent-death signal: set it again.
        let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    }
    let Err(err) = nix::unistd::execve(&exe, &argv, &envp);
    Err(exec_error(cmd, err))
}

/// Marks every fd but stdio close-on-exec.
pub(super) fn cloexec_all_but_stdio() {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets flags on our own fds.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC as libc::c_uint,
        )
    };
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
    let mut u = user::resolve(&spec_user, &passwd, &group).map_err(|e| setup_err(e.to_string()))?;
    // `--group-add`: more groups, names resolved in the container's /etc/group.
    let added = config
        .spec
        .annotations()
        .as_ref()
        .and_then(|a| a.get(user::GROUP_ADD_ANNOTATION).cloned())
        .unwrap_or_default();
    for g in added.split(',').filter(|g| !g.is_empty()) {
        let gid = user::group_id(g, &group).map_err(|e| setup_err(e.to_string()))?;
        if gid != u.gid && !u.sgids.contains(&gid) {
            u.sgids.push(gid);
        }
    }
    Ok(u)
}

/// Becomes the user with the spec's capabilities and loads the seccomp filter: first,
/// while the process still holds CAP_SYS_ADMIN, unless no_new_privs is asked for, in
/// which case last (no_new_privs lets an unprivileged process load it), as runc does.
pub(super) fn switch_user(
    process: &oci_spec::runtime::Process,
    u: &user::ExecUser,
    filter: Option<&seccomp::Program>,
) -> Result<(), Failure> {
    let nnp = process.no_new_privileges() == Some(true);
    if let Some(f) = filter.filter(|_| !nnp) {
        f.load().map_err(setup_err)?;
    }
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
    if nnp {
        nix::sys::prctl::set_no_new_privs().map_err(|e| setup_err(format!("no_new_privs: {e}")))?;
        if let Some(f) = filter {
            f.load().map_err(setup_err)?;
        }
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

#[cfg(test)]
mod cwd_tests {
    use super::*;

    #[test]
    fn a_cwd_outside_the_root_is_refused() {
        if !nix::unistd::Uid::effective().is_root() {
            eprintln!("skipped: needs root (chroot)");
            return;
        }
        let inside = tempfile::tempdir().unwrap();
        // In a forked child: it chroots, keeps a dir fd of the old root, and goes there.
        // SAFETY: the child makes plain syscalls and exits.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                let outside = std::fs::File::open("/").unwrap();
                let ok_inside = nix::unistd::chroot(inside.path()).is_ok()
                    && nix::unistd::chdir("/").is_ok()
                    && check_cwd_inside(Path::new("/")).is_ok();
                let refused = nix::unistd::fchdir(&outside).is_ok()
                    && check_cwd_inside(Path::new("/proc/self/fd/3")).is_err();
                // SAFETY: _exit in the forked child.
                unsafe { libc::_exit(if ok_inside && refused { 0 } else { 1 }) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                let st = nix::sys::wait::waitpid(child, None).unwrap();
                assert_eq!(st, nix::sys::wait::WaitStatus::Exited(child, 0));
            }
        }
    }
}
