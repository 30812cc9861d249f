//! `tug run` in the foreground: the issue's examples, Docker's exit codes, the image
//! config and its overrides (env, workdir, user, entrypoint), and `--rm` leaving nothing.

use std::io::Write;

use tug_e2e::{KillOnDrop, TestRoot, code, text};

/// The container dirs left in a root (`--rm` must leave none).
fn container_dirs(t: &TestRoot) -> Vec<String> {
    match std::fs::read_dir(t.root().join("containers")) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.len() == 64)
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn lines(s: &str) -> Vec<&str> {
    s.lines().collect()
}

/// The mount options of the root of container `id`'s process, from its mountinfo.
fn root_mount_options(t: &TestRoot, id: &str) -> String {
    let pid = t.ok(&["inspect", "-f", "{{.State.Pid}}", id]);
    let info = std::fs::read_to_string(format!("/proc/{}/mountinfo", pid.trim())).unwrap();
    info.lines()
        .find(|l| l.split(' ').nth(4) == Some("/"))
        .map(|l| l.split(" - ").nth(1).unwrap_or_default().to_string())
        .unwrap_or_default()
}

/// A `--rm` container's rootfs is a `volatile` overlay (as Podman mounts it): its end
/// syncs nothing, since its writable layer goes with it. A kept container's is not:
/// what it wrote must survive a crash of the host.
#[test]
fn an_rm_containers_rootfs_is_volatile_and_a_kept_ones_is_not() {
    let t = TestRoot::with_busybox();
    let rm = t.ok(&["run", "-d", "--rm", "busybox", "sleep", "600"]);
    let kept = t.ok(&["run", "-d", "busybox", "sleep", "600"]);
    let (rm, kept) = (rm.trim(), kept.trim());
    let opts = root_mount_options(&t, rm);
    assert!(
        opts.starts_with("overlay ") && opts.contains("volatile"),
        "{opts}"
    );
    let opts = root_mount_options(&t, kept);
    assert!(
        opts.starts_with("overlay ") && !opts.contains("volatile"),
        "{opts}"
    );
    // Its files work as any container's.
    assert_eq!(
        t.ok(&["exec", rm, "sh", "-c", "echo w > /etc/w && cat /etc/w"])
            .trim(),
        "w"
    );
    t.ok(&["rm", "-f", rm, kept]);
    assert!(container_dirs(&t).is_empty(), "{:?}", container_dirs(&t));
}

/// As Docker: `restart` of a `--rm` container restarts it (same writable layer, a new
/// process, its rootfs mounted again although the volatile mount left its mark), and
/// `stop` stops it, says its name and exits 0; the container is then gone.
#[test]
fn restart_keeps_an_rm_container_and_stop_removes_it() {
    let t = TestRoot::with_busybox();
    t.ok(&[
        "run",
        "-d",
        "--rm",
        "--name",
        "rr",
        "busybox",
        "sh",
        "-c",
        "echo run >> /runs; exec sleep 600",
    ]);
    let pid = |t: &TestRoot| t.ok(&["inspect", "-f", "{{.State.Pid}}", "rr"]);
    let first = pid(&t);
    assert_eq!(t.ok(&["restart", "-t", "1", "rr"]).trim(), "rr");
    assert_ne!(pid(&t), first, "a new process");
    assert_eq!(t.ok(&["exec", "rr", "cat", "/runs"]), "run\nrun\n");
    assert!(root_mount_options(&t, "rr").contains("volatile"));
    assert_eq!(t.ok(&["stop", "-t", "1", "rr"]).trim(), "rr");
    let out = t.run(&["inspect", "rr"]);
    assert_ne!(code(&out), 0, "gone: {}", text(&out));
    assert!(container_dirs(&t).is_empty(), "{:?}", container_dirs(&t));
}

