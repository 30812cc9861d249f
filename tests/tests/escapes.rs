//! The escape suite: a hostile image or a hostile process in a container tries the ways
//! out that runtimes have had (a forged /proc, device nodes, the exec'd process's fds,
//! environment and binary, unfiltered syscalls, symlinked mount targets) and each test
//! asserts that the host is unchanged. Every escape that was once open in tug is here, so
//! that it stays closed. Over 600 lines on purpose: the suite is one list of known
//! escapes that a reviewer reads top to bottom, and its probes are shared.

use tug_e2e::image::{Entry, import_image};
use tug_e2e::{TestRoot, code, sha256_hex, text};

/// Docker's default bounding set, as /proc/self/status prints it.
const DOCKER_CAPS: &str = "00000000a80425fb";

/// The bounding set the container's process has.
fn cap_bnd(t: &TestRoot, args: &[&str]) -> std::process::Output {
    let mut a = vec!["run", "--rm"];
    a.extend_from_slice(args);
    a.extend(["/bin/busybox", "grep", "CapBnd", "/proc/self/status"]);
    t.run(&a)
}

#[test]
fn a_forged_proc_never_decides_capabilities() {
    let t = TestRoot::new();
    let forged = [
        Entry::Dir("proc"),
        Entry::Dir("proc/sys"),
        Entry::Dir("proc/sys/kernel"),
        Entry::File("proc/sys/kernel/cap_last_cap", b"0\n"),
    ];
    // The image's VOLUME over /proc: refused before anything is made.
    import_image(&t, "hostile", &forged, &[r#"VOLUME ["/proc"]"#]);
    let out = cap_bnd(&t, &["hostile"]);
    assert_eq!(code(&out), 125, "{}", text(&out));
    assert!(text(&out).contains("/proc"), "{}", text(&out));
    assert_eq!(t.container_ids().len(), 0);
    assert!(
        t.ok(&["volume", "ls", "-q"]).trim().is_empty(),
        "a refused create left a volume"
    );

    // The same file in an image without the VOLUME: procfs covers it.
    import_image(&t, "shipped", &forged, &[]);
    let out = cap_bnd(&t, &["shipped"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(text(&out).contains(DOCKER_CAPS), "{}", text(&out));

    // -v onto /proc, directly, through `..`, or below it.
    let dir = t.path().join("fakeproc");
    std::fs::create_dir_all(dir.join("sys/kernel")).unwrap();
    std::fs::write(dir.join("sys/kernel/cap_last_cap"), "0\n").unwrap();
    let d = dir.display().to_string();
    for v in [
        format!("{d}:/proc"),
        format!("{d}:/tmp/../proc"),
        format!("{d}/sys:/proc/sys"),
        format!("{d}:/sys"),
        format!("{d}:/sys/kernel"),
    ] {
        let out = cap_bnd(&t, &["-v", &v, "shipped"]);
        assert_eq!(code(&out), 125, "-v {v}: {}", text(&out));
        assert!(text(&out).contains("cannot be mounted"), "{}", text(&out));
    }
    for m in [
        format!("type=bind,source={d},target=/proc"),
        "type=tmpfs,target=/proc/sys".to_string(),
        "type=volume,target=/sys/fs".to_string(),
    ] {
        let out = cap_bnd(&t, &["--mount", &m, "shipped"]);
        assert_eq!(code(&out), 125, "--mount {m}: {}", text(&out));
    }
    let out = cap_bnd(&t, &["--tmpfs", "/proc", "shipped"]);
    assert_eq!(code(&out), 125, "{}", text(&out));
    assert_eq!(t.container_ids().len(), 0);
}

#[test]
fn image_symlinks_cannot_steer_a_mount_onto_proc_or_sys() {
    let t = TestRoot::new();
    import_image(
        &t,
        "hostile",
        &[
            Entry::Symlink("p", "/proc"),
            Entry::Symlink("k", "/proc/sys/kernel"),
            Entry::Symlink("s", "../sys"),
        ],
        &[],
    );
    let dir = t.path().join("fake");
    std::fs::create_dir_all(dir.join("sys/kernel")).unwrap();
    std::fs::write(dir.join("cap_last_cap"), "0\n").unwrap();
    let d = dir.display().to_string();
    for v in [
        format!("{d}:/p"),
        format!("{d}/sys:/p/sys"),
        format!("{d}/cap_last_cap:/k/cap_last_cap"),
        format!("{d}:/s"),
    ] {
        let out = cap_bnd(&t, &["-v", &v, "hostile"]);
        assert_ne!(code(&out), 0, "-v {v} was mounted: {}", text(&out));
        assert!(
            text(&out).contains("cannot be mounted"),
            "-v {v}: {}",
            text(&out)
        );
    }
    // Nothing is left running or mounted.
    t.assert_nothing_mounted();
}

#[test]
fn the_real_proc_files_lxcfs_replaces_may_still_be_bound() {
    let t = TestRoot::with_busybox();
    let f = t.path().join("meminfo");
    std::fs::write(&f, "MemTotal: 42 kB\n").unwrap();
    let v = format!("{}:/proc/meminfo:ro", f.display());
    let out = t.ok(&[
        "run",
        "--rm",
        "-v",
        &v,
        "busybox",
        "head",
        "-1",
        "/proc/meminfo",
    ]);
    assert_eq!(out.trim(), "MemTotal: 42 kB");
}

#[test]
fn a_host_dir_bound_on_dev_gets_no_device_nodes() {
    let t = TestRoot::with_busybox();
    let dir = t.path().join("hostdev");
    std::fs::create_dir_all(&dir).unwrap();
    let v = format!("{}:/dev", dir.display());
    let out = t.run(&["run", "--rm", "-v", &v, "busybox", "ls", "/dev"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n != "pts" && n != "shm" && n != "mqueue")
        .collect();
    assert!(left.is_empty(), "tug made {left:?} in the host's dir");
}

#[test]
fn dot_dot_in_a_mount_target_is_resolved_as_docker_does() {
    let t = TestRoot::with_busybox();
    let dir = t.path().join("src");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("f"), "here\n").unwrap();
    let v = format!("{}:/a/b/../c", dir.display());
    let out = t.ok(&[
        "run",
        "--name",
        "dots",
        "-v",
        &v,
        "busybox",
        "sh",
        "-c",
        "cat /a/c/f; test -e /a/b/c || echo no-a-b-c",
    ]);
    assert_eq!(out, "here\nno-a-b-c\n");
    let dest = t.ok(&["inspect", "-f", "{{(index .Mounts 0).Destination}}", "dots"]);
    assert_eq!(dest.trim(), "/a/c");
    t.ok(&["rm", "dots"]);
}

/// A key in the host root's session keyring, unlinked (and so revoked) on drop.
struct HostKey(i64);

impl HostKey {
    fn add(secret: &str) -> HostKey {
        let ty = c"user";
        let desc =
            std::ffi::CString::new(format!("tug-escape-test-{}", std::process::id())).unwrap();
        // SAFETY: add_key reads the two C strings and `secret`'s bytes, all alive across
        // the call; KEY_SPEC_SESSION_KEYRING is a constant.
        let id = unsafe {
            libc::syscall(
                libc::SYS_add_key,
                ty.as_ptr(),
                desc.as_ptr(),
                secret.as_ptr(),
                secret.len(),
                libc::KEY_SPEC_SESSION_KEYRING,
            )
        };
        assert!(id > 0, "add_key: {}", std::io::Error::last_os_error());
        HostKey(id)
    }
}

impl Drop for HostKey {
    fn drop(&mut self) {
        // SAFETY: keyctl(KEYCTL_INVALIDATE, id) takes integers only.
        unsafe { libc::syscall(libc::SYS_keyctl, libc::KEYCTL_INVALIDATE, self.0) };
    }
}

#[test]
fn seccomp_is_on_in_every_process_and_blocks_keyrings_and_user_namespaces() {
    let t = TestRoot::with_busybox();
    let key = HostKey::add("host-secret-42");
    // busybox has no keyctl: the container reads the key with the raw syscall through
    // /proc/keys (masked), then tries `unshare -U` (a nested user namespace would give
    // every capability in it).
    let out = t.ok(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "grep '^Seccomp:' /proc/self/status; unshare -U true 2>/dev/null && echo userns-open; \
         unshare -n true 2>/dev/null && echo netns-open; cat /proc/keys; echo done",
    ]);
    assert_eq!(out, "Seccomp:\t2\ndone\n", "{out}");
    // A process exec'd into the container is filtered too.
    let id = t.ok(&["run", "-d", "busybox", "sleep", "30"]);
    let id = id.trim();
    let out = t.ok(&[
        "exec", id, "sh", "-c",
        "grep '^Seccomp:' /proc/self/status; unshare -U true 2>/dev/null && echo userns-open; echo done",
    ]);
    t.ok(&["rm", "-f", id]);
    assert_eq!(out, "Seccomp:\t2\ndone\n");
    drop(key);
}

#[test]
fn a_keyctl_from_inside_gets_eperm() {
    // busybox cannot make a raw syscall: the host's python3 (its /usr mounted read-only)
    // plays the hostile process and calls keyctl(KEYCTL_READ, the session keyring).
    let t = TestRoot::with_busybox();
    if !std::path::Path::new("/usr/bin/python3").exists() {
        eprintln!("skipped: needs python3 on the host");
        return;
    }
    let _key = HostKey::add("host-secret-43");
    let script = "import ctypes,os\n\
libc=ctypes.CDLL(None,use_errno=True)\n\
r=libc.syscall(250,5,-3,0,0)\n\
print('keyctl', r, os.strerror(ctypes.get_errno()))\n";
    let py = [
        "-v",
        "/usr:/usr:ro",
        "-v",
        "/lib:/lib:ro",
        "-v",
        "/lib64:/lib64:ro",
    ];
    let mut a = vec!["run", "--rm"];
    a.extend_from_slice(&py);
    a.extend(["busybox", "/usr/bin/python3", "-c", script]);
    let out = t.ok(&a);
    assert_eq!(out.trim(), "keyctl -1 Operation not permitted", "{out}");
    let mut a = vec!["run", "--rm", "--security-opt", "seccomp=unconfined"];
    a.extend_from_slice(&py);
    a.extend(["busybox", "/usr/bin/python3", "-c", script]);
    let out = t.ok(&a);
    assert!(
        !out.contains("Operation not permitted"),
        "unconfined: {out}"
    );
}

#[test]
fn seccomp_unconfined_and_a_profile_file_take_effect() {
    let t = TestRoot::with_busybox();
    let out = t.ok(&[
        "run",
        "--rm",
        "--security-opt",
        "seccomp=unconfined",
        "busybox",
        "grep",
        "^Seccomp:",
        "/proc/self/status",
    ]);
    assert_eq!(out, "Seccomp:\t0\n");
    // Docker's format: everything allowed but mkdir, which gets EACCES.
    let profile = t.path().join("profile.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}"#,
    )
    .unwrap();
    let opt = format!("seccomp={}", profile.display());
    let out = t.run(&[
        "run",
        "--rm",
        "--security-opt",
        &opt,
        "busybox",
        "mkdir",
        "/tmp/x",
    ]);
    assert_eq!(code(&out), 1);
    assert!(text(&out).contains("Permission denied"), "{}", text(&out));
    // A bad profile fails the create and names the file.
    std::fs::write(&profile, r#"{"defaultAction":"SCMP_ACT_NOPE"}"#).unwrap();
    let out = t.run(&["run", "--rm", "--security-opt", &opt, "busybox", "true"]);
    assert_eq!(code(&out), 125);
    assert!(text(&out).contains("profile.json"), "{}", text(&out));
    assert_eq!(t.container_ids().len(), 0);
}

#[test]
fn cap_add_cap_drop_and_privileged_do_what_dockers_do() {
    let t = TestRoot::with_busybox();
    let bnd = |args: &[&str]| {
        let mut a = vec!["run", "--rm"];
        a.extend_from_slice(args);
        a.extend([
            "busybox",
            "grep",
            "-E",
            "^(CapBnd|CapEff|Seccomp):",
            "/proc/self/status",
        ]);
        t.ok(&a)
    };
    // NET_ADMIN (bit 12) added, CHOWN (bit 0) dropped.
    let out = bnd(&["--cap-add", "NET_ADMIN", "--cap-drop", "chown"]);
    assert!(out.contains("CapBnd:\t00000000a80435fa"), "{out}");
    let out = bnd(&["--cap-drop", "ALL", "--cap-add", "CAP_KILL"]);
    assert!(out.contains("CapBnd:\t0000000000000020"), "{out}");
    // SYS_ADMIN opens the syscalls Docker's profile gates on it.
    let out = t.ok(&[
        "run",
        "--rm",
        "--cap-add",
        "SYS_ADMIN",
        "busybox",
        "sh",
        "-c",
        "unshare -n true && echo netns-ok",
    ]);
    assert_eq!(out.trim(), "netns-ok");
    let out = t.run(&["run", "--rm", "--cap-add", "NET_FOO", "busybox", "true"]);
    assert_eq!(code(&out), 125);
    assert!(text(&out).contains("NET_FOO"), "{}", text(&out));
    // --privileged: every capability tug holds, no seccomp, /sys writable, no masks.
    let held = std::fs::read_to_string("/proc/self/status").unwrap();
    let held = held
        .lines()
        .find(|l| l.starts_with("CapBnd:"))
        .unwrap()
        .to_string();
    let out = t.ok(&[
        "run", "--rm", "--privileged", "busybox", "sh", "-c",
        "grep -E '^(CapBnd|Seccomp):' /proc/self/status; grep ' /sys sysfs' /proc/mounts | cut -d' ' -f4 | cut -d, -f1; \
         grep -c /proc/kcore /proc/mounts; true",
    ]);
    assert_eq!(out, format!("{held}\nSeccomp:\t0\nrw\n0\n"));
    // exec --privileged: every capability for that process.
    let id = t.ok(&["run", "-d", "busybox", "sleep", "30"]);
    let id = id.trim();
    let out = t.ok(&[
        "exec",
        "--privileged",
        id,
        "grep",
        "^CapEff:",
        "/proc/self/status",
    ]);
    let plain = t.ok(&["exec", id, "grep", "^CapEff:", "/proc/self/status"]);
    t.ok(&["rm", "-f", id]);
    assert_eq!(out.trim(), held.replace("CapBnd", "CapEff"));
    assert_eq!(plain.trim(), "CapEff:\t00000000a80425fb");
}

/// The host's kernel log (dmesg), to check that nothing from a container reached it.
fn host_kernel_log() -> String {
    let out = std::process::Command::new("dmesg").output().expect("dmesg");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn device_nodes_outside_dockers_list_cannot_be_opened() {
    let t = TestRoot::new();
    // An image that ships a world-writable /dev/kmsg-alike and a disk node.
    import_image(
        &t,
        "hostile",
        &[
            Entry::Dir("nodes"),
            Entry::CharDevice("nodes/kmsg", 1, 11, 0o666),
            Entry::CharDevice("nodes/tty0", 4, 0, 0o666),
        ],
        &[],
    );
    let marker = format!("tug-escape-{}", std::process::id());
    let script = format!(
        "mknod /dev/kmsg c 1 11 && echo mknod; (echo {marker} > /dev/kmsg) 2>/dev/null && echo kmsg; \
         (echo {marker} > /nodes/kmsg) 2>/dev/null && echo image-kmsg; \
         (exec 3</nodes/tty0) 2>/dev/null && echo tty0; \
         mknod /dev/hwrng c 10 183 && (exec 3</dev/hwrng) 2>/dev/null && echo hwrng; \
         mknod /dev/disk b 8 0 && (exec 3</dev/disk) 2>/dev/null && echo disk; \
         echo x > /dev/null && echo null; echo end"
    );
    let out = t.ok(&["run", "--rm", "hostile", "/bin/sh", "-c", &script]);
    assert_eq!(out, "mknod\nnull\nend\n");
    // As a non-root user, the image's 0666 node is refused too.
    let out = t.ok(&[
        "run",
        "--rm",
        "-u",
        "1000",
        "hostile",
        "/bin/sh",
        "-c",
        &format!("(echo {marker} > /nodes/kmsg) 2>/dev/null && echo image-kmsg; echo end"),
    ]);
    assert_eq!(out, "end\n");
    assert!(
        !host_kernel_log().contains(&marker),
        "a container wrote to the host's kernel log"
    );
}

#[test]
fn device_flag_and_privileged_give_devices_as_docker_does() {
    let t = TestRoot::with_busybox();
    let out = t.ok(&[
        "run",
        "--rm",
        "--device",
        "/dev/zero:/dev/z2:r",
        "busybox",
        "sh",
        "-c",
        "stat -c '%t:%T %a' /dev/z2; head -c 4 /dev/z2 | wc -c",
    ]);
    assert_eq!(out, "1:5 666\n4\n");
    let out = t.run(&["run", "--rm", "--device", "/etc/passwd", "busybox", "true"]);
    assert_eq!(code(&out), 125);
    assert!(text(&out).contains("not a device"), "{}", text(&out));
    // --privileged: the host's devices are there and open (kmsg needs CAP_SYSLOG, which
    // a privileged container has).
    let out = t.ok(&[
        "run",
        "--rm",
        "--privileged",
        "busybox",
        "sh",
        "-c",
        "(exec 3</dev/kmsg) && echo kmsg; test -c /dev/kmsg && echo node",
    ]);
    assert_eq!(out, "kmsg\nnode\n");
}

/// The SHA-256 of a file, as hex.
/// Waits for `file` to exist, for at most `secs` seconds.
fn wait_for_file(file: &std::path::Path, secs: u64) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if file.exists() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    false
}

/// Clears the immutable flag of a file on drop, so that its temporary dir can go.
struct Immutable(std::path::PathBuf);

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = std::process::Command::new("chattr")
            .arg("-i")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn the_host_binary_cannot_be_overwritten_through_proc_self_exe() {
    // A plain binary: tug re-executes a sealed view of it to start shims and execs.
    let t = TestRoot::with_busybox();
    let bin = t.path().join("tug");
    std::fs::copy(tug_e2e::tug_bin(), &bin).unwrap();
    overwrite_attack(&t, &bin);
}

#[test]
fn an_immutable_host_binary_cannot_be_overwritten_either() {
    // An immutable binary (as scripts/setup.sh installs it): tug forks from it directly.
    let t = TestRoot::with_busybox();
    let bin = t.path().join("tug");
    std::fs::copy(tug_e2e::tug_bin(), &bin).unwrap();
    let ok = std::process::Command::new("chattr")
        .arg("+i")
        .arg(&bin)
        .status();
    if !ok.is_ok_and(|s| s.success()) {
        eprintln!("skipped: this file system has no immutable flag");
        return;
    }
    let _flag = Immutable(bin.clone());
    overwrite_attack(&t, &bin);
}

/// CVE-2019-5736: the container makes an exec'd process run /proc/self/exe (the
/// runtime's own binary), keeps an fd of it, and writes it once the process is gone.
fn overwrite_attack(t: &TestRoot, bin: &std::path::Path) {
    let before = sha256_hex(&std::fs::read(bin).unwrap());
    let out = t.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let attacker = r#"
while :; do
  for p in /proc/[0-9]*; do
    [ "$(cat $p/comm 2>/dev/null)" = exe ] || continue
    exec 3< $p/exe || continue
    echo opened > /out/ready
    while [ -e $p ]; do usleep 10000; done
    (echo PWNED > /proc/self/fd/3) 2> /out/why && echo written > /out/result || echo refused > /out/result
    exit 0
  done
done"#;
    let v = format!("{}:/out", out.display());
    let id = t.ok(&["run", "-d", "-v", &v, "busybox", "sh", "-c", attacker]);
    let id = id.trim().to_string();
    let mut victim = std::process::Command::new(bin)
        .envs(t.envs())
        .args(["exec", "-i", &id, "/proc/self/exe", "import", "-", "x"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Either the container manages to run the binary and to open it (then its write
    // must fail), or the sealed binary cannot even be executed from inside.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let ready = out.join("ready");
    while !ready.exists()
        && victim.try_wait().unwrap().is_none()
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    drop(victim.stdin.take());
    let status = victim.wait().unwrap();
    let opened = ready.exists();
    let finished = opened && wait_for_file(&out.join("result"), 20);
    t.ok(&["rm", "-f", &id]);
    if opened {
        assert!(finished, "the attacker never tried the write");
        let result = std::fs::read_to_string(out.join("result")).unwrap();
        let why = std::fs::read_to_string(out.join("why")).unwrap_or_default();
        assert_eq!(result.trim(), "refused", "{why}");
    } else {
        assert_eq!(
            status.code(),
            Some(127),
            "the exec neither ran nor was refused"
        );
    }
    assert_eq!(
        sha256_hex(&std::fs::read(bin).unwrap()),
        before,
        "the host binary was changed"
    );
}

#[test]
fn an_exec_waiting_on_the_container_shows_it_nothing_of_the_caller() {
    // The container turns /etc/passwd into a FIFO: the exec'd process blocks reading it
    // (to resolve the user) while still a clone of the shim that runs it (`tug-shim`),
    // and the container's root looks at it through /proc meanwhile. Neither the caller's
    // nor the shim's arguments, environment, fds or binary may show.
    let t = TestRoot::with_busybox();
    let out = t.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let attacker = r#"
rm /etc/passwd; mkfifo /etc/passwd
while :; do
  for p in /proc/[0-9]*; do
    case "$(cat $p/comm 2>/dev/null)" in tug*) ;; *) continue ;; esac
    { echo environ:; tr '\0' '\n' < $p/environ; echo cmdline:; tr '\0' ' ' < $p/cmdline; echo;
      echo fds:; ls -ln $p/fd/; echo exe:; ls -ln $p/exe; cat $p/exe | head -c 4; echo; } > /out/report 2>&1
    printf 'root:x:0:0:root:/root:/bin/sh\n' > /etc/passwd
    echo done > /out/done
    exec sleep 60
  done
done"#;
    let v = format!("{}:/out", out.display());
    let id = t.ok(&["run", "-d", "-v", &v, "busybox", "sh", "-c", attacker]);
    let id = id.trim().to_string();
    // A host directory open on fd 7 of the caller, and a secret in its environment.
    let host_dir = std::fs::File::open("/etc").unwrap();
    let dir_fd = std::os::fd::AsRawFd::as_raw_fd(&host_dir);
    let mut cmd = t.tug();
    cmd.env("SECRET_TOKEN", "hunter2-from-the-host")
        .args(["exec", &id, "echo", "ran"]);
    // SAFETY: dup2 in the child before exec, on fds it owns.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
            if libc::dup2(dir_fd, 7) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let done = wait_for_file(&out.join("done"), 20);
    let mut child = child;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Removing the container ends the exec'd process too, should it still wait.
    t.ok(&["rm", "-f", &id]);
    let res = child.wait_with_output().unwrap();
    assert!(done, "the container never saw the exec'd process");
    assert_eq!(
        String::from_utf8_lossy(&res.stdout),
        "ran\n",
        "{}",
        text(&res)
    );
    let report = std::fs::read_to_string(out.join("report")).unwrap();
    assert!(
        !report.contains("hunter2"),
        "the caller's environment leaked: {report}"
    );
    assert!(!report.contains("/etc"), "a caller's fd leaked: {report}");
    assert!(
        !report.contains("exec") && !report.contains("__shim"),
        "the caller's or the shim's arguments leaked: {report}"
    );
    assert!(
        !report.contains("TUG_ROOT") && !report.contains(&t.root().display().to_string()),
        "the shim's environment or state root leaked: {report}"
    );
    assert!(!report.contains("ELF"), "the binary was readable: {report}");
}

#[test]
fn a_working_dir_through_proc_self_fd_never_lands_outside() {
    // CVE-2024-21626: `-w /proc/self/fd/N`, N a directory fd the runtime left open.
    let t = TestRoot::with_busybox();
    let id = t.ok(&["run", "-d", "busybox", "sleep", "60"]);
    let id = id.trim().to_string();
    for n in 3..24 {
        let w = format!("/proc/self/fd/{n}");
        for args in [
            vec!["run", "--rm", "-w", &w, "busybox", "pwd"],
            vec!["exec", "-w", &w, &id, "pwd"],
        ] {
            let out = t.run(&args);
            let said = String::from_utf8_lossy(&out.stdout);
            assert!(
                !said.contains("unreachable") && (code(&out) != 0 || said.starts_with('/')),
                "{args:?}: {}",
                text(&out)
            );
        }
    }
    t.ok(&["rm", "-f", &id]);
}

#[test]
fn the_callers_redirected_stdout_never_reaches_the_container() {
    // Without a terminal an exec's stdio are pipes that tug relays (as Docker's are): the
    // caller's own file is not the process's stdout, so the container cannot reopen it
    // through /proc (to read what else it holds, or truncate it).
    let t = TestRoot::with_busybox();
    let id = t.ok(&["run", "-d", "busybox", "sleep", "60"]);
    let id = id.trim().to_string();
    let file = t.path().join("report.txt");
    std::fs::write(&file, "host secret\n").unwrap();
    let f = std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .unwrap();
    let status = t
        .tug()
        .args([
            "exec",
            &id,
            "sh",
            "-c",
            "readlink /proc/self/fd/1; readlink /proc/self/fd/2 >&2",
        ])
        .stdout(f.try_clone().unwrap())
        .stderr(f)
        .status()
        .unwrap();
    t.ok(&["rm", "-f", &id]);
    assert!(status.success());
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "host secret");
    assert!(lines[1..].iter().all(|l| l.starts_with("pipe:")), "{text}");
    assert_eq!(lines.len(), 3, "{text}");
}

/// `--pid host` shows the host's processes, as Docker's does, and no more: without
/// CAP_SYS_PTRACE the container's root cannot read their environment, their root or
/// their binary (tug's own shim among them).
#[test]
fn pid_host_sees_host_processes_but_cannot_reach_into_them() {
    let t = TestRoot::with_busybox();
    let me = std::process::id();
    let script = format!(
        "test -d /proc/{me} && echo visible; \
         cat /proc/{me}/environ >/dev/null 2>&1 && echo environ; \
         ls /proc/{me}/root/ >/dev/null 2>&1 && echo root; \
         head -c 1 /proc/{me}/exe >/dev/null 2>&1 && echo exe; \
         ls /proc/1/root/ >/dev/null 2>&1 && echo init-root; true"
    );
    let out = t.ok(&[
        "run", "--rm", "--pid", "host", "busybox", "sh", "-c", &script,
    ]);
    assert_eq!(out, "visible\n");
}
