//! The image and the container changes shared by the layer diff tests.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::layer_support::{Spec, TarWriter};
use tar::EntryType;
use tug::Digest;
use tug::snapshot::{Rootfs, Snapshots, chain_ids};

/// Unmounts (lazily) on drop, so a failing test leaves no mount behind.
pub struct MountGuard(pub PathBuf);

impl Drop for MountGuard {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

pub fn mount(rootfs: &Rootfs, target: &Path) -> MountGuard {
    std::fs::create_dir_all(target).unwrap();
    rootfs.mount_overlay(target).unwrap();
    MountGuard(target.to_path_buf())
}

/// Unpacks `layers` (tars) as a chain in `snaps`, returning the dirs bottom first.
pub fn unpack_chain(snaps: &Snapshots, layers: &[Vec<u8>]) -> Vec<PathBuf> {
    let diffs: Vec<Digest> = layers.iter().map(|l| Digest::of(l)).collect();
    chain_ids(&diffs)
        .iter()
        .zip(layers.iter().zip(&diffs))
        .map(|(c, (l, d))| snaps.ensure_from_reader(c, d, &l[..]).unwrap())
        .collect()
}

pub fn base_layer() -> Vec<u8> {
    let mut t = TarWriter::new();
    t.dir("etc")
        .file("etc/passwd", b"root:x:0:0::/root:/bin/sh\n")
        .file("etc/hosts", b"127.0.0.1 localhost\n")
        .file("etc/group", b"root:x:0:\n")
        .dir("var")
        .dir("var/cache")
        .file("var/cache/old", b"old")
        .file("var/cache/keep", b"keep")
        .dir("bin")
        .file("bin/tool", b"tool")
        .hardlink("bin/alias", "bin/tool")
        .symlink("bin/sh", "tool")
        .dir("gone")
        .file("gone/x", b"x")
        .dir("replaced")
        .file("replaced/a", b"a")
        .dir("redo")
        .file("redo/old1", b"1")
        .file("redo/old2", b"2")
        .file("file_to_dir", b"f")
        .dir("data")
        .file("data/f", b"f")
        .file("data/g", b"g")
        .file("data/h", b"h");
    let mut c = Spec::new(EntryType::Char, "null");
    c.dev = (1, 3);
    t.raw(c);
    let mut f = Spec::new(EntryType::Regular, "suid");
    f.mode = 0o4755;
    f.uid = 1000;
    t.pax(&[("SCHILY.xattr.user.k", b"v")]).raw(f);
    t.finish()
}

pub fn top_layer() -> Vec<u8> {
    let mut t = TarWriter::new();
    t.dir("etc")
        .file("etc/.wh.group", b"")
        .file("etc/motd", b"hello")
        .dir("opt")
        .dir("opt/app")
        .file("opt/app/x", b"x")
        .file("opt/app/y", b"y");
    t.finish()
}

/// A file capability set (`cap_net_raw+ep`), as `setcap` writes it (VFS_CAP_REVISION_2).
pub fn net_raw_cap() -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&(0x0200_0000u32 | 1).to_le_bytes()); // revision 2, effective
    v.extend_from_slice(&(1u32 << 13).to_le_bytes()); // permitted, low word
    v.extend_from_slice(&0u32.to_le_bytes()); // inheritable, low word
    v.extend_from_slice(&0u32.to_le_bytes()); // permitted, high word
    v.extend_from_slice(&0u32.to_le_bytes()); // inheritable, high word
    v
}

/// What a container does to its rootfs: every kind of change `commit` must carry.
pub fn change_through(m: &Path) {
    use std::fs;
    // Create.
    fs::create_dir_all(m.join("new/dir")).unwrap();
    fs::write(m.join("new/dir/file"), b"new file").unwrap();
    fs::write(m.join("etc/new.conf"), b"conf").unwrap();
    std::os::unix::fs::symlink("../etc/motd", m.join("new/link")).unwrap();
    nix::unistd::mkfifo(
        &m.join("new/fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o640),
    )
    .unwrap();
    nix::sys::stat::mknod(
        &m.join("new/zero"),
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o666),
        nix::sys::stat::makedev(1, 5),
    )
    .unwrap();
    // Change a file; a file the layers deleted comes back.
    fs::write(m.join("etc/hosts"), b"127.0.0.1 localhost\n10.0.0.1 db\n").unwrap();
    fs::write(m.join("etc/group"), b"root:x:0:\nstaff:x:50:\n").unwrap();
    // Delete a file of each layer, a dir, and a whole subtree of the top layer.
    fs::remove_file(m.join("etc/passwd")).unwrap();
    fs::remove_file(m.join("var/cache/old")).unwrap();
    fs::remove_dir_all(m.join("gone")).unwrap();
    fs::remove_dir_all(m.join("opt/app")).unwrap();
    // Replace a dir by a file, a file by a dir; remove a dir and make it again (opaque).
    fs::remove_dir_all(m.join("replaced")).unwrap();
    fs::write(m.join("replaced"), b"now a file").unwrap();
    fs::remove_file(m.join("file_to_dir")).unwrap();
    fs::create_dir(m.join("file_to_dir")).unwrap();
    fs::write(m.join("file_to_dir/inner"), b"i").unwrap();
    fs::remove_dir_all(m.join("redo")).unwrap();
    fs::create_dir(m.join("redo")).unwrap();
    fs::write(m.join("redo/fresh"), b"fresh").unwrap();
    // Metadata only.
    fs::set_permissions(m.join("data/f"), fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::lchown(m.join("data/g"), Some(1234), Some(5678)).unwrap();
    rustix::fs::lsetxattr(
        m.join("data/h"),
        "user.note",
        b"hello",
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    rustix::fs::lsetxattr(
        m.join("bin/tool"),
        "security.capability",
        &net_raw_cap(),
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    // Hardlinks: to a changed lower file, and between new files.
    fs::hard_link(m.join("etc/hosts"), m.join("etc/hosts2")).unwrap();
    fs::write(m.join("new/a"), b"linked").unwrap();
    fs::hard_link(m.join("new/a"), m.join("new/b")).unwrap();
}
