//! Helpers for the layer and snapshot tests: tars built entry by entry (raw paths allowed,
//! to make hostile ones), scratch dirs under /var/tmp, and a tree listing to compare.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use tar::{EntryType, Header};

/// The mtime the helpers give entries unless told otherwise.
pub const MTIME: u64 = 1_600_000_000;

/// A tar written entry by entry.
pub struct TarWriter {
    b: tar::Builder<Vec<u8>>,
}

impl Default for TarWriter {
    fn default() -> Self {
        Self::new()
    }
}

/// One entry's fields.
pub struct Spec<'a> {
    pub kind: EntryType,
    pub path: &'a [u8],
    pub link: &'a [u8],
    pub data: &'a [u8],
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: u64,
    pub dev: (u32, u32),
}

impl<'a> Spec<'a> {
    pub fn new(kind: EntryType, path: &'a str) -> Spec<'a> {
        Spec {
            kind,
            path: path.as_bytes(),
            link: b"",
            data: b"",
            mode: if kind == EntryType::Directory {
                0o755
            } else {
                0o644
            },
            uid: 0,
            gid: 0,
            mtime: MTIME,
            dev: (0, 0),
        }
    }
}

impl TarWriter {
    pub fn new() -> TarWriter {
        TarWriter {
            b: tar::Builder::new(Vec::new()),
        }
    }

    /// Appends an entry with its path and link name written raw into the header (up to
    /// 100 bytes each), bypassing the tar crate's checks.
    pub fn raw(&mut self, s: Spec<'_>) -> &mut Self {
        let mut h = Header::new_gnu();
        {
            let old = h.as_old_mut();
            assert!(s.path.len() <= 100 && s.link.len() <= 100);
            old.name[..s.path.len()].copy_from_slice(s.path);
            old.linkname[..s.link.len()].copy_from_slice(s.link);
        }
        self.fill(&mut h, &s);
        self.b.append(&h, s.data).unwrap();
        self
    }

    /// Appends an entry through the tar crate's own path handling (GNU long names).
    pub fn long(&mut self, s: Spec<'_>) -> &mut Self {
        let mut h = Header::new_gnu();
        self.fill(&mut h, &s);
        let path = std::str::from_utf8(s.path).unwrap();
        if s.kind == EntryType::Symlink || s.kind == EntryType::Link {
            self.b
                .append_link(&mut h, path, std::str::from_utf8(s.link).unwrap())
                .unwrap();
        } else {
            self.b.append_data(&mut h, path, s.data).unwrap();
        }
        self
    }

    /// Appends PAX records for the next entry.
    pub fn pax(&mut self, records: &[(&str, &[u8])]) -> &mut Self {
        self.b
            .append_pax_extensions(records.iter().map(|(k, v)| (*k, *v)))
            .unwrap();
        self
    }

    fn fill(&self, h: &mut Header, s: &Spec<'_>) {
        h.set_entry_type(s.kind);
        h.set_mode(s.mode);
        h.set_uid(s.uid);
        h.set_gid(s.gid);
        h.set_mtime(s.mtime);
        h.set_size(s.data.len() as u64);
        if matches!(s.kind, EntryType::Char | EntryType::Block) {
            h.set_device_major(s.dev.0).unwrap();
            h.set_device_minor(s.dev.1).unwrap();
        }
        h.set_cksum();
    }

    pub fn file(&mut self, path: &str, data: &[u8]) -> &mut Self {
        let mut s = Spec::new(EntryType::Regular, path);
        s.data = data;
        self.raw(s)
    }

    pub fn dir(&mut self, path: &str) -> &mut Self {
        self.raw(Spec::new(EntryType::Directory, path))
    }

    pub fn symlink(&mut self, path: &str, target: &str) -> &mut Self {
        let mut s = Spec::new(EntryType::Symlink, path);
        s.link = target.as_bytes();
        s.mode = 0o777;
        self.raw(s)
    }

    pub fn hardlink(&mut self, path: &str, target: &str) -> &mut Self {
        let mut s = Spec::new(EntryType::Link, path);
        s.link = target.as_bytes();
        self.raw(s)
    }

