//! Hostile and malformed layers: each fails with a clear error naming the entry, and
//! nothing outside the root is written. Runs as root on /var/tmp.

mod layer_support;

use layer_support::{Scratch, Spec, TarWriter};
use tar::EntryType;
use tug::layer;

/// Applies `tar` in a fresh scratch dir, asserts it is refused with a message containing
/// `expect`, and that nothing outside the root changed.
fn assert_refused(tar: &[u8], expect: &str) -> Scratch {
    let s = Scratch::new();
    let before = s.outside_view();
    let err = layer::apply(tar, &s.root()).expect_err("a hostile layer must fail");
    let msg = tug::report(&err);
    assert!(
        msg.contains(expect),
        "error {msg:?} should contain {expect:?}"
    );
    assert_eq!(
        s.outside_view(),
        before,
        "something outside the root changed"
    );
    s
}

#[test]
fn dot_dot_entry_is_refused() {
    let mut t = TarWriter::new();
    t.dir("a").file("a/../../outside/pwned", b"x");
    let tar = t.finish();
    let s = assert_refused(&tar, "\"a/../../outside/pwned\" refused");
    assert!(!s.outside().join("pwned").exists());
    let mut t = TarWriter::new();
    t.file("../pwned", b"x");
    assert_refused(&t.finish(), "`..`");
}

#[test]
fn absolute_entry_lands_inside_the_root() {
    let s = Scratch::new();
    let before = s.outside_view();
    let target = s.outside().join("pwned");
    let mut t = TarWriter::new();
    t.file(target.to_str().unwrap(), b"x");
    layer::apply(&t.finish()[..], &s.root()).unwrap();
    assert_eq!(s.outside_view(), before);
    let inside = s.root().join(target.strip_prefix("/").unwrap());
    assert_eq!(std::fs::read(inside).unwrap(), b"x");
}

#[test]
fn file_through_symlink_to_slash_is_refused() {
    let s = Scratch::new();
    let through = format!("evil{}/pwned", s.outside().display());
    let mut t = TarWriter::new();
    t.symlink("evil", "/").file(&through, b"x");
    let before = s.outside_view();
    let err = layer::apply(&t.finish()[..], &s.root()).unwrap_err();
    assert!(
        tug::report(&err).contains("symlink that leads outside"),
        "{err}"
    );
    assert_eq!(s.outside_view(), before);
}

#[test]
fn symlinked_parent_dir_is_refused() {
    // An absolute symlink to a host dir, and a relative one climbing out.
    let s = Scratch::new();
    let mut t = TarWriter::new();
    t.symlink("d", s.outside().to_str().unwrap())
        .file("d/pwned", b"x");
    let before = s.outside_view();
    let err = layer::apply(&t.finish()[..], &s.root()).unwrap_err();
    assert!(tug::report(&err).contains("\"d/pwned\" refused"), "{err}");
    assert_eq!(s.outside_view(), before);

    let mut t = TarWriter::new();
    t.dir("a")
        .symlink("a/up", "../../outside")
        .file("a/up/pwned", b"x");
    assert_refused(&t.finish(), "symlink that leads outside");
}

#[test]
fn hardlink_to_outside_is_refused() {
    let mut t = TarWriter::new();
    t.hardlink("h", "../outside/secret");
    assert_refused(&t.finish(), "hardlink target");

    // An absolute target is taken inside the root, where there is no such file.
    let s = Scratch::new();
    let mut t = TarWriter::new();
    t.hardlink("h", s.outside().join("secret").to_str().unwrap());
    let err = layer::apply(&t.finish()[..], &s.root()).unwrap_err();
    assert!(tug::report(&err).contains("not in the layer"), "{err}");

    // Through a symlink (relative, inside the root, pointing out).
    let s = Scratch::new();
    let mut t = TarWriter::new();
    t.symlink("s", s.outside().to_str().unwrap())
        .hardlink("h", "s/secret");
    let before = s.outside_view();
    let err = layer::apply(&t.finish()[..], &s.root()).unwrap_err();
    assert!(tug::report(&err).contains("through a symlink"), "{err}");
    assert_eq!(s.outside_view(), before);
    assert!(!s.root().join("h").exists());
}

