//! The container store: `<root>/containers/<id>/` with `container.json` (tug's metadata
//! and state, Docker's names), `config.json` (the OCI runtime spec), the generated /etc
//! files, and the rootfs dirs; names reserved as files under `containers/names/`.

use std::fs::{self, File};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use super::record::Container;
use super::{ContainerId, Error};
use crate::fsutil;

/// The containers of a state root.
#[derive(Debug, Clone)]
pub struct ContainerStore {
    dir: PathBuf,
}

/// A container's metadata file.
pub const RECORD: &str = "container.json";
/// The OCI runtime spec.
pub const SPEC: &str = "config.json";
/// Present in a `--rm` container's dir while `restart` stops it: its shim then records
/// the exit instead of removing the container. It holds the restarting process's pid.
pub const MANUAL_RESTART: &str = "restarting";

/// Marks the `--rm` container whose dir is `dir` as being restarted by this process (see
/// [`MANUAL_RESTART`]). The mark's path, for its removal.
pub fn mark_manual_restart(dir: &Path) -> std::io::Result<PathBuf> {
    let m = dir.join(MANUAL_RESTART);
    fs::write(&m, std::process::id().to_string())?;
    Ok(m)
}

/// Whether a `restart` of the container whose dir is `dir` is under way: its mark is
/// there and names a live process. A mark whose process died (a crash of the machine or
/// of the restarting process before it removed the mark) counts for nothing and is
/// removed, so that the container's next exit removes it again.
pub fn manual_restart_under_way(dir: &Path) -> bool {
    let m = dir.join(MANUAL_RESTART);
    let Ok(text) = fs::read_to_string(&m) else {
        return false;
    };
    let alive = text.trim().parse::<i32>().is_ok_and(|pid| {
        pid > 0
            && !matches!(
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
                Err(nix::errno::Errno::ESRCH)
            )
    });
    if !alive {
        let _ = fs::remove_file(&m);
    }
    alive
}

/// Whether the container whose dir is `d` is gone: it has no dir, or a dir without a
/// record whose lock no one holds (a create that died before writing its record; a create
/// holds the lock from its dir's making to its record's writing).
pub fn is_gone(d: &Path) -> bool {
    matches!(leftover(d), Ok(Leftover::NoDir | Leftover::Dead(_)))
}

/// What is at a container's dir, for the sweeps of what dead creates left.
enum Leftover {
    /// A container with a record, or a create in progress (the dir's lock held).
    Live,
    /// No dir.
    NoDir,
    /// A dir without a record whose lock no one held: a create that died before writing
    /// its record. The lock is now the caller's.
    Dead(#[allow(dead_code)] Flock<File>),
}

fn leftover(d: &Path) -> Result<Leftover, Error> {
    if d.join(RECORD).exists() {
        return Ok(Leftover::Live);
    }
    match File::open(d) {
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(Leftover::NoDir),
        Err(e) => Err(Error::io(d, e)),
        Ok(f) => match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
            // A create in progress.
            Err(_) => Ok(Leftover::Live),
            // Its record may have been written between the look and the lock.
            Ok(_) if d.join(RECORD).exists() => Ok(Leftover::Live),
            Ok(lock) => Ok(Leftover::Dead(lock)),
        },
    }
}

/// How old a dir without a record must be before [`ContainerStore::sweep_dead_creates`]
/// takes it: a create makes its dir a moment before it locks it.
pub const DEAD_CREATE_AGE: std::time::Duration = std::time::Duration::from_secs(60);

/// An exclusive lock on one container's dir, held until dropped.
pub struct ContainerLock {
    _lock: Flock<File>,
}

impl ContainerStore {
    pub fn open(root: &Path) -> ContainerStore {
        ContainerStore {
            dir: root.join("containers"),
        }
    }

