//! Good layers round-trip: every entry kind with its owner, mode, xattrs and mtime; OCI
//! whiteouts become overlay whiteouts; the diff id is the digest of the whole tar.

mod layer_support;

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use layer_support::{MTIME, Scratch, Spec, TarWriter, xattrs};
use tar::EntryType;
use tug::{Digest, layer};

fn meta(p: &Path) -> std::fs::Metadata {
    std::fs::symlink_metadata(p).unwrap()
}

#[test]
fn every_entry_kind_round_trips() {
    let s = Scratch::new();
    let long_dir = "d/".to_string() + &"x".repeat(120);
    let long_file = format!("{long_dir}/{}", "y".repeat(150));
    let mut t = TarWriter::new();
    let mut root = Spec::new(EntryType::Directory, "./");
    root.mode = 0o751;
    root.mtime = MTIME + 9;
    t.raw(root);
    let mut d = Spec::new(EntryType::Directory, "d");
    d.mode = 0o1777;
    d.uid = 7;
    d.gid = 8;
    d.mtime = MTIME + 1;
    t.pax(&[("SCHILY.xattr.user.dir", b"dv")]).raw(d);
    let mut f = Spec::new(EntryType::Regular, "d/suid");
    f.data = b"#!/bin/sh\n";
    f.mode = 0o4755;
    f.uid = 1000;
    f.gid = 1001;
    f.mtime = MTIME + 2;
    t.pax(&[
        ("SCHILY.xattr.user.a", b"1"),
        (
            "SCHILY.xattr.security.capability",
            b"\x01\x00\x00\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
        ),
        ("mtime", b"1600000002.25"),
    ])
    .raw(f);
    let mut g = Spec::new(EntryType::Regular, "d/sgid");
    g.mode = 0o2710;
    t.raw(g);
    t.symlink("d/link", "/etc/passwd");
    t.hardlink("d/hard", "d/suid");
    let mut c = Spec::new(EntryType::Char, "d/null");
    c.dev = (1, 3);
    c.mode = 0o666;
    t.raw(c);
    let mut b = Spec::new(EntryType::Block, "d/loop");
    b.dev = (7, 200);
    b.mode = 0o660;
    b.gid = 6;
    t.raw(b);
    t.raw(Spec::new(EntryType::Fifo, "d/fifo"));
    t.long(Spec::new(EntryType::Directory, &long_dir));
    let mut lf = Spec::new(EntryType::Regular, &long_file);
    lf.data = b"gnu long name";
    t.long(lf);
    // PAX path and linkpath.
    let pax_name = format!("p/{}", "z".repeat(200));
    t.pax(&[
        ("path", pax_name.as_bytes()),
        ("linkpath", b"target/of/pax"),
    ]);
    t.raw(Spec::new(EntryType::Symlink, "placeholder"));
    let tar = t.finish();

    let stats = layer::apply(&tar[..], &s.root()).unwrap();
    assert_eq!(stats.diff_id, Some(Digest::of(&tar)));
    assert_eq!(stats.tar_size, tar.len() as u64);
    let r = s.root();

    let m = meta(&r);
    assert_eq!((m.mode() & 0o7777, m.mtime()), (0o751, MTIME as i64 + 9));
    let m = meta(&r.join("d"));
    assert_eq!(m.mode() & 0o7777, 0o1777);
    assert_eq!((m.uid(), m.gid(), m.mtime()), (7, 8, MTIME as i64 + 1));
    assert_eq!(xattrs(&r.join("d")), vec![("user.dir".into(), "dv".into())]);

    let m = meta(&r.join("d/suid"));
    assert_eq!(m.mode() & 0o7777, 0o4755, "setuid kept after chown");
    assert_eq!((m.uid(), m.gid()), (1000, 1001));
    assert_eq!((m.mtime(), m.mtime_nsec()), (MTIME as i64 + 2, 250_000_000));
    assert_eq!(m.nlink(), 2);
    assert_eq!(std::fs::read(r.join("d/suid")).unwrap(), b"#!/bin/sh\n");
    let x = xattrs(&r.join("d/suid"));
    assert!(x.iter().any(|(k, _)| k == "security.capability"), "{x:?}");
    assert!(x.contains(&("user.a".into(), "1".into())), "{x:?}");
    assert_eq!(meta(&r.join("d/sgid")).mode() & 0o7777, 0o2710);
    assert_eq!(meta(&r.join("d/hard")).ino(), meta(&r.join("d/suid")).ino());

    assert_eq!(
        std::fs::read_link(r.join("d/link")).unwrap(),
        Path::new("/etc/passwd")
    );
    let m = meta(&r.join("d/null"));
    assert!(m.file_type().is_char_device());
    assert_eq!((m.rdev(), m.mode() & 0o7777), (libc::makedev(1, 3), 0o666));
    let m = meta(&r.join("d/loop"));
    assert!(m.file_type().is_block_device());
    assert_eq!((m.rdev(), m.gid()), (libc::makedev(7, 200), 6));
    assert!(meta(&r.join("d/fifo")).file_type().is_fifo());
    assert_eq!(std::fs::read(r.join(&long_file)).unwrap(), b"gnu long name");
    assert_eq!(
        std::fs::read_link(r.join(&pax_name)).unwrap(),
        Path::new("target/of/pax")
    );
}

