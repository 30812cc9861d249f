//! Property test: xattrs with any name and value bytes (newlines too, which tar 0.4.46's
//! PAX reader splits on) survive `layer::write_diff` then `layer::apply` exactly.

mod layer_support;

use std::path::Path;

use layer_support::Scratch;
use proptest::prelude::*;

/// The xattrs of `p` (not followed), raw, sorted by name.
fn raw_xattrs(p: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut names = vec![0u8; 65536];
    let n = rustix::fs::llistxattr(p, &mut names[..]).unwrap();
    let mut out: Vec<_> = names[..n]
        .split(|b| *b == 0)
        .filter(|n| !n.is_empty())
        .map(|name| {
            let mut v = vec![0u8; 65536];
            let len = rustix::fs::lgetxattr(p, name, &mut v[..]).unwrap();
            (name.to_vec(), v[..len].to_vec())
        })
        .collect();
    out.sort();
    out
}

/// An xattr name tar can carry: UTF-8, no NUL, no '=' (a PAX key ends at it).
fn name() -> impl Strategy<Value = String> {
    ("(user|trusted)", "[^=\0]{1,24}").prop_map(|(ns, rest)| format!("{ns}.{rest}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_xattr_round_trips_through_write_diff_and_apply(
        attrs in prop::collection::btree_map(
            name(),
            prop::collection::vec(prop_oneof![Just(b'\n'), any::<u8>()], 0..64),
            1..5,
        ),
        on_dir in any::<bool>(),
    ) {
        let s = Scratch::new();
        let upper = s.dir.path().join("upper");
        std::fs::create_dir_all(upper.join("d")).unwrap();
        std::fs::write(upper.join("f"), b"f").unwrap();
        let target = if on_dir { upper.join("d") } else { upper.join("f") };
        for (k, v) in &attrs {
            rustix::fs::lsetxattr(&target, k.as_str(), v, rustix::fs::XattrFlags::empty())
                .unwrap();
        }
        let mut tar = Vec::new();
        tug::layer::write_diff(&upper, &[], &mut tar).unwrap();
        let out = s.dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        tug::layer::apply(&tar[..], &out).unwrap();
        let rel = if on_dir { "d" } else { "f" };
        prop_assert_eq!(raw_xattrs(&out.join(rel)), raw_xattrs(&target));
        prop_assert_eq!(layer_support::tree(&out), layer_support::tree(&upper));
    }
}
