//! Entering a running container (`exec`): a new process joins every namespace of the
//! container's init (mount, uts, ipc, net, pid, cgroup; tug makes no user namespace) and
//! its cgroups, then becomes the user and execs, as the init's last step does.
//!
//! Joining a pid namespace affects children only, so there are two steps:
//! 1. the *intermediate* (cloned from the caller) joins the init's cgroups (host paths,
//!    so before it leaves the host's mount namespace), then its namespaces with one
//!    `setns` on a pidfd, and makes the pty in the container's own devpts;
//! 2. it clones the *process* with `CLONE_PARENT`, so that the caller is its parent and
//!    waits for it as for a container init, reports the process's pid and `Ready` (with
//!    the pty master), and exits. The process waits for `start` and execs.
//!
//! The result is a [`Sandbox`], so the caller starts, supervises and waits for an exec'd
//! process as for a container. The caller is the container's shim (`shim::exec`): a
//! single-threaded process whose binary is sealed, so that the clones run from nothing a
//! container could write, and no multi-threaded library caller is ever cloned. A detached exec forks once more inside the container's
//! pid namespace, so that the orphan is inherited by the container's init (which reaps it
//! if it reaps at all, as with Docker's own init-less containers).

use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use super::exec::switch_user;
use super::failure::{Failure, InitFailure, setup_err};
use super::mounts::RootDir;
use super::sync;
use super::{Error, Sandbox, Stdio, tty, user};

/// What to run in a container, and how.
#[derive(Debug, Clone)]
pub struct EnterConfig {
    /// The container init's pid, in the caller's pid namespace.
    pub init_pid: i32,
    /// The process: args, env and cwd of the exec; capabilities, no_new_privileges and
    /// additional gids as the container's own process has them.
    pub process: oci_spec::runtime::Process,
    /// Docker's `--user` (`name|uid[:group|gid]`, `""` for root), resolved in the
    /// container's /etc/passwd and /etc/group.
    pub user: String,
    /// The process's stdio: with `detach`, only a terminal counts (`exec -dt`).
    pub stdio: Stdio,
    /// `exec -d`: stdio on /dev/null (or its pty with `-t`), and no tie to the caller,
    /// which may exit at once.
    pub detach: bool,
    /// The container's seccomp filter (its spec's `linux.seccomp`), `None` if unconfined.
    pub seccomp: Option<oci_spec::runtime::LinuxSeccomp>,
    /// The container's `--group-add` groups, resolved in its /etc/group.
    pub group_add: Vec<String>,
}

/// The namespaces an exec'd process joins (every one tug makes; never the user ns).
const NAMESPACES: libc::c_int = libc::CLONE_NEWNS
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWCGROUP;

/// The caller's ends of an exec's stdio, which runs through pipes (as Docker's does) so
/// that no fd of the caller's own (a redirected file, a terminal) reaches the container.
#[derive(Debug)]
pub struct ExecPipes {
    /// To the process's stdin (`-i`), else `None` (its stdin is /dev/null).
    pub stdin: Option<OwnedFd>,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

/// The pipes of an exec without a terminal: the caller's ends; the process's stdout and
/// stderr ends; its stdin end, with `-i`.
fn exec_pipes(stdin: bool) -> Result<(ExecPipes, [OwnedFd; 2], Option<OwnedFd>), Error> {
    let pipe = || {
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| Error::sys("pipe for the exec's stdio", e))
    };
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let (in_w, in_r) = if stdin {
        let (r, w) = pipe()?;
        (Some(w), Some(r))
    } else {
        (None, None)
    };
    Ok((
        ExecPipes {
            stdin: in_w,
            stdout: out_r,
            stderr: err_r,
        },
        [out_w, err_w],
        in_r,
    ))
}

