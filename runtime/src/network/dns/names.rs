//! What the embedded server knows: the names of the containers on the asking container's
//! user networks, read from a file the engine rewrites whenever one of them starts,
//! stops, connects, disconnects or is renamed (beside the hosts file, see
//! `container::net`), and the decision for one query.
//!
//! The file has a line per container and network: `network<TAB>address<TAB>name ...`
//! (the container's name, its aliases on that network, its short id).

use std::collections::HashMap;
use std::net::Ipv4Addr;

use super::message::{CLASS_IN, Query, Rcode, Rdata, TYPE_A, TYPE_PTR};

/// The names of one file.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Names {
    /// Lower-case name → its addresses (one per network it shares with the asker).
    by_name: HashMap<String, Vec<Ipv4Addr>>,
    /// Address → `name.network`, as Docker answers reverse lookups.
    by_addr: HashMap<Ipv4Addr, String>,
    networks: Vec<String>,
}

/// What to do with a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Answer(Rcode, Vec<Rdata>),
    /// Not a name of the networks: ask the upstream resolvers.
    Forward,
}

impl Names {
    /// Reads the file's text; lines that do not parse are skipped.
    pub fn parse(text: &str) -> Names {
        let mut n = Names::default();
        for line in text.lines() {
            let mut f = line.split('\t');
            let (Some(net), Some(addr), Some(names)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            let Ok(addr) = addr.parse::<Ipv4Addr>() else {
                continue;
            };
            if !n.networks.iter().any(|x| x == net) {
                n.networks.push(net.to_string());
            }
            let mut first = None;
            for name in names.split_whitespace() {
                let lower = name.to_ascii_lowercase();
                first.get_or_insert_with(|| lower.clone());
                let ips = n.by_name.entry(lower).or_default();
                if !ips.contains(&addr) {
                    ips.push(addr);
                }
            }
            if let Some(first) = first {
                n.by_addr
                    .entry(addr)
                    .or_insert_with(|| format!("{first}.{}", net.to_ascii_lowercase()));
            }
        }
        n
    }

    /// The answer to `q`, as Docker's embedded server gives it: A records for a name of
    /// the networks (also as `name.network`), no record for its other types (these
    /// networks are IPv4 only), PTR for their addresses, NXDOMAIN for an unknown name
    /// in their scope (a single label, or `x.network`), and the rest forwarded.
    pub fn decide(&self, q: &Query) -> Decision {
        if q.qclass != CLASS_IN {
            return Decision::Forward;
        }
        if q.qtype == TYPE_PTR {
            return match q.ptr_address().and_then(|a| self.by_addr.get(&a)) {
                Some(name) => Decision::Answer(Rcode::NoError, vec![Rdata::Ptr(name.clone())]),
                None => Decision::Forward,
            };
        }
        let name = q.name();
        if name.is_empty() {
            return Decision::Forward;
        }
        let (local, scoped) = match name.rsplit_once('.') {
            Some((head, net)) if self.networks.iter().any(|n| n.eq_ignore_ascii_case(net)) => {
                (head, true)
            }
            Some(_) => (name.as_str(), false),
            None => (name.as_str(), true),
        };
        match self.by_name.get(local) {
            Some(ips) if q.qtype == TYPE_A => {
                Decision::Answer(Rcode::NoError, ips.iter().map(|ip| Rdata::A(*ip)).collect())
            }
            Some(_) => Decision::Answer(Rcode::NoError, Vec::new()),
            None if scoped => Decision::Answer(Rcode::NxDomain, Vec::new()),
            None => Decision::Forward,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::message::{TYPE_AAAA, query};
    use super::*;

    const FILE: &str = "appnet\t10.0.0.2\tweb cache 0123456789ab\n\
                        appnet\t10.0.0.3\tdb\n\
                        other\t10.1.0.3\tdb\n\
                        garbage line\n";

    fn ask(name: &str, qtype: u16) -> Decision {
        Names::parse(FILE).decide(&Query::parse(&query(1, name, qtype)).unwrap())
    }

    fn a(ips: &[[u8; 4]]) -> Decision {
        Decision::Answer(
            Rcode::NoError,
            ips.iter().map(|o| Rdata::A(Ipv4Addr::from(*o))).collect(),
        )
    }

    #[test]
    fn names_aliases_and_short_ids_answer_a_records() {
        assert_eq!(ask("web", TYPE_A), a(&[[10, 0, 0, 2]]));
        assert_eq!(ask("Cache", TYPE_A), a(&[[10, 0, 0, 2]]));
        assert_eq!(ask("0123456789ab", TYPE_A), a(&[[10, 0, 0, 2]]));
        assert_eq!(ask("web.appnet", TYPE_A), a(&[[10, 0, 0, 2]]));
        assert_eq!(ask("db", TYPE_A), a(&[[10, 0, 0, 3], [10, 1, 0, 3]]));
    }

    #[test]
    fn other_types_of_known_names_have_no_records() {
        assert_eq!(
            ask("web", TYPE_AAAA),
            Decision::Answer(Rcode::NoError, vec![])
        );
    }

    #[test]
    fn unknown_names_in_scope_are_nxdomain_and_the_rest_forwarded() {
        let nx = Decision::Answer(Rcode::NxDomain, vec![]);
        assert_eq!(ask("nope", TYPE_A), nx);
        assert_eq!(ask("nope.appnet", TYPE_A), nx);
        assert_eq!(ask("example.com", TYPE_A), Decision::Forward);
        assert_eq!(ask("", TYPE_A), Decision::Forward);
    }

    #[test]
    fn addresses_answer_ptr_with_name_and_network() {
        assert_eq!(
            ask("2.0.0.10.in-addr.arpa", TYPE_PTR),
            Decision::Answer(Rcode::NoError, vec![Rdata::Ptr("web.appnet".into())])
        );
        assert_eq!(ask("9.0.0.10.in-addr.arpa", TYPE_PTR), Decision::Forward);
    }
}
