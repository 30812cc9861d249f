//! Property test of the two rootfs drivers: for random stacks of layers (files, dirs,
//! symlinks, whiteouts, opaque dirs, kinds replacing kinds), the vfs copy shows exactly
//! the tree that the kernel's overlayfs shows.

mod layer_support;

use std::path::PathBuf;

use layer_support::{Scratch, Spec, TarWriter, tree};
use proptest::prelude::*;
use tar::EntryType;
use tug::Digest;
use tug::snapshot::{Rootfs, Snapshots, chain_ids};

/// Unmounts (lazily) on drop, so a failing case leaves no mount behind.
struct MountGuard(PathBuf);

impl Drop for MountGuard {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

#[derive(Debug, Clone)]
enum Op {
    File(u8),
    Dir(u32),
    Symlink,
    Whiteout,
    Opaque,
}

fn op() -> impl Strategy<Value = (&'static str, Op)> {
    let path = prop::sample::select(vec!["a", "b", "a/c", "a/d", "b/e", "a/c/f"]);
    let op = prop_oneof![
        any::<u8>().prop_map(Op::File),
        prop::sample::select(vec![0o755u32, 0o700, 0o1777]).prop_map(Op::Dir),
        Just(Op::Symlink),
        Just(Op::Whiteout),
        Just(Op::Opaque),
    ];
    (path, op)
}

fn layer_tar(ops: &[(&'static str, Op)], n: usize) -> Vec<u8> {
    // Deepest first, so that a later entry replacing a dir by a file does not leave the
    // dir's entries with a file for a parent (a layer that fails, for no property).
    let depth =
        |(p, op): &(&str, Op)| p.matches('/').count() + usize::from(matches!(op, Op::Opaque));
    let mut ops = ops.to_vec();
    ops.sort_by_key(|o| std::cmp::Reverse(depth(o)));
    let mut t = TarWriter::new();
    for (i, (path, op)) in ops.iter().enumerate() {
        let mtime = 1_000_000 + (n * 100 + i) as u64;
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
        let join = |n: &str| {
            if dir.is_empty() {
                n.to_string()
            } else {
                format!("{dir}/{n}")
            }
        };
        match op {
            Op::File(b) => {
                let data = vec![*b; *b as usize];
                let mut s = Spec::new(EntryType::Regular, path);
                s.data = &data;
                s.mtime = mtime;
                t.raw(s);
            }
            Op::Dir(mode) => {
                let mut s = Spec::new(EntryType::Directory, path);
                s.mode = *mode;
                s.mtime = mtime;
                t.raw(s);
            }
            Op::Symlink => {
                let mut s = Spec::new(EntryType::Symlink, path);
                s.link = b"target";
                s.mtime = mtime;
                t.raw(s);
            }
            Op::Whiteout => {
                t.file(&join(&format!(".wh.{name}")), b"");
            }
            Op::Opaque => {
                t.file(&format!("{path}/.wh..wh..opq"), b"");
            }
        }
    }
    t.finish()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn vfs_copy_equals_the_overlay_view(
        layers in prop::collection::vec(prop::collection::vec(op(), 1..8), 1..4)
    ) {
        let s = Scratch::new();
        let snaps = Snapshots::open(s.dir.path()).unwrap();
        let mut tars = Vec::new();
        for (n, ops) in layers.iter().enumerate() {
            tars.push(layer_tar(ops, n));
        }
        let diffs: Vec<Digest> = tars.iter().map(|t| Digest::of(t)).collect();
        let mut lowers = Vec::new();
        for ((tar, diff), chain) in tars.iter().zip(&diffs).zip(chain_ids(&diffs)) {
            // A random layer may be invalid (a file under a file): such stacks are not
            // what this property is about.
            match snaps.ensure_from_reader(&chain, diff, &tar[..]) {
                Ok(dir) => lowers.push(dir),
                Err(_) => return Ok(()),
            }
        }
        let c = s.dir.path().join("c");
        let rootfs = Rootfs { lowers, upper: c.join("upper"), work: c.join("work"), volatile: false };
        let merged = c.join("merged");
        std::fs::create_dir_all(&merged).unwrap();
        rootfs.mount_overlay(&merged).unwrap();
        let _guard = MountGuard(merged.clone());
        let copy = c.join("copy");
        rootfs.copy_into(&copy).unwrap();
        prop_assert_eq!(tree(&copy), tree(&merged));
    }
}