/// Step 1 of an exec: makes the process inside the container, waiting to be started.
/// Call [`Sandbox::start`], then wait (or [`Sandbox::detach_exec`]).
pub fn enter(config: &EnterConfig) -> Result<Sandbox, Error> {
    let filter = config
        .seccomp
        .as_ref()
        .map(super::seccomp::compile)
        .transpose()
        .map_err(|e| Error::Unsupported(crate::report(&e)))?;
    let pidfd = open_pidfd(config.init_pid)?;
    // The pidfd pins the process; checking it afterwards ensures that a reused pid is
    // never taken for the container's init: PID 1 of its own namespace, or, for a
    // container that shares another's (`--pid host|container:`), our own child (the
    // shim's, whose pid cannot be reused before the shim reaps it).
    if !is_namespace_init(config.init_pid) && !is_own_child(config.init_pid) {
        return Err(Error::Unsupported(format!(
            "process {} is not a container's init any more",
            config.init_pid
        )));
    }
    let proc_cgroup = read(&format!("/proc/{}/cgroup", config.init_pid))?;
    let mountinfo = read("/proc/self/mountinfo")?;
    let cgroups = cgroup_procs_files(&proc_cgroup, &mountinfo);

    let (parent_end, child_end) = sync::pair()?;
    let (pid_r, pid_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)
        .map_err(|e| Error::sys("pipe for the exec'd process's pid", e))?;
    let pipes = match (config.stdio, config.detach) {
        (Stdio::Inherit { stdin }, false) => Some(exec_pipes(stdin)?),
        _ => None,
    };
    // Without pipes (a terminal, or detached) the intermediate's stdio is the host's
    // /dev/null until the process takes its pty or the container's /dev/null: no stdio
    // fd of the caller (a shim's log, a redirected file) ever goes in.
    let null = match pipes {
        None => Some(
            std::fs::File::open("/dev/null")
                .map_err(|e| Error::Io("opening /dev/null".into(), e))?,
        ),
        Some(_) => None,
    };
    let stdio_fds = match (&pipes, &null) {
        (Some((_, [out_w, err_w], in_r)), _) => Some([
            in_r.as_ref().map_or(-1, |f| f.as_raw_fd()),
            out_w.as_raw_fd(),
            err_w.as_raw_fd(),
        ]),
        (None, Some(n)) => Some([n.as_raw_fd(); 3]),
        (None, None) => None,
    };
    let ctx = Intermediate {
        config,
        pidfd: pidfd.as_raw_fd(),
        sock: child_end.as_raw_fd(),
        parent_sock: parent_end.as_raw_fd(),
        pid_w: pid_w.as_raw_fd(),
        pid_r: pid_r.as_raw_fd(),
        cgroups: &cgroups,
        filter: filter.as_ref(),
        stdio_fds,
    };
    let mut stack = vec![0u8; 1 << 20];
    let cb = Box::new(|| intermediate_main(&ctx) as isize);
    // SAFETY: no CLONE_VM: the child gets a copy of our memory (like fork) and runs `cb`
    // on its own copy of `stack`. The caller is single-threaded here, as for `create`.
    let intermediate =
        unsafe { nix::sched::clone(cb, &mut stack, CloneFlags::empty(), Some(libc::SIGCHLD)) }
            .map_err(|e| Error::sys("clone of the exec intermediate", e))?;
    drop(child_end);
    drop(pid_w);
    drop(pidfd);
    // The process's ends now live in the process only.
    let mut pipes = pipes.map(|(ours, _theirs, _in)| ours);
    let msg = sync::recv(parent_end.as_raw_fd());
    let _ = waitpid(intermediate, None);
    // The intermediate wrote the process's pid (if it got that far) before any message.
    let pid = read_pid(pid_r);
    let reap = || {
        if let Some(p) = pid {
            let _ = kill(p, Signal::SIGKILL);
            let _ = waitpid(p, None);
        }
    };
    let failed = |kind, text| {
        reap();
        Err(Error::Init(kind, text))
    };
    let msg = msg.inspect_err(|_| reap())?;
    match msg {
        sync::Message::Ready(master) => match pid {
            Some(pid) => Ok(Sandbox {
                pid,
                sync: Some(parent_end),
                releasing: None,
                pty_master: master,
                pipes: pipes.take(),
                exit_code: None,
            }),
            None => failed(InitFailure::Setup, "the exec'd process has no pid".into()),
        },
        sync::Message::Failed(kind, text) => failed(kind, text),
        sync::Message::Closed => failed(
            InitFailure::Setup,
            "the exec intermediate exited during setup".into(),
        ),
    }
}

impl Sandbox {
    /// Lets a started detached exec go on without the caller (`exec -d`): reaps the
    /// intermediate process, whose child (the exec'd process, orphaned inside the
    /// container's pid namespace) now belongs to the container's init.
    pub fn detach_exec(mut self) {
        let _ = self.wait();
    }
}

fn read(path: &str) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| Error::Io(format!("reading {path}"), e))
}

