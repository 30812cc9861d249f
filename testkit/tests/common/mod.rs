//! Helpers of the testkit's own tests.
#![allow(dead_code)] // each test binary uses some of the helpers

use std::time::{Duration, Instant};

use tug_testkit::Tug;

/// Kills and reaps a child process (a helper test binary) when the test ends, also when
/// it fails.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Whether the container `id` is gone from the state root.
pub fn is_gone(id: &str) -> bool {
    let engine = Tug::shared().expect("tug").engine();
    matches!(
        engine.container(id),
        Err(tug::Error::Container(tug::container::Error::NotFound(_)))
    )
}

/// Waits until `cond` holds, at most `limit`; whether it did.
pub fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The names of the host's network links and nftables tables.
pub fn host_net_names() -> Vec<String> {
    let run = |args: &[&str]| {
        let out = std::process::Command::new(args[0])
            .args(&args[1..])
            .output()
            .expect("run ip/nft");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let mut names: Vec<String> = run(&["ip", "-o", "link", "show"])
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).to_string())
        .collect();
    names.extend(
        run(&["nft", "list", "tables"])
            .lines()
            .filter_map(|l| l.split_whitespace().nth(2))
            .map(str::to_string),
    );
    names
}

/// Waits (at most 3 s: bridges linger 750 ms after their last container) until none of
/// `names` (links or nftables tables) is on the host; the ones still there.
pub fn gone_from_host(names: &[String]) -> Vec<String> {
    let mut left = Vec::new();
    eventually(Duration::from_secs(3), || {
        let now = host_net_names();
        left = names.iter().filter(|n| now.contains(n)).cloned().collect();
        left.is_empty()
    });
    left
}

/// Makes `debian:bookworm-slim` in the default state root once (the modules' base).
pub fn debian_base() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let have = std::process::Command::new(tug_testkit::find_tug_binary().unwrap())
            .args(["image", "inspect", "debian:bookworm-slim"])
            .output()
            .unwrap();
        if have.status.success() {
            return;
        }
        let out = std::process::Command::new("bash")
            .arg(repo.join("images/debian/build.sh"))
            .env("TUG", tug_testkit::find_tug_binary().unwrap())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "images/debian/build.sh: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
}
