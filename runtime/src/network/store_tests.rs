//! Tests of the network store.

use super::*;
use nix::fcntl::{Flock, FlockArg};

fn store(d: &Path, root: &str) -> NetworkStore {
    NetworkStore::with_registry(&d.join(root), SubnetRegistry::open(&d.join("hostrun")))
}

fn opts(name: &str) -> CreateOptions {
    CreateOptions {
        name: name.into(),
        ..Default::default()
    }
}

#[test]
fn predefined_networks_listed() {
    let d = tempfile::tempdir().unwrap();
    let s = store(d.path(), "r");
    let l = s.list().unwrap();
    let names: Vec<(&str, &str)> = l
        .iter()
        .map(|n| (n.name.as_str(), n.driver.as_str()))
        .collect();
    assert_eq!(
        names,
        [("bridge", "bridge"), ("host", "host"), ("none", "null")]
    );
    let b = &l[0];
    assert_eq!(b.id.len(), 64);
    assert!(b.subnet().is_some());
    let dev = b.bridge_device().unwrap();
    assert!(dev.starts_with("tug") && dev.len() <= 15, "{dev}");
    assert!(matches!(s.remove("bridge"), Err(Error::Predefined(_))));
    assert!(s.create(&opts("host")).is_err());
}

#[test]
fn create_get_remove() {
    let d = tempfile::tempdir().unwrap();
    let s = store(d.path(), "r");
    let n = s.create(&opts("app")).unwrap();
    assert!(matches!(s.create(&opts("app")), Err(Error::Exists(_))));
    assert_eq!(s.get(&n.id[..6]).unwrap().name, "app");
    assert_eq!(s.get("app").unwrap(), n);
    let book = s.addresses(&n);
    let a = book.update(|b| b.allocate("c1", None)).unwrap();
    assert_eq!(a, n.subnet().unwrap().subnet.nth(2).unwrap());
    s.remove("app").unwrap();
    assert!(matches!(s.get("app"), Err(Error::NotFound(_))));
    assert!(book.read().is_err());
}

#[test]
fn bad_flags_create_nothing() {
    let d = tempfile::tempdir().unwrap();
    let s = store(d.path(), "r");
    for (subnet, gw) in [
        (Some("10.9.0/24"), None),
        (Some("10.9.0.0/24"), Some("10.9.1.1")),
        (Some("10.9.0.0/24"), Some("10.9.0.255")),
        (None, Some("10.9.0.1")),
        (Some("10.9.0.0/31"), None),
    ] {
        let o = CreateOptions {
            subnet: subnet.map(String::from),
            gateway: gw.map(String::from),
            ..opts("x")
        };
        assert!(
            matches!(s.create(&o), Err(Error::Invalid(_))),
            "{subnet:?} {gw:?}"
        );
    }
    assert_eq!(s.list().unwrap().len(), 3);
}

#[test]
fn two_roots_get_distinct_subnets_and_bridges() {
    let d = tempfile::tempdir().unwrap();
    let (a, b) = (store(d.path(), "a"), store(d.path(), "b"));
    let na = a.create(&opts("net")).unwrap();
    let nb = b.create(&opts("net")).unwrap();
    let ba = a.get("bridge").unwrap();
    let bb = b.get("bridge").unwrap();
    let subnets = [&na, &nb, &ba, &bb].map(|n| n.subnet().unwrap().subnet);
    for i in 0..4 {
        for j in 0..i {
            assert!(!subnets[i].overlaps(&subnets[j]), "{subnets:?}");
        }
    }
    assert_ne!(na.bridge_device(), nb.bridge_device());
    assert_ne!(ba.bridge_device(), bb.bridge_device());
    // A fixed subnet another root holds is refused.
    let o = CreateOptions {
        subnet: Some(subnets[0].to_string()),
        ..opts("dup")
    };
    assert!(matches!(b.create(&o), Err(Error::Overlap(_))));
}

#[test]
fn default_root_bridge_is_tug0() {
    assert_eq!(
        bridge_name(Path::new(crate::defaults::DEFAULT_ROOT), "bridge"),
        "tug0"
    );
    let other = bridge_name(Path::new("/tmp/x"), "bridge");
    assert_eq!(other.len(), 15);
}