/// A pidfd for `pid` (close-on-exec): readable once the process exits.
pub fn open_pidfd(pid: i32) -> Result<OwnedFd, Error> {
    // SAFETY: pidfd_open takes a pid and flags by value and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(Error::Io(
            format!("opening the container's init (pid {pid})"),
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: the syscall just returned this new fd (close-on-exec by default); we own it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Whether `pid` is alive and pid 1 of a pid namespace of its own.
fn is_namespace_init(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("NSpid:")).map(|ids| {
                let ids: Vec<&str> = ids.split_whitespace().collect();
                ids.len() >= 2 && ids.last() == Some(&"1")
            })
        })
        .unwrap_or(false)
}

fn is_own_child(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("PPid:"))
                .and_then(|p| p.trim().parse::<u32>().ok())
        })
        == Some(std::process::id())
}

fn read_pid(fd: OwnedFd) -> Option<Pid> {
    let mut buf = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match nix::unistd::read(&fd, &mut buf[got..]) {
            Ok(0) => return None,
            Ok(n) => got += n,
            Err(nix::Error::EINTR) => continue,
            Err(_) => return None,
        }
    }
    Some(Pid::from_raw(i32::from_ne_bytes(buf)))
}

/// The `cgroup.procs` files of the cgroups in `/proc/<pid>/cgroup`, found through the
/// cgroup mounts of `mountinfo` (v1 hierarchies by their controllers or name, v2 as the
/// unified one). Hierarchies that are not mounted are skipped.
pub fn cgroup_procs_files(proc_cgroup: &str, mountinfo: &str) -> Vec<PathBuf> {
    struct CgMount<'a> {
        v2: bool,
        options: Vec<&'a str>,
        root: &'a str,
        point: &'a str,
    }
    let mounts: Vec<CgMount> = mountinfo
        .lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let left: Vec<&str> = left.split(' ').collect();
            let right: Vec<&str> = right.split(' ').collect();
            let fstype = *right.first()?;
            if fstype != "cgroup" && fstype != "cgroup2" {
                return None;
            }
            Some(CgMount {
                v2: fstype == "cgroup2",
                options: right
                    .get(2)
                    .map(|o| o.split(',').collect())
                    .unwrap_or_default(),
                root: left.get(3)?,
                point: left.get(4)?,
            })
        })
        .collect();
    let mut out = Vec::new();
    for line in proc_cgroup.lines() {
        let mut f = line.splitn(3, ':');
        let (Some(_id), Some(controllers), Some(path)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let wanted: Vec<&str> = controllers.split(',').filter(|c| !c.is_empty()).collect();
        let found = mounts.iter().find(|m| {
            if wanted.is_empty() {
                m.v2
            } else {
                !m.v2 && wanted.iter().all(|c| m.options.contains(c))
            }
        });
        let Some(m) = found else { continue };
        let rel = if m.root == "/" {
            Some(path)
        } else {
            path.strip_prefix(m.root)
                .filter(|r| r.is_empty() || r.starts_with('/'))
        };
        let Some(rel) = rel else { continue };
        let file = Path::new(m.point)
            .join(rel.trim_start_matches('/'))
            .join("cgroup.procs");
        if !out.contains(&file) {
            out.push(file);
        }
    }
    out
}

/// What the intermediate needs (raw fds: it runs on a copy of the caller's memory).
struct Intermediate<'a> {
    config: &'a EnterConfig,
    pidfd: RawFd,
    sock: RawFd,
    parent_sock: RawFd,
    pid_w: RawFd,
    pid_r: RawFd,
    cgroups: &'a [PathBuf],
    filter: Option<&'a super::seccomp::Program>,
    /// The process's stdin (-1: none), stdout and stderr pipe ends, put on 0, 1, 2.
    stdio_fds: Option<[RawFd; 3]>,
}

fn intermediate_main(ctx: &Intermediate) -> i32 {
    // SAFETY: these are the child's copies of the caller's ends; closing them here lets
    // the caller see EOF when this process and the exec'd one are done with theirs.
    unsafe {
        libc::close(ctx.parent_sock);
        libc::close(ctx.pid_r);
    }
    match intermediate(ctx) {
        Ok(()) => 0,
        Err((kind, msg)) => {
            sync::send_failed(ctx.sock, kind, &msg);
            kind.exit_code()
        }
    }
}

