//! A zygote of shims, for a long-lived multi-threaded process that starts many
//! containers (the API server): `tug __zygote`, run once from the sealed binary, forks a
//! shim for each start instead of the process exec'ing `tug __shim <id>` each time. A
//! fork of a small single-threaded process is cheaper than an exec of the 90 MB binary,
//! its loading and its start (a few milliseconds of every start). The shim it forks is
//! the same as an exec'd one: the sealed binary's image, a session of its own, the
//! start's socket on fd 3 and nothing else open, the engine's settings in its
//! environment.
//!
//! The zygote reads requests from a seqpacket socket on its fd 3: the container's id and
//! the shim's environment, with the shim's socket passed along (SCM_RIGHTS). It holds
//! nothing else, and ends when the other end closes (its starter ended or dropped it).
//! A start whose request cannot be sent falls back to the exec.
//!
//! The shim is the zygote's child itself, not a grandchild as an exec'd shim is (whose
//! first process forks once more and exits): that fork, its exit and the wait for it
//! were a tenth of a millisecond or more of every start. The zygote ignores SIGCHLD, so
//! the kernel reaps its shims as they end; each shim sets SIGCHLD back to the default
//! before anything else (it waits for its own children). A zygote's shim leads its
//! session: it never opens a terminal but with O_NOCTTY (the pty of `-t` is made inside
//! the container, see `sandbox::tty`), so it never gets a controlling terminal.
//!
//! The zygote also keeps one network namespace made in advance, its spare: the next shim
//! it forks takes it ([`take_spare_netns`]) and its container's init enters it instead
//! of making one in its clone, the costliest part of the clone (about half a
//! millisecond here: the namespace's loopback, sysctl tables and per-namespace state of
//! every protocol). A spare comes with a veth pair ([`PremadeVeth`]): `eth0` (down) in
//! it, whose `lo` is up, the other end (down, on no bridge, `tugz<pid><n>`) in the
//! zygote's namespace, and a netlink socket in the spare. The first network of the
//! container takes the pair: its host end renamed, on the bridge and up in one request,
//! `eth0` given the container's MAC, address and route through that socket. Making a
//! pair (the registration of two devices, with the kernel's network lock held) was a
//! millisecond and more of every start, on its critical path; taking one is a fraction
//! of that. A container on no network (`none`) has no use for the pair: it goes
//! without a spare.
//!
//! The zygote makes the next spare (unshare, open, back to its own namespace by setns,
//! then the pair) 15 ms after a fork unless the next request comes first: made at once,
//! it would wait for the network lock while that start makes its interfaces, and the
//! other way round. A spare is held by fds only: it goes when the zygote ends (its
//! namespace ends, and the pair with it), and a shim that does not take it closes it.

use std::ffi::{OsStr, OsString};
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use nix::sys::socket::{
    AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType, recvmsg,
    sendmsg, socketpair,
};

use super::Error;
use crate::network::link::{Netlink, PremadeVeth};
use crate::sandbox::exeseal;

/// The hidden subcommand that runs a zygote.
pub const SUBCOMMAND: &str = "__zygote";

/// The largest request: an id and the engine's settings (a few hundred bytes).
const MAX_REQUEST: usize = 64 << 10;

/// A running zygote: the binary and run root it was started for, and the socket to it.
#[derive(Debug)]
struct Zygote {
    bin: PathBuf,
    run_root: PathBuf,
    sock: OwnedFd,
}

/// This process's zygote, once [`start`] made one; `None` after it failed.
static ZYGOTE: Mutex<Option<Zygote>> = Mutex::new(None);

/// A network namespace made in advance, with (when it could be made) a veth pair whose
/// `eth0` is in it (see [`PremadeVeth`]).
struct Spare {
    netns: OwnedFd,
    veth: Option<PremadeVeth>,
}

/// In a shim forked by the zygote: the spare it was given, until [`take_spare_netns`].
static SPARE: Mutex<Option<Spare>> = Mutex::new(None);

/// The network namespace made in advance for this shim by its zygote, if any (once: a
/// later start of the same container makes its own), with its veth pair when it has
/// one. `with_veth`: the container's first network takes the pair; else a spare that
/// has one is not for it (its `eth0` would be in the container) and goes.
pub fn take_spare_netns(with_veth: bool) -> Option<(OwnedFd, Option<PremadeVeth>)> {
    let spare = SPARE.lock().unwrap_or_else(|p| p.into_inner()).take()?;
    if spare.veth.is_some() && !with_veth {
        // Its namespace ends with these fds, and the pair with it.
        return None;
    }
    Some((spare.netns, spare.veth))
}