#[test]
fn issue_example_pid_hostname_uid_and_root_listing() {
    let t = TestRoot::with_busybox();
    let out = t.ok(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo $$; hostname; id -u; ls /",
    ]);
    let l = lines(&out);
    assert_eq!(l[0], "1", "{out}");
    assert_eq!(
        l[1].len(),
        12,
        "the hostname is the 12-hex id prefix: {out}"
    );
    assert!(l[1].chars().all(|c| c.is_ascii_hexdigit()), "{out}");
    assert_eq!(l[2], "0", "{out}");
    for dir in [
        "bin", "dev", "etc", "home", "proc", "root", "sys", "tmp", "usr", "var",
    ] {
        assert!(l[3..].contains(&dir), "{dir} missing from ls /: {out}");
    }
    assert!(container_dirs(&t).is_empty(), "--rm left a container");
}

#[test]
fn exit_codes_follow_docker() {
    let t = TestRoot::with_busybox();
    assert_eq!(code(&t.run(&["run", "--rm", "busybox", "true"])), 0);
    assert_eq!(code(&t.run(&["run", "--rm", "busybox", "false"])), 1);
    assert_eq!(
        code(&t.run(&["run", "--rm", "busybox", "sh", "-c", "exit 42"])),
        42
    );

    let out = t.run(&["run", "--rm", "busybox", "nosuchcmd"]);
    assert_eq!(code(&out), 127, "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(r#"exec: "nosuchcmd": executable file not found in $PATH"#),
        "{err}"
    );

    let out = t.run(&["run", "--rm", "busybox", "/etc/passwd"]);
    assert_eq!(code(&out), 126, "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("permission denied"));

    let out = t.run(&["run", "--rm", "busybox", "/no/such/file"]);
    assert_eq!(code(&out), 127, "{}", text(&out));

    // --pull never: offline, a missing image is an error at once.
    let out = t.run(&["run", "--rm", "--pull", "never", "nosuchimage"]);
    assert_eq!(code(&out), 125, "{}", text(&out));
    assert!(
        container_dirs(&t).is_empty(),
        "a failed run left a container"
    );
}

#[test]
fn killed_container_exits_128_plus_signal() {
    let t = TestRoot::with_busybox();
    let mut child = KillOnDrop(
        t.tug()
            .args(["run", "--rm", "--name", "victim", "busybox", "sleep", "100"])
            .spawn()
            .expect("spawn tug run"),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let pid = loop {
        let out = t.run(&["inspect", "-f", "{{.State.Pid}}", "victim"]);
        let pid: i32 = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(0);
        if pid > 0 {
            break pid;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the container never ran"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill the container");
    let status = child.wait().expect("wait tug");
    assert_eq!(status.code(), Some(137));
    assert!(container_dirs(&t).is_empty());
}

#[test]
fn env_workdir_user_and_hostname_flags() {
    let t = TestRoot::with_busybox();
    let out = t.ok(&[
        "run",
        "--rm",
        "-e",
        "A=1",
        "-w",
        "/tmp",
        "-u",
        "1000:1000",
        "--hostname",
        "box",
        "busybox",
        "sh",
        "-c",
        "echo $A; pwd; id; hostname; cat /etc/hostname; echo $HOSTNAME",
    ]);
    assert_eq!(
        lines(&out),
        [
            "1",
            "/tmp",
            "uid=1000 gid=1000 groups=1000",
            "box",
            "box",
            "box"
        ],
        "{out}"
    );
}

#[test]
fn default_user_is_root_with_image_env_and_home() {
    let t = TestRoot::with_busybox();
    let out = t.ok(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "id; echo $HOME; echo $PATH; pwd",
    ]);
    assert_eq!(
        lines(&out),
        [
            "uid=0(root) gid=0(root) groups=0(root),10(wheel)",
            "/root",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "/"
        ],
        "{out}"
    );
}

#[test]
fn user_names_resolve_through_the_containers_passwd() {
    let t = TestRoot::with_busybox();
    let out = t.ok(&[
        "run",
        "--rm",
        "-u",
        "nobody",
        "busybox",
        "sh",
        "-c",
        "id; echo $HOME",
    ]);
    assert_eq!(
        lines(&out),
        [
            "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)",
            "/home"
        ],
        "{out}"
    );
    let out = t.ok(&["run", "--rm", "-u", "daemon:www-data", "busybox", "id"]);
    assert_eq!(
        out.trim(),
        "uid=1(daemon) gid=33(www-data) groups=33(www-data)"
    );
    let out = t.run(&["run", "--rm", "-u", "nosuchuser", "busybox", "id"]);
    assert_eq!(code(&out), 125, "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unable to find user nosuchuser"));
}

#[test]
fn env_file_and_bare_keys_from_tugs_environment() {
    let t = TestRoot::with_busybox();
    let path = t.path().join("env.list");
    let mut f = std::fs::File::create(&path).unwrap();
    writeln!(
        f,
        "# a comment\n\nFROM_FILE=yes\nPASSED_THROUGH\nNOT_SET_ANYWHERE"
    )
    .unwrap();
    drop(f);
    let out = t
        .tug()
        .env("PASSED_THROUGH", "from-tug")
        .env("BARE", "bare-value")
        .env_remove("NOT_SET_ANYWHERE")
        .args(["run", "--rm", "--env-file"])
        .arg(&path)
        .args([
            "-e",
            "BARE",
            "-e",
            "FROM_FILE=overridden",
            "busybox",
            "sh",
            "-c",
            "echo $FROM_FILE $PASSED_THROUGH $BARE ${NOT_SET_ANYWHERE-unset}",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "overridden from-tug bare-value unset",
        "{}",
        text(&out)
    );
}

#[test]
fn entrypoint_flag_replaces_entrypoint_and_clears_cmd() {
    let t = TestRoot::with_busybox();
    assert_eq!(
        t.ok(&[
            "run",
            "--rm",
            "--entrypoint",
            "echo",
            "busybox",
            "hi",
            "there"
        ]),
        "hi there\n"
    );
    // busybox's CMD ["sh"] is dropped: echo prints an empty line.
    assert_eq!(
        t.ok(&["run", "--rm", "--entrypoint", "echo", "busybox"]),
        "\n"
    );
    assert_eq!(
        t.ok(&["run", "--rm", "--entrypoint", "", "busybox", "echo", "x"]),
        "x\n"
    );
}

#[test]
fn read_only_rootfs_refuses_writes_but_tmpfs_dev_works() {
    let t = TestRoot::with_busybox();
    let out = t.run(&["run", "--rm", "--read-only", "busybox", "touch", "/x"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Read-only file system"));
    t.ok(&[
        "run",
        "--rm",
        "--read-only",
        "busybox",
        "touch",
        "/dev/shm/x",
    ]);
    // Without --read-only the write lands in the container's own layer.
    t.ok(&["run", "--rm", "busybox", "touch", "/x"]);
}

#[test]
fn stdin_is_forwarded_with_i_and_empty_without() {
    let t = TestRoot::with_busybox();
    let mut child = t
        .tug()
        .args(["run", "--rm", "-i", "busybox", "sh", "-c", "cat; echo done"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"hello\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\ndone\n");
    assert_eq!(t.ok(&["run", "--rm", "busybox", "cat"]), "");
}

#[test]
fn unknown_networks_are_refused() {
    let t = TestRoot::with_busybox();
    let out = t.run(&["run", "--rm", "--network", "nosuchnet", "busybox", "true"]);
    assert_eq!(code(&out), 125, "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("network nosuchnet not found"),
        "{}",
        text(&out)
    );
    assert!(container_dirs(&t).is_empty());
}

#[test]
fn vfs_storage_driver_runs_containers() {
    let t = TestRoot::with_busybox();
    let out = t
        .tug()
        .env("TUG_STORAGE_DRIVER", "vfs")
        .args([
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "echo hi > /f; cat /f; ls /bin/busybox",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hi\n/bin/busybox\n",
        "{}",
        text(&out)
    );
    assert!(container_dirs(&t).is_empty());
}

#[test]
fn signals_to_tug_reach_the_container() {
    let t = TestRoot::with_busybox();
    let mut child = KillOnDrop(
        t.tug()
            .args([
                "run",
                "--rm",
                "--name",
                "trapper",
                "busybox",
                "sh",
                "-c",
                "trap 'echo got-term; exit 5' TERM; echo ready; while true; do sleep 0.05; done",
            ])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 6];
    std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
    assert_eq!(&first, b"ready\n");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert_eq!(rest, "got-term\n");
    assert_eq!(child.wait().unwrap().code(), Some(5));
    assert!(container_dirs(&t).is_empty());
}

#[test]
fn failing_setup_with_rm_leaves_no_container() {
    let t = TestRoot::with_busybox();
    for args in [
        &["run", "--rm", "-u", "nosuchuser", "busybox", "true"][..],
        &["run", "--rm", "-w", "relative", "busybox", "true"][..],
        &["run", "--rm", "busybox", "nosuchcmd"][..],
    ] {
        let out = t.run(args);
        assert_ne!(code(&out), 0, "{}", text(&out));
        assert!(container_dirs(&t).is_empty(), "{args:?} left a container");
    }
}

#[test]
fn missing_workdir_is_created_and_default_cmd_runs() {
    let t = TestRoot::with_busybox();
    assert_eq!(
        t.ok(&[
            "run", "--rm", "-w", "/new/dir", "-u", "1000", "busybox", "pwd"
        ]),
        "/new/dir\n"
    );
    // The image's CMD (sh) reads an empty stdin and exits 0.
    assert_eq!(code(&t.run(&["run", "--rm", "busybox"])), 0);
}

#[test]
fn bad_env_dns_and_names_are_refused_as_docker_does() {
    let t = TestRoot::with_busybox();
    for (args, says) in [
        (vec!["-e", "=x"], "invalid environment variable: =x"),
        (vec!["--dns", "abc"], "abc is not an ip address"),
        (vec!["--cpus", "0.001"], "Range of CPUs is from 0.01"),
    ] {
        let mut a = vec!["run", "--rm"];
        a.extend(args.iter());
        a.extend(["busybox", "true"]);
        let out = t.run(&a);
        assert_eq!(code(&out), 125, "{args:?}: {}", text(&out));
        assert!(text(&out).contains(says), "{args:?}: {}", text(&out));
    }
    let long = "a".repeat(300);
    let out = t.run(&["run", "--rm", "--name", &long, "busybox", "true"]);
    assert_eq!(code(&out), 125);
    assert!(text(&out).contains("at most"), "{}", text(&out));
    // A leading slash is Docker's own spelling of a name.
    t.ok(&["run", "--name", "/slashed", "busybox", "true"]);
    assert_eq!(
        t.ok(&["ps", "-a", "--format", "{{.Names}}"]).trim(),
        "slashed"
    );
    t.ok(&["rm", "slashed"]);
    assert_eq!(t.ok(&["ps", "-a", "-q"]).trim(), "");
}

#[test]
fn userns_host_and_unenforced_security_opts_are_accepted_with_a_word() {
    let t = TestRoot::with_busybox();
    t.ok(&["run", "--rm", "--userns=host", "busybox", "true"]);
    let out = t.run(&["run", "--rm", "--userns=private", "busybox", "true"]);
    assert_eq!(code(&out), 125);
    assert!(text(&out).contains("--userns"), "{}", text(&out));
    let out = t.run(&[
        "run",
        "--rm",
        "--security-opt",
        "apparmor=unconfined",
        "--security-opt",
        "label=disable",
        "busybox",
        "true",
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("not enforced").count(), 2, "{err}");
}
