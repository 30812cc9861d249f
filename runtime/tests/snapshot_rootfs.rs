//! Snapshots and rootfs: layers unpacked once under their chain id, atomically and without
//! leftovers; the overlay mount and the vfs copy show the same tree. Runs as root on
//! /var/tmp; every mount is undone by a guard, also when a test fails.

mod layer_support;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use layer_support::{Scratch, Spec, TarWriter, tree};
use tar::EntryType;
use tug::Digest;
use tug::snapshot::{Rootfs, Snapshots, chain_ids};

/// Unmounts (lazily) on drop, so a failing test leaves no mount behind.
struct MountGuard(PathBuf);

impl Drop for MountGuard {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

fn mount(rootfs: &Rootfs, target: &Path) -> MountGuard {
    std::fs::create_dir_all(target).unwrap();
    rootfs.mount_overlay(target).unwrap();
    MountGuard(target.to_path_buf())
}

/// Unpacks `layers` (tars) as a chain in `snaps`, returning the dirs bottom first.
fn unpack_chain(snaps: &Snapshots, layers: &[Vec<u8>]) -> Vec<PathBuf> {
    let diffs: Vec<Digest> = layers.iter().map(|l| Digest::of(l)).collect();
    chain_ids(&diffs)
        .iter()
        .zip(layers.iter().zip(&diffs))
        .map(|(c, (l, d))| snaps.ensure_from_reader(c, d, &l[..]).unwrap())
        .collect()
}

fn snapshot_names(s: &Scratch) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(s.dir.path().join("snapshots"))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn base_layer() -> Vec<u8> {
    let mut t = TarWriter::new();
    t.dir("etc")
        .file("etc/passwd", b"root:x:0:0::/root:/bin/sh\n")
        .file("etc/hosts", b"127.0.0.1 localhost\n")
        .dir("var")
        .dir("var/cache")
        .file("var/cache/old", b"old")
        .dir("bin")
        .file("bin/tool", b"tool")
        .hardlink("bin/alias", "bin/tool")
        .symlink("bin/sh", "tool")
        .file("replaced", b"a file below")
        .dir("gone")
        .file("gone/x", b"x");
    let mut c = Spec::new(EntryType::Char, "null");
    c.dev = (1, 3);
    t.raw(c);
    let mut f = Spec::new(EntryType::Regular, "suid");
    f.mode = 0o4755;
    f.uid = 1000;
    t.pax(&[("SCHILY.xattr.user.k", b"v")]).raw(f);
    t.finish()
}

fn top_layer() -> Vec<u8> {
    let mut t = TarWriter::new();
    t.dir("etc")
        .file("etc/.wh.passwd", b"")
        .file("etc/motd", b"hello")
        .dir("var")
        .dir("var/cache")
        .file("var/cache/.wh..wh..opq", b"")
        .file("var/cache/new", b"new")
        .dir("replaced")
        .file("replaced/inside", b"now a dir")
        .file(".wh.gone", b"");
    t.finish()
}

#[test]
fn overlay_of_two_layers_shows_whiteouts_and_opaque_dirs() {
    let s = Scratch::new();
    let snaps = Snapshots::open(s.dir.path()).unwrap();
    let lowers = unpack_chain(&snaps, &[base_layer(), top_layer()]);
    let rootfs = Rootfs {
        lowers,
        upper: s.dir.path().join("c/upper"),
        work: s.dir.path().join("c/work"),
        volatile: false,
    };
    let target = s.dir.path().join("c/merged");
    let _m = mount(&rootfs, &target);
    assert!(
        !target.join("etc/passwd").exists(),
        "whiteout hides the file"
    );
    assert_eq!(
        std::fs::read(target.join("etc/hosts")).unwrap(),
        b"127.0.0.1 localhost\n"
    );
    assert_eq!(std::fs::read(target.join("etc/motd")).unwrap(), b"hello");
    assert!(
        !target.join("var/cache/old").exists(),
        "opaque dir hides the lower content"
    );
    assert_eq!(std::fs::read(target.join("var/cache/new")).unwrap(), b"new");
    assert!(!target.join("gone").exists());
    assert_eq!(
        std::fs::read(target.join("replaced/inside")).unwrap(),
        b"now a dir"
    );
    // The container writes go to the upper dir only.
    std::fs::write(target.join("etc/new"), b"w").unwrap();
    assert!(rootfs.upper.join("etc/new").exists());
}

#[test]
fn vfs_copy_equals_the_overlay_view() {
    let s = Scratch::new();
    let snaps = Snapshots::open(s.dir.path()).unwrap();
    let lowers = unpack_chain(&snaps, &[base_layer(), top_layer()]);
    let rootfs = Rootfs {
        lowers,
        upper: s.dir.path().join("c/upper"),
        work: s.dir.path().join("c/work"),
        volatile: false,
    };
    let merged = s.dir.path().join("c/merged");
    let _m = mount(&rootfs, &merged);
    let copy = s.dir.path().join("c/copy");
    rootfs.copy_into(&copy).unwrap();
    let (a, b) = (tree(&merged), tree(&copy));
    assert_eq!(a, b);
    assert!(a.contains_key("bin/alias") && a.contains_key("null"));
    let ino = |p: &Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).unwrap());
    assert_eq!(ino(&copy.join("bin/alias")), ino(&copy.join("bin/tool")));
}

