//! The few DNS messages (RFC 1035) the embedded server needs, parsed and written by hand:
//! a query's header and single question in, an answer (A or PTR records, or none, with a
//! response code) out. Anything else a query carries (EDNS OPT records, other sections)
//! is ignored, as a small stub-facing server may. Parsing never panics: a packet too short
//! for a header is dropped, any other malformed query gets FORMERR.

use std::net::Ipv4Addr;

/// Record types and the class the server knows.
pub const TYPE_A: u16 = 1;
pub const TYPE_PTR: u16 = 12;
pub const TYPE_AAAA: u16 = 28;
pub const CLASS_IN: u16 = 1;

/// Response codes (RFC 1035 4.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rcode {
    NoError = 0,
    FormErr = 1,
    ServFail = 2,
    NxDomain = 3,
    NotImp = 4,
}

/// The time to live of the server's own records, Docker's 600 s.
const TTL: u32 = 600;
/// A name's longest wire form (RFC 1035 2.3.4).
const MAX_NAME: usize = 255;
const HEADER: usize = 12;

/// A query with its one question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub id: u16,
    /// The header's second 16 bits (opcode, RD, ...), echoed in the answer.
    flags: u16,
    /// The question's labels as sent (their case is echoed; compare with [`Query::name`]).
    pub labels: Vec<Vec<u8>>,
    pub qtype: u16,
    pub qclass: u16,
}

/// Why a packet gets no answer of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// Too short for a header, or a response: dropped.
    Drop,
    /// A query the server cannot read: FORMERR (or NOTIMP), with the id it carried.
    Reply(u16, u16, Rcode),
}

impl Query {
    /// Reads a query.
    pub fn parse(buf: &[u8]) -> Result<Query, Malformed> {
        if buf.len() < HEADER {
            return Err(Malformed::Drop);
        }
        let id = u16::from_be_bytes([buf[0], buf[1]]);
        let flags = u16::from_be_bytes([buf[2], buf[3]]);
        if flags & 0x8000 != 0 {
            return Err(Malformed::Drop);
        }
        if (flags >> 11) & 0xf != 0 {
            return Err(Malformed::Reply(id, flags, Rcode::NotImp));
        }
        let formerr = Malformed::Reply(id, flags, Rcode::FormErr);
        if u16::from_be_bytes([buf[4], buf[5]]) != 1 {
            return Err(formerr);
        }
        let (labels, end) = read_name(buf, HEADER).ok_or(formerr)?;
        let fixed = buf.get(end..end + 4).ok_or(formerr)?;
        Ok(Query {
            id,
            flags,
            labels,
            qtype: u16::from_be_bytes([fixed[0], fixed[1]]),
            qclass: u16::from_be_bytes([fixed[2], fixed[3]]),
        })
    }

    /// The question's name in lower case, without the trailing dot (`""` for the root).
    pub fn name(&self) -> String {
        let parts: Vec<String> = self
            .labels
            .iter()
            .map(|l| String::from_utf8_lossy(l).to_ascii_lowercase())
            .collect();
        parts.join(".")
    }

    /// The answer to this query: `rcode`, and `answers` as records of the question's
    /// name (A or PTR, by their kind).
    pub fn answer(&self, rcode: Rcode, answers: &[Rdata]) -> Vec<u8> {
        let mut out = header(self.id, self.flags, rcode, 1, answers.len() as u16);
        write_labels(&mut out, &self.labels);
        out.extend_from_slice(&self.qtype.to_be_bytes());
        out.extend_from_slice(&self.qclass.to_be_bytes());
        for a in answers {
            // A pointer to the question's name, right after the header.
            out.extend_from_slice(&[0xc0, HEADER as u8]);
            let (kind, data) = match a {
                Rdata::A(ip) => (TYPE_A, ip.octets().to_vec()),
                Rdata::Ptr(name) => {
                    let mut d = Vec::new();
                    let labels: Vec<Vec<u8>> = name
                        .split('.')
                        .filter(|l| !l.is_empty())
                        .map(|l| l.as_bytes().iter().take(63).copied().collect())
                        .collect();
                    write_labels(&mut d, &labels);
                    (TYPE_PTR, d)
                }
            };
            out.extend_from_slice(&kind.to_be_bytes());
            out.extend_from_slice(&CLASS_IN.to_be_bytes());
            out.extend_from_slice(&TTL.to_be_bytes());
            out.extend_from_slice(&(data.len() as u16).to_be_bytes());
            out.extend_from_slice(&data);
        }
        out
    }

