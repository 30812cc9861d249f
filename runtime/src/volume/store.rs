//! The volume store: `<root>/volumes/<name>/` holds `volume.json` (Docker's fields) and
//! `_data` (the content), plus `containers/<id>`, one empty file per container that uses
//! the volume. A reference counts while `<root>/containers/<id>` exists, so a removed
//! container frees its volumes without telling the store. Creation and removal take the
//! store's lock (`volumes/.lock`); a new volume appears at once, by a rename.

use std::collections::BTreeMap;
use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{ANONYMOUS_LABEL, Error, check_name};
use crate::fsutil;

/// A volume, as `docker volume inspect` shows one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Volume {
    pub created_at: String,
    pub driver: String,
    pub labels: Option<BTreeMap<String, String>>,
    pub mountpoint: String,
    pub name: String,
    pub options: Option<BTreeMap<String, String>>,
    pub scope: String,
}

impl Volume {
    /// Whether Docker would call it anonymous (made for `-v /path` or an image VOLUME).
    pub fn is_anonymous(&self) -> bool {
        self.labels
            .as_ref()
            .is_some_and(|l| l.contains_key(ANONYMOUS_LABEL))
    }
}

/// What a new volume is made with (`volume create` flags).
#[derive(Debug, Clone, Default)]
pub struct VolumeOptions {
    /// `None` makes an anonymous volume (a random 64-hex name and Docker's label).
    pub name: Option<String>,
    /// `--driver`: only `local`.
    pub driver: Option<String>,
    pub labels: Option<BTreeMap<String, String>>,
    /// `--opt` of the local driver: `type`, `device`, `o`.
    pub options: Option<BTreeMap<String, String>>,
}

/// The volumes of a state root.
#[derive(Debug, Clone)]
pub struct VolumeStore {
    dir: PathBuf,
    containers: PathBuf,
}

/// The metadata file in a volume's dir.
const META: &str = "volume.json";
/// The content dir in a volume's dir.
pub const DATA: &str = "_data";
/// The dir of container references in a volume's dir.
const REFS: &str = "containers";

fn io_err(p: &Path, e: std::io::Error) -> Error {
    Error::io(p.display(), e)
}

