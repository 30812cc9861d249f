//! What a container sees: its own pid, mount, uts and net namespaces, no host mounts,
//! Docker's masked /proc paths, a read-only /sys, a minimal /dev, Docker's default
//! capabilities, and no fd of tug's beyond stdio.

use std::os::unix::process::CommandExt;

use tug_e2e::{TestRoot, text};

/// A tmpfs the test mounts on the host, unmounted on drop (also when the test fails).
struct MarkerMount {
    dir: tempfile::TempDir,
}

impl MarkerMount {
    fn new() -> MarkerMount {
        let dir = tempfile::Builder::new()
            .prefix("tug-marker")
            .tempdir_in("/var/tmp")
            .unwrap();
        nix::mount::mount(
            Some("tmpfs"),
            dir.path(),
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            None::<&str>,
        )
        .expect("mount the marker tmpfs");
        MarkerMount { dir }
    }
}

impl Drop for MarkerMount {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(self.dir.path(), nix::mount::MntFlags::MNT_DETACH);
    }
}

#[test]
fn container_sees_no_host_mounts_and_leaves_none() {
    let t = TestRoot::with_busybox();
    let marker = MarkerMount::new();
    let before = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let out = t.ok(&["run", "--rm", "busybox", "cat", "/proc/mounts"]);
    let marker_path = marker.dir.path().display().to_string();
    assert!(!out.contains(&marker_path), "host mount visible: {out}");
    assert!(out.lines().next().unwrap_or("").contains(" / "), "{out}");
    // Nothing the container mounted shows on the host.
    let after = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let root = t.root().display().to_string();
    assert!(!after.contains(&root), "a container mount leaked: {after}");
    assert_eq!(
        before.lines().filter(|l| l.contains(&root)).count(),
        after.lines().filter(|l| l.contains(&root)).count()
    );
}

#[test]
fn proc_paths_are_masked_and_sys_is_read_only() {
    let t = TestRoot::with_busybox();
    let out = t.ok(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "cat /proc/timer_list | wc -c; ls /sys/firmware | wc -l; \
         echo 1 > /proc/sys/kernel/ostype 2>/dev/null || echo ro-proc-sys; \
         touch /sys/x 2>/dev/null || echo ro-sys; grep -c ' /sys sysfs ro' /proc/mounts",
    ]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["0", "0", "ro-proc-sys", "ro-sys", "1"],
        "{out}"
    );
}

#[test]
fn dev_has_dockers_minimal_nodes() {
    let t = TestRoot::with_busybox();
    let out = t.ok(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "for d in null zero full random urandom tty; do stat -c '%n %F %t,%T %a' /dev/$d; done; \
         for l in ptmx fd stdin stdout stderr; do readlink /dev/$l; done; \
         grep -E ' /dev/(pts|shm|mqueue) ' /proc/mounts | cut -d' ' -f2,3; \
         head -c 4 /dev/zero | wc -c; echo x > /dev/null && echo null-ok",
    ]);
    insta::assert_snapshot!(out);
    // As runc: a /dev/core link only where the kernel has a /proc/kcore to point at.
    let core = t.ok(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "readlink /dev/core || echo none",
    ]);
    let want = if std::path::Path::new("/proc/kcore").exists() {
        "/proc/kcore"
    } else {
        "none"
    };
    assert_eq!(core.trim(), want);
}

#[test]
fn network_none_has_only_loopback_and_host_shares_the_hosts() {
    let t = TestRoot::with_busybox();
    // The default bridge: eth0 and lo.
    let out = t.ok(&["run", "--rm", "busybox", "ls", "/sys/class/net"]);
    assert_eq!(out.trim(), "eth0\nlo");
    let out = t.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "ls",
        "/sys/class/net",
    ]);
    assert_eq!(out.trim(), "lo");
    // Other tests make and remove tug's links meanwhile: only the host's own count.
    let mut host: Vec<String> = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("tug"))
        .collect();
    host.sort();
    let out = t.ok(&[
        "run",
        "--rm",
        "--network",
        "host",
        "busybox",
        "ls",
        "/sys/class/net",
    ]);
    let mut seen: Vec<&str> = out
        .split_whitespace()
        .filter(|n| !n.starts_with("tug"))
        .collect();
    seen.sort();
    assert_eq!(seen, host);
    let host_name = nix::unistd::gethostname().unwrap().into_string().unwrap();
    let out = t.ok(&["run", "--rm", "--network", "host", "busybox", "hostname"]);
    assert_eq!(out.trim(), host_name);
}

#[test]
fn hosts_and_resolv_conf_are_generated() {
    let t = TestRoot::with_busybox();
    let out = t.ok(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "cat /etc/hosts; grep -c nameserver /etc/resolv.conf",
    ]);
    assert!(out.starts_with("127.0.0.1\tlocalhost\n"), "{out}");
    assert!(
        out.trim_end()
            .lines()
            .last()
            .unwrap()
            .parse::<u32>()
            .unwrap()
            >= 1,
        "{out}"
    );
}

#[test]
fn capabilities_are_dockers_default_set() {
    let t = TestRoot::with_busybox();
    let out = t.ok(&[
        "run",
        "--rm",
        "busybox",
        "grep",
        "^Cap",
        "/proc/self/status",
    ]);
    insta::assert_snapshot!("root_caps", out);
    let out = t.ok(&[
        "run",
        "--rm",
        "-u",
        "1000",
        "busybox",
        "grep",
        "^Cap",
        "/proc/self/status",
    ]);
    insta::assert_snapshot!("user_caps", out);
    let out = t.ok(&[
        "run",
        "--rm",
        "--security-opt",
        "no-new-privileges",
        "busybox",
        "grep",
        "NoNewPrivs",
        "/proc/self/status",
    ]);
    assert_eq!(out.split_whitespace().last(), Some("1"));
}

#[test]
fn fds_beyond_stdio_are_closed() {
    let t = TestRoot::with_busybox();
    let mut cmd = t.tug();
    // The shell stays pid 1 (the `; true` keeps it from exec'ing ls) and ls lists its fds.
    cmd.args(["run", "--rm", "busybox", "sh", "-c", "ls /proc/1/fd; true"]);
    // SAFETY: the closure only calls dup2, which is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            // A leaked fd 7 and 9 (without close-on-exec) that the container must not get.
            if libc::dup2(1, 7) < 0 || libc::dup2(2, 9) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "0\n1\n2\n",
        "{}",
        text(&out)
    );
}
