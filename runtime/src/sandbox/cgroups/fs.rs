//! File operations on cgroupfs shared by v1 and v2: writes with the file named in errors,
//! mkdir of a path that a concurrent clean-up may be removing, rmdir with a deadline,
//! killing what is left, and waiting for a state file to reach a value.

use std::io::ErrorKind;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::Error;

pub fn write(path: &Path, value: &str) -> Result<(), Error> {
    std::fs::write(path, value).map_err(|e| Error::Write {
        file: path.display().to_string(),
        value: value.to_string(),
        source: e,
    })
}

pub fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| Error::io(path, e))
}

/// The file's first line as an integer (`max` reads as `None`).
pub fn read_u64(path: &Path) -> Result<Option<u64>, Error> {
    let s = read(path)?;
    let s = s.trim();
    if s == "max" {
        return Ok(None);
    }
    s.parse()
        .map(Some)
        .map_err(|_| Error::Parse(path.display().to_string(), s.to_string()))
}

/// `key value` lines (memory.stat, cpu.stat, memory.events, oom_control): the value of
/// `key`, or 0.
pub fn keyed(text: &str, key: &str) -> u64 {
    text.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(' ')?;
            (k == key).then(|| v.trim().parse().ok()).flatten()
        })
        .unwrap_or(0)
}

/// Makes `base/rel` and its missing parents, one level at a time. `on_new` runs for each
/// dir made (cpuset needs its cpus and mems copied down). A parent removed by a
/// concurrent clean-up between two mkdirs is made again.
pub fn mkdir_all(
    base: &Path,
    rel: &Path,
    mut on_new: impl FnMut(&Path) -> Result<(), Error>,
) -> Result<(), Error> {
    for _attempt in 0..5 {
        let mut dir = base.to_path_buf();
        let mut raced = false;
        for part in rel.components() {
            dir.push(part);
            match std::fs::create_dir(&dir) {
                Ok(()) => on_new(&dir)?,
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    raced = true;
                    break;
                }
                Err(e) => return Err(Error::io(&dir, e)),
            }
        }
        if !raced {
            return Ok(());
        }
    }
    Err(Error::io(
        &base.join(rel),
        std::io::Error::other("its parent kept disappearing"),
    ))
}

/// The pids in a cgroup's `cgroup.procs` (none when it does not exist).
pub fn procs(dir: &Path) -> Result<Vec<i32>, Error> {
    let p = dir.join("cgroup.procs");
    match std::fs::read_to_string(&p) {
        Ok(s) => Ok(s.lines().filter_map(|l| l.trim().parse().ok()).collect()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(Error::io(&p, e)),
    }
}

/// Kills every process in `dir` with SIGKILL, then removes the dir, retrying while the
/// processes exit, until `deadline`.
pub fn kill_and_rmdir(dir: &Path, deadline: Instant) -> Result<(), Error> {
    // Usually the container's processes are gone: try the rmdir first.
    match std::fs::remove_dir(dir) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(_) => {}
    }
    loop {
        for pid in procs(dir)? {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) if Instant::now() >= deadline => return Err(Error::io(dir, e)),
            Err(_) => std::thread::sleep(Duration::from_millis(2)),
        }
    }
}

/// Removes `base/rel`'s parents up to `base` while they are empty (another container's
/// cgroup keeps them: that is not an error). Only tug's own (`tug/...`): a
/// `--cgroup-parent` is the user's, and stays, as Docker leaves it.
pub fn rmdir_empty_parents(base: &Path, rel: &Path) {
    let mut p = rel.parent();
    while let Some(r) = p {
        if r.as_os_str().is_empty() || !r.starts_with("tug") {
            break;
        }
        if std::fs::remove_dir(base.join(r)).is_err() {
            break;
        }
        p = r.parent();
    }
}

/// Polls `check` until it says true or `timeout` passes (the freezer's states change
/// asynchronously and cgroupfs files cannot be waited on portably across v1 and v2).
pub fn wait_until(
    timeout: Duration,
    what: &str,
    mut check: impl FnMut() -> Result<bool, Error>,
) -> Result<(), Error> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_micros(100);
    loop {
        if check()? {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Error::Timeout(what.to_string()));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(10));
    }
}

/// Bytes read from and written to storage by the processes in `dir` (and the children
/// they reaped), summed from each one's task I/O accounting (`/proc/PID/io`:
/// `read_bytes`, `write_bytes`). The fallback for a cgroup whose block I/O files count
/// nothing: a v1 `blkio` on a kernel that counts `blkio.throttle.*` only on a queue with
/// throttling configured (Linux 6.10+) and no BFQ, or a v2 cgroup without `io`.
pub fn task_io(dir: &Path) -> (u64, u64) {
    let (mut read, mut write) = (0, 0);
    for pid in procs(dir).unwrap_or_default() {
        let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/io")) else {
            continue; // exited meanwhile
        };
        read += keyed(&text, "read_bytes:");
        write += keyed(&text, "write_bytes:");
    }
    (read, write)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_files_read_by_key() {
        let t = "cache 10\nrss 20\ntotal_inactive_file 5\n";
        assert_eq!(keyed(t, "rss"), 20);
        assert_eq!(keyed(t, "total_inactive_file"), 5);
        assert_eq!(keyed(t, "nope"), 0);
    }

    #[test]
    fn mkdir_all_makes_each_level_once() {
        let d = tempfile::tempdir().unwrap();
        let mut made = Vec::new();
        mkdir_all(d.path(), Path::new("tug/b/c"), |p| {
            made.push(p.to_path_buf());
            Ok(())
        })
        .unwrap();
        assert_eq!(made.len(), 3);
        made.clear();
        mkdir_all(d.path(), Path::new("tug/b/d"), |p| {
            made.push(p.to_path_buf());
            Ok(())
        })
        .unwrap();
        assert_eq!(made, vec![d.path().join("tug/b/d")]);
        rmdir_empty_parents(d.path(), Path::new("tug/b/d"));
        assert!(d.path().join("tug/b").exists(), "b still holds c");
        std::fs::remove_dir(d.path().join("tug/b/c")).unwrap();
        std::fs::remove_dir(d.path().join("tug/b/d")).unwrap();
        rmdir_empty_parents(d.path(), Path::new("tug/b/d"));
        assert!(!d.path().join("tug").exists());
        // A parent that is not tug's (`--cgroup-parent`) stays.
        mkdir_all(d.path(), Path::new("user/c1"), |_| Ok(())).unwrap();
        std::fs::remove_dir(d.path().join("user/c1")).unwrap();
        rmdir_empty_parents(d.path(), Path::new("user/c1"));
        assert!(d.path().join("user").exists());
    }
}