/// Makes a spare network namespace: unshares one, opens it and an rtnetlink socket in
/// it, and goes back to `own` (the zygote's); then makes its veth pair with `nl` (a
/// socket in `own`), the host end named from this process's pid and `n`. `Err` when
/// the way back failed: the zygote must then end, or it would fork every later shim
/// inside the spare.
fn make_spare(own: &OwnedFd, nl: Option<&mut Netlink>, n: u32) -> Result<Option<Spare>, ()> {
    use nix::sched::CloneFlags;
    if nix::sched::unshare(CloneFlags::CLONE_NEWNET).is_err() {
        return Ok(None);
    }
    let spare = nix::fcntl::open(
        "/proc/thread-self/ns/net",
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ok();
    let inside = Netlink::open().ok();
    nix::sched::setns(own, CloneFlags::CLONE_NEWNET).map_err(|_| ())?;
    let Some(netns) = spare else { return Ok(None) };
    // `tugz` + hex: no container's veth (`tugv`) or bridge (`tug` + hex) has that name.
    let host = format!("tugz{:x}{:x}", std::process::id(), n & 0xf_ffff);
    let veth = match (nl, inside) {
        (Some(nl), Some(inside)) => {
            PremadeVeth::make(nl, &host, std::os::fd::AsFd::as_fd(&netns), inside).ok()
        }
        _ => None,
    };
    Ok(Some(Spare { netns, veth }))
}

/// Starts this process's zygote for shims of binary `bin` (`None`: the one
/// `spawn::shim_binary` chooses) sealed in run root `run_root`. From then on, starts
/// of such shims go through it.
pub fn start(bin: Option<&Path>, run_root: &Path) -> Result<(), Error> {
    let bin = bin
        .map(Path::to_path_buf)
        .unwrap_or_else(super::spawn::shim_binary);
    let sealed = exeseal::seal(&bin, run_root).map_err(|e| {
        Error::Io(
            format!("sealing {}", bin.display()),
            std::io::Error::other(e),
        )
    })?;
    let (ours, theirs) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| Error::Io("socketpair for the zygote".into(), e.into()))?;
    // As for a shim: the sealed fd must not be 3, where the socket goes.
    let sealed = if sealed.as_raw_fd() <= 3 {
        rustix::io::fcntl_dupfd_cloexec(&sealed, 10)
            .map_err(|e| Error::Io(format!("sealing {}", bin.display()), e.into()))?
    } else {
        sealed
    };
    let theirs_fd = theirs.as_raw_fd();
    let mut cmd = exeseal::sealed_command(&sealed);
    cmd.arg(SUBCOMMAND)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // SAFETY: between fork and exec the closure calls only async-signal-safe functions
    // (dup2, fcntl, setsid) on fds this process owns.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
            if theirs_fd == 3 {
                libc::fcntl(3, libc::F_SETFD, 0);
            } else if libc::dup2(theirs_fd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::setsid();
            Ok(())
        });
    }
    let child = cmd
        .spawn()
        .map_err(|e| Error::Io(format!("starting the zygote {}", bin.display()), e))?;
    drop(theirs);
    // The zygote is not waited for: it ends when `ours` closes, and whoever reaps this
    // process's children (a long-lived server: the reaper thread, or init after it)
    // reaps it. A thread to wait for it keeps it from lingering as a zombie.
    std::thread::Builder::new()
        .name("zygote-reaper".into())
        .spawn(move || {
            let mut child = child;
            let _ = child.wait();
        })
        .map_err(|e| Error::Io("starting the zygote's reaper".into(), e))?;
    let mut z = ZYGOTE.lock().unwrap_or_else(|p| p.into_inner());
    *z = Some(Zygote {
        bin,
        run_root: run_root.to_path_buf(),
        sock: ours,
    });
    Ok(())
}

