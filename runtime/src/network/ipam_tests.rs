//! Tests of subnet and address allocation.

use super::super::cidr::mask;
use super::*;
use proptest::prelude::*;
use std::collections::BTreeSet;

fn cidr(s: &str) -> Cidr {
    Cidr::parse(s).unwrap()
}

#[test]
fn default_pool_starts_at_172_17() {
    let p = Pool::default_pool();
    assert_eq!(pick_subnet(&p, &[], &[]), Some(cidr("172.17.0.0/24")));
    let taken = [cidr("172.17.0.0/24")];
    let routed = [cidr("172.17.1.0/24"), cidr("172.17.2.128/25")];
    assert_eq!(
        pick_subnet(&p, &taken, &routed),
        Some(cidr("172.17.3.0/24"))
    );
    assert_eq!(pick_subnet(&p, &[cidr("172.16.0.0/12")], &[]), None);
}

#[test]
fn pool_from_text() {
    let p = Pool::parse("10.200.0.0/16,24").unwrap();
    assert_eq!(pick_subnet(&p, &[], &[]), Some(cidr("10.200.0.0/24")));
    assert!(Pool::parse("10.200.0.0/16").is_err());
    assert!(Pool::parse("10.200.0.0/16,8").is_err());
}

#[test]
fn proc_route_parsed() {
    let text = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
        eth0\t00000000\t0100A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
        eth0\t0000A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
        docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n";
    assert_eq!(
        parse_proc_route(text),
        vec![cidr("192.168.0.0/24"), cidr("172.17.0.0/16")]
    );
}

#[test]
fn registry_leases_are_host_wide_and_reclaimed() {
    let d = tempfile::tempdir().unwrap();
    let reg = SubnetRegistry::open(&d.path().join("run"));
    let pool = Pool::parse("10.99.0.0/16,24").unwrap();
    let owner = |n: &str, id: &str| {
        let p = d.path().join(n);
        fs::write(&p, format!("{{\"Id\":\"{id}\"}}")).unwrap();
        p
    };
    let a = reg
        .allocate(None, &pool, &owner("a.json", "a"), "a", Ok)
        .unwrap();
    let b = reg
        .allocate(None, &pool, &owner("b.json", "b"), "b", Ok)
        .unwrap();
    assert_ne!(a, b);
    // A fixed subnet that overlaps a lease is refused.
    let e = reg
        .allocate(Some(a), &pool, &owner("c.json", "c"), "c", Ok)
        .unwrap_err();
    assert!(matches!(e, Error::Overlap(_)), "{e}");
    // A failed commit leases nothing.
    let e = reg.allocate(None, &pool, &d.path().join("d.json"), "d", |_| {
        Err::<(), _>(Error::Invalid("no".into()))
    });
    assert!(e.is_err());
    assert_eq!(reg.leases().unwrap().len(), 2);
    // The owner's file gone: its subnet comes back.
    fs::remove_file(d.path().join("a.json")).unwrap();
    let c = reg
        .allocate(None, &pool, &owner("c.json", "c"), "c", Ok)
        .unwrap();
    assert_eq!(c, a);
    reg.release("b").unwrap();
    assert_eq!(reg.leases().unwrap().len(), 1);
}

#[test]
fn address_book_basics() {
    let s = cidr("10.0.0.0/24");
    let mut b = AddressBook::new(s, Ipv4Addr::new(10, 0, 0, 1));
    assert_eq!(b.allocate("c1", None).unwrap(), Ipv4Addr::new(10, 0, 0, 2));
    let fixed = Ipv4Addr::new(10, 0, 0, 3);
    assert_eq!(b.allocate("c2", Some(fixed)).unwrap(), fixed);
    assert!(matches!(
        b.allocate("c3", Some(fixed)),
        Err(Error::AddressInUse(..))
    ));
    assert!(b.allocate("c3", Some(Ipv4Addr::new(10, 0, 0, 1))).is_err());
    assert!(
        b.allocate("c3", Some(Ipv4Addr::new(10, 0, 0, 255)))
            .is_err()
    );
    assert!(b.allocate("c3", Some(Ipv4Addr::new(10, 0, 1, 5))).is_err());
    assert_eq!(b.allocate("c3", None).unwrap(), Ipv4Addr::new(10, 0, 0, 4));
    assert_eq!(b.release_all("c2"), vec![fixed]);
    assert_eq!(b.allocate("c4", None).unwrap(), fixed);
}

