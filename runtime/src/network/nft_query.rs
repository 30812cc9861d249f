//! Whether an nftables table exists, asked over an nfnetlink socket: a few microseconds,
//! where spawning `nft` costs milliseconds on every container start.

use std::io;

use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_NETFILTER};

/// nfnetlink subsystem of nf_tables (`NFNL_SUBSYS_NFTABLES`).
const SUBSYS_NFTABLES: u16 = 10;
const MSG_NEWTABLE: u16 = 0;
const MSG_GETTABLE: u16 = 1;
/// `NFTA_TABLE_NAME`.
const ATTR_TABLE_NAME: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const HEADER_LEN: usize = 16;

/// Sends `GETTABLE ip <table>`: a `NEWTABLE` answer and an ACK mean it exists, `ENOENT`
/// that it does not.
pub(super) fn table_exists(table: &str) -> io::Result<bool> {
    let mut socket = Socket::new(NETLINK_NETFILTER)?;
    socket.bind_auto()?;
    socket.connect(&SocketAddr::new(0, 0))?;
    let seq = 1u32;
    socket.send(&get_table_request(table, seq), 0)?;

    let mut found = false;
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
            if msg_seq == seq {
                match kind {
                    NLMSG_ERROR if len >= HEADER_LEN + 4 => {
                        let code = i32::from_ne_bytes(field(rest, HEADER_LEN));
                        return match -code {
                            0 => Ok(found),
                            libc::ENOENT => Ok(false),
                            errno => Err(io::Error::from_raw_os_error(errno)),
                        };
                    }
                    NLMSG_DONE => return Ok(found),
                    k if k == (SUBSYS_NFTABLES << 8) | MSG_NEWTABLE => found = true,
                    _ => {}
                }
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

/// `nlmsghdr` + `nfgenmsg` (family ip, version 0) + the `NFTA_TABLE_NAME` attribute.
fn get_table_request(table: &str, seq: u32) -> Vec<u8> {
    let name_len = table.len() + 1;
    let attr_len = 4 + name_len;
    let total = HEADER_LEN + 4 + ((attr_len + 3) & !3);
    let mut b = Vec::with_capacity(total);
    b.extend_from_slice(&(total as u32).to_ne_bytes());
    b.extend_from_slice(&((SUBSYS_NFTABLES << 8) | MSG_GETTABLE).to_ne_bytes());
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16;
    b.extend_from_slice(&flags.to_ne_bytes());
    b.extend_from_slice(&seq.to_ne_bytes());
    b.extend_from_slice(&0u32.to_ne_bytes());
    b.push(libc::AF_INET as u8);
    b.push(0); // NFNETLINK_V0
    b.extend_from_slice(&0u16.to_be_bytes()); // res_id
    b.extend_from_slice(&(attr_len as u16).to_ne_bytes());
    b.extend_from_slice(&ATTR_TABLE_NAME.to_ne_bytes());
    b.extend_from_slice(table.as_bytes());
    b.resize(total, 0);
    b
}
