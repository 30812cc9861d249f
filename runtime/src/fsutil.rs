//! Small file-system helpers every module uses: atomic writes and file locks.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use nix::fcntl::{Flock, FlockArg};

/// Writes `data` to `path` atomically: a temporary file in the same directory, fsync'd,
/// then renamed over `path`. A crash leaves either the old or the new content.
pub fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    write_atomic_opt(path, data, true)
}

/// As [`write_atomic`], with the fsync optional: state that dies with its container (a
/// `--rm` container's files) need not pay for durability.
pub fn write_atomic_opt(path: &Path, data: &[u8], durable: bool) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(&tmp)?;
    f.write_all(data)?;
    if durable {
        f.sync_all()?;
    }
    drop(f);
    let kept = keep_replaced(path, dir, name);
    fs::rename(&tmp, path).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })?;
    if let Some(old) = kept {
        replaced::push(old);
    }
    Ok(())
}

/// When this process defers the freeing of replaced files ([`defer_replaced`]): links
/// the file about to be replaced under a hidden name of its own, so that the rename
/// frees no inode. The caller's rename then costs a directory update only; freeing the
/// inode (truncating it and clearing its bits: a tenth of a millisecond or more on ext4)
/// is done later, by [`drop_replaced`] or the background thread.
fn keep_replaced(path: &Path, dir: &Path, name: &str) -> Option<std::path::PathBuf> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    if !replaced::deferring() {
        return None;
    }
    let n = N.fetch_add(1, Ordering::Relaxed);
    let old = dir.join(format!(".{name}.old{}-{n}", std::process::id()));
    fs::hard_link(path, &old).ok().map(|_| old)
}

/// Defers the freeing of files replaced by [`write_atomic_opt`] in this process: a
/// latency-bound process (the shim, the API server) frees them once its answer is out.
/// `background`: a thread of its own frees them a few milliseconds after each write (a
/// multi-threaded server); else [`drop_replaced`] does, when the caller says.
pub fn defer_replaced(background: bool) {
    replaced::start(background);
}

/// Frees the files replaced since the last call (see [`defer_replaced`]).
pub fn drop_replaced() {
    replaced::drain();
}

/// The replaced files waiting to be freed.
mod replaced {
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Condvar, Mutex};
    use std::time::Duration;

    static DEFERRING: AtomicBool = AtomicBool::new(false);
    static LIST: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
    static WAKE: Condvar = Condvar::new();
    /// How long the background thread lets an answer go out before it frees.
    const DELAY: Duration = Duration::from_millis(5);

    pub(super) fn deferring() -> bool {
        DEFERRING.load(Ordering::Relaxed)
    }

    pub(super) fn start(background: bool) {
        if DEFERRING.swap(true, Ordering::Relaxed) || !background {
            return;
        }
        let spawned = std::thread::Builder::new()
            .name("free-replaced".into())
            .spawn(|| {
                loop {
                    {
                        let list = LIST.lock().unwrap_or_else(|p| p.into_inner());
                        let _list = WAKE
                            .wait_while(list, |l| l.is_empty())
                            .unwrap_or_else(|p| p.into_inner());
                    }
                    std::thread::sleep(DELAY);
                    drain();
                }
            });
        if spawned.is_err() {
            DEFERRING.store(false, Ordering::Relaxed);
        }
    }

    pub(super) fn push(old: PathBuf) {
        LIST.lock().unwrap_or_else(|p| p.into_inner()).push(old);
        WAKE.notify_one();
    }

    pub(super) fn drain() {
        let list = std::mem::take(&mut *LIST.lock().unwrap_or_else(|p| p.into_inner()));
        for p in list {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Writes `data` to `path`, which must not exist yet (`durable`: fsync'd too), without
/// the temporary file and the rename of [`write_atomic_opt`]. For the files of a dir that
/// nothing reads before a later atomic write makes it known (a new container's files,
/// before its record): a crash in between leaves a dir without a record, swept later.
pub fn write_new(path: &Path, data: &[u8], durable: bool) -> io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(path)?;
    f.write_all(data)?;
    if durable {
        f.sync_all()?;
    }
    Ok(())
}

/// Serialises `value` as pretty JSON and writes it atomically.
pub fn write_json_atomic<T: serde::Serialize>(path: &Path, value: &T) -> io::Result<()> {
    let data = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
    write_atomic(path, &data)
}

/// An exclusive advisory lock on a lock file, held until dropped. Works across processes
/// (and across threads, since each call opens its own file description).
pub struct LockGuard {
    _lock: Flock<File>,
}

/// Takes an exclusive lock on `path` (created if missing), blocking until it is free.
pub fn lock_exclusive(path: &Path) -> io::Result<LockGuard> {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)?;
    let lock = Flock::lock(f, FlockArg::LockExclusive).map_err(|(_, e)| io::Error::from(e))?;
    Ok(LockGuard { _lock: lock })
}

/// Takes a shared lock on `path` (created if missing), blocking until no exclusive holder.
pub fn lock_shared(path: &Path) -> io::Result<LockGuard> {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)?;
    let lock = Flock::lock(f, FlockArg::LockShared).map_err(|(_, e)| io::Error::from(e))?;
    Ok(LockGuard { _lock: lock })
}