#[test]
fn many_layers_mount_past_the_page_limit() {
    let s = Scratch::new();
    let snaps = Snapshots::open(s.dir.path()).unwrap();
    let layers: Vec<Vec<u8>> = (0..70)
        .map(|i| {
            let mut t = TarWriter::new();
            t.file(&format!("f{i}"), format!("{i}").as_bytes());
            t.finish()
        })
        .collect();
    let lowers = unpack_chain(&snaps, &layers);
    let rootfs = Rootfs {
        lowers,
        upper: s.dir.path().join("c/upper"),
        work: s.dir.path().join("c/work"),
        volatile: false,
    };
    let target = s.dir.path().join("c/merged");
    let _m = mount(&rootfs, &target);
    for i in 0..70 {
        assert_eq!(
            std::fs::read(target.join(format!("f{i}"))).unwrap(),
            format!("{i}").as_bytes()
        );
    }
}

#[test]
fn an_image_without_layers_mounts_empty() {
    let s = Scratch::new();
    let rootfs = Rootfs {
        lowers: vec![],
        upper: s.dir.path().join("c/upper"),
        work: s.dir.path().join("c/work"),
        volatile: false,
    };
    let target = s.dir.path().join("c/merged");
    let _m = mount(&rootfs, &target);
    assert_eq!(std::fs::read_dir(&target).unwrap().count(), 0);
    std::fs::write(target.join("x"), b"x").unwrap();
}

#[test]
fn concurrent_ensure_makes_one_snapshot_and_no_leftovers() {
    let s = Scratch::new();
    let layer = layer_support_busybox_like();
    let diff = Digest::of(&layer);
    let dirs: Vec<PathBuf> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    let snaps = Snapshots::open(s.dir.path()).unwrap();
                    snaps.ensure_from_reader(&diff, &diff, &layer[..]).unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(dirs.iter().all(|d| d == &dirs[0]));
    assert_eq!(snapshot_names(&s), vec![diff.hex().to_string()]);
    assert_eq!(std::fs::read_dir(&dirs[0]).unwrap().count(), 50);
}

fn layer_support_busybox_like() -> Vec<u8> {
    let mut t = TarWriter::new();
    for i in 0..50 {
        t.file(&format!("f{i}"), &vec![i as u8; 10_000]);
    }
    t.finish()
}

