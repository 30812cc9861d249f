//! What COPY and ADD write: the files they take in as a tar stream (paths below the
//! image's root, owners and modes as Docker sets them), which the builder extracts into
//! the stage's rootfs with the same refusals as a layer; where the files land (Docker's
//! rules for a destination dir); and `--chown` names looked up in the image's own
//! `/etc/passwd` and `/etc/group`.

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// One thing to write.
#[derive(Debug, Clone)]
pub enum Item {
    /// A file, dir or symlink on the host (a context file, or one of another stage's
    /// rootfs), written at `dest` (relative to the image root). A dir is written alone;
    /// its content comes as items of their own.
    Host { path: PathBuf, dest: String },
    /// A heredoc's body (`COPY <<EOF /file`), a regular file.
    Bytes { body: Vec<u8>, dest: String },
}

/// How the entries' owners and modes are set.
#[derive(Debug, Clone, Copy, Default)]
pub struct Attrs {
    /// `--chown`: every entry's uid and gid.
    pub owner: Option<(u32, u32)>,
    /// Keep the source's owner (COPY --from); otherwise root's, as Docker does for
    /// context files.
    pub keep_owner: bool,
    /// `--chmod`: the permission bits of every file and dir.
    pub mode: Option<u32>,
    /// The mtime of heredoc files (seconds since the epoch).
    pub bytes_mtime: u64,
}

/// Writes `items` as a tar to `out`. Sockets, fifos and devices in a context are refused.
pub fn write_tar(items: &[Item], attrs: Attrs, out: impl Write) -> Result<(), String> {
    let mut tar = tar::Builder::new(out);
    tar.follow_symlinks(false);
    for item in items {
        match item {
            Item::Bytes { body, dest } => {
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(body.len() as u64);
                h.set_mode(attrs.mode.unwrap_or(0o644));
                let (uid, gid) = attrs.owner.unwrap_or((0, 0));
                h.set_uid(uid.into());
                h.set_gid(gid.into());
                h.set_mtime(attrs.bytes_mtime);
                tar.append_data(&mut h, dest, &body[..])
                    .map_err(|e| format!("{dest}: {e}"))?;
            }
            Item::Host { path, dest } => append_host(&mut tar, path, dest, attrs)?,
        }
    }
    tar.into_inner()
        .and_then(|mut w| w.flush())
        .map_err(|e| format!("writing the files: {e}"))
}

fn append_host<W: Write>(
    tar: &mut tar::Builder<W>,
    path: &Path,
    dest: &str,
    attrs: Attrs,
) -> Result<(), String> {
    let err = |e: io::Error| format!("{}: {e}", path.display());
    let meta = fs::symlink_metadata(path).map_err(err)?;
    let ft = meta.file_type();
    let mut h = tar::Header::new_gnu();
    let (uid, gid) = match (attrs.owner, attrs.keep_owner) {
        (Some(o), _) => o,
        (None, true) => (meta.uid(), meta.gid()),
        (None, false) => (0, 0),
    };
    h.set_uid(uid.into());
    h.set_gid(gid.into());
    h.set_mtime(u64::try_from(meta.mtime()).unwrap_or(0));
    let perm = meta.permissions().mode() & 0o7777;
    if ft.is_symlink() {
        let target = fs::read_link(path).map_err(err)?;
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_mode(0o777);
        h.set_size(0);
        tar.append_link(&mut h, dest, &target)
            .map_err(|e| format!("{dest}: {e}"))
    } else if ft.is_dir() {
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(attrs.mode.unwrap_or(perm));
        h.set_size(0);
        tar.append_data(&mut h, format!("{dest}/"), io::empty())
            .map_err(|e| format!("{dest}: {e}"))
    } else if ft.is_file() {
        let f = fs::File::open(path).map_err(err)?;
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(attrs.mode.unwrap_or(perm));
        h.set_size(meta.len());
        // Read no more than the size in the header, should the file grow meanwhile.
        tar.append_data(&mut h, dest, f.take(meta.len()))
            .map_err(|e| format!("{dest}: {e}"))
    } else {
        Err(format!(
            "{}: cannot copy a socket, fifo or device file",
            path.display()
        ))
    }
}

/// A path below the image root (no leading `/`, `.` and `..` resolved, never above the
/// root) for the absolute path `p`.
pub fn rel(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            _ => parts.push(part),
        }
    }
    parts.join("/")
}

/// `a/b` joined: either may be empty.
pub fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_string(),
        (_, true) => a.to_string(),
        _ => format!("{a}/{b}"),
    }
}

/// Docker's `--chown`/`--chmod` parsing: `--chmod` is octal (`755`, `0644`).
pub fn parse_chmod(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s, 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| format!("invalid chmod parameter {s:?}: expected an octal mode"))
}