#[test]
fn whiteouts_become_overlay_whiteouts() {
    let s = Scratch::new();
    let mut t = TarWriter::new();
    t.dir("etc")
        .file("etc/.wh.passwd", b"")
        .dir("var")
        .file("var/.wh..wh..opq", b"")
        .file("var/kept", b"k")
        .file("opt/.wh..wh..opq", b""); // an opaque dir the tar does not list
    layer::apply(&t.finish()[..], &s.root()).unwrap();
    let r = s.root();
    let m = meta(&r.join("etc/passwd"));
    assert!(m.file_type().is_char_device());
    assert_eq!(m.rdev(), 0);
    assert!(!r.join("etc/.wh.passwd").exists());
    assert_eq!(
        xattrs(&r.join("var")),
        vec![("trusted.overlay.opaque".into(), "y".into())]
    );
    assert!(!r.join("var/.wh..wh..opq").exists());
    assert_eq!(std::fs::read(r.join("var/kept")).unwrap(), b"k");
    assert_eq!(
        xattrs(&r.join("opt")),
        vec![("trusted.overlay.opaque".into(), "y".into())]
    );
}

#[test]
fn a_later_entry_of_another_kind_replaces_the_earlier() {
    let s = Scratch::new();
    let mut t = TarWriter::new();
    t.dir("a")
        .file("a/inner", b"1")
        .file("a", b"file now") // a file over a dir with content
        .file("b", b"x")
        .dir("b") // a dir over a file
        .file("b/c", b"c")
        .symlink("l", "/nowhere")
        .file("l", b"not a link") // the symlink is replaced, not followed
        .dir("keep")
        .file("keep/x", b"x")
        .dir("keep"); // a dir over a dir keeps its content
    layer::apply(&t.finish()[..], &s.root()).unwrap();
    let r = s.root();
    assert_eq!(std::fs::read(r.join("a")).unwrap(), b"file now");
    assert_eq!(std::fs::read(r.join("b/c")).unwrap(), b"c");
    assert_eq!(std::fs::read(r.join("l")).unwrap(), b"not a link");
    assert!(meta(&r.join("l")).is_file());
    assert_eq!(std::fs::read(r.join("keep/x")).unwrap(), b"x");
}

#[test]
fn dir_mtimes_survive_their_content_and_missing_parents_are_made() {
    let s = Scratch::new();
    let mut t = TarWriter::new();
    let mut d = Spec::new(EntryType::Directory, "d");
    d.mtime = 1000;
    t.raw(d).file("d/f", b"f").file("x/y/z", b"deep");
    layer::apply(&t.finish()[..], &s.root()).unwrap();
    assert_eq!(meta(&s.root().join("d")).mtime(), 1000);
    assert_eq!(std::fs::read(s.root().join("x/y/z")).unwrap(), b"deep");
    assert_eq!(meta(&s.root().join("x/y")).mode() & 0o7777, 0o755);
}

#[test]
fn diff_id_covers_gzip_input_and_record_padding() {
    let mut t = TarWriter::new();
    t.file("a", b"hello");
    let mut tar = t.finish();
    tar.resize(10240, 0); // a full tar record, as GNU tar writes it
    let gz = layer_hostile_gzip(&tar);
    let s = Scratch::new();
    let stats = layer::apply(&gz[..], &s.root()).unwrap();
    assert_eq!(stats.diff_id, Some(Digest::of(&tar)));
    assert_eq!(stats.tar_size, 10240);
    assert_eq!(stats.entries, 1);
}

#[test]
fn busybox_rootfs_applies_with_its_hardlinks() {
    // The rootfs tar of the busybox image, made by the library from the host's busybox.
    let tar = tug::image::BusyboxSource::host()
        .and_then(|b| b.rootfs_tar())
        .unwrap();
    let s = Scratch::new();
    let start = std::time::Instant::now();
    let stats = layer::apply(tar.as_slice(), &s.root()).unwrap();
    eprintln!(
        "busybox: {} entries in {:?}",
        stats.entries,
        start.elapsed()
    );
    let r = s.root();
    assert_eq!(
        meta(&r.join("bin/sh")).ino(),
        meta(&r.join("bin/busybox")).ino()
    );
    assert_eq!(meta(&r.join("tmp")).mode() & 0o7777, 0o1777);
    assert_eq!(meta(&r.join("root")).mode() & 0o7777, 0o700);
    assert_eq!(
        stats.diff_id.unwrap().to_string(),
        Digest::of(&tar).to_string()
    );
    // Applied again over itself (every entry replaces its twin), the tree is the same.
    let once = layer_support::tree(&r);
    layer::apply(tar.as_slice(), &s.root()).unwrap();
    assert_eq!(layer_support::tree(&r), once);
    assert_eq!(
        meta(&r.join("bin/ls")).ino(),
        meta(&r.join("bin/busybox")).ino()
    );
}

