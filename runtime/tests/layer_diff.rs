//! Layers made from a container's overlay upper dir (what `commit` writes), the whole-tree
//! tar (what `export` writes), and `docker diff`'s change list. Real overlay mounts under
//! /var/tmp, changed through the merged dir as a container would; every mount is undone
//! by a guard, also when a test fails.

mod layer_diff_support;
mod layer_support;

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use layer_diff_support::{base_layer, change_through, mount, top_layer, unpack_chain};
use layer_support::{Scratch, tree};
use tug::Digest;
use tug::snapshot::{Rootfs, Snapshots, chain_ids};

/// A container over the two layers, changed by [`change_through`] and unmounted again.
struct Fixture {
    s: Scratch,
    snaps: Snapshots,
    rootfs: Rootfs,
    /// The merged view the container had, as [`tree`] lists it.
    view: BTreeMap<String, String>,
}

fn fixture() -> Fixture {
    let s = Scratch::new();
    let snaps = Snapshots::open(s.dir.path()).unwrap();
    let lowers = unpack_chain(&snaps, &[base_layer(), top_layer()]);
    let c = s.dir.path().join("c");
    let rootfs = Rootfs {
        lowers,
        upper: c.join("upper"),
        work: c.join("work"),
        volatile: false,
    };
    let merged = c.join("merged");
    let view = {
        let _m = mount(&rootfs, &merged);
        change_through(&merged);
        tree(&merged)
    };
    Fixture {
        s,
        snaps,
        rootfs,
        view,
    }
}

fn diff_tar(f: &Fixture) -> (Vec<u8>, tug::layer::DiffStats) {
    let mut tar = Vec::new();
    let stats = tug::layer::write_diff(&f.rootfs.upper, &f.rootfs.lowers, &mut tar).unwrap();
    (tar, stats)
}

fn ino(p: &Path) -> u64 {
    std::fs::symlink_metadata(p).unwrap().ino()
}

#[test]
fn committed_layer_over_the_image_shows_the_containers_view() {
    let f = fixture();
    let (tar, stats) = diff_tar(&f);
    assert_eq!(stats.diff_id, Digest::of(&tar));
    assert_eq!(stats.tar_size, tar.len() as u64);

    // As `commit` does: the new layer unpacked as a snapshot over the image's chain.
    let mut diffs: Vec<Digest> = [base_layer(), top_layer()]
        .iter()
        .map(|l| Digest::of(l))
        .collect();
    diffs.push(stats.diff_id.clone());
    let chain = chain_ids(&diffs).pop().unwrap();
    let new_layer = f
        .snaps
        .ensure_from_reader(&chain, &stats.diff_id, &tar[..])
        .unwrap();
    let mut lowers = f.rootfs.lowers.clone();
    lowers.push(new_layer);
    let c2 = f.s.dir.path().join("c2");
    let rootfs = Rootfs {
        lowers,
        upper: c2.join("upper"),
        work: c2.join("work"),
        volatile: false,
    };

    // The overlay driver: a new container of the committed image.
    let merged = c2.join("merged");
    {
        let _m = mount(&rootfs, &merged);
        assert_eq!(tree(&merged), f.view);
        assert!(
            !merged.join("etc/passwd").exists(),
            "a deleted file stays deleted"
        );
        assert!(
            !merged.join("redo/old1").exists(),
            "an opaque dir stays opaque"
        );
        assert!(!merged.join("opt/app").exists());
        assert_eq!(ino(&merged.join("new/a")), ino(&merged.join("new/b")));
    }

    // The vfs driver: the layers copied one over the other.
    let copy = c2.join("copy");
    rootfs.copy_into(&copy).unwrap();
    assert_eq!(tree(&copy), f.view);
    assert_eq!(ino(&copy.join("new/a")), ino(&copy.join("new/b")));
    assert_eq!(ino(&copy.join("etc/hosts")), ino(&copy.join("etc/hosts2")));
}

#[test]
fn layer_entries_are_relative_sorted_and_parents_come_first() {
    let f = fixture();
    let (tar, _) = diff_tar(&f);
    let mut archive = tar::Archive::new(&tar[..]);
    let mut names = Vec::new();
    let mut xattrs = BTreeMap::new();
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let name = String::from_utf8(e.path_bytes().into_owned()).unwrap();
        if let Some(exts) = e.pax_extensions().unwrap() {
            for ext in exts {
                let ext = ext.unwrap();
                xattrs.insert(
                    format!("{name} {}", ext.key().unwrap()),
                    ext.value_bytes().len(),
                );
            }
        }
        names.push((name, e.header().entry_type()));
    }
    for (i, (name, _)) in names.iter().enumerate() {
        assert!(!name.starts_with('/') && !name.starts_with("./"), "{name}");
        if let Some((parent, _)) = name.rsplit_once('/') {
            assert!(
                names[..i].iter().any(|(n, t)| n == parent && t.is_dir()),
                "{name} comes before its parent dir"
            );
        }
    }
    let list: Vec<String> = names
        .iter()
        .map(|(n, t)| format!("{} {n}", t.as_byte() as char))
        .collect();
    insta::assert_snapshot!(list.join("\n"));
    // Kept: user xattrs and file capabilities; dropped: the overlay's own.
    let keys: Vec<&String> = xattrs.keys().collect();
    insta::assert_debug_snapshot!(keys);
}

