//! IPv4 subnets (`10.1.0.0/24`) and addresses: parsing with Docker's messages, and the
//! arithmetic IPAM needs (containment, overlap, network/broadcast).

use std::fmt;
use std::net::Ipv4Addr;

use super::Error;

/// An IPv4 subnet: a network address with no host bits set, and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cidr {
    base: u32,
    prefix: u8,
}

impl Cidr {
    /// The subnet `addr/prefix`; `None` when the prefix is over 32 or host bits are set.
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Option<Cidr> {
        let base = u32::from(addr);
        (prefix <= 32 && base & !mask(prefix) == 0).then_some(Cidr { base, prefix })
    }

    /// Parses `a.b.c.d/n`; host bits set is an error naming the subnet it should be.
    pub fn parse(s: &str) -> Result<Cidr, Error> {
        let bad = || Error::Invalid(format!("invalid CIDR address: {s}"));
        let (a, p) = s.split_once('/').ok_or_else(bad)?;
        let addr: Ipv4Addr = a.parse().map_err(|_| bad())?;
        let prefix: u8 = p.parse().map_err(|_| bad())?;
        if prefix > 32 || p.starts_with('+') {
            return Err(bad());
        }
        let base = u32::from(addr) & mask(prefix);
        let c = Cidr { base, prefix };
        if base != u32::from(addr) {
            return Err(Error::Invalid(format!(
                "invalid subnet {s}: it should be {c}"
            )));
        }
        Ok(c)
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// The network address (all host bits clear).
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.base)
    }

    /// The broadcast address (all host bits set).
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.base | !mask(self.prefix))
    }

    /// The `n`th address of the subnet (0 is the network address); `None` past its end.
    pub fn nth(&self, n: u32) -> Option<Ipv4Addr> {
        (u64::from(n) < self.size()).then(|| Ipv4Addr::from(self.base + n))
    }

    /// How many addresses the subnet spans.
    pub fn size(&self) -> u64 {
        1u64 << (32 - u32::from(self.prefix))
    }

    pub fn contains(&self, a: Ipv4Addr) -> bool {
        u32::from(a) & mask(self.prefix) == self.base
    }

    /// Whether the two subnets share an address.
    pub fn overlaps(&self, o: &Cidr) -> bool {
        let p = self.prefix.min(o.prefix);
        self.base & mask(p) == o.base & mask(p)
    }

    /// Whether `a` may be given to a host: in the subnet and neither its network nor its
    /// broadcast address (both allowed on /31 and /32, which have no such addresses).
    pub fn is_host(&self, a: Ipv4Addr) -> bool {
        self.contains(a) && (self.prefix >= 31 || (a != self.network() && a != self.broadcast()))
    }
}

/// The netmask of a prefix length, as a host-order integer.
pub fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix.min(32)))
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.base), self.prefix)
    }
}

impl serde::Serialize for Cidr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Cidr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Cidr, D::Error> {
        let s = String::deserialize(d)?;
        Cidr::parse(&s).map_err(|e| serde::de::Error::custom(crate::Report(&e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let c = Cidr::parse("10.1.0.0/24").unwrap();
        assert_eq!(c.to_string(), "10.1.0.0/24");
        assert_eq!(c.broadcast(), Ipv4Addr::new(10, 1, 0, 255));
        assert_eq!(c.nth(1), Some(Ipv4Addr::new(10, 1, 0, 1)));
        assert_eq!(c.nth(256), None);
        for bad in [
            "10.1.0/24",
            "10.1.0.0",
            "10.1.0.0/33",
            "x/8",
            "10.1.0.0/+8",
            "",
        ] {
            assert_eq!(
                Cidr::parse(bad).unwrap_err().to_string(),
                format!("invalid CIDR address: {bad}")
            );
        }
        assert_eq!(
            Cidr::parse("10.1.0.5/24").unwrap_err().to_string(),
            "invalid subnet 10.1.0.5/24: it should be 10.1.0.0/24"
        );
    }

    #[test]
    fn overlap_and_hosts() {
        let a = Cidr::parse("172.18.0.0/16").unwrap();
        let b = Cidr::parse("172.18.5.0/24").unwrap();
        let c = Cidr::parse("172.19.0.0/24").unwrap();
        assert!(a.overlaps(&b) && b.overlaps(&a));
        assert!(!a.overlaps(&c) && !c.overlaps(&b));
        assert!(!b.is_host(b.network()) && !b.is_host(b.broadcast()));
        assert!(b.is_host(Ipv4Addr::new(172, 18, 5, 9)));
        assert!(!b.is_host(Ipv4Addr::new(172, 18, 6, 9)));
    }
}