/// The uid and gid of `--chown=user[:group]` (names or numbers). Names are looked up in
/// the `passwd` and `group` text of the image (None when the image has no such file); a
/// user without a group takes the user's primary group, as Docker does.
pub fn resolve_chown(
    spec: &str,
    passwd: Option<&str>,
    group: Option<&str>,
) -> Result<(u32, u32), String> {
    let (user, grp) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let lookup = |db: Option<&str>, name: &str, what: &str| -> Result<(u32, u32), String> {
        db.and_then(|text| {
            text.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                if f.first() == Some(&name) && f.len() >= 3 {
                    let id = f[2].parse().ok()?;
                    let primary = f.get(3).and_then(|g| g.parse().ok()).unwrap_or(id);
                    Some((id, primary))
                } else {
                    None
                }
            })
        })
        .ok_or_else(|| format!("unable to find {what} {name:?} in the image for --chown={spec}"))
    };
    let (uid, primary) = match user.parse::<u32>() {
        Ok(n) => (n, n),
        Err(_) => lookup(passwd, user, "user")?,
    };
    let gid = match grp {
        None => primary,
        Some(g) => match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => lookup(group, g, "group")?.0,
        },
    };
    Ok((uid, gid))
}

/// Reads the file at `rel` inside the root `root`, every symlink resolved inside it
/// (RESOLVE_IN_ROOT), so that an image's `/etc/passwd` link cannot name a host file.
/// None when there is no such file.
pub fn read_in_root(root: &Path, rel: &str) -> Option<String> {
    use rustix::fs::{Mode, OFlags, ResolveFlags};
    let dir = rustix::fs::open(
        root,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let fd = rustix::fs::openat2(
        &dir,
        rel,
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )
    .ok()?;
    let mut s = String::new();
    fs::File::from(fd)
        .take(16 << 20)
        .read_to_string(&mut s)
        .ok()?;
    Some(s)
}

/// Opens the dir `rel` inside the root `root`, every symlink resolved inside it.
pub fn open_dir_in_root(root: &Path, rel: &str) -> io::Result<std::os::fd::OwnedFd> {
    use rustix::fs::{Mode, OFlags, ResolveFlags};
    let dir = rustix::fs::open(
        root,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let rel = if rel.is_empty() { "." } else { rel };
    Ok(rustix::fs::openat2(
        &dir,
        rel,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )?)
}

/// Whether `rel` is a dir inside the root `root` (symlinks resolved inside it).
pub fn is_dir_in_root(root: &Path, rel: &str) -> bool {
    use rustix::fs::{Mode, OFlags, ResolveFlags};
    if rel.is_empty() {
        return true;
    }
    let Ok(dir) = rustix::fs::open(
        root,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) else {
        return false;
    };
    rustix::fs::openat2(
        &dir,
        rel,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )
    .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chown_takes_names_numbers_and_the_primary_group() {
        let passwd = "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n";
        let group = "root:x:0:\nstaff:x:50:\napp:x:1001:\n";
        let r = |s| resolve_chown(s, Some(passwd), Some(group));
        assert_eq!(r("app"), Ok((1000, 1001)));
        assert_eq!(r("app:staff"), Ok((1000, 50)));
        assert_eq!(r("42"), Ok((42, 42)));
        assert_eq!(r("42:7"), Ok((42, 7)));
        assert_eq!(r("0:app"), Ok((0, 1001)));
        let e = r("nobody").unwrap_err();
        assert!(e.contains("unable to find user \"nobody\""), "{e}");
        assert!(resolve_chown("app", None, None).is_err());
    }

    #[test]
    fn chmod_is_octal() {
        assert_eq!(parse_chmod("755"), Ok(0o755));
        assert_eq!(parse_chmod("0644"), Ok(0o644));
        assert!(parse_chmod("rwx").is_err());
        assert!(parse_chmod("77777").is_err());
    }

    #[test]
    fn rel_never_climbs_above_the_root() {
        assert_eq!(rel("/usr/src/app/"), "usr/src/app");
        assert_eq!(rel("/a/../../b"), "b");
        assert_eq!(rel("/"), "");
        assert_eq!(join("", "x"), "x");
        assert_eq!(join("a", ""), "a");
    }

    #[test]
    fn the_tar_has_roots_owner_unless_told() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        fs::write(&f, "hi").unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(0o640)).unwrap();
        let items = [
            Item::Host {
                path: f.clone(),
                dest: "app/f".into(),
            },
            Item::Bytes {
                body: b"doc".to_vec(),
                dest: "app/doc".into(),
            },
        ];
        let mut out = Vec::new();
        write_tar(&items, Attrs::default(), &mut out).unwrap();
        let mut a = tar::Archive::new(&out[..]);
        let got: Vec<(String, u32, u64)> = a
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (
                    e.path().unwrap().display().to_string(),
                    h.mode().unwrap(),
                    h.uid().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![("app/f".into(), 0o640, 0), ("app/doc".into(), 0o644, 0)]
        );
        let mut out = Vec::new();
        let attrs = Attrs {
            owner: Some((7, 8)),
            mode: Some(0o600),
            ..Attrs::default()
        };
        write_tar(&items[..1], attrs, &mut out).unwrap();
        let mut a = tar::Archive::new(&out[..]);
        let e = a.entries().unwrap().next().unwrap().unwrap();
        assert_eq!(e.header().uid().unwrap(), 7);
        assert_eq!(e.header().gid().unwrap(), 8);
        assert_eq!(e.header().mode().unwrap(), 0o600);
    }
}