    /// The dir of container `id`.
    pub fn dir(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    fn names_dir(&self) -> PathBuf {
        self.dir.join("names")
    }

    /// Makes the dir of a new container.
    pub fn create_dir(&self, id: &str) -> Result<PathBuf, Error> {
        let d = self.dir(id);
        fs::create_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        fs::create_dir(&d).map_err(|e| Error::io(&d, e))?;
        Ok(d)
    }

    /// Reserves `name` for `id`; fails with Docker's conflict error if it is taken. A
    /// reservation that a create left when it died before its record was written (killed
    /// in a hung mount's `stat`, say) is taken back, with that create's dir (see
    /// `ContainerStore::reclaim_stale`).
    pub fn reserve_name(&self, name: &str, id: &str) -> Result<(), Error> {
        let names = self.names_dir();
        fs::create_dir_all(&names).map_err(|e| Error::io(&names, e))?;
        let p = names.join(name);
        // Written whole under a name of its own, then linked: a name file is never seen
        // without its id.
        let mut nonce = [0u8; 4];
        fsutil::random_bytes(&mut nonce);
        let tmp = names.join(format!(".{id}.{}.tmp", u32::from_ne_bytes(nonce)));
        fs::write(&tmp, id).map_err(|e| Error::io(&tmp, e))?;
        let conflict = |owner: &str| {
            Error::Conflict(format!(
                "Conflict. The container name \"/{name}\" is already in use by container \"{owner}\". You have to remove (or rename) that container to be able to reuse that name."
            ))
        };
        let mut result = Err(conflict(""));
        for _ in 0..3 {
            match fs::hard_link(&tmp, &p) {
                Ok(()) => {
                    result = Ok(());
                    break;
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                    let owner = fs::read_to_string(&p).unwrap_or_default();
                    match self.reclaim_stale(name, &owner) {
                        Ok(true) => continue,
                        Ok(false) => {
                            result = Err(conflict(&owner));
                            break;
                        }
                        Err(e) => {
                            result = Err(e);
                            break;
                        }
                    }
                }
                Err(e) => {
                    result = Err(Error::io(&p, e));
                    break;
                }
            }
        }
        let _ = fs::remove_file(&tmp);
        result
    }

    /// Frees `name` if its reservation by `owner` is stale: `owner` has no record, and no
    /// one holds the lock of its dir (a create holds it from its dir's making to its
    /// record's writing), or it has no dir. That dir, a dead create's, goes too. `true`
    /// when the name is free again.
    fn reclaim_stale(&self, name: &str, owner: &str) -> Result<bool, Error> {
        if ContainerId::parse(owner).is_err() {
            return Ok(false);
        }
        let d = self.dir(owner);
        match leftover(&d)? {
            Leftover::Live => return Ok(false),
            Leftover::NoDir => {}
            Leftover::Dead(lock) => {
                let _ = fs::remove_dir_all(&d);
                drop(lock);
            }
        }
        self.release_name(name, owner);
        Ok(true)
    }

    /// Deletes what creates that died before writing their record left (killed while a
    /// hung `-v` source held them, say): their dirs older than `min_age` (see
    /// `DEAD_CREATE_AGE`) and the names they reserved. Their ids.
    pub fn sweep_dead_creates(
        &self,
        min_age: std::time::Duration,
    ) -> Result<Vec<ContainerId>, Error> {
        use std::os::unix::fs::MetadataExt;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs() as i64;
        let mut swept = Vec::new();
        for id in self.ids()? {
            let d = self.dir(&id);
            let old = fs::metadata(&d).is_ok_and(|m| now - m.ctime() >= min_age.as_secs() as i64);
            if !old {
                continue;
            }
            // One dir that cannot be read stops no prune.
            if let Ok(Leftover::Dead(lock)) = leftover(&d) {
                let _ = fs::remove_dir_all(&d);
                drop(lock);
                swept.push(id);
            }
        }
        if swept.is_empty() {
            return Ok(swept);
        }
        // No one writes a dead id into a name file again: those found now are all.
        if let Ok(rd) = fs::read_dir(self.names_dir()) {
            for e in rd.flatten() {
                let owner = fs::read_to_string(e.path()).unwrap_or_default();
                if swept.iter().any(|id| *id == owner) {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
        Ok(swept)
    }

    /// Frees `name` (if it still belongs to `id`).
    pub fn release_name(&self, name: &str, id: &str) {
        let p = self.names_dir().join(name);
        if fs::read_to_string(&p).map(|o| o == id).unwrap_or(false) {
            let _ = fs::remove_file(p);
        }
    }

    /// The id of the container `name_or_id` names: a full id, a name, or an unambiguous
    /// id prefix.
    pub fn resolve(&self, name_or_id: &str) -> Result<ContainerId, Error> {
        let n = name_or_id.trim_start_matches('/');
        let not_found = || Error::NotFound(name_or_id.to_string());
        if n.is_empty() || n.contains('/') || n.starts_with('.') {
            return Err(not_found());
        }
        if let Ok(id) = ContainerId::parse(n)
            && self.dir(&id).join(RECORD).exists()
        {
            return Ok(id);
        }
        if let Ok(id) = fs::read_to_string(self.names_dir().join(n))
            && let Ok(id) = ContainerId::parse(&id)
            && self.dir(&id).join(RECORD).exists()
        {
            return Ok(id);
        }
        if !n.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(not_found());
        }
        let mut found = Vec::new();
        for id in self.ids()? {
            if id.starts_with(n) {
                found.push(id);
            }
        }
        match found.len() {
            0 => Err(not_found()),
            1 => Ok(found.remove(0)),
            _ => Err(Error::Ambiguous(name_or_id.to_string())),
        }
    }

    /// Every container id.
    pub fn ids(&self) -> Result<Vec<ContainerId>, Error> {
        let rd = match fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(&self.dir, e)),
        };
        Ok(rd
            .filter_map(|e| e.ok())
            .filter_map(|e| ContainerId::parse(e.file_name().to_str()?).ok())
            .collect())
    }

    /// Locks container `id` for an update.
    pub fn lock(&self, id: &str) -> Result<ContainerLock, Error> {
        let d = self.dir(id);
        let f = File::open(&d).map_err(|e| match e.kind() {
            ErrorKind::NotFound => Error::NotFound(id.to_string()),
            _ => Error::io(&d, e),
        })?;
        let lock =
            Flock::lock(f, FlockArg::LockExclusive).map_err(|(_, e)| Error::io(&d, e.into()))?;
        Ok(ContainerLock { _lock: lock })
    }

    /// Reads container `id`'s record.
    pub fn load(&self, id: &str) -> Result<Container, Error> {
        let p = self.dir(id).join(RECORD);
        let data = fs::read(&p).map_err(|e| match e.kind() {
            ErrorKind::NotFound => Error::NotFound(id.to_string()),
            _ => Error::io(&p, e),
        })?;
        serde_json::from_slice(&data).map_err(|e| Error::Invalid(format!("{}: {e}", p.display())))
    }

    /// Writes a record atomically; `durable` fsyncs it (not needed for `--rm` ones).
    pub fn save(&self, c: &Container, durable: bool) -> Result<(), Error> {
        let p = self.dir(&c.id).join(RECORD);
        let data = serde_json::to_vec(c).map_err(|e| Error::Invalid(e.to_string()))?;
        fsutil::write_atomic_opt(&p, &data, durable).map_err(|e| Error::io(&p, e))
    }

    /// Updates container `id`'s record under its lock: load, `f`, save. `None` when the
    /// container is gone (removed meanwhile).
    pub fn update(
        &self,
        id: &str,
        f: impl FnOnce(&mut Container),
    ) -> Result<Option<Container>, Error> {
        let _lock = match self.lock(id) {
            Ok(l) => l,
            Err(Error::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut c = match self.load(id) {
            Ok(c) => c,
            Err(Error::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        f(&mut c);
        self.save(&c, !c.host_config.auto_remove)?;
        Ok(Some(c))
    }

    /// Reads container `id`'s runtime spec.
    pub fn load_spec(&self, id: &str) -> Result<oci_spec::runtime::Spec, Error> {
        let p = self.dir(id).join(SPEC);
        let data = fs::read(&p).map_err(|e| Error::io(&p, e))?;
        serde_json::from_slice(&data).map_err(|e| Error::Invalid(format!("{}: {e}", p.display())))
    }

    /// Replaces container `id`'s runtime spec (atomically).
    pub fn save_spec(&self, id: &str, spec: &oci_spec::runtime::Spec) -> Result<(), Error> {
        let p = self.dir(id).join(SPEC);
        let data = serde_json::to_vec(spec).map_err(|e| Error::Invalid(e.to_string()))?;
        crate::fsutil::write_atomic_opt(&p, &data, true).map_err(|e| Error::io(&p, e))
    }

    /// Removes container `id`'s dir and its name.
    pub fn remove(&self, c: &Container) -> Result<(), Error> {
        if let Some(moved) = self.remove_deferred(c)? {
            purge(&moved);
        }
        Ok(())
    }

    /// Removes container `id` for every reader at once: its dir leaves the store in one
    /// rename (into `containers/.trash`, where [`ContainerStore::ids`] does not look)
    /// and its name is released. Returns the moved dir, which the caller deletes with
    /// this module's `purge` when it has the time (a shim: after its clients heard of the
    /// end; a dir of the rootfs and the /etc files takes 5-25 ms to delete on ext4).
    /// `None`: the dir was deleted in place (it could not be moved) or was already gone.
    pub fn remove_deferred(&self, c: &Container) -> Result<Option<PathBuf>, Error> {
        let d = self.dir(&c.id);
        // A shareable /dev/shm its shim left mounted (the shim died) goes first.
        let _ = nix::mount::umount2(
            &d.join(super::namespaces::SHM_DIR),
            nix::mount::MntFlags::MNT_DETACH,
        );
        let trash = self.dir.join(TRASH);
        let moved = trash.join(format!("{}.{}", c.id, std::process::id()));
        let _ = fs::create_dir(&trash);
        let result = match fs::rename(&d, &moved) {
            Ok(()) => Some(moved),
            Err(e) if e.kind() == ErrorKind::NotFound => None,
            Err(_) => match fs::remove_dir_all(&d) {
                Ok(()) => None,
                Err(e) if e.kind() == ErrorKind::NotFound => None,
                Err(e) => return Err(Error::io(&d, e)),
            },
        };
        self.release_name(c.short_name(), &c.id);
        Ok(result)
    }
}

/// Where removed containers' dirs wait to be deleted (see
/// [`ContainerStore::remove_deferred`]).
const TRASH: &str = ".trash";

/// How old a dir in the trash must be before another process's [`purge`] deletes it:
/// its own remover died before deleting it (one that lives deletes it within moments).
const TRASH_STALE: std::time::Duration = std::time::Duration::from_secs(60);

/// Deletes `moved` (a dir [`ContainerStore::remove_deferred`] moved to the trash), and
/// any dir in the trash older than [`TRASH_STALE`] that a remover left when it died.
pub fn purge(moved: &Path) {
    let _ = fs::remove_dir_all(moved);
    let Some(trash) = moved.parent() else { return };
    let Ok(rd) = fs::read_dir(trash) else { return };
    // The move into the trash set the dir's ctime (a rename changes the inode).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i64;
    for e in rd.flatten() {
        use std::os::unix::fs::MetadataExt;
        let stale = e
            .metadata()
            .is_ok_and(|m| now - m.ctime() > TRASH_STALE.as_secs() as i64);
        if stale {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, name: &str) -> Container {
        let mut v: serde_json::Value =
            serde_json::from_str(include_str!("testdata/container.json")).unwrap();
        v["Id"] = id.into();
        v["Name"] = format!("/{name}").into();
        serde_json::from_value(v).unwrap()
    }

    fn add(store: &ContainerStore, id: &str, name: &str) {
        store.create_dir(id).unwrap();
        store.reserve_name(name, id).unwrap();
        store.save(&record(id, name), false).unwrap();
    }

    /// A restart's mark counts while its process lives; the mark of a dead process is
    /// removed, so that a `--rm` container is removed again at its next exit.
    #[test]
    fn a_restart_mark_counts_only_while_its_process_lives() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!manual_restart_under_way(dir.path()));
        let m = mark_manual_restart(dir.path()).unwrap();
        assert!(manual_restart_under_way(dir.path()));
        assert!(m.exists());
        // A pid that was ours and is dead (reaped) now.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        fs::write(&m, dead.to_string()).unwrap();
        assert!(!manual_restart_under_way(dir.path()));
        assert!(!m.exists(), "the stale mark is removed");
        // An empty or garbled mark (a crash while it was written) counts for nothing.
        fs::write(&m, "").unwrap();
        assert!(!manual_restart_under_way(dir.path()));
        assert!(!m.exists());
    }

    #[test]
    fn names_ids_and_prefixes_resolve() {
        let dir = tempfile::tempdir().unwrap();
        let store = ContainerStore::open(dir.path());
        let a = format!("abc1{}", "0".repeat(60));
        let b = format!("abc2{}", "0".repeat(60));
        add(&store, &a, "web");
        add(&store, &b, "db");
        assert_eq!(store.resolve("web").unwrap(), a);
        assert_eq!(store.resolve("/db").unwrap(), b);
        assert_eq!(store.resolve(&a).unwrap(), a);
        assert_eq!(store.resolve("abc2").unwrap(), b);
        assert!(matches!(store.resolve("abc"), Err(Error::Ambiguous(_))));
        assert!(matches!(store.resolve("nope"), Err(Error::NotFound(_))));
        assert!(matches!(store.resolve("../x"), Err(Error::NotFound(_))));
        assert!(matches!(store.resolve("names"), Err(Error::NotFound(_))));
    }

    #[test]
    fn names_are_reserved_once_and_freed_on_remove() {
        let dir = tempfile::tempdir().unwrap();
        let store = ContainerStore::open(dir.path());
        let a = "a".repeat(64);
        add(&store, &a, "web");
        let err = store.reserve_name("web", &"b".repeat(64)).unwrap_err();
        assert!(
            err.to_string().contains("is already in use by container"),
            "{err}"
        );
        let c = store.load(&a).unwrap();
        assert_eq!(c.short_name(), "web");
        store.remove(&c).unwrap();
        assert!(matches!(store.resolve("web"), Err(Error::NotFound(_))));
        store.reserve_name("web", &"b".repeat(64)).unwrap();
    }

    /// A name whose owner has no record is taken back when no create holds the owner's
    /// dir (its dir goes too), or when the owner has no dir; a create in progress (its
    /// dir locked) and a container with a record keep theirs.
    #[test]
    fn a_dead_creates_name_is_taken_back_a_live_ones_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let store = ContainerStore::open(dir.path());
        let (a, b, c) = ("a".repeat(64), "b".repeat(64), "c".repeat(64));
        // A create in progress: dir made, locked, name reserved, no record yet.
        store.create_dir(&a).unwrap();
        let lock = store.lock(&a).unwrap();
        store.reserve_name("web", &a).unwrap();
        let err = store.reserve_name("web", &b).unwrap_err();
        assert!(err.to_string().contains(&a), "{err}");
        // It died: the lock is gone with it.
        drop(lock);
        store.reserve_name("web", &b).unwrap();
        assert!(!store.dir(&a).exists());
        assert_eq!(
            fs::read_to_string(store.names_dir().join("web")).unwrap(),
            b
        );
        // An owner without a dir at all.
        store.reserve_name("db", &c).unwrap();
        store.reserve_name("db", &b).unwrap();
        assert_eq!(fs::read_to_string(store.names_dir().join("db")).unwrap(), b);
        // A container with a record keeps its name.
        add(&store, &c, "cache");
        assert!(store.reserve_name("cache", &b).is_err());
        let left: Vec<_> = fs::read_dir(store.names_dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(left.is_empty(), "temporary files left: {left:?}");
    }

    /// The sweep takes a dead create's dir and names, and leaves a create in progress, a
    /// container with a record, and a dead create's dir younger than the age it is given.
    #[test]
    fn the_sweep_takes_what_dead_creates_left_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let store = ContainerStore::open(dir.path());
        let (dead, busy, kept) = ("a".repeat(64), "b".repeat(64), "c".repeat(64));
        store.create_dir(&dead).unwrap();
        store.reserve_name("web", &dead).unwrap();
        fs::write(store.dir(&dead).join("hosts"), "x").unwrap();
        store.create_dir(&busy).unwrap();
        let lock = store.lock(&busy).unwrap();
        store.reserve_name("db", &busy).unwrap();
        add(&store, &kept, "cache");
        let hour = std::time::Duration::from_secs(3600);
        assert!(store.sweep_dead_creates(hour).unwrap().is_empty());
        assert!(store.dir(&dead).exists());
        let swept = store.sweep_dead_creates(std::time::Duration::ZERO).unwrap();
        assert_eq!(swept, vec![ContainerId::parse(&dead).unwrap()]);
        assert!(!store.dir(&dead).exists());
        assert!(!store.names_dir().join("web").exists());
        assert!(store.dir(&busy).exists());
        assert_eq!(store.resolve("cache").unwrap(), kept);
        assert_eq!(
            fs::read_to_string(store.names_dir().join("db")).unwrap(),
            busy
        );
        drop(lock);
    }

    #[test]
    fn records_keep_dockers_field_names() {
        let c = record(&"f".repeat(64), "web");
        insta::assert_json_snapshot!(c);
    }

    #[test]
    fn a_deferred_removal_is_complete_for_readers_before_the_files_go() {
        let dir = tempfile::tempdir().unwrap();
        let store = ContainerStore::open(dir.path());
        let a = "a".repeat(64);
        add(&store, &a, "web");
        fs::write(store.dir(&a).join("file"), "x").unwrap();
        let watch = super::super::state_watch::StateWatch::new(&store.dir(&a)).unwrap();
        let c = store.load(&a).unwrap();
        let moved = store
            .remove_deferred(&c)
            .unwrap()
            .expect("moved to the trash");
        // Gone for every reader, its name free, a waiter on its dir woken...
        assert!(store.ids().unwrap().is_empty());
        assert!(matches!(store.load(&a), Err(Error::NotFound(_))));
        assert!(matches!(store.resolve("web"), Err(Error::NotFound(_))));
        store.reserve_name("web", &"b".repeat(64)).unwrap();
        let woke = std::time::Instant::now();
        watch.wait(std::time::Duration::from_secs(5));
        assert!(woke.elapsed() < std::time::Duration::from_secs(4));
        // ...while its files wait in the trash for the purge.
        assert!(moved.join("file").exists());
        purge(&moved);
        assert!(!moved.exists());
    }

    #[test]
    fn a_purge_leaves_a_young_dir_of_another_remover() {
        let dir = tempfile::tempdir().unwrap();
        let store = ContainerStore::open(dir.path());
        let (a, b) = ("a".repeat(64), "b".repeat(64));
        add(&store, &a, "other");
        add(&store, &b, "own");
        let other = store
            .remove_deferred(&store.load(&a).unwrap())
            .unwrap()
            .unwrap();
        let own = store
            .remove_deferred(&store.load(&b).unwrap())
            .unwrap()
            .unwrap();
        purge(&own);
        assert!(!own.exists());
        // Only a dir older than TRASH_STALE (its remover died) is another's to delete.
        assert!(other.exists());
    }
}
