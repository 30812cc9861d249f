//! Helpers shared by the end-to-end tests: a private state root per test, the `tug` binary,
//! and the images the tests use.
//!
//! Every test makes its own [`TestRoot`] (its own `TUG_ROOT` and `TUG_RUN` under a temporary
//! directory), so tests run in parallel, under `cargo test` threads or nextest processes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The repository's top directory.
pub fn repo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The `tug` binary under test: `$TUG_BIN`, else the one cargo built beside this test
/// binary (`target/<profile>/tug`). `scripts/test.sh` builds it before the tests run.
pub fn tug_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("TUG_BIN") {
            return PathBuf::from(p);
        }
        // target/<profile>/deps/<test-binary> → target/<profile>/tug
        let exe = std::env::current_exe().expect("current_exe");
        let profile_dir = exe
            .parent()
            .and_then(|d| d.parent())
            .expect("target/<profile>/deps");
        let bin = profile_dir.join("tug");
        assert!(
            bin.exists(),
            "{} is missing: build it first (cargo build -p tug), or set TUG_BIN",
            bin.display()
        );
        bin
    })
    .clone()
}

/// The busybox rootfs tar that `images/busybox/build.sh` imports (made once, cached under
/// `$TUG_CACHE`, default /var/cache/tug).
pub fn busybox_rootfs_tar() -> PathBuf {
    static TAR: OnceLock<PathBuf> = OnceLock::new();
    TAR.get_or_init(|| {
        let out = Command::new("bash")
            .arg(repo_dir().join("images/busybox/build.sh"))
            .arg("--rootfs-tar")
            .output()
            .expect("run images/busybox/build.sh --rootfs-tar");
        assert!(
            out.status.success(),
            "busybox rootfs tar: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    })
    .clone()
}

/// A private state root for one test, removed (with everything in it) on drop.
pub struct TestRoot {
    dir: tempfile::TempDir,
}

/// The last guard: containers a failed test left (its own guards never ran, or it had
/// none, as an interactive `run --rm` killed with its CLI) are removed with their shims,
/// so that nothing of the test outlives its root.
impl Drop for TestRoot {
    fn drop(&mut self) {
        let ids = self.container_ids();
        if ids.is_empty() {
            return;
        }
        let mut args = vec!["rm", "-f"];
        args.extend(ids.iter().map(String::as_str));
        let _ = self.run(&args);
    }
}

impl Default for TestRoot {
    fn default() -> Self {
        Self::new()
    }
}

impl TestRoot {
    /// A new, empty state root. It lives under /var/tmp (a disk file system, where
    /// overlayfs upper dirs work), not on a tmpfs.
    pub fn new() -> TestRoot {
        let base = Path::new("/var/tmp/tug-tests");
        std::fs::create_dir_all(base).expect("create /var/tmp/tug-tests");
        let dir = tempfile::Builder::new()
            .prefix("t")
            .tempdir_in(base)
            .expect("tempdir");
        TestRoot { dir }
    }

    /// A new state root holding the `busybox` image (made by `images/busybox/build.sh`).
    pub fn with_busybox() -> TestRoot {
        let t = TestRoot::new();
        t.add_busybox("busybox:latest");
        t
    }

    /// Makes the busybox image under `reference` in this root.
    pub fn add_busybox(&self, reference: &str) {
        self.run_image_script("images/busybox/build.sh", reference);
    }

    /// Makes `debian:bookworm-slim` in this root (its rootfs tar is cached under
    /// `$TUG_CACHE`: only the first one on a machine runs debootstrap).
    pub fn add_debian(&self) {
        self.run_image_script("images/debian/build.sh", "debian:bookworm-slim");
    }

    /// Loads `reference`, built by `tug build` from `images/<dir>` on the debootstrap
    /// base, into this root. The build runs once per machine and recipe (under a lock,
    /// in a root of its own; Debian's packages come from its mirror) and is kept as a
    /// `tug save` archive under `$TUG_CACHE/images`, named by the recipe's hash.
    pub fn add_built_image(&self, dir: &str, reference: &str) {
        let recipe = repo_dir().join("images").join(dir);
        let mut content = Vec::new();
        let mut files: Vec<PathBuf> = std::fs::read_dir(&recipe)
            .unwrap_or_else(|e| panic!("{}: {e}", recipe.display()))
            .flatten()
            .map(|e| e.path())
            .collect();
        files.sort();
        for f in files
            .iter()
            .chain([&repo_dir().join("images/debian/build.sh")])
        {
            content.extend(f.to_string_lossy().as_bytes());
            content.extend(std::fs::read(f).unwrap_or_default());
        }
        content.extend(reference.as_bytes());
        let cache = std::env::var_os("TUG_CACHE")
            .map_or_else(|| PathBuf::from("/var/cache/tug"), PathBuf::from)
            .join("images");
        std::fs::create_dir_all(&cache).expect("the image cache dir");
        let tar = cache.join(format!("{dir}-{}.tar", &sha256_hex(&content)[..12]));
        let lock = std::fs::File::create(cache.join(format!("{dir}.lock"))).expect("lock file");
        lock.lock().expect("lock the image cache");
        if !tar.exists() {
            let builder = TestRoot::new();
            builder.add_debian();
            builder.ok(&["build", "-q", "-t", reference, &recipe.to_string_lossy()]);
            let part = tar.with_extension("part");
            builder.ok(&["save", "-o", &part.to_string_lossy(), reference]);
            std::fs::rename(&part, &tar).expect("keep the archive");
        }
        drop(lock);
        self.ok(&["load", "-q", "-i", &tar.to_string_lossy()]);
    }

    /// Runs an image recipe of `images/` (`script REFERENCE`) on this root.
    fn run_image_script(&self, script: &str, reference: &str) {
        let out = Command::new("bash")
            .arg(repo_dir().join(script))
            .arg(reference)
            .env("TUG", tug_bin())
            .envs(self.envs())
            .output()
            .unwrap_or_else(|e| panic!("run {script}: {e}"));
        assert!(
            out.status.success(),
            "{script} {reference} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The temporary directory (the state root is `root/` in it).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The state root (`TUG_ROOT`).
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// The run root (`TUG_RUN`).
    pub fn run_root(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    /// The environment that points tug at this root.
    pub fn envs(&self) -> Vec<(&'static str, PathBuf)> {
        vec![("TUG_ROOT", self.root()), ("TUG_RUN", self.run_root())]
    }

    /// A `tug` command on this root, with no stdin.
    pub fn tug(&self) -> Command {
        let mut c = Command::new(tug_bin());
        c.envs(self.envs()).stdin(std::process::Stdio::null());
        c
    }

    /// Runs `tug ARGS` on this root and returns its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.tug().args(args).output().expect("spawn tug")
    }

    /// Runs `tug ARGS`, asserts that it succeeded, and returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "tug {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 stdout")
    }

    /// The first object of what an `inspect` command (`args`) prints, a JSON array.
    pub fn inspect_first(&self, args: &[&str]) -> serde_json::Value {
        let out = self.ok(args);
        let v: serde_json::Value = serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("tug {args:?}: not JSON ({e}): {out}"));
        v[0].clone()
    }

    /// Runs `tug ARGS` with `input` on stdin and `envs` added to its environment.
    pub fn run_with_stdin(&self, args: &[&str], input: &[u8], envs: &[(&str, &str)]) -> Output {
        let mut c = self.tug();
        c.args(args).envs(envs.iter().copied());
        output_with_stdin(c, input)
    }

    /// A directory `name` in this test's temporary directory (made if missing), for binds.
    pub fn host_dir(&self, name: &str) -> PathBuf {
        let d = self.path().join(name);
        std::fs::create_dir_all(&d).expect("create a host dir");
        d
    }

    /// The ids of the containers this root holds, as its store has them on disk.
    pub fn container_ids(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.root().join("containers"))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.len() == 64)
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// `volume ls -q`, sorted.
    pub fn volume_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .ok(&["volume", "ls", "-q"])
            .lines()
            .map(str::to_string)
            .collect();
        v.sort();
        v
    }

    /// Asserts that no mount below this test's directory is left on the host.
    pub fn assert_nothing_mounted(&self) {
        let d = self.path().display().to_string();
        let left: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
            .expect("read mountinfo")
            .lines()
            .filter(|l| l.contains(&d))
            .map(str::to_string)
            .collect();
        assert!(left.is_empty(), "mounts left on the host: {left:?}");
    }

    /// `inspect -f TEMPLATE NAME`, trimmed.
    pub fn inspect_f(&self, name: &str, template: &str) -> String {
        self.ok(&["inspect", "-f", template, name])
            .trim()
            .to_string()
    }

    /// An engine on this root, for tests that use the library directly.
    pub fn engine(&self) -> tug::Engine {
        // The other settings as the `tug` binary reads them (TUG_FIREWALL...).
        let settings = tug::EngineConfig::from_env().expect("engine settings");
        tug::Engine::open(tug::EngineConfig {
            root: self.root(),
            run_root: self.run_root(),
            storage_driver: tug::StorageDriver::Overlay,
            ..settings
        })
        .expect("open engine")
    }
}

/// Waits until `cond` holds, failing the test with `what` after `limit`; how long it took.
pub fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    start.elapsed()
}