fn layer_hostile_gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Times applying a big tar: `TUG_BENCH_TAR=/path/to.tar cargo test --release -p tug
/// --test layer_apply apply_speed -- --ignored --nocapture`.
#[test]
#[ignore = "a benchmark: needs TUG_BENCH_TAR"]
fn apply_speed() {
    let Some(tar) = std::env::var_os("TUG_BENCH_TAR") else {
        return;
    };
    let size = std::fs::metadata(&tar).unwrap().len();
    for threaded in [false, true, false, true] {
        let s = Scratch::new();
        let file = std::fs::File::open(&tar).unwrap();
        let start = std::time::Instant::now();
        let stats = if threaded {
            layer::apply_threaded(file, &s.root()).unwrap()
        } else {
            layer::apply(file, &s.root()).unwrap()
        };
        let took = start.elapsed();
        let sync_start = std::time::Instant::now();
        let dir = std::fs::File::open(s.root()).unwrap();
        rustix::fs::syncfs(&dir).unwrap();
        eprintln!(
            "threaded={threaded}: {} entries, {} MB in {took:?} ({:.0} MB/s), then syncfs {:?}",
            stats.entries,
            size >> 20,
            size as f64 / 1e6 / took.as_secs_f64(),
            sync_start.elapsed()
        );
    }
}

#[test]
fn a_whiteout_under_a_non_dir_of_the_layer_is_a_no_op() {
    // umoci writes a dir replaced by a file as the file, then whiteouts of the old content.
    let s = Scratch::new();
    let mut t = TarWriter::new();
    t.dir("dir")
        .file("dir/sub", b"now a file")
        .file("dir/sub/.wh.y", b"");
    layer::apply(&t.finish()[..], &s.root()).unwrap();
    assert_eq!(
        std::fs::read(s.root().join("dir/sub")).unwrap(),
        b"now a file"
    );
}

#[test]
fn threaded_apply_gives_the_same_tree_and_diff_id() {
    let mut t = TarWriter::new();
    t.dir("d0").dir("d1").dir("d2").dir("d3");
    for i in 0..40 {
        t.file(&format!("d{}/f{i}", i % 4), &vec![i as u8; 70_000]);
    }
    t.symlink("l", "d0/f0").hardlink("h", "d1/f1");
    let mut tar = t.finish();
    tar.resize(tar.len() + 8192, 0);
    let gz = layer_hostile_gzip(&tar);
    let (a, b) = (Scratch::new(), Scratch::new());
    let sa = layer::apply(&gz[..], &a.root()).unwrap();
    let sb = layer::apply_threaded(&gz[..], &b.root()).unwrap();
    assert_eq!(sa.diff_id, Some(Digest::of(&tar)));
    assert_eq!(
        (sa.diff_id, sa.tar_size, sa.entries),
        (sb.diff_id, sb.tar_size, sb.entries)
    );
    assert_eq!(
        layer_support::tree(&a.root()),
        layer_support::tree(&b.root())
    );
}

/// GNU tar's PAX layers with newlines in xattr values (a file capability can hold one)
/// and in long paths and link targets (PAX `path`/`linkpath` records) apply whole,
/// though tar 0.4.46 splits PAX records on newlines (composefs/tar-rs#452).
#[test]
fn gnu_tar_pax_records_with_newlines_apply() {
    use std::os::unix::ffi::OsStrExt;
    let s = Scratch::new();
    let src = s.dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let long = format!("a\nb{}", "x".repeat(150));
    let long = std::ffi::OsStr::from_bytes(long.as_bytes());
    std::fs::write(src.join(long), b"long").unwrap();
    std::fs::write(src.join("f"), b"f").unwrap();
    for (k, v) in [("user.cap", &b"\x01\n\x02\n"[..]), ("user.plain", b"v")] {
        rustix::fs::lsetxattr(src.join("f"), k, v, rustix::fs::XattrFlags::empty()).unwrap();
    }
    std::os::unix::fs::symlink(long, src.join("link")).unwrap();
    let tar = s.dir.path().join("layer.tar");
    let status = std::process::Command::new("tar")
        .args(["--xattrs", "--xattrs-include=*", "--format=pax", "-C"])
        .arg(&src)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success());
    layer::apply(std::fs::File::open(&tar).unwrap(), &s.root()).unwrap();
    let root = s.root();
    assert_eq!(std::fs::read(root.join(long)).unwrap(), b"long");
    assert_eq!(
        std::fs::read_link(root.join("link")).unwrap().as_os_str(),
        long
    );
    let mut want = vec![0u8; 64];
    let n = rustix::fs::lgetxattr(root.join("f"), "user.cap", &mut want).unwrap();
    assert_eq!(&want[..n], b"\x01\n\x02\n");
    assert_eq!(
        xattrs(&root.join("f")),
        [
            ("user.cap".to_string(), "\u{1}\n\u{2}\n".to_string()),
            ("user.plain".to_string(), "v".to_string())
        ]
    );
}