#[test]
fn a_hostile_or_mismatched_layer_leaves_nothing_behind() {
    let s = Scratch::new();
    let snaps = Snapshots::open(s.dir.path()).unwrap();
    let mut t = TarWriter::new();
    t.file("ok", b"fine").file("../escape", b"x");
    let bad = t.finish();
    let d = Digest::of(&bad);
    let err = snaps.ensure_from_reader(&d, &d, &bad[..]).unwrap_err();
    assert!(tug::report(&err).contains("\"../escape\" refused"), "{err}");
    assert!(snapshot_names(&s).is_empty(), "{:?}", snapshot_names(&s));

    let good = base_layer();
    let wrong = Digest::of(b"something else");
    let err = snaps
        .ensure_from_reader(&wrong, &wrong, &good[..])
        .unwrap_err();
    assert!(err.to_string().contains("diff id"), "{err}");
    assert!(snapshot_names(&s).is_empty());

    let gz = gzip(&good);
    let d = Digest::of(&good);
    let err = snaps
        .ensure_from_reader(&d, &d, &gz[..gz.len() / 2])
        .unwrap_err();
    assert!(matches!(err, tug::snapshot::Error::Layer { .. }), "{err}");
    assert!(snapshot_names(&s).is_empty());
    // The gzip'd layer, whole, unpacks under the diff id of its tar.
    snaps.ensure_from_reader(&d, &d, &gz[..]).unwrap();
    assert_eq!(snapshot_names(&s), vec![d.hex().to_string()]);
}

#[test]
fn retain_removes_unused_snapshots_and_stale_temporaries() {
    let s = Scratch::new();
    let snaps = Snapshots::open(s.dir.path()).unwrap();
    let lowers = unpack_chain(&snaps, &[base_layer(), top_layer()]);
    let fresh = s.dir.path().join("snapshots/.tmp-fresh");
    let stale = s.dir.path().join("snapshots/.tmp-stale");
    std::fs::create_dir_all(fresh.join("x")).unwrap();
    std::fs::create_dir_all(stale.join("x")).unwrap();
    let old = nix::sys::time::TimeSpec::new(1_000_000, 0);
    nix::sys::stat::utimensat(
        nix::fcntl::AT_FDCWD,
        &stale,
        &old,
        &old,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )
    .unwrap();
    let keep_id = Digest::from_hex(lowers[0].file_name().unwrap().to_str().unwrap()).unwrap();
    snaps.retain(&HashSet::from([keep_id.clone()])).unwrap();
    let mut expect = vec![".tmp-fresh".to_string(), keep_id.hex().to_string()];
    expect.sort();
    assert_eq!(snapshot_names(&s), expect);
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Writes `data` as a blob of the OCI layout under `<root>/images`, returning its layer info.
fn put_blob(root: &Path, data: &[u8], diff_id: Digest) -> tug::image::LayerInfo {
    let digest = Digest::of(data);
    let dir = root.join("images/blobs/sha256");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(digest.hex()), data).unwrap();
    tug::image::LayerInfo {
        digest,
        diff_id,
        size: data.len() as u64,
        media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
    }
}

#[test]
fn ensure_layers_unpacks_store_blobs_and_refuses_corrupt_ones() {
    let s = Scratch::new();
    let store = tug::image::Store::open(s.dir.path()).unwrap();
    let snaps = Snapshots::open(s.dir.path()).unwrap();
    let (base, top) = (base_layer(), top_layer());
    let layers = vec![
        put_blob(s.dir.path(), &gzip(&base), Digest::of(&base)),
        put_blob(s.dir.path(), &top, Digest::of(&top)),
    ];
    let dirs = store.unpack(&snaps, &layers).unwrap();
    let chains = chain_ids(&[Digest::of(&base), Digest::of(&top)]);
    assert_eq!(dirs, vec![snaps.path(&chains[0]), snaps.path(&chains[1])]);
    assert!(dirs[1].join("etc/motd").exists());

    // A blob whose bytes no longer match its digest fails, and leaves nothing.
    let mut t = TarWriter::new();
    t.file("x", b"x");
    let tar = t.finish();
    let bad = put_blob(s.dir.path(), &tar, Digest::of(&tar));
    let path = s
        .dir
        .path()
        .join("images/blobs/sha256")
        .join(bad.digest.hex());
    let mut corrupt = tar.clone();
    corrupt[600] ^= 1;
    std::fs::write(path, corrupt).unwrap();
    let before = snapshot_names(&s);
    assert!(store.unpack(&snaps, &[bad]).is_err());
    assert_eq!(snapshot_names(&s), before);
}
