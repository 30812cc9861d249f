//! Layers and snapshots end to end, on a private state root: the busybox rootfs (hardlinks,
//! `./` prefixes) unpacks once into the store, mounts as an overlay that runs, and copies
//! (vfs) to the same tree; hostile layers fail with a clear error and leave the store and
//! everything outside it as they were. Runs as root.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use tug::Digest;
use tug::snapshot::{Rootfs, Snapshots, chain_ids};
use tug_e2e::{TestRoot, repo_dir};

/// The busybox rootfs tar of `images/busybox/build.sh` (made once, cached in `.cache/`).
fn busybox_tar() -> PathBuf {
    let cache = repo_dir().join(".cache");
    let find = || {
        std::fs::read_dir(&cache).ok().and_then(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path())).find(|p| {
                let n = p.file_name().unwrap().to_string_lossy();
                n.starts_with("busybox-rootfs-") && n.ends_with(".tar")
            })
        })
    };
    if let Some(p) = find() {
        return p;
    }
    // Only the tar is wanted: a `tug` that does nothing skips the import.
    let out = Command::new("bash")
        .arg(repo_dir().join("images/busybox/build.sh"))
        .env("TUG", "/bin/true")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    find().expect("build.sh made the busybox rootfs tar")
}

/// Unmounts (lazily) on drop, so a failing test leaves no mount behind.
struct MountGuard(PathBuf);

impl Drop for MountGuard {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A listing of a tree (kind, mode, owner, size, link target, mtime), to compare two trees.
fn tree(root: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let link = std::fs::read_link(&p)
                .map(|l| l.display().to_string())
                .unwrap_or_default();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            out.insert(
                rel,
                format!(
                    "{:o} {}:{} {} {} {}",
                    m.mode(),
                    m.uid(),
                    m.gid(),
                    m.size(),
                    link,
                    m.mtime()
                ),
            );
            if m.is_dir() {
                walk(root, &p, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

#[test]
fn busybox_layer_unpacks_once_mounts_and_runs() {
    let t = TestRoot::new();
    let tar = std::fs::read(busybox_tar()).unwrap();
    let diff = Digest::of(&tar);
    let chain = &chain_ids(std::slice::from_ref(&diff))[0];
    let snaps = Snapshots::open(&t.root()).unwrap();
    let layer = snaps
        .ensure_from_reader(chain, &diff, &gzip(&tar)[..])
        .unwrap();
    assert_eq!(layer, t.root().join("snapshots").join(diff.hex()));
    // A second ensure finds it and does not read the stream.
    let again = snaps
        .ensure_from_reader(chain, &diff, std::io::empty())
        .unwrap();
    assert_eq!(again, layer);
    let sh = std::fs::metadata(layer.join("bin/sh")).unwrap();
    assert_eq!(
        sh.ino(),
        std::fs::metadata(layer.join("bin/busybox")).unwrap().ino()
    );

    let c = t.root().join("containers/c1");
    let rootfs = Rootfs {
        lowers: vec![layer],
        upper: c.join("upper"),
        work: c.join("work"),
    };
    let merged = c.join("merged");
    std::fs::create_dir_all(&merged).unwrap();
    rootfs.mount_overlay(&merged).unwrap();
    let _guard = MountGuard(merged.clone());
    let out = Command::new("chroot")
        .arg(&merged)
        .args([
            "/bin/sh",
            "-c",
            "echo hi > /tmp/x && cat /tmp/x && ls /bin | wc -l",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("hi\n"), "{text}");
    assert!(
        c.join("upper/tmp/x").exists(),
        "the write went to the upper dir"
    );

    // The vfs copy shows the same tree as the overlay (before the container's write).
    std::fs::remove_file(merged.join("tmp/x")).unwrap();
    let copy = c.join("copy");
    let vfs = Rootfs {
        lowers: rootfs.lowers.clone(),
        upper: c.join("upper2"),
        work: c.join("work2"),
    };
    vfs.copy_into(&copy).unwrap();
    let (mut a, b) = (tree(&merged), tree(&copy));
    // /tmp's mtime changed with the container's write; all else is the image's.
    a.remove("tmp");
    let mut b = b;
    b.remove("tmp");
    assert_eq!(a, b);
}

/// A tar entry: path, kind, link name.
type RawEntry<'a> = (&'a str, tar::EntryType, &'a str);

/// A tar with raw entries (path, kind, link) that the tar crate's own checks would refuse.
fn raw_tar(entries: &[RawEntry<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, kind, link) in entries {
        let mut h = tar::Header::new_gnu();
        h.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
        h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        h.set_entry_type(*kind);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_600_000_000);
        h.set_size(if *kind == tar::EntryType::Regular {
            5
        } else {
            0
        });
        h.set_cksum();
        let data: &[u8] = if *kind == tar::EntryType::Regular {
            b"pwned"
        } else {
            b""
        };
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap()
}

#[test]
fn hostile_layers_fail_and_leave_the_store_as_it_was() {
    use tar::EntryType::{Directory, Link, Regular, Symlink};
    let t = TestRoot::new();
    // Things outside the state root that a hostile layer would reach.
    let outside = t.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("secret"), b"secret").unwrap();
    let out = outside.to_str().unwrap();
    let secret = format!("{out}/secret");
    let through_root = format!("evil{out}/pwned");
    let cases: Vec<(&str, Vec<RawEntry>, &str)> = vec![
        (
            "dot-dot",
            vec![("../../outside/pwned", Regular, "")],
            "`..`",
        ),
        (
            "symlink to / then a file through it",
            vec![("evil", Symlink, "/"), (&through_root, Regular, "")],
            "leads outside",
        ),
        (
            "symlinked parent dir",
            vec![("d", Symlink, out), ("d/pwned", Regular, "")],
            "leads outside",
        ),
        (
            "relative symlinked parent",
            vec![
                ("a", Directory, ""),
                ("a/up", Symlink, "../../../outside"),
                ("a/up/pwned", Regular, ""),
            ],
            "leads outside",
        ),
        (
            "hardlink to outside",
            vec![("h", Link, "../../outside/secret")],
            "`..`",
        ),
        (
            "absolute hardlink",
            vec![("h", Link, &secret)],
            "not in the layer",
        ),
        (
            "hardlink through a symlink",
            vec![("s", Symlink, out), ("h", Link, "s/secret")],
            "through a symlink",
        ),
        (
            "whiteout of ..",
            vec![("a", Directory, ""), ("a/.wh...", Regular, "")],
            "whiteout",
        ),
    ];
    let snaps = Snapshots::open(&t.root()).unwrap();
    std::fs::create_dir_all(t.root().join("snapshots")).unwrap();
    let mut before = tree(t.path());
    before.remove("root/snapshots"); // its mtime changes with the temporary dirs
    for (what, entries, expect) in cases {
        let tar = raw_tar(&entries);
        let diff = Digest::of(&tar);
        let err = snaps
            .ensure_from_reader(&diff, &diff, &tar[..])
            .expect_err(what)
            .to_string();
        assert!(
            err.contains(expect),
            "{what}: {err:?} should say {expect:?}"
        );
        assert!(
            err.contains(&diff.to_string()),
            "{what}: {err:?} should name the layer"
        );
        let mut now = tree(t.path());
        now.remove("root/snapshots");
        assert_eq!(now, before, "{what}: something changed");
        assert_eq!(std::fs::read(outside.join("secret")).unwrap(), b"secret");
    }
    let left: Vec<_> = std::fs::read_dir(t.root().join("snapshots"))
        .unwrap()
        .collect();
    assert!(left.is_empty(), "leftovers: {left:?}");
}