fn intermediate(ctx: &Intermediate) -> Result<(), Failure> {
    // Nothing of the caller's may be reached from inside: no /proc access to this
    // process, no fd but the ones passed on, no argument or variable of the caller.
    super::hygiene::make_undumpable().map_err(setup_err)?;
    if let Some([i, o, e]) = ctx.stdio_fds {
        for (from, to) in [(i, 0), (o, 1), (e, 2)] {
            // SAFETY: dup2 onto a stdio fd of this process (a copy of the caller's
            // table); the pipe ends are open here.
            if from >= 0 && unsafe { libc::dup2(from, to) } < 0 {
                return Err(setup_err(format!(
                    "stdio of the exec'd process: {}",
                    std::io::Error::last_os_error()
                )));
            }
        }
    }
    super::hygiene::close_fds_except(&[0, 1, 2, ctx.sock, ctx.pid_w, ctx.pidfd]);
    super::hygiene::scrub_args_and_environ();
    for file in ctx.cgroups {
        std::fs::write(file, b"0")
            .map_err(|e| setup_err(format!("joining the cgroup {}: {e}", file.display())))?;
    }
    // SAFETY: setns takes an fd (the pidfd, open in this process) and flags by value.
    if unsafe { libc::setns(ctx.pidfd, NAMESPACES) } != 0 {
        return Err(setup_err(format!(
            "joining the container's namespaces: {}",
            std::io::Error::last_os_error()
        )));
    }
    // The mount namespace's root is the container's rootfs (set up with pivot_root), and
    // setns moved our root and cwd there.
    // A detached exec with `-t` gets its pty too (`exec -dt`): the shim holds the master
    // and drains it until the process and its children close the slave.
    let console = match ctx.config.stdio {
        Stdio::Tty => {
            let root = RootDir::open(Path::new("/"))
                .map_err(|e| setup_err(format!("opening the container's root: {e}")))?;
            Some(tty::open_in_container(&root).map_err(setup_err)?)
        }
        _ => None,
    };
    let master = console.as_ref().map(|(m, _)| m.as_raw_fd());
    let slave = console.as_ref().map(|(_, s)| s.as_raw_fd());
    let mut stack = vec![0u8; 1 << 20];
    let cb = Box::new(move || process_main(ctx, master, slave) as isize);
    // SAFETY: as for the intermediate: no CLONE_VM, the child runs `cb` on its own copy
    // of `stack`; this process is single-threaded. CLONE_PARENT makes the caller the
    // parent, which waits for the process; the exit signal is ours (SIGCHLD).
    let pid = unsafe {
        nix::sched::clone(
            cb,
            &mut stack,
            CloneFlags::CLONE_PARENT,
            Some(libc::SIGCHLD),
        )
    }
    .map_err(|e| setup_err(format!("clone of the exec'd process: {e}")))?;
    // SAFETY: pid_w is this process's own copy of the pipe's write end, open until exit.
    let mut pid_pipe = unsafe { std::fs::File::from_raw_fd(ctx.pid_w) };
    let reported = pid_pipe.write_all(&pid.as_raw().to_ne_bytes());
    drop(pid_pipe);
    if let Err(e) = reported {
        let _ = kill(pid, Signal::SIGKILL);
        return Err(setup_err(format!("reporting the exec'd process: {e}")));
    }
    sync::send_ready(ctx.sock, master).map_err(|e| {
        let _ = kill(pid, Signal::SIGKILL);
        setup_err(format!("reporting ready: {e}"))
    })?;
    Ok(())
}

/// The exec'd process: waits for `start`, then execs (or reports why it cannot).
fn process_main(ctx: &Intermediate, master: Option<RawFd>, slave: Option<RawFd>) -> i32 {
    // SAFETY: this process's copies of fds it does not use; nothing else owns them here.
    unsafe {
        libc::close(ctx.pid_w);
        libc::close(ctx.pidfd);
        if let Some(m) = master {
            libc::close(m);
        }
    }
    if !sync::wait_start(ctx.sock) {
        return InitFailure::Setup.exit_code();
    }
    if ctx.config.detach {
        // The second fork of a detached exec: this process is in the container's pid
        // namespace, so its orphaned child goes to the container's init, not the host's.
        // SAFETY: this process is single-threaded; the child goes on to exec.
        match unsafe { nix::unistd::fork() } {
            Ok(nix::unistd::ForkResult::Child) => {}
            Ok(nix::unistd::ForkResult::Parent { .. }) => return 0,
            Err(e) => {
                sync::send_failed(ctx.sock, InitFailure::Setup, &format!("fork: {e}"));
                return InitFailure::Setup.exit_code();
            }
        }
    }
    // SAFETY: the slave is this process's own copy, owned by nothing else here.
    let slave = slave.map(|s| unsafe { OwnedFd::from_raw_fd(s) });
    let Err((kind, msg)) = exec_entered(ctx.config, ctx.filter, slave);
    sync::send_failed(ctx.sock, kind, &msg);
    kind.exit_code()
}