#[test]
fn address_file_parallel_no_duplicates() {
    let d = tempfile::tempdir().unwrap();
    let f = AddressFile::open(&d.path().join("net.addrs.json"));
    f.init(&AddressBook::new(
        cidr("10.0.0.0/24"),
        Ipv4Addr::new(10, 0, 0, 1),
    ))
    .unwrap();
    let got: Vec<Ipv4Addr> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..16)
            .map(|i| {
                let f = f.clone();
                s.spawn(move || f.update(|b| b.allocate(&format!("c{i}"), None)).unwrap())
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let set: BTreeSet<_> = got.iter().collect();
    assert_eq!(set.len(), 16);
    assert_eq!(f.read().unwrap().used.len(), 16);
}

proptest! {
    /// Picked subnets lie in the pool and overlap nothing taken or routed.
    #[test]
    fn picked_subnets_never_overlap(
        taken in proptest::collection::vec((0u32..4096, 16u8..=28), 0..20),
        n in 1usize..30,
    ) {
        let pool = Pool::parse("10.64.0.0/12,24").unwrap();
        let mut taken: Vec<Cidr> = taken
            .into_iter()
            .filter_map(|(i, p)| {
                let a = u32::from(Ipv4Addr::new(10, 64, 0, 0)) + (i << 8);
                Cidr::new(Ipv4Addr::from(a & mask(p)), p)
            })
            .collect();
        for _ in 0..n {
            let Some(c) = pick_subnet(&pool, &taken, &[]) else { break };
            prop_assert!(pool.range.overlaps(&c) && c.prefix() == 24);
            prop_assert!(taken.iter().all(|t| !t.overlaps(&c)));
            taken.push(c);
        }
    }

    /// Addresses are distinct hosts of the subnet, never the gateway, network or
    /// broadcast, and a released one is handed out again.
    #[test]
    fn addresses_distinct_and_reused(
        prefix in 24u8..=29,
        fixed in proptest::collection::vec(0u32..256, 0..6),
        n in 1usize..40,
        victim in 0usize..40,
    ) {
        let s = Cidr::new(Ipv4Addr::new(10, 1, 2, 0), prefix).unwrap();
        let gw = s.nth(1).unwrap();
        let mut b = AddressBook::new(s, gw);
        let mut got = Vec::new();
        for f in fixed {
            if let Some(a) = s.nth(f % s.size() as u32)
                && let Ok(a) = b.allocate("fixed", Some(a))
            {
                got.push(a);
            }
        }
        for i in 0..n {
            match b.allocate(&format!("c{i}"), None) {
                Ok(a) => got.push(a),
                Err(Error::AddressesExhausted(_)) => break,
                Err(e) => prop_assert!(false, "{e}"),
            }
        }
        let set: BTreeSet<_> = got.iter().collect();
        prop_assert_eq!(set.len(), got.len());
        for a in &got {
            prop_assert!(s.is_host(*a) && *a != gw);
        }
        if !got.is_empty() {
            let v = got[victim % got.len()];
            prop_assert!(b.release(v));
            // Lowest free first, and the freed address comes back before the book runs out.
            let lowest = (1..s.size() as u32)
                .filter_map(|k| s.nth(k))
                .find(|a| s.is_host(*a) && *a != gw && !b.used.contains_key(a))
                .unwrap();
            prop_assert_eq!(b.allocate("again", None).unwrap(), lowest);
            let mut reused = lowest == v;
            while !reused {
                match b.allocate("again", None) {
                    Ok(a) => reused = a == v,
                    Err(_) => break,
                }
            }
            prop_assert!(reused, "{} never handed out again", v);
        }
    }
}
