//! A fresh state root for one grading, under /var/tmp/tug-tests (where the tests' roots
//! live and scripts/check-leaks.sh looks), removed with everything the answer made.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tug::{Engine, EngineConfig};

/// A private `TUG_ROOT`/`TUG_RUN` pair and the engine on it. On drop: every container is
/// removed (forced), every network the answer made is removed, and the directory is
/// deleted only when nothing is mounted under it any more.
pub struct GradeRoot {
    dir: PathBuf,
    engine: Engine,
}

impl GradeRoot {
    /// A new, empty root; its shims run `tug_bin`.
    pub fn new(tug_bin: &Path) -> std::io::Result<GradeRoot> {
        let base = Path::new("/var/tmp/tug-tests");
        std::fs::create_dir_all(base)?;
        let dir = tempfile::Builder::new()
            .prefix("w")
            .tempdir_in(base)?
            .keep();
        let config = EngineConfig::new(dir.join("root"), dir.join("run"));
        let engine = Engine::open(config)
            .map_err(|e| std::io::Error::other(tug::report(&e)))?
            .with_tug_binary(tug_bin);
        Ok(GradeRoot { dir, engine })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The temporary directory that holds `root/`, `run/` and the working copy.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The environment that points `tug` at this root.
    pub fn envs(&self) -> Vec<(&'static str, std::ffi::OsString)> {
        self.engine.config().to_env()
    }

    /// Mount points under this root, from /proc/self/mountinfo.
    fn mounts(&self) -> Vec<String> {
        let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let base = self.dir.to_string_lossy().into_owned();
        info.lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|m| m.starts_with(&base))
            .map(str::to_string)
            .collect()
    }

    fn clean_up(&self) {
        if let Ok(cs) = self.engine.containers() {
            for c in cs {
                let _ = self.engine.remove_container(&c.id, true);
            }
        }
        if let Ok(nets) = self.engine.networks() {
            for n in nets {
                if !matches!(n.name.as_str(), "bridge" | "host" | "none") {
                    let _ = self.engine.remove_network(&n.name);
                }
            }
        }
        // A shim unmounts as it exits: give it a moment, then never delete through a mount.
        let deadline = Instant::now() + Duration::from_secs(3);
        let mut left = self.mounts();
        while !left.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            left = self.mounts();
        }
        if left.is_empty() {
            remove_in_background(&self.dir);
        } else {
            eprintln!(
                "tug-workshop: mounts left under {} (a tug bug; not removed): {}",
                self.dir.display(),
                left.join(" ")
            );
        }
    }
}

impl Drop for GradeRoot {
    fn drop(&mut self) {
        self.clean_up();
    }
}

/// Removes `dir` (nothing is mounted under it) without waiting: an image such as Debian's
/// is thousands of files, seconds of unlinking that no one needs to wait for. `rm` runs
/// from a shell that exits at once (so no zombie stays with a long-running `watch`);
/// `--one-file-system` keeps it off any mount that would appear meanwhile. When the shell
/// cannot run, the removal happens here.
fn remove_in_background(dir: &Path) {
    let spawned = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#"rm -rf --one-file-system -- "$1" </dev/null >/dev/null 2>&1 &"#)
        .arg("sh")
        .arg(dir)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .status()
        .is_ok_and(|s| s.success());
    if !spawned {
        let _ = std::fs::remove_dir_all(dir);
    }
}