/// Fills `buf` with random bytes from the kernel.
pub fn random_bytes(buf: &mut [u8]) {
    // getrandom(2) only fails on an unsupported platform or an interrupted call, which the
    // crate retries; a container id without randomness would be a bug worth a panic.
    getrandom::fill(buf).expect("getrandom failed");
}

/// The apparent size of the files under `dir` (symlinks not followed; a file with several
/// links counted once; unreadable entries count nothing), as Docker counts reclaimed space.
pub fn dir_size(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut seen = std::collections::HashSet::new();
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                stack.push(e.path());
            } else if m.nlink() <= 1 || seen.insert((m.dev(), m.ino())) {
                total += m.len();
            }
        }
    }
    total
}

/// Removes what [`write_atomic_opt`] leaves in `dir` when its process dies mid-way: a
/// temporary file (`.NAME.tmpPID`) or a replaced one not yet freed (`.NAME.oldPID-N`)
/// whose process is gone, and older than `min_age` (a writer in another pid namespace
/// is not seen; its write takes milliseconds). A file of a live process (or of a pid
/// reused since) stays. Returns how many went.
pub fn sweep_stale(dir: &Path, min_age: std::time::Duration) -> usize {
    let Ok(rd) = fs::read_dir(dir) else { return 0 };
    let mut removed = 0;
    for e in rd.flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(stale_pid) else {
            continue;
        };
        let alive = pid == std::process::id()
            || nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None).is_ok();
        let young = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_none_or(|age| age < min_age);
        if !alive && !young && fs::remove_file(e.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// The pid in a name [`write_atomic_opt`] gives its temporary and replaced files.
fn stale_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?;
    fn digits(s: &str) -> Option<&str> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then_some(s)
    }
    if let Some((_, pid)) = rest.rsplit_once(".tmp") {
        return digits(pid)?.parse().ok();
    }
    let (_, old) = rest.rsplit_once(".old")?;
    let (pid, n) = old.split_once('-')?;
    digits(n)?;
    digits(pid)?.parse().ok()
}

/// An error that may be EAGAIN.
pub trait MaybeEagain {
    fn is_eagain(&self) -> bool;
}

impl MaybeEagain for nix::errno::Errno {
    fn is_eagain(&self) -> bool {
        *self == nix::errno::Errno::EAGAIN
    }
}

impl MaybeEagain for rustix::io::Errno {
    fn is_eagain(&self) -> bool {
        *self == rustix::io::Errno::AGAIN
    }
}

/// Calls `f` again while it fails with EAGAIN (a bounded number of times): `openat2` with
/// `RESOLVE_BENEATH`/`RESOLVE_IN_ROOT` returns it when a rename or a mount anywhere on the
/// host raced its walk over `..`, and the kernel asks the caller to retry. With
/// containers starting in parallel (mounts all the time) that happens.
pub fn retry_eagain<T, E: MaybeEagain>(mut f: impl FnMut() -> Result<T, E>) -> Result<T, E> {
    let mut tries = 0;
    loop {
        match f() {
            Err(e) if e.is_eagain() && tries < 128 => tries += 1,
            r => return r,
        }
    }
}

#[cfg(test)]
mod eagain_tests {
    use super::*;
    use nix::errno::Errno;

    #[test]
    fn eagain_is_retried_a_bounded_number_of_times() {
        let mut calls = 0;
        let r: Result<u8, Errno> = retry_eagain(|| {
            calls += 1;
            if calls < 3 { Err(Errno::EAGAIN) } else { Ok(7) }
        });
        assert_eq!((r, calls), (Ok(7), 3));
        let mut calls = 0;
        let r: Result<u8, Errno> = retry_eagain(|| {
            calls += 1;
            Err(Errno::EAGAIN)
        });
        assert_eq!((r, calls), (Err(Errno::EAGAIN), 129));
        let r: Result<u8, rustix::io::Errno> = retry_eagain(|| Err(rustix::io::Errno::NOENT));
        assert_eq!(r, Err(rustix::io::Errno::NOENT));
    }
}

/// Locks `f` (a file or a dir) exclusively for as long as it (or a dup of it) is open:
/// it marks a staging file or dir as in use by a live process (see [`remove_abandoned`]).
pub fn hold(f: &std::fs::File) -> io::Result<()> {
    rustix::fs::flock(f, rustix::fs::FlockOperation::NonBlockingLockExclusive)?;
    Ok(())
}

/// How old an unlocked staging entry must be before it counts as abandoned: a writer
/// locks its entry right after making it, so only that instant is unprotected.
const ABANDONED_AFTER: std::time::Duration = std::time::Duration::from_secs(30);

