//! The default `busybox` image, made from the host's Debian busybox-static (`/bin/busybox`)
//! without the internet, reproducibly: the same busybox binary gives the same rootfs tar,
//! the same layer and the same image digest on every machine.
//!
//! The rootfs is byte for byte the tar that `images/busybox/build.sh` makes with GNU tar
//! (`--sort=name --format=gnu --numeric-owner --mtime=@<binary's mtime>`), and the image
//! is imported with the same changes, message and creation time, so the library and the
//! script make the same image id (a test holds them to it).

use std::io;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use super::import::ImportOptions;
use super::{Error, Image, Reference};

/// Where Debian's busybox-static installs the binary.
pub const HOST_BUSYBOX: &str = "/bin/busybox";

/// The image's `ENV PATH` and `CMD`, as Docker's busybox image has them.
const CHANGES: [&str; 2] = [
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    r#"CMD ["sh"]"#,
];

/// The files of `/etc`, shared with `images/busybox/build.sh`.
const PASSWD: &str = include_str!("../../../images/busybox/etc/passwd");
const GROUP: &str = include_str!("../../../images/busybox/etc/group");
const SHADOW: &str = include_str!("../../../images/busybox/etc/shadow");

/// The directories of the rootfs and their modes.
const DIRS: [(&str, u32); 15] = [
    ("", 0o755),
    ("bin", 0o755),
    ("dev", 0o755),
    ("etc", 0o755),
    ("home", 0o755),
    ("proc", 0o755),
    ("root", 0o700),
    ("sys", 0o755),
    ("tmp", 0o1777),
    ("usr", 0o755),
    ("usr/sbin", 0o755),
    ("var", 0o755),
    ("var/spool", 0o755),
    ("var/spool/mail", 0o755),
    ("var/www", 0o755),
];

/// A busybox binary and what the image made from it records.
#[derive(Debug, Clone)]
pub struct BusyboxSource {
    /// The static busybox binary.
    pub binary: PathBuf,
    /// Its applets (`busybox --list`).
    pub applets: Vec<String>,
    /// Its mtime in seconds: every file's mtime and the image's creation time.
    pub epoch: u64,
    /// The Debian package version, for the history comment (`unknown` off Debian).
    pub version: String,
}

impl BusyboxSource {
    /// The host's busybox-static: `/bin/busybox`, its applets, mtime and package version.
    pub fn host() -> Result<BusyboxSource, Error> {
        BusyboxSource::from_binary(Path::new(HOST_BUSYBOX))
    }

    /// The busybox at `binary` (its version read from dpkg's database).
    pub fn from_binary(binary: &Path) -> Result<BusyboxSource, Error> {
        let missing = |e: io::Error| {
            Error::Io(
                format!(
                    "cannot read {} (apt-get install busybox-static)",
                    binary.display()
                ),
                e,
            )
        };
        let meta = std::fs::metadata(binary).map_err(missing)?;
        let epoch = meta
            .modified()
            .map_err(missing)?
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let out = std::process::Command::new(binary)
            .arg("--list")
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(missing)?;
        if !out.status.success() {
            return Err(Error::Invalid(format!(
                "{} --list failed ({}): not a busybox binary?",
                binary.display(),
                out.status
            )));
        }
        let applets = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(String::from)
            .collect();
        let status = std::fs::read_to_string("/var/lib/dpkg/status").unwrap_or_default();
        Ok(BusyboxSource {
            binary: binary.to_path_buf(),
            applets,
            epoch,
            version: dpkg_version(&status, "busybox-static").unwrap_or_else(|| "unknown".into()),
        })
    }

    /// The rootfs as an uncompressed tar, identical to GNU tar's of `build.sh`.
    pub fn rootfs_tar(&self) -> Result<Vec<u8>, Error> {
        let data = std::fs::read(&self.binary)
            .map_err(|e| Error::Io(format!("cannot read {}", self.binary.display()), e))?;
        rootfs_tar(&data, &self.applets, self.epoch)
    }

    /// How the rootfs tar is imported: the same options as `build.sh`'s `tug import`.
    pub fn import_options(&self, reference: Option<Reference>) -> ImportOptions {
        ImportOptions {
            reference,
            changes: CHANGES.iter().map(|c| c.to_string()).collect(),
            message: Some(format!(
                "busybox {} from Debian's busybox-static",
                self.version
            )),
            source: self.binary.display().to_string(),
            created: Some(self.epoch),
        }
    }
}

