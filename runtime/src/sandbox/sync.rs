//! The sync socket between the supervisor and the container init: a SOCK_SEQPACKET pair
//! with typed one-packet messages. The init's end is close-on-exec, so a successful
//! `execve` shows up as the end of the stream.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{
    AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType, recvmsg,
    sendmsg, socketpair,
};

use super::Error;
use super::failure::InitFailure;

/// A message from the init to the supervisor.
#[derive(Debug)]
pub enum Message {
    /// Set up and waiting for `start`; the pty master when there is a terminal.
    Ready(Option<OwnedFd>),
    /// Setup or exec failed.
    Failed(InitFailure, String),
    /// The init closed its end: it exec'd (or died).
    Closed,
}

const TAG_READY: u8 = b'R';
const TAG_FAILED: u8 = b'F';
const TAG_START: u8 = b'S';
const TAG_CGROUP: u8 = b'C';

/// What the supervisor tells a ready init.
#[derive(Debug, PartialEq, Eq)]
pub enum Go {
    /// The init is in its cgroup (the supervisor made it, and on v2 moved the init): it
    /// may join it (v1) and enter its cgroup namespace now, before the start.
    CgroupReady,
    /// Exec the user's process.
    Start,
}

/// A connected pair: (supervisor end, init end), both close-on-exec.
pub fn pair() -> Result<(OwnedFd, OwnedFd), Error> {
    socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| Error::sys("socketpair for the container init", e))
}

/// Receives one message (blocking; retries on EINTR).
pub fn recv(fd: RawFd) -> Result<Message, Error> {
    let mut buf = [0u8; 4096];
    let mut cmsg = nix::cmsg_space!([RawFd; 1]);
    loop {
        let mut iov = [IoSliceMut::new(&mut buf)];
        let msg = match recvmsg::<()>(fd, &mut iov, Some(&mut cmsg), MsgFlags::MSG_CMSG_CLOEXEC) {
            Ok(m) => m,
            Err(nix::Error::EINTR) => continue,
            // The init closed its end before it read all we sent (a "cgroup ready" that
            // came after its set-up failed): the kernel reports that once, and what the
            // init sent (its failure) is still there to read.
            Err(nix::Error::ECONNRESET) => continue,
            Err(e) => return Err(Error::sys("reading from the container init", e)),
        };
        let mut fd_received = None;
        if let Ok(cmsgs) = msg.cmsgs() {
            for c in cmsgs {
                if let ControlMessageOwned::ScmRights(fds) = c {
                    for f in fds {
                        // SAFETY: the kernel just installed this fd in our table for us;
                        // nothing else owns it.
                        let owned = unsafe { OwnedFd::from_raw_fd(f) };
                        fd_received.get_or_insert(owned);
                    }
                }
            }
        }
        let n = msg.bytes;
        if n == 0 {
            return Ok(Message::Closed);
        }
        return Ok(match buf[0] {
            TAG_READY => Message::Ready(fd_received),
            TAG_FAILED if n >= 2 => Message::Failed(
                InitFailure::from_tag(buf[1]),
                String::from_utf8_lossy(&buf[2..n]).into_owned(),
            ),
            _ => Message::Failed(
                InitFailure::Setup,
                "garbled message from the container init".into(),
            ),
        });
    }
}

fn send(fd: RawFd, data: &[u8], fds: &[RawFd]) -> nix::Result<()> {
    let iov = [IoSlice::new(data)];
    let cmsgs = [ControlMessage::ScmRights(fds)];
    let cmsgs: &[ControlMessage] = if fds.is_empty() { &[] } else { &cmsgs };
    loop {
        match sendmsg::<()>(fd, &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None) {
            Err(nix::Error::EINTR) => continue,
            r => return r.map(|_| ()),
        }
    }
}

/// Supervisor → init: go on and exec.
pub fn send_start(fd: RawFd) -> Result<(), Error> {
    send(fd, &[TAG_START], &[]).map_err(|e| Error::sys("releasing the container init", e))
}

/// Init → supervisor: set up; `master` is the pty master to hand over.
pub fn send_ready(fd: RawFd, master: Option<RawFd>) -> nix::Result<()> {
    match master {
        Some(m) => send(fd, &[TAG_READY], &[m]),
        None => send(fd, &[TAG_READY], &[]),
    }
}

/// Init → supervisor: failed, with the message the CLI prints.
pub fn send_failed(fd: RawFd, kind: InitFailure, msg: &str) {
    let mut data = Vec::with_capacity(msg.len() + 2);
    data.push(TAG_FAILED);
    data.push(kind.tag());
    data.extend_from_slice(&msg.as_bytes()[..msg.len().min(4000)]);
    let _ = send(fd, &data, &[]);
}

/// Supervisor → init: the init's cgroup is ready (sent by the thread that made it,
/// while the supervisor's other thread still sets up the network; optional: an init
/// that gets `start` first does its cgroup steps then).
pub fn send_cgroup_ready(fd: RawFd) -> Result<(), Error> {
    send(fd, &[TAG_CGROUP], &[]).map_err(|e| Error::sys("telling the init its cgroup", e))
}

/// An exec'd process: waits for the supervisor's `start`. False when the supervisor went
/// away (or said something else).
pub fn wait_start(fd: RawFd) -> bool {
    wait_go(fd) == Some(Go::Start)
}

/// Init: waits for the supervisor's next word. `None` when the supervisor went away (or
/// said something else).
pub fn wait_go(fd: RawFd) -> Option<Go> {
    let mut buf = [0u8; 16];
    loop {
        match nix::unistd::read(
            // SAFETY: `fd` is the init's own end of the sync socket, open for the whole
            // call.
            unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) },
            &mut buf,
        ) {
            Ok(n) if n > 0 && buf[0] == TAG_START => return Some(Go::Start),
            Ok(n) if n > 0 && buf[0] == TAG_CGROUP => return Some(Go::CgroupReady),
            Ok(_) => return None,
            Err(nix::Error::EINTR) => continue,
            Err(_) => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    /// A "cgroup ready" that reaches an init after its set-up failed is never read; the
    /// init's close then makes the kernel report ECONNRESET once to the supervisor, and
    /// the init's failure must still be what the supervisor reads.
    #[test]
    fn an_unread_cgroup_ready_does_not_hide_the_inits_failure() {
        let (supervisor, init) = pair().unwrap();
        send_cgroup_ready(supervisor.as_raw_fd()).unwrap();
        send_failed(init.as_raw_fd(), InitFailure::Setup, "mounting /p: refused");
        drop(init);
        match recv(supervisor.as_raw_fd()).unwrap() {
            Message::Failed(InitFailure::Setup, msg) => assert_eq!(msg, "mounting /p: refused"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            recv(supervisor.as_raw_fd()).unwrap(),
            Message::Closed
        ));
    }

    /// The init reads the supervisor's words in order: "cgroup ready", then "start".
    #[test]
    fn the_init_hears_cgroup_ready_then_start() {
        let (supervisor, init) = pair().unwrap();
        send_cgroup_ready(supervisor.as_raw_fd()).unwrap();
        send_start(supervisor.as_raw_fd()).unwrap();
        assert_eq!(wait_go(init.as_raw_fd()), Some(Go::CgroupReady));
        assert_eq!(wait_go(init.as_raw_fd()), Some(Go::Start));
        drop(supervisor);
        assert_eq!(wait_go(init.as_raw_fd()), None);
    }
}
