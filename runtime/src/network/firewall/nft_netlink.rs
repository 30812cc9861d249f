//! Looking up and deleting an nftables table, and writing a container's table of
//! published ports and a network's table of NAT and forwarding rules, over an nfnetlink
//! socket: a fraction of a millisecond plus the kernel's commit, where spawning `nft`
//! costs 10-20 ms. A network's table is made with its bridge, on the start of the first
//! container after the bridge was idle (see `container::net::BRIDGE_LINGER`); a port
//! table on every start with published ports. The port groups' tables are still written
//! by `nft`: they are made once per group, not on each start.
//!
//! The expressions are those `nft --debug=netlink` shows for the scripts of
//! [`super::render_ports`] and [`super::render`], so that `nft list table` prints the
//! same rules (tests check it).
//!
//! A process keeps one socket, in the network namespace of its first request, and does
//! not close it: the release of an nfnetlink socket makes nf_tables flush the memory of
//! its last commits first, which waits for an RCU grace period with the commit mutex held
//! (4-5 ms here, on the start path of every container with published ports, and every
//! other container's commit stalled meanwhile). A request from another namespace (a
//! test's), or one that fails, uses and closes a socket of its own. Each request has
//! sequence numbers of its own, so that an answer left over from an earlier request is
//! never taken for this one's.

use std::io;
use std::os::fd::AsRawFd;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_NETFILTER};

use super::{NatNetwork, PortMap, Proto};

/// nfnetlink subsystem of nf_tables (`NFNL_SUBSYS_NFTABLES`).
const SUBSYS_NFTABLES: u16 = 10;
const MSG_NEWTABLE: u16 = 0;
const MSG_GETTABLE: u16 = 1;
const MSG_DELTABLE: u16 = 2;
const MSG_NEWCHAIN: u16 = 3;
const MSG_NEWRULE: u16 = 6;
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
    let seq = sequence_numbers(1);
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16;
    let mut req = Vec::new();
    push_table_msg(&mut req, MSG_GETTABLE, flags, seq, table);
    let mut found = false;
    request(&req, seq, seq, |kind| {
        found |= kind == (SUBSYS_NFTABLES << 8) | MSG_NEWTABLE
    })
    .map(|acked| acked && found)
}

/// Deletes `ip <table>` in one transaction; `false` when there was none.
pub(super) fn delete_table(table: &str) -> io::Result<bool> {
    let seq = sequence_numbers(3);
    let mut req = Vec::new();
    push_batch_marker(&mut req, BATCH_BEGIN, seq);
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16;
    push_table_msg(&mut req, MSG_DELTABLE, flags, seq + 1, table);
    push_batch_marker(&mut req, BATCH_END, seq + 2);
    request(&req, seq, seq + 1, |_| {})
}

/// The process's socket (see the module's doc) and the network namespace it was opened
/// in: `None` until first used and after an error (the socket's state is then unknown:
/// it is dropped, and the next request opens another).
static SOCKET: Mutex<Option<(NetnsId, Socket)>> = Mutex::new(None);
/// The next unused sequence number of this process's requests.
static NEXT_SEQ: AtomicU32 = AtomicU32::new(1);

/// A network namespace: the device and inode of its `nsfs` file. A socket keeps its
/// namespace alive, so the one of the kept socket is never reused by another.
type NetnsId = (u64, u64);

/// The network namespace of the calling thread.
fn current_netns() -> io::Result<NetnsId> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata("/proc/thread-self/ns/net")?;
    Ok((m.dev(), m.ino()))
}

/// The first of `n` sequence numbers no other request of this process uses.
fn sequence_numbers(n: u32) -> u32 {
    NEXT_SEQ.fetch_add(n, Ordering::Relaxed)
}