    pub fn finish(self) -> Vec<u8> {
        self.b.into_inner().unwrap()
    }
}

/// A scratch dir under /var/tmp (a disk file system, as overlayfs needs) holding `root/`
/// (where layers go) and `outside/secret` (what no layer may touch).
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Default for Scratch {
    fn default() -> Self {
        Self::new()
    }
}

impl Scratch {
    pub fn new() -> Scratch {
        let base = Path::new("/var/tmp/tug-tests");
        std::fs::create_dir_all(base).unwrap();
        let dir = tempfile::Builder::new()
            .prefix("layer")
            .tempdir_in(base)
            .unwrap();
        std::fs::create_dir(dir.path().join("root")).unwrap();
        std::fs::create_dir(dir.path().join("outside")).unwrap();
        std::fs::write(dir.path().join("outside/secret"), b"secret").unwrap();
        Scratch { dir }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn outside(&self) -> PathBuf {
        self.dir.path().join("outside")
    }

    /// Everything in the scratch dir outside `root/`, to compare before and after.
    pub fn outside_view(&self) -> BTreeMap<String, String> {
        let mut all = tree(self.dir.path());
        all.retain(|k, _| k != "root" && !k.starts_with("root/"));
        all
    }
}

/// A listing of a tree: relative path → kind, mode, owner, size or target, content, mtime,
/// rdev and user/trusted/security xattrs. Two equal listings mean equal trees.
pub fn tree(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for p in names {
        // overlayfs lists the whiteouts of a dir that only one layer has (it reads such a
        // dir as it is) but finds nothing when looking them up: they are not entries.
        if std::fs::symlink_metadata(&p).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound) {
            continue;
        }
        let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
        out.insert(rel, describe(&p, false));
        if std::fs::symlink_metadata(&p).unwrap().is_dir() {
            walk(root, &p, out);
        }
    }
}

/// One entry's description (see [`tree`]); `with_ino` adds the inode (for hardlinks).
pub fn describe(p: &Path, with_ino: bool) -> String {
    let m = std::fs::symlink_metadata(p).unwrap();
    let ft = m.file_type();
    let kind = if ft.is_symlink() {
        format!("link->{}", std::fs::read_link(p).unwrap().display())
    } else if ft.is_dir() {
        "dir".to_string()
    } else if ft.is_char_device() {
        format!("chr {}", m.rdev())
    } else if ft.is_block_device() {
        format!("blk {}", m.rdev())
    } else if ft.is_fifo() {
        "fifo".to_string()
    } else {
        // Big files are compared by their ends (sha256 is slow in debug builds).
        let data = std::fs::read(p).unwrap();
        let sample = if data.len() > 65536 {
            [&data[..4096], &data[data.len() - 4096..]].concat()
        } else {
            data.clone()
        };
        format!("file {} {}", data.len(), tug::Digest::of(&sample).short())
    };
    let mode = if ft.is_symlink() {
        0
    } else {
        m.mode() & 0o7777
    };
    let mut s = format!(
        "{kind} mode={mode:o} uid={} gid={} mtime={}",
        m.uid(),
        m.gid(),
        if ft.is_symlink() || ft.is_dir() || ft.is_file() {
            m.mtime()
        } else {
            0
        }
    );
    for (k, v) in xattrs(p) {
        s.push_str(&format!(" {k}={v:?}"));
    }
    if with_ino {
        s.push_str(&format!(" ino={}", m.ino()));
    }
    s
}

/// The xattrs of `p` (not followed), sorted.
pub fn xattrs(p: &Path) -> Vec<(String, String)> {
    let mut buf = vec![0u8; 65536];
    let n = rustix::fs::llistxattr(p, &mut buf[..]).unwrap_or(0);
    let mut out = Vec::new();
    for name in buf[..n].split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let mut v = vec![0u8; 65536];
        let len = rustix::fs::lgetxattr(p, name, &mut v[..]).unwrap_or(0);
        out.push((
            String::from_utf8_lossy(name).into_owned(),
            String::from_utf8_lossy(&v[..len]).into_owned(),
        ));
    }
    out.sort();
    out
}
