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
use tug_e2e::TestRoot;

/// The busybox rootfs tar of `images/busybox/build.sh`.
fn busybox_tar() -> PathBuf {
    tug_e2e::busybox_rootfs_tar()
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
        volatile: false,
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
        volatile: false,
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
        let err = tug::report(
            &snaps
                .ensure_from_reader(&diff, &diff, &tar[..])
                .expect_err(what),
        );
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

/// Runs a command, asserting that it succeeds.
fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A tree listing in which dirs show only their kind, mode and owner: a dir that a layer
/// creates implicitly (umoci lists no parent dir for a whiteout) gets the time of the
/// unpack, and dir sizes depend on the file system.
fn tree_loose_dirs(root: &Path) -> BTreeMap<String, String> {
    let mut t = tree(root);
    for (k, v) in t.iter_mut() {
        if std::fs::symlink_metadata(root.join(k)).unwrap().is_dir() {
            *v = v.split(' ').take(2).collect::<Vec<_>>().join(" ");
        }
    }
    t
}

#[test]
fn umoci_layers_with_whiteouts_mount_as_umoci_unpacks_them() {
    if Command::new("umoci").arg("--version").output().is_err() {
        eprintln!("skipped: umoci is not installed");
        return;
    }
    let t = TestRoot::new();
    let w = t.path().join("umoci");
    std::fs::create_dir(&w).unwrap();
    let layout = w.join("L");
    let image = format!("{}:t", layout.display());
    run(Command::new("umoci")
        .args(["init", "--layout"])
        .arg(&layout));
    run(Command::new("umoci").args(["new", "--image", &image]));
    // Layer 1: files, a symlink, a hardlink, a setuid file owned by someone else.
    let b1 = w.join("b1");
    run(Command::new("umoci")
        .args(["unpack", "--image", &image])
        .arg(&b1));
    let r = b1.join("rootfs");
    std::fs::create_dir_all(r.join("etc")).unwrap();
    std::fs::create_dir_all(r.join("dir/sub")).unwrap();
    std::fs::write(r.join("etc/a"), b"a").unwrap();
    std::fs::write(r.join("etc/b"), b"b").unwrap();
    std::fs::write(r.join("dir/x"), b"x").unwrap();
    std::fs::write(r.join("dir/sub/y"), b"y").unwrap();
    std::os::unix::fs::symlink("../etc/a", r.join("link")).unwrap();
    std::fs::hard_link(r.join("etc/b"), r.join("etc/hard")).unwrap();
    run(Command::new("install")
        .args(["-m", "4755", "-o", "1000", "-g", "1000", "/dev/null"])
        .arg(r.join("suid")));
    run(Command::new("umoci")
        .args(["repack", "--image", &image])
        .arg(&b1));
    // Layer 2: deletions (whiteouts), a dir replaced by a file, a new file.
    let b2 = w.join("b2");
    run(Command::new("umoci")
        .args(["unpack", "--image", &image])
        .arg(&b2));
    let r = b2.join("rootfs");
    std::fs::remove_file(r.join("etc/a")).unwrap();
    std::fs::remove_dir_all(r.join("dir/sub")).unwrap();
    std::fs::write(r.join("dir/sub"), b"now a file").unwrap();
    std::fs::write(r.join("etc/c"), b"c").unwrap();
    run(Command::new("umoci")
        .args(["repack", "--image", &image])
        .arg(&b2));
    // umoci's own unpack of the result is the oracle.
    let oracle = w.join("oracle");
    run(Command::new("umoci")
        .args(["unpack", "--image", &image])
        .arg(&oracle));

    // Read the layout: index → manifest → layers and the config's diff ids.
    let blob = |d: &str| {
        layout
            .join("blobs/sha256")
            .join(d.trim_start_matches("sha256:"))
    };
    let json = |p: PathBuf| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
    };
    let index = json(layout.join("index.json"));
    let manifest = json(blob(index["manifests"][0]["digest"].as_str().unwrap()));
    let config = json(blob(manifest["config"]["digest"].as_str().unwrap()));
    let diff_ids: Vec<Digest> = config["rootfs"]["diff_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().parse().unwrap())
        .collect();
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2);
    let snaps = Snapshots::open(&t.root()).unwrap();
    let lowers: Vec<PathBuf> = layers
        .iter()
        .zip(chain_ids(&diff_ids).iter().zip(&diff_ids))
        .map(|(l, (chain, diff))| {
            let f = std::fs::File::open(blob(l["digest"].as_str().unwrap())).unwrap();
            snaps.ensure_from_reader(chain, diff, f).unwrap()
        })
        .collect();

    let c = t.root().join("containers/c1");
    let rootfs = Rootfs {
        lowers,
        upper: c.join("upper"),
        work: c.join("work"),
        volatile: false,
    };
    let merged = c.join("merged");
    std::fs::create_dir_all(&merged).unwrap();
    rootfs.mount_overlay(&merged).unwrap();
    let _guard = MountGuard(merged.clone());
    let want = tree_loose_dirs(&oracle.join("rootfs"));
    assert!(
        !want.contains_key("etc/a") && want.contains_key("etc/c"),
        "{want:?}"
    );
    assert_eq!(tree_loose_dirs(&merged), want);
    let copy = c.join("copy");
    rootfs.copy_into(&copy).unwrap();
    assert_eq!(tree_loose_dirs(&copy), want);
}