#[test]
fn diff_lists_changes_as_docker_does() {
    let f = fixture();
    let changes = tug::snapshot::changes(&f.rootfs.upper, &f.rootfs.lowers).unwrap();
    let lines: Vec<String> = changes.iter().map(|c| c.to_string()).collect();
    insta::assert_snapshot!(lines.join("\n"));
}

#[test]
fn the_same_upper_dir_gives_the_same_bytes() {
    let f = fixture();
    let (a, sa) = diff_tar(&f);
    let (b, sb) = diff_tar(&f);
    assert_eq!(sa, sb);
    assert!(a == b);

    let mut gz = Vec::new();
    let g = tug::layer::write_diff_gzip(&f.rootfs.upper, &f.rootfs.lowers, &mut gz).unwrap();
    assert_eq!(g.diff, sa, "the gzip variant hashes the same tar");
    assert_eq!(g.digest, Digest::of(&gz));
    assert_eq!(g.size, gz.len() as u64);
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut plain)
        .unwrap();
    assert!(plain == a);
    let mut gz2 = Vec::new();
    let g2 = tug::layer::write_diff_gzip(&f.rootfs.upper, &f.rootfs.lowers, &mut gz2).unwrap();
    assert_eq!(g, g2);
}

#[test]
fn exported_tree_unpacks_to_the_same_tree() {
    let f = fixture();
    let merged = f.s.dir.path().join("c/merged");
    let mut tar = Vec::new();
    let stats = {
        let _m = mount(&f.rootfs, &merged);
        tug::layer::write_tree(&merged, &mut tar).unwrap()
    };
    assert_eq!(stats.diff_id, Digest::of(&tar));
    let out = f.s.dir.path().join("unpacked");
    std::fs::create_dir(&out).unwrap();
    tug::layer::apply(&tar[..], &out).unwrap();
    assert_eq!(tree(&out), f.view);
    assert_eq!(ino(&out.join("new/a")), ino(&out.join("new/b")));
}

#[test]
fn a_renamed_dir_of_redirect_dir_is_refused_clearly() {
    let s = Scratch::new();
    let lower = s.dir.path().join("lower");
    std::fs::create_dir_all(lower.join("a")).unwrap();
    let upper = s.dir.path().join("upper");
    std::fs::create_dir_all(upper.join("b")).unwrap();
    rustix::fs::lsetxattr(
        upper.join("b"),
        "trusted.overlay.redirect",
        b"/a",
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    let err = tug::layer::write_diff(&upper, &[lower], std::io::sink()).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("upper/b") && msg.contains("redirect_dir"),
        "{msg}"
    );
}

#[test]
fn whiteouts_that_hide_nothing_are_left_out() {
    let s = Scratch::new();
    let lower = s.dir.path().join("lower");
    std::fs::create_dir_all(lower.join("d")).unwrap();
    std::fs::write(lower.join("d/x"), b"x").unwrap();
    let upper = s.dir.path().join("upper");
    std::fs::create_dir_all(upper.join("d")).unwrap();
    for p in ["d/x", "d/never"] {
        nix::sys::stat::mknod(
            &upper.join(p),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::empty(),
            0,
        )
        .unwrap();
    }
    let mut tar = Vec::new();
    tug::layer::write_diff(&upper, std::slice::from_ref(&lower), &mut tar).unwrap();
    let mut archive = tar::Archive::new(&tar[..]);
    let names: Vec<String> = archive
        .entries()
        .unwrap()
        .map(|e| String::from_utf8(e.unwrap().path_bytes().into_owned()).unwrap())
        .collect();
    assert_eq!(names, ["d", "d/.wh.x"]);
    let changes: Vec<String> = tug::snapshot::changes(&upper, &[lower])
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(changes, ["C /d", "D /d/x"]);
}

