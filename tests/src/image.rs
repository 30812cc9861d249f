//! Crafted images: busybox (as `/bin/busybox` and `/bin/sh`) plus the entries a test
//! names (dirs, files, symlinks, device nodes), imported with `tug import`.

use crate::{TestRoot, code, text};

/// A file of a crafted image.
pub enum Entry<'a> {
    Dir(&'a str),
    /// A regular file, mode 0640.
    File(&'a str, &'a [u8]),
    /// A regular file with a mode.
    FileMode(&'a str, &'a [u8], u32),
    Symlink(&'a str, &'a str),
    /// A character device node (path, major, minor, mode).
    CharDevice(&'a str, u32, u32, u32),
}

/// Imports an image of busybox plus `entries`, with `tug import --change` for each of
/// `changes` (`VOLUME ["/proc"]`, `CMD ...`).
pub fn import_image(t: &TestRoot, name: &str, entries: &[Entry], changes: &[&str]) {
    let mut b = tar::Builder::new(Vec::new());
    let header = |typ: tar::EntryType, path: &str, size: u64, mode: u32| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(typ);
        h.set_path(path).unwrap();
        h.set_size(size);
        h.set_mode(mode);
        h.set_mtime(1_700_000_000);
        h.set_uid(0);
        h.set_gid(0);
        h
    };
    let bb = std::fs::read("/bin/busybox").expect("busybox-static is installed");
    let mut h = header(tar::EntryType::Directory, "bin", 0, 0o755);
    h.set_cksum();
    b.append(&h, &[][..]).unwrap();
    h = header(
        tar::EntryType::Regular,
        "bin/busybox",
        bb.len() as u64,
        0o755,
    );
    h.set_cksum();
    b.append(&h, &bb[..]).unwrap();
    let mut link = header(tar::EntryType::Symlink, "bin/sh", 0, 0o777);
    link.set_link_name("busybox").unwrap();
    link.set_cksum();
    b.append(&link, &[][..]).unwrap();
    for e in entries {
        let (mut h, data): (tar::Header, &[u8]) = match e {
            Entry::Dir(p) => (header(tar::EntryType::Directory, p, 0, 0o755), &[]),
            Entry::File(p, data) => (
                header(tar::EntryType::Regular, p, data.len() as u64, 0o640),
                data,
            ),
            Entry::FileMode(p, data, mode) => (
                header(tar::EntryType::Regular, p, data.len() as u64, *mode),
                data,
            ),
            Entry::Symlink(p, target) => {
                let mut h = header(tar::EntryType::Symlink, p, 0, 0o777);
                h.set_link_name(target).unwrap();
                (h, &[])
            }
            Entry::CharDevice(p, major, minor, mode) => {
                let mut h = header(tar::EntryType::Char, p, 0, *mode);
                h.set_device_major(*major).unwrap();
                h.set_device_minor(*minor).unwrap();
                (h, &[])
            }
        };
        h.set_cksum();
        b.append(&h, data).unwrap();
    }
    let tar = b.into_inner().unwrap();
    let mut args = vec!["import".to_string()];
    for c in changes {
        args.push("--change".into());
        args.push(c.to_string());
    }
    args.extend(["-".to_string(), name.to_string()]);
    let mut c = t.tug();
    c.args(&args);
    let out = crate::output_with_stdin(c, &tar);
    assert_eq!(code(&out), 0, "import: {}", text(&out));
}

/// A small rootfs tar (mode 0755, a fixed mtime): the same bytes for the same files.
pub fn rootfs_tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    crate::files_tar(files, 0o755, 1_700_000_000)
}

/// Imports a tar of `files` from stdin as `name` (`tug import EXTRA - NAME`, at a fixed
/// SOURCE_DATE_EPOCH); returns the image id.
pub fn import_files(t: &TestRoot, name: &str, files: &[(&str, &[u8])], extra: &[&str]) -> String {
    let mut args = vec!["import"];
    args.extend_from_slice(extra);
    args.extend(["-", name]);
    let out = t.run_with_stdin(
        &args,
        &rootfs_tar(files),
        &[("SOURCE_DATE_EPOCH", "1700000000")],
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Commits as `name` what `script` (busybox's `sh -c`) writes in a container made for
/// it, which then goes.
pub fn commit_script(t: &TestRoot, name: &str, script: &str) {
    t.ok(&["run", "--name", "writer", "busybox", "sh", "-c", script]);
    t.ok(&["commit", "writer", name]);
    t.ok(&["rm", "writer"]);
}

/// `image inspect NAME`: its object.
pub fn image_inspect(t: &TestRoot, name: &str) -> serde_json::Value {
    t.inspect_first(&["image", "inspect", name])
}

/// The unpacked layers of a root (chain id dirs).
pub fn snapshots(t: &TestRoot) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(t.root().join("snapshots"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.retain(|n| !n.starts_with('.'));
    v.sort();
    v
}