/// Stdio, user, environment, working dir, capabilities, fds, then `execve`.
fn exec_entered(
    config: &EnterConfig,
    filter: Option<&super::seccomp::Program>,
    slave: Option<OwnedFd>,
) -> Result<std::convert::Infallible, Failure> {
    let process = &config.process;
    let null_on = |fds: &[RawFd]| -> Result<(), Failure> {
        let null = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")
            .map_err(|e| setup_err(format!("opening /dev/null: {e}")))?;
        for fd in fds {
            // SAFETY: dup2 onto a stdio fd, which no Rust object owns.
            unsafe { libc::dup2(null.as_raw_fd(), *fd) };
        }
        Ok(())
    };
    match (config.detach, config.stdio, &slave) {
        (_, Stdio::Tty, Some(s)) => tty::make_controlling(s).map_err(setup_err)?,
        (false, Stdio::Inherit { stdin }, _) => {
            nix::unistd::setsid().map_err(|e| setup_err(format!("setsid: {e}")))?;
            if !stdin {
                null_on(&[0])?;
            }
        }
        _ => {
            nix::unistd::setsid().map_err(|e| setup_err(format!("setsid: {e}")))?;
            null_on(&[0, 1, 2])?;
        }
    }
    drop(slave);

    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let group = std::fs::read_to_string("/etc/group").unwrap_or_default();
    let mut exec_user =
        user::resolve(&config.user, &passwd, &group).map_err(|e| setup_err(e.to_string()))?;
    for g in &config.group_add {
        let gid = user::group_id(g, &group).map_err(|e| setup_err(e.to_string()))?;
        if gid != exec_user.gid && !exec_user.sgids.contains(&gid) {
            exec_user.sgids.push(gid);
        }
    }
    let mut env: Vec<String> = process.env().clone().unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", exec_user.home));
    }
    let cwd = process.cwd();
    nix::unistd::chdir(cwd).map_err(|e| {
        (
            InitFailure::NotExecutable,
            format!(
                "chdir to cwd (\"{}\") set in config.json failed: {}",
                cwd.display(),
                e.desc().to_lowercase()
            ),
        )
    })?;
    super::exec::check_cwd_inside(cwd)?;

    // The container's limits (the spec's process is the exec's base), as runc does.
    super::rlimits::apply(process)?;
    switch_user(process, &exec_user, filter)?;
    match super::exec::become_process(process, &env, false, false)? {}
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn v1_and_unified_hierarchies_map_to_their_mounts() {
        let procs = "9:name=systemd:/\n4:memory:/tug/abc\n1:cpu:/\n0::/user.slice\n";
        let files = cgroup_procs_files(procs, HYBRID);
        let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
        assert_eq!(
            names,
            [
                "/sys/fs/cgroup/systemd/cgroup.procs",
                "/sys/fs/cgroup/memory/tug/abc/cgroup.procs",
                "/sys/fs/cgroup/cpu/cgroup.procs",
                "/sys/fs/cgroup/unified/user.slice/cgroup.procs",
            ]
        );
    }

    #[test]
    fn unmounted_hierarchies_and_outside_roots_are_skipped() {
        let mountinfo = "50 1 0:40 /sub /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        let files = cgroup_procs_files("3:cpuset:/\n0::/sub/x\n", mountinfo);
        assert_eq!(files, [PathBuf::from("/sys/fs/cgroup/x/cgroup.procs")]);
        assert!(cgroup_procs_files("0::/other\n", mountinfo).is_empty());
    }

    #[test]
    fn a_combined_v1_hierarchy_matches_by_every_controller() {
        let mountinfo =
            "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n";
        let files = cgroup_procs_files("2:cpu,cpuacct:/a\n", mountinfo);
        assert_eq!(
            files,
            [PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/a/cgroup.procs")]
        );
    }
}
