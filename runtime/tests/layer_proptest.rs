//! Property tests of `layer::apply`: random trees round-trip through a tar, and random
//! (often hostile) entries never create or change anything outside the root.

mod layer_support;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use layer_support::{Scratch, Spec, TarWriter, tree};
use proptest::prelude::*;
use tar::EntryType;
use tug::layer;

#[derive(Debug, Clone)]
enum Node {
    Dir { mode: u32 },
    File { data: Vec<u8>, mode: u32 },
    Symlink { target: String },
}

#[derive(Debug, Clone)]
struct Item {
    path: Vec<&'static str>,
    node: Node,
    uid: u64,
    mtime: u64,
}

fn item() -> impl Strategy<Value = Item> {
    let name = prop::sample::select(vec!["a", "b", "c", "long-name.txt", "x y", "ü"]);
    let node = prop_oneof![
        prop::sample::select(vec![0o755u32, 0o700, 0o1777, 0o2755])
            .prop_map(|mode| Node::Dir { mode }),
        (
            prop::collection::vec(any::<u8>(), 0..3000),
            prop::sample::select(vec![0o644u32, 0o600, 0o755, 0o4755, 0o444])
        )
            .prop_map(|(data, mode)| Node::File { data, mode }),
        prop::sample::select(vec!["a", "../b", "/etc/passwd", "c/d", "."]).prop_map(|t| {
            Node::Symlink {
                target: t.to_string(),
            }
        }),
    ];
    (
        prop::collection::vec(name, 1..4),
        node,
        0u64..3,
        1_000_000u64..2_000_000_000,
    )
        .prop_map(|(path, node, uid, mtime)| Item {
            path,
            node,
            uid,
            mtime,
        })
}

/// A consistent tree from random items: an item whose parent is not a dir is dropped;
/// missing parents become 0755 dirs; a later item at the same path wins.
fn model(items: Vec<Item>) -> BTreeMap<String, Item> {
    let mut m: BTreeMap<String, Item> = BTreeMap::new();
    'items: for it in items {
        for i in 1..it.path.len() {
            let p = it.path[..i].join("/");
            match m.get(&p) {
                Some(Item {
                    node: Node::Dir { .. },
                    ..
                }) => {}
                Some(_) => continue 'items,
                None => {
                    m.insert(
                        p,
                        Item {
                            path: it.path[..i].to_vec(),
                            node: Node::Dir { mode: 0o755 },
                            uid: 0,
                            mtime: 1_000_000,
                        },
                    );
                }
            }
        }
        let p = it.path.join("/");
        if m.contains_key(&p) {
            // Keep the tree simple: the first item at a path wins, its children stay valid.
            continue;
        }
        m.insert(p, it);
    }
    m
}

fn to_tar(m: &BTreeMap<String, Item>) -> Vec<u8> {
    let mut t = TarWriter::new();
    for (p, it) in m {
        let path = format!("./{p}");
        let mut s = match &it.node {
            Node::Dir { mode } => {
                let mut s = Spec::new(EntryType::Directory, &path);
                s.mode = *mode;
                s
            }
            Node::File { data, mode } => {
                let mut s = Spec::new(EntryType::Regular, &path);
                s.data = data;
                s.mode = *mode;
                s
            }
            Node::Symlink { target } => {
                let mut s = Spec::new(EntryType::Symlink, &path);
                s.link = target.as_bytes();
                s
            }
        };
        s.uid = it.uid;
        s.gid = it.uid + 1;
        s.mtime = it.mtime;
        t.long(s);
    }
    t.finish()
}

/// The oracle: the same tree made with plain std calls.
fn materialize(m: &BTreeMap<String, Item>, root: &Path) {
    for (p, it) in m {
        let path = root.join(p);
        match &it.node {
            Node::Dir { .. } => std::fs::create_dir(&path).unwrap(),
            Node::File { data, .. } => std::fs::write(&path, data).unwrap(),
            Node::Symlink { target } => std::os::unix::fs::symlink(target, &path).unwrap(),
        }
        std::os::unix::fs::lchown(&path, Some(it.uid as u32), Some(it.uid as u32 + 1)).unwrap();
        match &it.node {
            Node::Dir { mode } | Node::File { mode, .. } => {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(*mode)).unwrap()
            }
            Node::Symlink { .. } => {}
        }
    }
    // mtimes last, deepest first, so that writing children does not change them.
    for (p, it) in m.iter().rev() {
        let t = nix::sys::time::TimeSpec::new(it.mtime as i64, 0);
        nix::sys::stat::utimensat(
            nix::fcntl::AT_FDCWD,
            &root.join(p),
            &t,
            &t,
            nix::sys::stat::UtimensatFlags::NoFollowSymlink,
        )
        .unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_trees_round_trip(items in prop::collection::vec(item(), 1..25)) {
        let m = model(items);
        let s = Scratch::new();
        let stats = layer::apply(&to_tar(&m)[..], &s.root()).unwrap();
        prop_assert_eq!(stats.entries as usize, m.len());
        let oracle = s.dir.path().join("oracle");
        std::fs::create_dir(&oracle).unwrap();
        materialize(&m, &oracle);
        prop_assert_eq!(tree(&s.root()), tree(&oracle));
    }

    #[test]
    fn random_entries_never_write_outside(entries in prop::collection::vec(hostile_entry(), 1..12)) {
        let s = Scratch::new();
        // The root is deep inside the scratch dir, so even `../../../..` lands in it.
        let root = s.dir.path().join("n1/n2/n3/root");
        std::fs::create_dir_all(&root).unwrap();
        let outside = s.outside().display().to_string();
        let mut t = TarWriter::new();
        for (kind, path, link) in &entries {
            let link = link.replace("OUTSIDE", &outside);
            let mut spec = Spec::new(*kind, path);
            spec.link = link.as_bytes();
            spec.data = b"pwned";
            if link.len() <= 100 {
                t.raw(spec);
            }
        }
        let mut before = tree(s.dir.path());
        before.retain(|k, _| k != "n1/n2/n3/root" && !k.starts_with("n1/n2/n3/root/"));
        let _ = layer::apply(&t.finish()[..], &root);
        let mut after = tree(s.dir.path());
        after.retain(|k, _| k != "n1/n2/n3/root" && !k.starts_with("n1/n2/n3/root/"));
        prop_assert_eq!(after, before);
    }
}

fn hostile_entry() -> impl Strategy<Value = (EntryType, String, String)> {
    let comp = prop::sample::select(vec![
        "..",
        ".",
        "",
        "a",
        "b",
        "outside",
        ".wh..",
        ".wh.a",
        ".wh..wh..opq",
    ]);
    let path = prop::collection::vec(comp, 1..6).prop_map(|c| c.join("/"));
    let abs = any::<bool>();
    let kind = prop::sample::select(vec![
        EntryType::Regular,
        EntryType::Directory,
        EntryType::Symlink,
        EntryType::Link,
        EntryType::Fifo,
    ]);
    let link = prop::sample::select(vec![
        "/",
        "..",
        "../..",
        "../../../..",
        "OUTSIDE",
        "OUTSIDE/secret",
        "a",
        "a/b",
        "/a",
    ]);
    (kind, abs, path, link).prop_map(|(k, abs, p, l)| {
        let p = if abs { format!("/{p}") } else { p };
        (k, p, l.to_string())
    })
}