/// A random 64-hex name, as Docker gives anonymous volumes.
pub fn anonymous_name() -> String {
    let mut b = [0u8; 32];
    fsutil::random_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The time as Docker's `CreatedAt` shows it (RFC 3339, seconds).
fn created_at() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

impl VolumeStore {
    pub fn open(root: &Path) -> VolumeStore {
        VolumeStore {
            dir: root.join("volumes"),
            containers: root.join("containers"),
        }
    }

    /// The dir of volume `name`.
    pub fn dir(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn lock(&self) -> Result<fsutil::LockGuard, Error> {
        fs::create_dir_all(&self.dir).map_err(|e| io_err(&self.dir, e))?;
        let p = self.dir.join(".lock");
        fsutil::lock_exclusive(&p).map_err(|e| io_err(&p, e))
    }

    /// Volume `name`.
    pub fn get(&self, name: &str) -> Result<Volume, Error> {
        if !super::valid_name(name) {
            return Err(Error::NotFound(name.to_string()));
        }
        let p = self.dir(name).join(META);
        match fs::read(&p) {
            Ok(data) => serde_json::from_slice(&data)
                .map_err(|e| io_err(&p, std::io::Error::new(ErrorKind::InvalidData, e))),
            Err(e) if e.kind() == ErrorKind::NotFound => Err(Error::NotFound(name.to_string())),
            Err(e) => Err(io_err(&p, e)),
        }
    }

    /// Every volume, by name.
    pub fn list(&self) -> Result<Vec<Volume>, Error> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(&self.dir, e)),
        };
        let mut out = Vec::new();
        for e in entries {
            let e = e.map_err(|e| io_err(&self.dir, e))?;
            let Some(name) = e.file_name().to_str().map(str::to_string) else {
                continue;
            };
            match self.get(&name) {
                Ok(v) => out.push(v),
                // Not a volume (the lock, a half-made one) or removed while we looked.
                Err(Error::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Creates a volume, or returns the existing one of that name (as Docker, `create`
    /// is idempotent). The bool says whether it was made now.
    pub fn create(&self, opts: &VolumeOptions) -> Result<(Volume, bool), Error> {
        let _lock = self.lock()?;
        self.create_locked(opts)
    }

    fn create_locked(&self, opts: &VolumeOptions) -> Result<(Volume, bool), Error> {
        let driver = opts.driver.as_deref().unwrap_or("local");
        let (name, labels) = match &opts.name {
            Some(n) => (n.clone(), opts.labels.clone()),
            None => {
                let mut l = opts.labels.clone().unwrap_or_default();
                l.insert(ANONYMOUS_LABEL.into(), String::new());
                (anonymous_name(), Some(l))
            }
        };
        check_name(&name)?;
        if driver != "local" {
            return Err(Error::Unsupported(format!(
                "create {name}: error looking up volume plugin {driver}: plugin \"{driver}\" not found"
            )));
        }
        if let Some(o) = &opts.options {
            check_options(&name, o)?;
        }
        match self.get(&name) {
            Ok(v) => return Ok((v, false)),
            Err(Error::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
        let dir = self.dir(&name);
        let tmp = self.dir.join(format!(".new-{}", anonymous_name()));
        let made = (|| {
            let mut b = fs::DirBuilder::new();
            b.mode(0o701);
            b.create(&tmp).map_err(|e| io_err(&tmp, e))?;
            b.mode(0o755);
            let data = tmp.join(DATA);
            b.create(&data).map_err(|e| io_err(&data, e))?;
            // The mode asked for, whatever the umask.
            fs::set_permissions(&data, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .map_err(|e| io_err(&data, e))?;
            let v = Volume {
                created_at: created_at(),
                driver: "local".into(),
                labels,
                mountpoint: dir.join(DATA).display().to_string(),
                name: name.clone(),
                options: opts.options.clone(),
                scope: "local".into(),
            };
            let meta = tmp.join(META);
            fsutil::write_json_atomic(&meta, &v).map_err(|e| io_err(&meta, e))?;
            fs::rename(&tmp, &dir).map_err(|e| io_err(&dir, e))?;
            Ok(v)
        })();
        if made.is_err() {
            let _ = fs::remove_dir_all(&tmp);
        }
        made.map(|v| (v, true))
    }

    /// The volume for a container's mount: volume `opts.name` (made with `opts` if
    /// missing; `None` makes an anonymous one), recorded as used by container `id`. The
    /// bool says whether the volume was made now.
    pub fn acquire(&self, opts: &VolumeOptions, id: &str) -> Result<(Volume, bool), Error> {
        let _lock = self.lock()?;
        let (v, made) = self.create_locked(opts)?;
        let refs = self.dir(&v.name).join(REFS);
        fs::create_dir_all(&refs).map_err(|e| io_err(&refs, e))?;
        let r = refs.join(id);
        fs::write(&r, b"").map_err(|e| io_err(&r, e))?;
        Ok((v, made))
    }

    /// The ids of the containers that use volume `name` (stale references are dropped).
    pub fn users(&self, name: &str) -> Result<Vec<String>, Error> {
        let refs = self.dir(name).join(REFS);
        let entries = match fs::read_dir(&refs) {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(&refs, e)),
        };
        let mut out = Vec::new();
        for e in entries {
            let e = e.map_err(|e| io_err(&refs, e))?;
            let id = e.file_name().to_string_lossy().into_owned();
            if self.containers.join(&id).is_dir() {
                out.push(id);
            } else {
                let _ = fs::remove_file(e.path());
            }
        }
        out.sort();
        Ok(out)
    }

    /// Removes volume `name`; refuses while a container (running or not) uses it.
    pub fn remove(&self, name: &str) -> Result<Volume, Error> {
        let _lock = self.lock()?;
        self.remove_locked(name)
    }

    fn remove_locked(&self, name: &str) -> Result<Volume, Error> {
        let v = self.get(name)?;
        let users = self.users(name)?;
        if !users.is_empty() {
            return Err(Error::InUse(name.to_string(), users));
        }
        let dir = self.dir(name);
        // Out of sight at once, then deleted: a crash midway leaves a `.gone-*` dir, not
        // a half-deleted volume.
        let gone = self.dir.join(format!(".gone-{}", anonymous_name()));
        fs::rename(&dir, &gone).map_err(|e| io_err(&dir, e))?;
        fs::remove_dir_all(&gone).map_err(|e| io_err(&gone, e))?;
        Ok(v)
    }

    /// `volume prune`: removes the unused volumes (only anonymous ones unless `all`) that
    /// `keep` accepts; returns each removed volume's name and the bytes it held.
    pub fn prune(
        &self,
        all: bool,
        keep: impl Fn(&Volume) -> bool,
    ) -> Result<Vec<(String, u64)>, Error> {
        let _lock = self.lock()?;
        self.remove_leftovers();
        let mut out = Vec::new();
        for v in self.list()? {
            if (!all && !v.is_anonymous()) || !keep(&v) || !self.users(&v.name)?.is_empty() {
                continue;
            }
            let size = dir_size(&self.dir(&v.name).join(DATA));
            self.remove_locked(&v.name)?;
            out.push((v.name, size));
        }
        Ok(out)
    }

    /// Deletes what a crash midway through a create or a remove left (`.new-*`,
    /// `.gone-*`): under the store's lock, no other process is making or removing one.
    fn remove_leftovers(&self) {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(".new-") || name.starts_with(".gone-") {
                let _ = fs::remove_dir_all(e.path());
            }
        }
    }

    /// Removes the anonymous volumes among `names` that no container uses any more
    /// (`rm -v`, `run --rm`); named volumes stay. Returns the names removed.
    pub fn remove_anonymous(&self, names: &[String]) -> Result<Vec<String>, Error> {
        self.remove_unused(names, true)
    }

    /// Removes the volumes among `names` (only anonymous ones if `anonymous_only`) that
    /// no container uses; the others stay. Returns the names removed.
    pub fn remove_unused(
        &self,
        names: &[String],
        anonymous_only: bool,
    ) -> Result<Vec<String>, Error> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let _lock = self.lock()?;
        let mut out = Vec::new();
        for n in names {
            match self.get(n) {
                Ok(v) if (v.is_anonymous() || !anonymous_only) && self.users(n)?.is_empty() => {
                    self.remove_locked(n)?;
                    out.push(n.clone());
                }
                Ok(_) | Err(Error::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
}

/// The local driver's `--opt` keys, checked as Docker does.
fn check_options(name: &str, o: &BTreeMap<String, String>) -> Result<(), Error> {
    for k in o.keys() {
        if !matches!(k.as_str(), "type" | "device" | "o") {
            return Err(Error::Invalid(format!(
                "create {name}: invalid option key: {k:?}"
            )));
        }
    }
    if o.contains_key("type") != o.contains_key("device") {
        return Err(Error::Invalid(format!(
            "create {name}: missing required option: \"{}\"",
            if o.contains_key("type") {
                "device"
            } else {
                "type"
            }
        )));
    }
    Ok(())
}

/// The bytes of the files under `dir` (hard links counted once), as Docker's reclaimed
/// space counts them. Unreadable entries count nothing.
pub fn dir_size(dir: &Path) -> u64 {
    fn walk(dir: &Path, seen: &mut std::collections::HashSet<(u64, u64)>) -> u64 {
        let Ok(entries) = fs::read_dir(dir) else {
            return 0;
        };
        let mut total = 0;
        for e in entries.flatten() {
            let Ok(m) = e.path().symlink_metadata() else {
                continue;
            };
            if m.is_dir() {
                total += walk(&e.path(), seen);
            } else if m.nlink() < 2 || seen.insert((m.dev(), m.ino())) {
                total += m.len();
            }
        }
        total
    }
    walk(dir, &mut Default::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(n: &str) -> VolumeOptions {
        VolumeOptions {
            name: Some(n.into()),
            ..Default::default()
        }
    }

    #[test]
    fn create_is_idempotent_and_remove_refuses_a_used_volume() {
        let t = tempfile::tempdir().unwrap();
        let s = VolumeStore::open(t.path());
        let opts = VolumeOptions {
            name: Some("data".into()),
            ..Default::default()
        };
        let (v, made) = s.create(&opts).unwrap();
        assert!(made);
        assert_eq!(
            v.mountpoint,
            t.path().join("volumes/data/_data").display().to_string()
        );
        let (v2, made) = s.create(&opts).unwrap();
        assert!(!made);
        assert_eq!(v, v2);

        let (_, made) = s.acquire(&named("data"), "c1").unwrap();
        assert!(!made);
        // The container's dir does not exist: a stale reference.
        assert!(s.users("data").unwrap().is_empty());
        fs::create_dir_all(t.path().join("containers/c1")).unwrap();
        s.acquire(&named("data"), "c1").unwrap();
        let err = s.remove("data").unwrap_err();
        assert_eq!(err.to_string(), "remove data: volume is in use - [c1]");
        fs::remove_dir(t.path().join("containers/c1")).unwrap();
        s.remove("data").unwrap();
        assert!(matches!(s.get("data"), Err(Error::NotFound(_))));
    }

    #[test]
    fn anonymous_volumes_have_dockers_label_and_prune_takes_only_them() {
        let t = tempfile::tempdir().unwrap();
        let s = VolumeStore::open(t.path());
        let (anon, _) = s.acquire(&VolumeOptions::default(), "gone").unwrap();
        assert_eq!(anon.name.len(), 64);
        assert!(anon.is_anonymous());
        s.create(&VolumeOptions {
            name: Some("named".into()),
            ..Default::default()
        })
        .unwrap();
        fs::write(Path::new(&anon.mountpoint).join("f"), b"12345").unwrap();
        let pruned = s.prune(false, |_| true).unwrap();
        assert_eq!(pruned, vec![(anon.name.clone(), 5)]);
        let names: Vec<String> = s.list().unwrap().into_iter().map(|v| v.name).collect();
        assert_eq!(names, vec!["named".to_string()]);
        assert_eq!(s.prune(true, |_| true).unwrap().len(), 1);
    }

    #[test]
    fn bad_names_drivers_and_options_are_refused() {
        let t = tempfile::tempdir().unwrap();
        let s = VolumeStore::open(t.path());
        let mk = |name: &str, driver: Option<&str>, opt: Option<(&str, &str)>| {
            s.create(&VolumeOptions {
                name: Some(name.into()),
                driver: driver.map(Into::into),
                labels: None,
                options: opt.map(|(k, v)| BTreeMap::from([(k.to_string(), v.to_string())])),
            })
        };
        assert!(mk("a/b", None, None).is_err());
        assert!(mk("ok", Some("nfs"), None).is_err());
        assert!(mk("ok", None, Some(("bogus", "1"))).is_err());
        assert!(mk("ok", None, Some(("type", "tmpfs"))).is_err());
        assert!(s.list().unwrap().is_empty());
    }
}