    /// The address a PTR question asks about (`d.c.b.a.in-addr.arpa`).
    pub fn ptr_address(&self) -> Option<Ipv4Addr> {
        let name = self.name();
        let rev = name.strip_suffix(".in-addr.arpa")?;
        let octets: Vec<u8> = rev
            .split('.')
            .map(|p| p.parse::<u8>().ok())
            .collect::<Option<_>>()?;
        let [d, c, b, a] = octets[..] else {
            return None;
        };
        Some(Ipv4Addr::new(a, b, c, d))
    }
}

/// One record's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rdata {
    A(Ipv4Addr),
    /// A name, dotted, without the trailing dot.
    Ptr(String),
}

/// The reply to a query the server could not read (see [`Malformed::Reply`]): the header
/// alone.
pub fn error_reply(id: u16, flags: u16, rcode: Rcode) -> Vec<u8> {
    header(id, flags, rcode, 0, 0)
}

/// A query for `name` of type `qtype` (the tests' and the benchmark's client side).
pub fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    // Recursion desired, as stub resolvers ask.
    let mut out = header(id, 0x0100, Rcode::NoError, 1, 0);
    out[2] &= 0x7f; // a query, not a response
    out[3] &= 0x70;
    let labels: Vec<Vec<u8>> = name
        .split('.')
        .filter(|l| !l.is_empty())
        .map(|l| l.as_bytes().to_vec())
        .collect();
    write_labels(&mut out, &labels);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    out
}

/// What a response says, for tests: its id, rcode and the A or PTR data of its answers.
pub fn read_response(buf: &[u8]) -> Option<(u16, Rcode, Vec<Rdata>)> {
    if buf.len() < HEADER || buf[2] & 0x80 == 0 {
        return None;
    }
    let id = u16::from_be_bytes([buf[0], buf[1]]);
    let rcode = match buf[3] & 0xf {
        0 => Rcode::NoError,
        1 => Rcode::FormErr,
        2 => Rcode::ServFail,
        3 => Rcode::NxDomain,
        4 => Rcode::NotImp,
        _ => return None,
    };
    let qd = u16::from_be_bytes([buf[4], buf[5]]);
    let an = u16::from_be_bytes([buf[6], buf[7]]);
    let mut at = HEADER;
    for _ in 0..qd {
        at = read_name(buf, at)?.1 + 4;
    }
    let mut out = Vec::new();
    for _ in 0..an {
        at = read_name(buf, at)?.1;
        let f = buf.get(at..at + 10)?;
        let kind = u16::from_be_bytes([f[0], f[1]]);
        let len = u16::from_be_bytes([f[8], f[9]]) as usize;
        let data = buf.get(at + 10..at + 10 + len)?;
        match kind {
            TYPE_A if len == 4 => {
                out.push(Rdata::A(Ipv4Addr::new(data[0], data[1], data[2], data[3])))
            }
            TYPE_PTR => {
                let (labels, _) = read_name(buf, at + 10)?;
                let parts: Vec<String> = labels
                    .iter()
                    .map(|l| String::from_utf8_lossy(l).into_owned())
                    .collect();
                out.push(Rdata::Ptr(parts.join(".")));
            }
            _ => {}
        }
        at += 10 + len;
    }
    Some((id, rcode, out))
}

fn header(id: u16, flags: u16, rcode: Rcode, qd: u16, an: u16) -> Vec<u8> {
    // QR, the query's opcode and RD, RA, and the code.
    let flags = 0x8000 | (flags & 0x7900) | 0x0080 | rcode as u16;
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&flags.to_be_bytes());
    for n in [qd, an, 0, 0] {
        out.extend_from_slice(&n.to_be_bytes());
    }
    out
}

fn write_labels(out: &mut Vec<u8>, labels: &[Vec<u8>]) {
    for l in labels {
        out.push(l.len() as u8);
        out.extend_from_slice(l);
    }
    out.push(0);
}

/// Reads the name at `at`: its labels and where what follows it begins. Follows
/// compression pointers only backwards (so never in a loop) and refuses a name longer
/// than 255 bytes or a label longer than 63.
fn read_name(buf: &[u8], mut at: usize) -> Option<(Vec<Vec<u8>>, usize)> {
    let mut labels = Vec::new();
    let mut size = 1;
    let mut end = None;
    loop {
        let len = *buf.get(at)? as usize;
        match len & 0xc0 {
            0x00 if len == 0 => {
                return Some((labels, end.unwrap_or(at + 1)));
            }
            0x00 => {
                size += len + 1;
                if size > MAX_NAME {
                    return None;
                }
                labels.push(buf.get(at + 1..at + 1 + len)?.to_vec());
                at += 1 + len;
            }
            0xc0 => {
                let target = ((len & 0x3f) << 8) | *buf.get(at + 1)? as usize;
                if target >= at {
                    return None;
                }
                end.get_or_insert(at + 2);
                at = target;
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;