#[test]
fn whiteout_of_dot_dot_is_refused() {
    let mut t = TarWriter::new();
    t.dir("a").file("a/.wh...", b"");
    let s = assert_refused(&t.finish(), "\"a/.wh...\" refused");
    assert!(s.root().join("a").is_dir());
    let mut t = TarWriter::new();
    t.file(".wh..", b"");
    assert_refused(&t.finish(), "whiteout");
}

#[test]
fn non_dir_root_entry_is_refused() {
    let mut t = TarWriter::new();
    t.symlink("./", "/");
    assert_refused(&t.finish(), "root must be a directory");
}

#[test]
fn truncated_tar_fails_cleanly() {
    let mut t = TarWriter::new();
    t.file("big", &vec![7u8; 100_000]);
    let tar = t.finish();
    let err = layer::apply(&tar[..50_000], &Scratch::new().root()).unwrap_err();
    assert!(tug::report(&err).contains("ends inside the entry"), "{err}");
    // Cut inside a header.
    let err = layer::apply(&tar[..300], &Scratch::new().root()).unwrap_err();
    assert!(matches!(err, layer::Error::Read { .. }), "{err}");
}

#[test]
fn truncated_gzip_fails_cleanly() {
    let mut t = TarWriter::new();
    t.file("a", &vec![1u8; 200_000]).file("b", b"hello");
    let gz = gzip(&t.finish());
    let s = Scratch::new();
    let err = layer::apply(&gz[..gz.len() - 10], &s.root()).unwrap_err();
    assert!(matches!(err, layer::Error::Read { .. }), "{err}");
    // A corrupt body fails too.
    let mut bad = gz.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0xff;
    assert!(layer::apply(&bad[..], &Scratch::new().root()).is_err());
}

#[test]
fn bad_header_checksum_fails_cleanly() {
    let mut t = TarWriter::new();
    t.file("a", b"hello");
    let mut tar = t.finish();
    tar[0] = b'b'; // the name changes, the checksum no longer matches
    let err = layer::apply(&tar[..], &Scratch::new().root()).unwrap_err();
    assert!(tug::report(&err).contains("checksum"), "{err}");
}

#[test]
fn zstd_layer_is_refused_clearly() {
    let err = layer::apply(
        &[0x28u8, 0xb5, 0x2f, 0xfd, 0, 0][..],
        &Scratch::new().root(),
    )
    .unwrap_err();
    assert!(tug::report(&err).contains("zstd"), "{err}");
}

#[test]
fn overlay_xattrs_in_the_tar_are_dropped() {
    let s = Scratch::new();
    let mut t = TarWriter::new();
    t.pax(&[("SCHILY.xattr.trusted.overlay.redirect", b"/etc")]);
    t.raw(Spec::new(EntryType::Directory, "d"));
    layer::apply(&t.finish()[..], &s.root()).unwrap();
    assert!(layer_support::xattrs(&s.root().join("d")).is_empty());
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn threaded_apply_fails_the_same_way() {
    let mut t = TarWriter::new();
    t.file("a", &vec![1u8; 200_000]).file("../b", b"x");
    let tar = t.finish();
    let err = layer::apply_threaded(&tar[..], &Scratch::new().root()).unwrap_err();
    assert!(tug::report(&err).contains("\"../b\" refused"), "{err}");
    let gz = gzip(&tar[..150_000]);
    let err = layer::apply_threaded(&gz[..gz.len() - 10], &Scratch::new().root()).unwrap_err();
    assert!(matches!(err, layer::Error::Read { .. }), "{err}");
    let err =
        layer::apply_threaded(&[0x28u8, 0xb5, 0x2f, 0xfd][..], &Scratch::new().root()).unwrap_err();
    assert!(tug::report(&err).contains("zstd"), "{err}");
}