/// Removes the entries of `dir` named `prefix*` that no live process holds (see
/// [`hold`]): what a killed `pull`, `load`, `commit` or `import` left. Returns the bytes
/// freed.
pub fn remove_abandoned(dir: &Path, prefix: &str) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut freed = 0;
    for e in entries.flatten() {
        if !e.file_name().to_string_lossy().starts_with(prefix) {
            continue;
        }
        let path = e.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let young = meta
            .modified()
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_none_or(|age| age < ABANDONED_AFTER);
        if young {
            continue;
        }
        // A lock we can take means no process holds the entry.
        let Ok(f) = std::fs::File::open(&path) else {
            continue;
        };
        if hold(&f).is_err() {
            continue;
        }
        let size = if meta.is_dir() {
            dir_size(&path)
        } else {
            meta.len()
        };
        let removed = if meta.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        if removed.is_ok() {
            freed += size;
        }
    }
    freed
}

#[cfg(test)]
mod abandoned_tests {
    use super::*;

    #[test]
    fn only_old_unlocked_entries_are_removed() {
        let d = tempfile::tempdir().unwrap();
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        let mk = |name: &str, dir: bool| {
            let p = d.path().join(name);
            if dir {
                std::fs::create_dir(&p).unwrap();
                std::fs::write(p.join("x"), b"12345").unwrap();
            } else {
                std::fs::write(&p, b"12345").unwrap();
            }
            let f = std::fs::File::open(&p).unwrap();
            f.set_modified(old).unwrap();
            p
        };
        let dead_file = mk(".tmp-a", false);
        let dead_dir = mk(".tmp-b", true);
        let live = mk(".tmp-c", false);
        let held = std::fs::File::open(&live).unwrap();
        hold(&held).unwrap();
        let other = mk("keep", false);
        let young = d.path().join(".tmp-young");
        std::fs::write(&young, b"1").unwrap();
        let freed = remove_abandoned(d.path(), ".tmp-");
        assert_eq!(freed, 10);
        assert!(!dead_file.exists() && !dead_dir.exists());
        assert!(live.exists() && other.exists() && young.exists());
    }
}

/// The staging files and dirs this process is writing, removed by
/// [`remove_own_staging`] when a command is interrupted (Ctrl-C, SIGTERM).
static STAGING: std::sync::Mutex<Vec<std::path::PathBuf>> = std::sync::Mutex::new(Vec::new());

/// Notes `p` as a staging entry of this process (see [`remove_own_staging`]).
pub fn staging_add(p: &Path) {
    if let Ok(mut v) = STAGING.lock() {
        v.push(p.to_path_buf());
    }
}

/// Forgets `p` (committed or removed).
pub fn staging_forget(p: &Path) {
    if let Ok(mut v) = STAGING.lock()
        && let Some(i) = v.iter().position(|x| x == p)
    {
        v.swap_remove(i);
    }
}

/// Removes every staging entry this process still has: the last act of an interrupted
/// command.
pub fn remove_own_staging() {
    let list = match STAGING.lock() {
        Ok(mut v) => std::mem::take(&mut *v),
        Err(_) => return,
    };
    for p in list {
        let _ = std::fs::remove_dir_all(&p).or_else(|_| std::fs::remove_file(&p));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dead process's temporary and replaced files go; a live one's, and anything
    /// else, stay.
    #[test]
    fn sweep_removes_the_files_of_dead_writers_only() {
        let dir = tempfile::tempdir().unwrap();
        // A pid that exited: a child waited for.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let me = std::process::id();
        let names = [
            format!(".config.json.tmp{dead}"),
            format!(".record.json.old{dead}-3"),
            format!(".record.json.tmp{me}"),
            format!(".record.json.old{me}-0"),
            "record.json".to_string(),
            ".hidden".to_string(),
            format!(".x.tmp{dead}x"),
            format!(".x.old{dead}-"),
        ];
        for n in &names {
            fs::write(dir.path().join(n), b"x").unwrap();
        }
        // Too young yet: nothing goes.
        assert_eq!(
            sweep_stale(dir.path(), std::time::Duration::from_secs(60)),
            0
        );
        assert_eq!(sweep_stale(dir.path(), std::time::Duration::ZERO), 2);
        let mut left: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        let mut want: Vec<String> = names[2..].to_vec();
        want.sort();
        assert_eq!(left, want);
    }

    /// With deferral on, a replace leaves the old file linked under a hidden name until
    /// `drop_replaced`: the reader sees the new content at once, and nothing else stays.
    #[test]
    fn a_deferred_replace_frees_the_old_file_when_told() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.json");
        write_atomic(&p, b"old").unwrap();
        let old_ino = std::os::unix::fs::MetadataExt::ino(&fs::metadata(&p).unwrap());
        defer_replaced(false);
        write_atomic(&p, b"new").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"new");
        let hidden: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(".state.json.old")
            })
            .collect();
        assert_eq!(hidden.len(), 1, "the old file, kept linked");
        let kept_ino = std::os::unix::fs::MetadataExt::ino(&hidden[0].metadata().unwrap());
        assert_eq!(kept_ino, old_ino);
        drop_replaced();
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("state.json")]);
    }
}
