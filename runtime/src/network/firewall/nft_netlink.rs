//! Looking up and deleting an nftables table over an nfnetlink socket: a few
//! microseconds, where spawning `nft` costs milliseconds on every container start and stop.
//! Rules are still written by `nft` (their wire format is not worth hand-encoding).

use std::io;
use std::os::fd::AsRawFd;
use std::time::Duration;

use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_NETFILTER};

/// nfnetlink subsystem of nf_tables (`NFNL_SUBSYS_NFTABLES`).
const SUBSYS_NFTABLES: u16 = 10;
const MSG_NEWTABLE: u16 = 0;
const MSG_GETTABLE: u16 = 1;
const MSG_DELTABLE: u16 = 2;
const BATCH_BEGIN: u16 = 0x10;
const BATCH_END: u16 = 0x11;
/// `NFTA_TABLE_NAME`.
const ATTR_TABLE_NAME: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const HEADER_LEN: usize = 16;
/// A kernel that never answers must not hang a container's start or stop.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Whether `ip <table>` exists: `GETTABLE` gets a `NEWTABLE` answer and an ACK when it
/// does, `ENOENT` when it does not.
pub(super) fn table_exists(table: &str) -> io::Result<bool> {
    let socket = open()?;
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16;
    let mut req = Vec::new();
    push_table_msg(&mut req, MSG_GETTABLE, flags, 1, table);
    socket.send(&req, 0)?;
    let mut found = false;
    read_until_ack(&socket, 1, |kind| {
        found |= kind == (SUBSYS_NFTABLES << 8) | MSG_NEWTABLE
    })
    .map(|deleted| deleted && found)
}

/// Deletes `ip <table>` in one transaction; `false` when there was none.
pub(super) fn delete_table(table: &str) -> io::Result<bool> {
    let socket = open()?;
    let mut req = Vec::new();
    push_batch_marker(&mut req, BATCH_BEGIN, 1);
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16;
    push_table_msg(&mut req, MSG_DELTABLE, flags, 2, table);
    push_batch_marker(&mut req, BATCH_END, 3);
    socket.send(&req, 0)?;
    read_until_ack(&socket, 2, |_| {})
}

fn open() -> io::Result<Socket> {
    let mut socket = Socket::new(NETLINK_NETFILTER)?;
    socket.bind_auto()?;
    socket.connect(&SocketAddr::new(0, 0))?;
    let tv = libc::timeval {
        tv_sec: TIMEOUT.as_secs() as libc::time_t,
        tv_usec: 0,
    };
    // SAFETY: a valid socket fd and a timeval that outlives the call, of the size passed.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(socket)
}

/// Reads answers until the ACK (or error) of message `seq`, passing the type of every
/// other message of the request to `each`. `Ok(true)` for an ACK, `Ok(false)` for
/// `ENOENT`; an error of any message of the request is returned.
fn read_until_ack(socket: &Socket, seq: u32, mut each: impl FnMut(u16)) -> io::Result<bool> {
    loop {
        let (data, _) = socket.recv_from_full()?;
        let mut rest = &data[..];
        while rest.len() >= HEADER_LEN {
            let len = u32::from_ne_bytes(field(rest, 0)) as usize;
            let kind = u16::from_ne_bytes(field(rest, 4));
            let msg_seq = u32::from_ne_bytes(field(rest, 8));
            if len < HEADER_LEN || len > rest.len() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "malformed nfnetlink reply",
                ));
            }
            match kind {
                NLMSG_ERROR if len >= HEADER_LEN + 4 => {
                    let code = -i32::from_ne_bytes(field(rest, HEADER_LEN));
                    match code {
                        0 if msg_seq == seq => return Ok(true),
                        0 => {}
                        libc::ENOENT if msg_seq == seq => return Ok(false),
                        errno => return Err(io::Error::from_raw_os_error(errno)),
                    }
                }
                NLMSG_DONE if msg_seq == seq => return Ok(true),
                k if msg_seq == seq => each(k),
                _ => {}
            }
            // Netlink messages are 4-byte aligned; the last one may lack padding.
            rest = &rest[((len + 3) & !3).min(rest.len())..];
        }
    }
}

/// Four (or two) bytes of `buf` at `at`; the callers checked that `buf` holds a header.
fn field<const N: usize>(buf: &[u8], at: usize) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(&buf[at..at + N]);
    out
}

/// `nlmsghdr` + `nfgenmsg`; `total` is the whole message's length.
fn push_header(
    b: &mut Vec<u8>,
    total: usize,
    kind: u16,
    flags: u16,
    seq: u32,
    family: u8,
    res_id: u16,
) {
    b.extend_from_slice(&(total as u32).to_ne_bytes());
    b.extend_from_slice(&kind.to_ne_bytes());
    b.extend_from_slice(&flags.to_ne_bytes());
    b.extend_from_slice(&seq.to_ne_bytes());
    b.extend_from_slice(&0u32.to_ne_bytes());
    b.push(family);
    b.push(0); // NFNETLINK_V0
    b.extend_from_slice(&res_id.to_be_bytes());
}

/// A batch begin or end, for the nf_tables subsystem.
fn push_batch_marker(b: &mut Vec<u8>, kind: u16, seq: u32) {
    let flags = libc::NLM_F_REQUEST as u16;
    push_header(
        b,
        HEADER_LEN + 4,
        kind,
        flags,
        seq,
        libc::AF_UNSPEC as u8,
        SUBSYS_NFTABLES,
    );
}

/// An nf_tables table message for family ip with the `NFTA_TABLE_NAME` attribute.
fn push_table_msg(b: &mut Vec<u8>, msg: u16, flags: u16, seq: u32, table: &str) {
    let attr_len = 4 + table.len() + 1;
    let total = HEADER_LEN + 4 + ((attr_len + 3) & !3);
    let start = b.len();
    let kind = (SUBSYS_NFTABLES << 8) | msg;
    push_header(b, total, kind, flags, seq, libc::AF_INET as u8, 0);
    b.extend_from_slice(&(attr_len as u16).to_ne_bytes());
    b.extend_from_slice(&ATTR_TABLE_NAME.to_ne_bytes());
    b.extend_from_slice(table.as_bytes());
    b.resize(start + total, 0);
}