/// Makes the `busybox` image from `source` in the store of state root `root` and tags it
/// `reference`: the image `images/busybox/build.sh` makes, without the repository.
pub(crate) fn create(root: &Path, source: &BusyboxSource, reference: &str) -> Result<Image, Error> {
    let reference = Reference::parse(reference)?;
    let tar = source.rootfs_tar()?;
    super::import::import(
        root,
        tar.as_slice(),
        &source.import_options(Some(reference)),
    )
}

/// The `Version` of package `name` in a dpkg status file.
fn dpkg_version(status: &str, name: &str) -> Option<String> {
    status.split("\n\n").find_map(|para| {
        let mut lines = para.lines();
        lines.clone().find(|l| *l == format!("Package: {name}"))?;
        lines
            .find_map(|l| l.strip_prefix("Version: "))
            .map(|v| v.trim().to_string())
    })
}

/// One entry of the rootfs tar.
enum Entry<'a> {
    Dir(u32),
    File(u32, &'a [u8]),
    /// A hard link to the named entry.
    Link(String),
}

/// The rootfs tar: the directories, `/bin/busybox` with every applet as a hard link of
/// it, and `/etc/{passwd,group,shadow}`, in GNU tar's `--sort=name` order.
fn rootfs_tar(busybox: &[u8], applets: &[String], epoch: u64) -> Result<Vec<u8>, Error> {
    let mut entries: Vec<(String, Entry<'_>)> = DIRS
        .iter()
        .map(|(d, mode)| (d.to_string(), Entry::Dir(*mode)))
        .collect();
    for (name, text, mode) in [
        ("passwd", PASSWD, 0o644),
        ("group", GROUP, 0o644),
        ("shadow", SHADOW, 0o640),
    ] {
        entries.push((format!("etc/{name}"), Entry::File(mode, text.as_bytes())));
    }
    let mut bins: Vec<&str> = applets
        .iter()
        .map(String::as_str)
        .filter(|a| *a != "linuxrc" && !a.contains('/') && !a.is_empty())
        .chain(["busybox"])
        .collect();
    bins.sort_unstable();
    bins.dedup();
    // GNU tar stores the first name of the inode it meets as the file, the rest as links.
    let first = format!("./bin/{}", bins[0]);
    for (i, b) in bins.iter().enumerate() {
        let e = if i == 0 {
            Entry::File(0o755, busybox)
        } else {
            Entry::Link(first.clone())
        };
        entries.push((format!("bin/{b}"), e));
    }
    // Depth first, each directory's entries sorted by name: what --sort=name walks.
    entries.sort_by(|(a, _), (b, _)| {
        let parts = |p: &str| {
            p.split('/')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect::<Vec<_>>()
        };
        parts(a).cmp(&parts(b))
    });
    let mut out = Vec::with_capacity(busybox.len() + 512 * (entries.len() + 4));
    for (path, e) in &entries {
        let (name, mode, kind, data, link): (String, u32, u8, &[u8], &str) = match e {
            Entry::Dir(m) if path.is_empty() => ("./".into(), *m, b'5', &[], ""),
            Entry::Dir(m) => (format!("./{path}/"), *m, b'5', &[], ""),
            Entry::File(m, d) => (format!("./{path}"), *m, b'0', d, ""),
            Entry::Link(to) => (format!("./{path}"), 0o755, b'1', &[], to.as_str()),
        };
        out.extend_from_slice(&gnu_header(
            &name,
            mode,
            data.len() as u64,
            epoch,
            kind,
            link,
        )?);
        out.extend_from_slice(data);
        out.resize(out.len().next_multiple_of(512), 0);
    }
    // The end: two zero blocks, then zeros to GNU tar's record size (20 blocks).
    out.resize(out.len() + 1024, 0);
    out.resize(out.len().next_multiple_of(10240), 0);
    Ok(out)
}

/// A GNU-format tar header as GNU tar writes it with `--numeric-owner` and owner 0:
/// octal fields NUL-terminated, the checksum as six digits, NUL and space, no user or
/// group names.
fn gnu_header(
    name: &str,
    mode: u32,
    size: u64,
    mtime: u64,
    kind: u8,
    link: &str,
) -> Result<[u8; 512], Error> {
    if name.len() > 100 || link.len() > 100 {
        return Err(Error::Invalid(format!(
            "busybox rootfs: the name {name:?} is too long for a tar header"
        )));
    }
    let mut h = [0u8; 512];
    let mut put = |at: usize, s: &str| h[at..at + s.len()].copy_from_slice(s.as_bytes());
    put(0, name);
    put(100, &format!("{mode:07o}\0"));
    put(108, "0000000\0");
    put(116, "0000000\0");
    put(124, &format!("{size:011o}\0"));
    put(136, &format!("{mtime:011o}\0"));
    put(148, "        ");
    put(257, "ustar  \0");
    h[156] = kind;
    h[157..157 + link.len()].copy_from_slice(link.as_bytes());
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake() -> (Vec<u8>, Vec<String>) {
        let applets = ["sh", "[", "ls", "linuxrc", "busybox", "[["];
        (
            b"\x7fELF not really".to_vec(),
            applets.iter().map(|s| s.to_string()).collect(),
        )
    }

    #[test]
    fn rootfs_tar_is_gnu_tar_in_name_order_with_hard_links() {
        let (bin, applets) = fake();
        let tar = rootfs_tar(&bin, &applets, 1_700_000_000).unwrap();
        assert_eq!(tar.len() % 10240, 0);
        let mut ar = tar::Archive::new(tar.as_slice());
        let mut seen = Vec::new();
        for e in ar.entries().unwrap() {
            let e = e.unwrap();
            let h = e.header();
            assert_eq!(h.mtime().unwrap(), 1_700_000_000);
            assert_eq!((h.uid().unwrap(), h.gid().unwrap()), (0, 0));
            let link = e
                .link_name()
                .unwrap()
                .map(|l| l.display().to_string())
                .unwrap_or_default();
            seen.push(format!("{} {link}", e.path().unwrap().display()));
        }
        assert_eq!(
            &seen[..4],
            ["./ ", "./bin/ ", "./bin/[ ", "./bin/[[ ./bin/["]
        );
        assert!(seen.contains(&"./bin/busybox ./bin/[".to_string()));
        assert!(!seen.iter().any(|s| s.contains("linuxrc")));
        let etc = seen.iter().position(|s| s == "./etc/ ").unwrap();
        assert_eq!(
            seen[etc + 1..etc + 4],
            ["./etc/group ", "./etc/passwd ", "./etc/shadow "]
        );
        assert_eq!(seen.last().unwrap(), "./var/www/ ");
    }

    #[test]
    fn headers_checksum_as_gnu_tar_does() {
        let h = gnu_header("./tmp/", 0o1777, 0, 0o15177173451, b'5', "").unwrap();
        assert_eq!(&h[100..108], b"0001777\0");
        assert_eq!(&h[148..156], b"006721\0 ");
        assert_eq!(&h[257..265], b"ustar  \0");
        assert!(gnu_header(&"x".repeat(101), 0o644, 0, 0, b'0', "").is_err());
    }

    #[test]
    fn dpkg_versions_are_read_from_the_status_file() {
        let status = "Package: busybox\nVersion: 1\n\nPackage: busybox-static\nStatus: install ok installed\nVersion: 1:1.35.0-4\n\n";
        assert_eq!(
            dpkg_version(status, "busybox-static").as_deref(),
            Some("1:1.35.0-4")
        );
        assert_eq!(dpkg_version(status, "busybox").as_deref(), Some("1"));
        assert_eq!(dpkg_version(status, "nope"), None);
    }

    /// The library's tar is byte for byte the one `images/busybox/build.sh` makes with
    /// GNU tar, so both make the same image.
    #[test]
    fn host_rootfs_tar_matches_build_sh() {
        let Ok(src) = BusyboxSource::host() else {
            eprintln!("skipped: no {HOST_BUSYBOX}");
            return;
        };
        let cache = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../images/busybox/build.sh");
        let out = std::process::Command::new("bash")
            .arg(&script)
            .arg("--rootfs-tar")
            .env("TUG_CACHE", cache.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let path = String::from_utf8(out.stdout).unwrap();
        let theirs = std::fs::read(path.trim()).unwrap();
        let ours = src.rootfs_tar().unwrap();
        assert_eq!(ours.len(), theirs.len());
        assert!(ours == theirs, "the tars differ");
    }

    /// Made twice, in two state roots: the same image id and manifest digest.
    #[test]
    fn busybox_image_digest_is_stable() {
        let Ok(src) = BusyboxSource::host() else {
            eprintln!("skipped: no {HOST_BUSYBOX}");
            return;
        };
        let ids: Vec<_> = (0..2)
            .map(|_| {
                let dir = tempfile::tempdir().unwrap();
                let img = create(&dir.path().join("root"), &src, "busybox:latest").unwrap();
                assert!(
                    img.names
                        .iter()
                        .any(|n| n.to_string().ends_with("busybox:latest"))
                );
                (img.id, img.manifest_digest)
            })
            .collect();
        assert_eq!(ids[0], ids[1]);
    }
}