/// The exit code of a finished command (panics if it was killed by a signal).
pub fn code(out: &Output) -> i32 {
    out.status
        .code()
        .unwrap_or_else(|| panic!("killed by a signal: {:?}", out.status))
}

/// Stdout and stderr as text, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "status {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs `cmd` with `input` on its stdin (then closed) and returns its output. The command
/// may exit before it reads all its input (a bad flag): a broken pipe is not an error.
pub fn output_with_stdin(mut cmd: Command, input: &[u8]) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the command");
    let _ = child.stdin.take().expect("piped stdin").write_all(input);
    child.wait_with_output().expect("wait for the command")
}

/// Stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The sha256 of `data`, in hex.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A tar of regular files `(path, bytes)`, owned by root, with one mode and mtime: the
/// same bytes for the same files.
pub fn files_tar(files: &[(&str, &[u8])], mode: u32, mtime: u64) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_mtime(mtime);
        h.set_uid(0);
        h.set_gid(0);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, path, *data).expect("append to tar");
    }
    b.into_inner().expect("finish tar")
}

/// Whether this host's cgroups are v1 (or hybrid: v1 controllers) rather than pure v2:
/// /sys/fs/cgroup is a cgroup2 mount only on a pure v2 host.
pub fn cgroup_v1() -> bool {
    nix::sys::statfs::statfs("/sys/fs/cgroup")
        .map(|s| s.filesystem_type() != nix::sys::statfs::CGROUP2_SUPER_MAGIC)
        .unwrap_or(false)
}

/// A spawned process (a foreground `tug run`) that is killed and reaped when the test
/// ends, also when it fails midway: its container dies with it.
pub struct KillOnDrop(pub std::process::Child);

impl std::ops::Deref for KillOnDrop {
    type Target = std::process::Child;
    fn deref(&self) -> &std::process::Child {
        &self.0
    }
}

impl std::ops::DerefMut for KillOnDrop {
    fn deref_mut(&mut self) -> &mut std::process::Child {
        &mut self.0
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

pub mod api;
pub mod build;
pub mod compose;
pub mod containers;
pub mod fuse;
pub mod image;
pub mod net;
pub mod pty;
pub mod registry;
pub mod transcript;

/// A block device of this host, if any: its path and its `major:minor` (what the
/// cgroups' I/O limits name it by).
pub fn block_device() -> Option<(String, String)> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    std::fs::read_dir("/dev").ok()?.flatten().find_map(|e| {
        let m = e.metadata().ok()?;
        m.file_type().is_block_device().then(|| {
            let r = m.rdev();
            (
                e.path().display().to_string(),
                format!("{}:{}", libc::major(r), libc::minor(r)),
            )
        })
    })
}