/// Sends `req` (messages numbered `first..=last`) and reads the answers until the ACK of
/// `last`, as [`read_until_ack`] does. A netlink socket acts in the namespace it was
/// opened in: a thread in another namespace than the kept socket's (a test's, or a
/// container's) gets a socket of its own for this request.
fn request(req: &[u8], first: u32, last: u32, each: impl FnMut(u16)) -> io::Result<bool> {
    fn one_off(req: &[u8], first: u32, last: u32, each: impl FnMut(u16)) -> io::Result<bool> {
        let socket = open()?;
        socket.send(req, 0)?;
        read_until_ack(&socket, first, last, each)
    }
    // Without /proc the namespace is unknown: a socket for this request only.
    let Ok(here) = current_netns() else {
        return one_off(req, first, last, each);
    };
    let mut held = SOCKET
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let (netns, socket) = match held.take() {
        Some((netns, socket)) if netns == here => (netns, socket),
        Some(other) => {
            *held = Some(other);
            drop(held);
            return one_off(req, first, last, each);
        }
        None => (here, open()?),
    };
    let answer = socket
        .send(req, 0)
        .and_then(|_| read_until_ack(&socket, first, last, each));
    if answer.is_ok() {
        *held = Some((netns, socket));
    }
    answer
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

/// Reads answers until the ACK (or error) of message `last`, passing the type of every
/// other message answering `first..=last` to `each`, and skipping answers to earlier
/// requests. `Ok(true)` for an ACK, `Ok(false)` for `ENOENT`; an error of any message of
/// the request is returned.
fn read_until_ack(
    socket: &Socket,
    first: u32,
    last: u32,
    mut each: impl FnMut(u16),
) -> io::Result<bool> {
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
            let ours = (first..=last).contains(&msg_seq);
            match kind {
                _ if !ours => {}
                NLMSG_ERROR if len >= HEADER_LEN + 4 => {
                    let code = -i32::from_ne_bytes(field(rest, HEADER_LEN));
                    match code {
                        0 if msg_seq == last => return Ok(true),
                        0 => {}
                        libc::ENOENT if msg_seq == last => return Ok(false),
                        errno => return Err(io::Error::from_raw_os_error(errno)),
                    }
                }
                NLMSG_DONE if msg_seq == last => return Ok(true),
                k if msg_seq == last => each(k),
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

// The attributes of a port table's messages (linux/netfilter/nf_tables.h).
const NLA_F_NESTED: u16 = 0x8000;
const ATTR_CHAIN_TABLE: u16 = 1;
const ATTR_CHAIN_NAME: u16 = 3;
const ATTR_CHAIN_HOOK: u16 = 4;
const ATTR_CHAIN_POLICY: u16 = 5;
const ATTR_CHAIN_TYPE: u16 = 7;
const ATTR_HOOK_HOOKNUM: u16 = 1;
const ATTR_HOOK_PRIORITY: u16 = 2;
const ATTR_RULE_TABLE: u16 = 1;
const ATTR_RULE_CHAIN: u16 = 2;
const ATTR_RULE_EXPRESSIONS: u16 = 4;
const ATTR_LIST_ELEM: u16 = 1;
const ATTR_EXPR_NAME: u16 = 1;
const ATTR_EXPR_DATA: u16 = 2;
const ATTR_DATA_VALUE: u16 = 1;
/// `NF_INET_PRE_ROUTING`, `NF_INET_LOCAL_OUT`.
const HOOK_PREROUTING: u32 = 0;
const HOOK_OUTPUT: u32 = 3;
/// `NF_IP_PRI_NAT_DST`: `priority dstnat` in prerouting, -100 in output.
const PRIORITY_DSTNAT: i32 = -100;
const NF_ACCEPT: u32 = 1;
/// `NFT_REG_1`, `NFT_REG_2`.
const REG1: u32 = 1;
const REG2: u32 = 2;

/// Replaces `ip <table>` with a container's DNAT table for `ports` in one transaction:
/// the table is made if missing and deleted (so that nothing of an earlier start stays),
/// then made with chains `prerouting` (hook prerouting, priority dstnat) and `output`
/// (hook output, priority -100), each holding one rule per port, as `nft -f` does with
/// [`super::render_ports`]'s script.
pub(super) fn replace_ports_table(table: &str, ports: &[PortMap]) -> io::Result<()> {
    let chains = [
        BaseChain {
            name: "prerouting",
            kind: "nat",
            hook: HOOK_PREROUTING,
            priority: PRIORITY_DSTNAT,
        },
        BaseChain {
            name: "output",
            kind: "nat",
            hook: HOOK_OUTPUT,
            priority: PRIORITY_DSTNAT,
        },
    ];
    let n = ports.len();
    replace_table(table, &chains, 2 * n, |i, flags, seq| {
        let chain = if i < n { "prerouting" } else { "output" };
        dnat_rule(table, chain, &ports[i % n], flags, seq)
    })
}

/// A base chain of a table tug writes: its name, type (`filter`, `nat`), hook and
/// priority; its policy is accept.
struct BaseChain<'a> {
    name: &'a str,
    kind: &'a str,
    hook: u32,
    priority: i32,
}

/// Replaces `ip <table>` in one transaction: the table is made if missing and deleted (so
/// that nothing of an earlier one stays), then made with `chains` and `rules` rules, the
/// `i`th of them written by `rule(i, flags, seq)` and appended to its chain in that order.
fn replace_table(
    table: &str,
    chains: &[BaseChain],
    rules: usize,
    mut rule: impl FnMut(usize, u16, u32) -> Vec<u8>,
) -> io::Result<()> {
    // BEGIN, three table messages, the chains, the rules, END.
    let first = sequence_numbers(5 + (chains.len() + rules) as u32);
    let mut batch = Vec::new();
    let mut seq = first;
    push_batch_marker(&mut batch, BATCH_BEGIN, seq);
    let ack = (libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16;
    let create = ack | libc::NLM_F_CREATE as u16;
    seq += 1;
    push_table_msg(&mut batch, MSG_NEWTABLE, create, seq, table);
    seq += 1;
    push_table_msg(&mut batch, MSG_DELTABLE, ack, seq, table);
    seq += 1;
    push_table_msg(&mut batch, MSG_NEWTABLE, create, seq, table);
    for c in chains {
        seq += 1;
        let mut m = Message::new(MSG_NEWCHAIN, create, seq);
        m.string(ATTR_CHAIN_TABLE, table);
        m.string(ATTR_CHAIN_NAME, c.name);
        let h = m.nest(ATTR_CHAIN_HOOK);
        m.be32(ATTR_HOOK_HOOKNUM, c.hook);
        m.be32(ATTR_HOOK_PRIORITY, c.priority as u32);
        m.end(h);
        m.be32(ATTR_CHAIN_POLICY, NF_ACCEPT);
        m.string(ATTR_CHAIN_TYPE, c.kind);
        batch.extend_from_slice(&m.finish());
    }
    let append = create | libc::NLM_F_APPEND as u16;
    for i in 0..rules {
        seq += 1;
        batch.extend_from_slice(&rule(i, append, seq));
    }
    let last = seq;
    push_batch_marker(&mut batch, BATCH_END, seq + 1);
    if request(&batch, first, last, |_| {})? {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(libc::ENOENT))
    }
}

const HOOK_FORWARD: u32 = 2;
const HOOK_POSTROUTING: u32 = 4;
/// `priority filter`, `priority srcnat`.
const PRIORITY_FILTER: i32 = 0;
const PRIORITY_SRCNAT: i32 = 100;
const NF_DROP: u32 = 0;
/// `NFT_META_IIFNAME`, `NFT_META_OIFNAME`.
const META_IIFNAME: u32 = 6;
const META_OIFNAME: u32 = 7;
/// `NFT_CT_STATE`, `NFT_CT_STATUS`.
const CT_STATE: u32 = 0;
const CT_STATUS: u32 = 2;
/// `ct state established,related`: the bits of `IP_CT_ESTABLISHED` and `IP_CT_RELATED`.
const CT_STATE_ESTABLISHED_RELATED: u32 = 0x2 | 0x4;
/// `ct status dnat`: `IPS_DST_NAT`.
const CT_STATUS_DNAT: u32 = 0x20;

/// Replaces `ip <table>` with the rules of network `net` in one transaction, as `nft -f`
/// does with [`super::render`]'s script: the table made if missing and deleted, then
/// made with chain `forward` (filter, hook forward, priority filter) and, unless the
/// network is internal, chain `postrouting` (nat, hook postrouting, priority srcnat).
pub(super) fn replace_nat_table(table: &str, net: &NatNetwork) -> io::Result<()> {
    let br = net.bridge.as_str();
    let subnet = (net.subnet, net.prefix);
    let loopback = (std::net::Ipv4Addr::new(127, 0, 0, 0), 8);
    let mut chains = vec![BaseChain {
        name: "forward",
        kind: "filter",
        hook: HOOK_FORWARD,
        priority: PRIORITY_FILTER,
    }];
    let mut rules: Vec<(&str, Vec<Match>, Verdict)> = Vec::new();
    if net.internal {
        rules.push((
            "forward",
            vec![Match::Iif(br, true), Match::Oif(br, true)],
            Verdict::Accept,
        ));
        rules.push(("forward", vec![Match::Iif(br, true)], Verdict::Drop));
        rules.push(("forward", vec![Match::Oif(br, true)], Verdict::Drop));
    } else {
        chains.push(BaseChain {
            name: "postrouting",
            kind: "nat",
            hook: HOOK_POSTROUTING,
            priority: PRIORITY_SRCNAT,
        });
        rules.push(("forward", vec![Match::Iif(br, true)], Verdict::Accept));
        rules.push((
            "forward",
            vec![
                Match::Oif(br, true),
                Match::CtAny(CT_STATE, CT_STATE_ESTABLISHED_RELATED),
            ],
            Verdict::Accept,
        ));
        rules.push((
            "forward",
            vec![
                Match::Oif(br, true),
                Match::CtAny(CT_STATUS, CT_STATUS_DNAT),
            ],
            Verdict::Accept,
        ));
        rules.push(("forward", vec![Match::Oif(br, true)], Verdict::Drop));
        rules.push((
            "postrouting",
            vec![Match::Saddr(subnet), Match::Oif(br, false)],
            Verdict::Masquerade,
        ));
        rules.push((
            "postrouting",
            vec![
                Match::Oif(br, true),
                Match::Saddr(subnet),
                Match::CtAny(CT_STATUS, CT_STATUS_DNAT),
            ],
            Verdict::Masquerade,
        ));
        rules.push((
            "postrouting",
            vec![Match::Oif(br, true), Match::Saddr(loopback)],
            Verdict::Masquerade,
        ));
    }
    replace_table(table, &chains, rules.len(), |i, flags, seq| {
        let (chain, matches, verdict) = &rules[i];
        let mut m = Message::new(MSG_NEWRULE, flags, seq);
        m.string(ATTR_RULE_TABLE, table);
        m.string(ATTR_RULE_CHAIN, chain);
        let list = m.nest(ATTR_RULE_EXPRESSIONS);
        for x in matches {
            x.push(&mut m);
        }
        match verdict {
            Verdict::Accept => m.verdict(NF_ACCEPT),
            Verdict::Drop => m.verdict(NF_DROP),
            Verdict::Masquerade => m.expr("masq", |_| {}),
        }
        m.end(list);
        m.finish()
    })
}

/// One test of a network rule, as `nft` compiles it.
enum Match<'a> {
    /// `iifname "NAME"` (`true`) or `iifname != "NAME"`.
    Iif(&'a str, bool),
    /// `oifname "NAME"` or `oifname != "NAME"`.
    Oif(&'a str, bool),
    /// `ip saddr ADDR/PREFIX`.
    Saddr((std::net::Ipv4Addr, u8)),
    /// `ct KEY BITS`: any of `BITS` set in the conntrack field `KEY`.
    CtAny(u32, u32),
}

/// What a network rule does when it matches.
enum Verdict {
    Accept,
    Drop,
    Masquerade,
}

impl Match<'_> {
    fn push(&self, m: &mut Message) {
        match self {
            Match::Iif(name, eq) | Match::Oif(name, eq) => {
                let key = match self {
                    Match::Iif(..) => META_IIFNAME,
                    _ => META_OIFNAME,
                };
                m.expr("meta", |m| {
                    m.be32(1, REG1); // NFTA_META_DREG
                    m.be32(2, key); // NFTA_META_KEY
                });
                // The name padded with NULs to IFNAMSIZ.
                let mut padded = [0u8; libc::IFNAMSIZ];
                padded[..name.len()].copy_from_slice(name.as_bytes());
                m.cmp(if *eq { CMP_EQ } else { CMP_NEQ }, &padded);
            }
            Match::Saddr((addr, prefix)) => {
                // Whole bytes are compared as they are; a prefix that ends within a byte
                // is masked first.
                let whole = prefix % 8 == 0;
                let len = if whole { u32::from(*prefix / 8) } else { 4 };
                m.expr("payload", |m| {
                    m.be32(1, REG1); // NFTA_PAYLOAD_DREG
                    m.be32(2, 1); // NFT_PAYLOAD_NETWORK_HEADER
                    m.be32(3, 12); // the source address
                    m.be32(4, len);
                });
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(*prefix))
                    .unwrap_or(0)
                    .to_be_bytes();
                if !whole {
                    m.bitwise(4, &mask);
                }
                let net = (u32::from(*addr) & u32::from_be_bytes(mask)).to_be_bytes();
                m.cmp(CMP_EQ, &net[..len as usize]);
            }
            Match::CtAny(key, bits) => {
                m.expr("ct", |m| {
                    m.be32(1, REG1); // NFTA_CT_DREG
                    m.be32(2, *key); // NFTA_CT_KEY
                });
                // The kernel keeps these fields in host order.
                m.bitwise(4, &bits.to_ne_bytes());
                m.cmp(CMP_NEQ, &0u32.to_ne_bytes());
            }
        }
    }
}

/// `NFT_CMP_EQ`, `NFT_CMP_NEQ`.
const CMP_EQ: u32 = 0;
const CMP_NEQ: u32 = 1;

/// One rule: the destination (`fib daddr type local`, or `ip daddr HOST_IP`), `tcp|udp
/// dport HOST_PORT`, `dnat to CONTAINER_IP:CONTAINER_PORT`.
fn dnat_rule(table: &str, chain: &str, p: &PortMap, flags: u16, seq: u32) -> Vec<u8> {
    let mut m = Message::new(MSG_NEWRULE, flags, seq);
    m.string(ATTR_RULE_TABLE, table);
    m.string(ATTR_RULE_CHAIN, chain);
    let list = m.nest(ATTR_RULE_EXPRESSIONS);
    match p.host_ip {
        Some(ip) => {
            // payload load 4b @ network header + 16 (the destination address).
            m.expr("payload", |m| {
                m.be32(1, REG1);
                m.be32(2, 1);
                m.be32(3, 16);
                m.be32(4, 4);
            });
            m.cmp_eq(&ip.octets());
        }
        None => {
            // fib daddr type => reg 1; cmp eq RTN_LOCAL (host order).
            m.expr("fib", |m| {
                m.be32(1, REG1);
                m.be32(2, 3); // NFT_FIB_RESULT_ADDRTYPE
                m.be32(3, 2); // NFTA_FIB_F_DADDR
            });
            m.cmp_eq(&(libc::RTN_LOCAL as u32).to_ne_bytes());
        }
    }
    let l4 = match p.proto {
        Proto::Tcp => libc::IPPROTO_TCP,
        Proto::Udp => libc::IPPROTO_UDP,
    } as u8;
    m.expr("meta", |m| {
        m.be32(1, REG1);
        m.be32(2, 16); // NFT_META_L4PROTO
    });
    m.cmp_eq(&[l4]);
    // payload load 2b @ transport header + 2 (the destination port).
    m.expr("payload", |m| {
        m.be32(1, REG1);
        m.be32(2, 2);
        m.be32(3, 2);
        m.be32(4, 2);
    });
    m.cmp_eq(&p.host_port.to_be_bytes());
    m.immediate(REG1, &p.container_ip.octets());
    m.immediate(REG2, &p.container_port.to_be_bytes());
    m.expr("nat", |m| {
        m.be32(1, 1); // NFT_NAT_DNAT
        m.be32(2, libc::NFPROTO_IPV4 as u32);
        m.be32(3, REG1); // NFTA_NAT_REG_ADDR_MIN
        m.be32(5, REG2); // NFTA_NAT_REG_PROTO_MIN
        m.be32(7, 2); // NF_NAT_RANGE_PROTO_SPECIFIED
    });
    m.end(list);
    m.finish()
}

/// An nf_tables message of family ip being written: its header, then attributes (each
/// padded to 4 bytes; a nest's length patched when it ends).
struct Message(Vec<u8>);

impl Message {
    fn new(msg: u16, flags: u16, seq: u32) -> Message {
        let mut b = Vec::with_capacity(256);
        push_header(
            &mut b,
            0,
            (SUBSYS_NFTABLES << 8) | msg,
            flags,
            seq,
            libc::AF_INET as u8,
            0,
        );
        Message(b)
    }

    fn attr(&mut self, kind: u16, data: &[u8]) {
        let len = 4 + data.len();
        self.0.extend_from_slice(&(len as u16).to_ne_bytes());
        self.0.extend_from_slice(&kind.to_ne_bytes());
        self.0.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        let padded = (self.0.len() + 3) & !3;
        self.0.resize(padded, 0);
    }

    fn string(&mut self, kind: u16, s: &str) {
        let mut data = s.as_bytes().to_vec();
        data.push(0);
        self.attr(kind, &data);
    }

    fn be32(&mut self, kind: u16, v: u32) {
        self.attr(kind, &v.to_be_bytes());
    }

    /// Starts nested attribute `kind`; [`Message::end`] closes it.
    fn nest(&mut self, kind: u16) -> usize {
        let at = self.0.len();
        self.0.extend_from_slice(&[0, 0]);
        self.0
            .extend_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
        at
    }

    fn end(&mut self, at: usize) {
        let len = (self.0.len() - at) as u16;
        self.0[at..at + 2].copy_from_slice(&len.to_ne_bytes());
    }

    /// One element of a rule's expression list: `name` with the attributes `data` writes.
    fn expr(&mut self, name: &str, data: impl FnOnce(&mut Message)) {
        let elem = self.nest(ATTR_LIST_ELEM);
        self.string(ATTR_EXPR_NAME, name);
        let d = self.nest(ATTR_EXPR_DATA);
        data(self);
        self.end(d);
        self.end(elem);
    }

    /// `cmp eq reg 1 VALUE`.
    fn cmp_eq(&mut self, value: &[u8]) {
        self.cmp(CMP_EQ, value);
    }

    /// `cmp OP reg 1 VALUE`.
    fn cmp(&mut self, op: u32, value: &[u8]) {
        self.expr("cmp", |m| {
            m.be32(1, REG1); // NFTA_CMP_SREG
            m.be32(2, op); // NFTA_CMP_OP
            let d = m.nest(3); // NFTA_CMP_DATA
            m.attr(ATTR_DATA_VALUE, value);
            m.end(d);
        });
    }

    /// `bitwise reg 1 = (reg 1 & MASK) ^ 0` over `len` bytes.
    fn bitwise(&mut self, len: u32, mask: &[u8]) {
        self.expr("bitwise", |m| {
            m.be32(1, REG1); // NFTA_BITWISE_SREG
            m.be32(2, REG1); // NFTA_BITWISE_DREG
            m.be32(3, len); // NFTA_BITWISE_LEN
            let d = m.nest(4); // NFTA_BITWISE_MASK
            m.attr(ATTR_DATA_VALUE, mask);
            m.end(d);
            let d = m.nest(5); // NFTA_BITWISE_XOR
            m.attr(ATTR_DATA_VALUE, &vec![0u8; mask.len()]);
            m.end(d);
        });
    }

    /// `immediate reg 0 VERDICT`: accept or drop.
    fn verdict(&mut self, code: u32) {
        self.expr("immediate", |m| {
            m.be32(1, 0); // NFTA_IMMEDIATE_DREG: NFT_REG_VERDICT
            let d = m.nest(2); // NFTA_IMMEDIATE_DATA
            let v = m.nest(2); // NFTA_DATA_VERDICT
            m.be32(1, code); // NFTA_VERDICT_CODE
            m.end(v);
            m.end(d);
        });
    }

    /// `immediate reg REG VALUE`.
    fn immediate(&mut self, reg: u32, value: &[u8]) {
        self.expr("immediate", |m| {
            m.be32(1, reg); // NFTA_IMMEDIATE_DREG
            let d = m.nest(2); // NFTA_IMMEDIATE_DATA
            m.attr(ATTR_DATA_VALUE, value);
            m.end(d);
        });
    }

    /// The message with its length in its header.
    fn finish(mut self) -> Vec<u8> {
        let len = self.0.len() as u32;
        self.0[..4].copy_from_slice(&len.to_ne_bytes());
        self.0
    }
}