#[test]
fn xattr_whiteouts_become_oci_whiteouts_and_sockets_are_skipped() {
    let s = Scratch::new();
    let lower = s.dir.path().join("lower");
    std::fs::create_dir_all(&lower).unwrap();
    std::fs::write(lower.join("f"), b"f").unwrap();
    let upper = s.dir.path().join("upper");
    std::fs::create_dir_all(&upper).unwrap();
    std::fs::write(upper.join("f"), b"").unwrap();
    rustix::fs::lsetxattr(
        upper.join("f"),
        "trusted.overlay.whiteout",
        b"",
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    let _sock = std::os::unix::net::UnixListener::bind(upper.join("sock")).unwrap();
    let mut tar = Vec::new();
    tug::layer::write_diff(&upper, std::slice::from_ref(&lower), &mut tar).unwrap();
    let mut archive = tar::Archive::new(&tar[..]);
    let names: Vec<String> = archive
        .entries()
        .unwrap()
        .map(|e| String::from_utf8(e.unwrap().path_bytes().into_owned()).unwrap())
        .collect();
    assert_eq!(names, [".wh.f"]);
}

/// A PAX record may hold any byte, newlines included (a file capability can): tar
/// 0.4.46's reader splits records on newlines (composefs/tar-rs#452); `layer::apply`'s
/// PAX filter re-encodes such records so they are read whole.
#[test]
fn xattr_values_with_a_newline_round_trip() {
    let s = Scratch::new();
    let upper = s.dir.path().join("upper");
    std::fs::create_dir_all(&upper).unwrap();
    std::fs::write(upper.join("f"), b"f").unwrap();
    rustix::fs::lsetxattr(
        upper.join("f"),
        "user.v",
        b"a\nb",
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    let mut tar = Vec::new();
    tug::layer::write_diff(&upper, &[], &mut tar).unwrap();
    let out = s.dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    tug::layer::apply(&tar[..], &out).unwrap();
    assert_eq!(tree(&out), tree(&upper));
}

#[test]
fn long_and_non_utf8_names_round_trip() {
    use std::os::unix::ffi::OsStrExt;
    let s = Scratch::new();
    let upper = s.dir.path().join("upper");
    let long_dir = "d".repeat(120);
    let long_name = format!("{long_dir}/{}", "f".repeat(200));
    std::fs::create_dir_all(upper.join(&long_dir)).unwrap();
    std::fs::write(upper.join(&long_name), b"long").unwrap();
    std::os::unix::fs::symlink("t".repeat(300), upper.join("link")).unwrap();
    std::fs::hard_link(upper.join(&long_name), upper.join("short")).unwrap();
    let odd = upper.join(std::ffi::OsStr::from_bytes(b"caf\xe9"));
    std::fs::write(&odd, b"latin-1").unwrap();
    let mut tar = Vec::new();
    tug::layer::write_diff(&upper, &[], &mut tar).unwrap();
    let out = s.dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    tug::layer::apply(&tar[..], &out).unwrap();
    assert_eq!(tree(&out), tree(&upper));
    assert_eq!(ino(&out.join(&long_name)), ino(&out.join("short")));
}

#[test]
fn an_opaque_dir_of_a_layer_hides_the_layers_below_it() {
    let s = Scratch::new();
    let (l1, l2, upper) = (
        s.dir.path().join("l1"),
        s.dir.path().join("l2"),
        s.dir.path().join("upper"),
    );
    std::fs::create_dir_all(l1.join("a/b")).unwrap();
    std::fs::write(l1.join("a/b/c"), b"c").unwrap();
    std::fs::create_dir_all(l2.join("a/b")).unwrap();
    let opaque = |p: &Path| {
        rustix::fs::lsetxattr(
            p,
            "trusted.overlay.opaque",
            b"y",
            rustix::fs::XattrFlags::empty(),
        )
        .unwrap()
    };
    opaque(&l2.join("a"));
    std::fs::create_dir_all(upper.join("a/b")).unwrap();
    std::fs::write(upper.join("a/b/new"), b"n").unwrap();
    opaque(&upper.join("a/b"));
    // `a` is in the upper dir only as the parent of `a/b`: as it was below.
    let below = std::fs::metadata(l2.join("a")).unwrap().modified().unwrap();
    std::fs::File::open(upper.join("a"))
        .unwrap()
        .set_modified(below)
        .unwrap();
    let lines: Vec<String> = tug::snapshot::changes(&upper, &[l1, l2])
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(lines, ["C /a/b", "A /a/b/new"]);
}

/// A PAX key ends at its first '=': an xattr name holding one would be read back cut
/// short (`user.a` = `b=v`), so writing the layer refuses it, naming the file.
#[test]
fn an_xattr_name_with_an_equals_sign_is_refused() {
    let s = Scratch::new();
    let upper = s.dir.path().join("upper");
    std::fs::create_dir_all(&upper).unwrap();
    std::fs::write(upper.join("f"), b"f").unwrap();
    rustix::fs::lsetxattr(
        upper.join("f"),
        "user.a=b",
        b"v",
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    let err = tug::layer::write_diff(&upper, &[], &mut Vec::new()).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("f") && msg.contains("'='"), "{msg}");
}