#[test]
fn attach_detach_addresses() {
    let d = tempfile::tempdir().unwrap();
    let s = store(d.path(), "r");
    let o = CreateOptions {
        subnet: Some("10.5.0.0/24".into()),
        ..opts("app")
    };
    s.create(&o).unwrap();
    // The containers exist (addresses of containers that are gone can be taken back).
    for id in ["c1", "c2", "c3"] {
        live_container(&d.path().join("r/containers").join(id));
    }
    let a = s.attach("app", "c1", "one", None).unwrap();
    assert_eq!(a.ipv4_address, "10.5.0.2/24");
    // The MAC Docker derives from the address (network inspect's Containers show it).
    assert_eq!(a.mac_address, "02:42:0a:05:00:02");
    assert_eq!(s.attach("app", "c1", "one", None).unwrap(), a);
    let fixed = Ipv4Addr::new(10, 5, 0, 9);
    let b = s.attach("app", "c2", "two", Some(fixed)).unwrap();
    assert_eq!(b.ipv4_address, "10.5.0.9/24");
    assert!(matches!(
        s.attach("app", "c3", "three", Some(fixed)),
        Err(Error::AddressInUse(..))
    ));
    assert_eq!(s.get("app").unwrap().containers.len(), 2);
    assert!(matches!(s.remove("app"), Err(Error::InUse(..))));
    assert!(s.prune(|_| true).unwrap().is_empty());
    s.detach("app", "c1").unwrap();
    assert_eq!(
        s.attach("app", "c3", "three", None).unwrap().ipv4_address,
        "10.5.0.2/24"
    );
    s.detach("app", "c2").unwrap();
    s.detach("app", "c3").unwrap();
    s.remove("app").unwrap();
    assert!(s.attach("host", "c1", "one", None).is_err());
}

#[test]
fn addresses_of_containers_that_are_gone_are_taken_back_when_short() {
    let d = tempfile::tempdir().unwrap();
    let s = store(d.path(), "r");
    let n = s
        .create(&CreateOptions {
            name: "tiny".into(),
            subnet: Some("10.250.77.0/30".into()),
            ..Default::default()
        })
        .unwrap();
    let containers = d.path().join("r/containers");
    for id in ["x", "y", "z"] {
        live_container(&containers.join(id));
    }
    // A /30 has one address besides the gateway.
    s.attach_opt(&n.name, "x", "x", None, None, false).unwrap();
    assert!(matches!(
        s.attach_opt(&n.name, "y", "y", None, None, false),
        Err(Error::AddressesExhausted(_))
    ));
    // x is removed but its detach was lost: its address goes to y.
    std::fs::remove_dir_all(containers.join("x")).unwrap();
    let e = s.attach_opt(&n.name, "y", "y", None, None, false).unwrap();
    assert_eq!(e.ipv4_address, "10.250.77.2/30");
    let n = s.get("tiny").unwrap();
    assert_eq!(n.containers.keys().collect::<Vec<_>>(), ["y"]);
    // y's create is in progress (its dir locked, no record yet): z waits its turn.
    std::fs::remove_file(containers.join("y").join(crate::container::store::RECORD)).unwrap();
    let lock = Flock::lock(
        std::fs::File::open(containers.join("y")).unwrap(),
        FlockArg::LockExclusive,
    )
    .unwrap();
    assert!(matches!(
        s.attach_opt(&n.name, "z", "z", None, None, false),
        Err(Error::AddressesExhausted(_))
    ));
    // y's create was killed before its record: its address goes to z.
    drop(lock);
    let e = s.attach_opt(&n.name, "z", "z", None, None, false).unwrap();
    assert_eq!(e.ipv4_address, "10.250.77.2/30");
    let n = s.get("tiny").unwrap();
    assert_eq!(n.containers.keys().collect::<Vec<_>>(), ["z"]);
}

/// A container's dir with its record, as `tug create` leaves it.
fn live_container(d: &Path) {
    std::fs::create_dir_all(d).unwrap();
    std::fs::write(d.join(crate::container::store::RECORD), "{}").unwrap();
}