/// Asks this process's zygote to fork the shim of container `id` (binary `bin`, run
/// root `run_root`) with `theirs` as its fd 3 and `env` set. `false`: there is no zygote
/// for them, or it is gone (the caller execs the shim instead).
pub(super) fn launch(
    bin: Option<&Path>,
    run_root: &Path,
    id: &str,
    env: &[(&'static str, OsString)],
    theirs: RawFd,
) -> bool {
    let mut guard = ZYGOTE.lock().unwrap_or_else(|p| p.into_inner());
    let Some(z) = guard.as_ref() else {
        return false;
    };
    if z.run_root != run_root || bin.is_some_and(|b| b != z.bin) {
        return false;
    }
    let msg = encode(id, env);
    let fds = [theirs];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let iov = [IoSlice::new(&msg)];
    match sendmsg::<()>(
        z.sock.as_raw_fd(),
        &iov,
        &cmsg,
        MsgFlags::MSG_NOSIGNAL,
        None,
    ) {
        Ok(_) => true,
        Err(_) => {
            // Gone (killed): later starts exec their shims.
            *guard = None;
            false
        }
    }
}

/// A request: the id, then each variable as `KEY=VALUE`, each ended by a NUL.
fn encode(id: &str, env: &[(&'static str, OsString)]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(512);
    msg.extend_from_slice(id.as_bytes());
    msg.push(0);
    for (k, v) in env {
        msg.extend_from_slice(k.as_bytes());
        msg.push(b'=');
        msg.extend_from_slice(v.as_bytes());
        msg.push(0);
    }
    msg
}

/// The id and the variables of a request; `None` when it is malformed.
fn decode(msg: &[u8]) -> Option<(String, Vec<(OsString, OsString)>)> {
    let mut parts = msg.split(|b| *b == 0);
    let id = std::str::from_utf8(parts.next()?).ok()?.to_string();
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut env = Vec::new();
    for p in parts.filter(|p| !p.is_empty()) {
        let eq = p.iter().position(|b| *b == b'=')?;
        env.push((
            OsStr::from_bytes(&p[..eq]).to_os_string(),
            OsString::from_vec(p[eq + 1..].to_vec()),
        ));
    }
    Some((id, env))
}

/// `tug __zygote`: forks a shim per request until the starter's end closes. Runs
/// `shim_main` in each child, which is the shim (it must not fork to daemonize: see the
/// module's doc). Returns the exit code.
pub fn zygote_main(shim_main: fn(&str) -> i32) -> i32 {
    // SAFETY: fd 3 was put there by `start` for us; nothing else owns it.
    let sock = unsafe { OwnedFd::from_raw_fd(3) };
    // The shims are never waited for: with SIGCHLD ignored the kernel reaps them.
    // SAFETY: setting a signal's disposition to SIG_IGN runs no code of ours.
    unsafe { libc::signal(libc::SIGCHLD, libc::SIG_IGN) };
    let own_netns = nix::fcntl::open(
        "/proc/thread-self/ns/net",
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ok();
    // Asked once here, so that every shim forked from here knows it (a start that
    // publishes a port would read /proc/net/if_inet6 otherwise).
    crate::network::ports::host_has_ipv6();
    // A socket in the zygote's own namespace, for the spares' veth pairs.
    let mut nl = Netlink::open().ok();
    let mut made = 0u32;
    let mut refill = || {
        made = made.wrapping_add(1);
        match &own_netns {
            Some(own) => make_spare(own, nl.as_mut(), made),
            None => Ok(None),
        }
    };
    let Ok(mut spare) = refill() else { return 1 };
    let mut buf = vec![0u8; MAX_REQUEST];
    loop {
        let mut cmsg = nix::cmsg_space!([RawFd; 1]);
        let (n, fd) = {
            let mut iov = [IoSliceMut::new(&mut buf)];
            let msg = match recvmsg::<()>(
                sock.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Ok(m) => m,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => return 1,
            };
            let mut fd = None;
            if let Ok(cmsgs) = msg.cmsgs() {
                for c in cmsgs {
                    if let ControlMessageOwned::ScmRights(fds) = c {
                        for f in fds {
                            // SAFETY: a descriptor the kernel just installed for us.
                            let owned = unsafe { OwnedFd::from_raw_fd(f) };
                            if fd.is_none() {
                                fd = Some(owned);
                            }
                        }
                    }
                }
            }
            (msg.bytes, fd)
        };
        if n == 0 {
            // The starter closed its end: no more shims to start.
            return 0;
        }
        let (Some(fd), Some((id, env))) = (fd, decode(&buf[..n])) else {
            continue;
        };
        fork_shim(&sock, fd, spare.take(), &id, &env, shim_main);
        // The next spare is made once the start just forked is past its busiest part,
        // unless the next request comes first (it then goes without one): made at
        // once, its veth pair would wait for the kernel's network lock while that start
        // makes its interfaces, and the other way round.
        if !request_within(&sock, REFILL_DELAY) {
            match refill() {
                Ok(s) => spare = s,
                Err(()) => return 1,
            }
        }
    }
}

/// How long after a fork the zygote waits before it makes the next spare: about what
/// a start takes from the fork to its process's exec.
const REFILL_DELAY: std::time::Duration = std::time::Duration::from_millis(15);

/// Whether a request (or the end of the starter's socket) is there within `wait`.
fn request_within(sock: &OwnedFd, wait: std::time::Duration) -> bool {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let ms = u16::try_from(wait.as_millis()).unwrap_or(u16::MAX);
    let mut fds = [PollFd::new(
        std::os::fd::AsFd::as_fd(sock),
        PollFlags::POLLIN,
    )];
    loop {
        match poll(&mut fds, PollTimeout::from(ms)) {
            Err(nix::errno::Errno::EINTR) => continue,
            Ok(n) => return n > 0,
            Err(_) => return false,
        }
    }
}

/// Forks the shim of `id` with `fd` as its fd 3 and the spare network namespace `netns`
/// (the child runs `shim_main` and exits with its code).
fn fork_shim(
    zygote_sock: &OwnedFd,
    fd: OwnedFd,
    spare: Option<Spare>,
    id: &str,
    env: &[(OsString, OsString)],
    shim_main: fn(&str) -> i32,
) {
    // SAFETY: the zygote has a single thread, so the child inherits no lock in a locked
    // state and may run ordinary Rust code.
    match unsafe { nix::unistd::fork() } {
        Err(_) => {}
        Ok(nix::unistd::ForkResult::Parent { .. }) => {
            drop(fd);
            drop(spare);
        }
        Ok(nix::unistd::ForkResult::Child) => {
            let raw = fd.as_raw_fd();
            let spare_raw = spare.as_ref().map(|s| s.netns.as_raw_fd());
            let inside_raw = spare
                .as_ref()
                .and_then(|s| s.veth.as_ref())
                .map(PremadeVeth::inside_fd);
            let mut keep = 3u32;
            // SAFETY: plain fd and process calls in the child, on fds it owns: the
            // shim's socket replaces the zygote's on fd 3 (the shim must not hold the
            // zygote's), the spare namespace (if any) goes to fd 4 and its veth's socket
            // to fd 5, close-on-exec, and every other fd beyond stdio is closed. fd 4 is
            // taken before 5 is written: the socket's fd, were it 4, is moved to 5 first.
            unsafe {
                if libc::dup2(raw, 3) < 0 {
                    libc::_exit(125);
                }
                let inside_raw = match inside_raw {
                    Some(4) => Some(libc::fcntl(4, libc::F_DUPFD_CLOEXEC, 6)),
                    other => other,
                };
                if let Some(s) = spare_raw
                    && (s == 4 || libc::dup2(s, 4) == 4)
                {
                    libc::fcntl(4, libc::F_SETFD, libc::FD_CLOEXEC);
                    keep = 4;
                    if let Some(i) = inside_raw
                        && i >= 0
                        && (i == 5 || libc::dup2(i, 5) == 5)
                    {
                        libc::fcntl(5, libc::F_SETFD, libc::FD_CLOEXEC);
                        keep = 5;
                    }
                }
                libc::syscall(libc::SYS_close_range, keep + 1, u32::MAX, 0u32);
                libc::setsid();
                // The shim waits for its children: they must not be reaped unseen.
                libc::signal(libc::SIGCHLD, libc::SIG_DFL);
            }
            // fd 3 is the shim's now; neither handle may close it.
            std::mem::forget(fd);
            // The spare's old fds are closed (or are fds 4 and 5 themselves): forget
            // the handles.
            let veth = spare.and_then(|s| {
                std::mem::forget(s.netns);
                s.veth
            });
            // A spare whose veth's socket was not kept to fd 5 is not used: its `eth0`
            // would be in the container (the socket's old fd is closed: forgotten).
            let usable = match &veth {
                Some(_) => keep == 5,
                None => keep == 4,
            };
            let veth = match veth {
                // SAFETY: fd 5 was set up above for this and nothing else owns it.
                Some(v) if keep == 5 => Some(unsafe { v.with_inside_fd(5) }),
                Some(v) => {
                    std::mem::forget(v);
                    None
                }
                None => None,
            };
            if keep >= 4 {
                // SAFETY: fd 4 was set up above for this and nothing else owns it.
                let netns = unsafe { OwnedFd::from_raw_fd(4) };
                if usable {
                    *SPARE.lock().unwrap_or_else(|p| p.into_inner()) = Some(Spare { netns, veth });
                }
            }
            let _ = zygote_sock;
            for (k, v) in env {
                // SAFETY: single-threaded: setting the environment races with nothing.
                unsafe { std::env::set_var(k, v) };
            }
            let code = shim_main(id);
            // SAFETY: _exit skips atexit work, which belongs to the zygote.
            unsafe { libc::_exit(code) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_decodes_to_what_was_encoded() {
        let env = vec![
            ("TUG_ROOT", OsString::from("/var/lib/tug")),
            ("TUG_X", OsString::from("a=b c")),
            ("TUG_EMPTY", OsString::new()),
        ];
        let id = "ab".repeat(32);
        let (got_id, got_env) = decode(&encode(&id, &env)).unwrap();
        assert_eq!(got_id, id);
        let want: Vec<(OsString, OsString)> = env
            .iter()
            .map(|(k, v)| (OsString::from(k), v.clone()))
            .collect();
        assert_eq!(got_env, want);
    }

    #[test]
    fn a_malformed_request_is_refused() {
        assert!(decode(b"").is_none());
        assert!(decode(b"../etc\0").is_none());
        assert!(decode(b"abc\0NOEQUALS\0").is_none());
    }
}
