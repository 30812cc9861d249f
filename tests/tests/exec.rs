//! `tug exec`: a process in a running container sees the container's namespaces, mounts,
//! environment, user and working dir, has its capabilities and cgroups, and returns its
//! exit code; `-i`, `-t` and `-d` as Docker has them.

use std::io::Write;
use std::process::Stdio;

use tug_e2e::containers::Running;
use tug_e2e::wait_for;
use tug_e2e::{TestRoot, code, text};

#[test]
fn exec_sees_the_containers_hostname_pids_mounts_and_network() {
    let t = TestRoot::with_busybox();
    let c = Running::start(
        &t,
        "ns",
        &["--hostname", "box", "--network", "none"],
        "echo from-the-container > /tmp/mark",
    );
    let out = t.ok(&[
        "exec",
        &c.name,
        "sh",
        "-c",
        "hostname; echo $$; cat /tmp/mark; ls /sys/class/net; cat /proc/1/cmdline | tr '\\0' ' '",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "box", "{out}");
    let pid: i32 = lines[1].parse().unwrap();
    assert!(pid > 1, "the exec'd process is not the init: {out}");
    assert_eq!(lines[2], "from-the-container", "{out}");
    assert_eq!(lines[3], "lo", "only loopback with --network none: {out}");
    // busybox sh execs its last command: the init is now `sleep 60`.
    assert_eq!(
        lines[4].trim(),
        "sleep 60",
        "pid 1 is the container's: {out}"
    );
    // ps in the container lists its init as pid 1 and nothing of the host.
    let ps = t.ok(&["exec", &c.name, "ps", "-o", "pid,comm"]);
    let pids: Vec<i32> = ps
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect();
    assert!(pids.contains(&1), "{ps}");
    assert!(pids.len() <= 4, "host processes visible: {ps}");
    // Same namespaces as the init, seen from the host.
    let init = c.pid();
    for ns in ["mnt", "uts", "ipc", "net", "pid", "cgroup"] {
        let want = std::fs::read_link(format!("/proc/{init}/ns/{ns}")).unwrap();
        let got = t.ok(&["exec", &c.name, "readlink", &format!("/proc/self/ns/{ns}")]);
        assert_eq!(got.trim(), want.to_string_lossy(), "{ns} namespace");
    }
}

#[test]
fn exec_joins_the_inits_cgroups() {
    let t = TestRoot::with_busybox();
    let c = Running::start(&t, "cg", &[], "");
    let out = t.ok(&[
        "exec",
        &c.name,
        "sh",
        "-c",
        "cat /proc/1/cgroup; echo ---; cat /proc/self/cgroup",
    ]);
    let (init, own) = out.split_once("---\n").unwrap();
    assert_eq!(init, own);
    let host_init = std::fs::read_to_string(format!("/proc/{}/cgroup", c.pid())).unwrap();
    assert!(!host_init.is_empty());
}

#[test]
fn exec_gets_the_containers_env_user_and_workdir() {
    let t = TestRoot::with_busybox();
    let c = Running::start(
        &t,
        "env",
        &["-e", "A=run", "-e", "KEEP=k", "-w", "/var"],
        "",
    );
    let out = t.ok(&["exec", "-e", "A=exec", "-e", "B=2", &c.name, "env"]);
    let mut env: Vec<&str> = out.lines().collect();
    env.sort();
    for want in [
        "A=exec",
        "B=2",
        "KEEP=k",
        "HOSTNAME=",
        "HOME=/root",
        "PATH=",
    ] {
        assert!(env.iter().any(|e| e.starts_with(want)), "{want} in {env:?}");
    }
    assert!(!env.iter().any(|e| e.starts_with("TERM=")), "{env:?}");

    assert_eq!(t.ok(&["exec", &c.name, "pwd"]).trim(), "/var");
    assert_eq!(t.ok(&["exec", "-w", "/tmp", &c.name, "pwd"]).trim(), "/tmp");
    assert_eq!(t.ok(&["exec", &c.name, "id", "-u"]).trim(), "0");
    assert_eq!(
        t.ok(&["exec", "-u", "1000", &c.name, "sh", "-c", "id -u; id -g"]),
        "1000\n0\n"
    );
    assert_eq!(
        t.ok(&[
            "exec",
            "-u",
            "nobody",
            &c.name,
            "sh",
            "-c",
            "id -un; echo $HOME"
        ]),
        "nobody\n/home\n"
    );
    let envfile = t.path().join("envfile");
    std::fs::write(&envfile, "FROM_FILE=yes\n").unwrap();
    let out = t.ok(&[
        "exec",
        "--env-file",
        envfile.to_str().unwrap(),
        &c.name,
        "sh",
        "-c",
        "echo $FROM_FILE",
    ]);
    assert_eq!(out, "yes\n");
}

#[test]
fn exec_returns_the_commands_exit_code() {
    let t = TestRoot::with_busybox();
    let c = Running::start(&t, "codes", &[], "");
    assert_eq!(code(&t.run(&["exec", &c.name, "true"])), 0);
    assert_eq!(code(&t.run(&["exec", &c.name, "sh", "-c", "exit 3"])), 3);
    let out = t.run(&["exec", &c.name, "nosuchcmd"]);
    assert_eq!(code(&out), 127, "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("executable file not found in $PATH"),
        "{}",
        text(&out)
    );
    let out = t.run(&["exec", &c.name, "/etc"]);
    assert_eq!(code(&out), 126, "{}", text(&out));
    let out = t.run(&["exec", "-u", "nosuchuser", &c.name, "true"]);
    assert_eq!(code(&out), 125, "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unable to find user nosuchuser"));
}

#[test]
fn exec_into_a_missing_or_stopped_container_fails_clearly() {
    let t = TestRoot::with_busybox();
    let out = t.run(&["exec", "nosuch", "true"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("No such container: nosuch"),
        "{}",
        text(&out)
    );
    let id = t.ok(&["create", "--name", "idle", "busybox", "true"]);
    let out = t.run(&["exec", "idle", "true"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(
        msg.contains(&format!("container {} is not running", id.trim())),
        "{msg}"
    );
    t.ok(&["rm", "idle"]);
}

#[test]
fn exec_has_the_containers_capabilities_and_no_new_privs() {
    let t = TestRoot::with_busybox();
    let c = Running::start(&t, "caps", &["--security-opt", "no-new-privileges"], "");
    let out = t.ok(&[
        "exec",
        &c.name,
        "sh",
        "-c",
        "grep -E '^(Cap|NoNewPrivs)' /proc/1/status; echo ---; grep -E '^(Cap|NoNewPrivs)' /proc/self/status",
    ]);
    let (init, own) = out.split_once("---\n").unwrap();
    assert_eq!(init, own);
    assert!(own.contains("CapBnd:\t00000000a80425fb"), "{own}");
    assert!(own.contains("NoNewPrivs:\t1"), "{own}");
    // The exec'd process is filtered as the init is.
    let out = t.ok(&["exec", &c.name, "grep", "^Seccomp:", "/proc/self/status"]);
    assert_eq!(out, "Seccomp:\t2\n");
}

#[test]
fn exec_closes_every_fd_but_stdio() {
    let t = TestRoot::with_busybox();
    let c = Running::start(&t, "fds", &[], "");
    // ls itself holds one fd open on the directory it lists.
    let out = t.ok(&["exec", &c.name, "ls", "/proc/self/fd"]);
    assert_eq!(out.split_whitespace().count(), 4, "{out}");
}

#[test]
fn exec_i_forwards_stdin_and_without_i_stdin_is_empty() {
    let t = TestRoot::with_busybox();
    let c = Running::start(&t, "stdin", &[], "");
    let run_cat = |flags: &[&str]| {
        let mut child = t
            .tug()
            .arg("exec")
            .args(flags)
            .args([&c.name, "cat"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"hello from stdin\n").unwrap();
        drop(stdin);
        child.wait_with_output().unwrap()
    };
    let out = run_cat(&["-i"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello from stdin\n");
    let out = run_cat(&[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
}

#[test]
fn exec_d_runs_on_after_the_cli_returns() {
    let t = TestRoot::with_busybox();
    let c = Running::start(&t, "bg", &[], "");
    let out = t.run(&[
        "exec",
        "-d",
        &c.name,
        "sh",
        "-c",
        "while [ ! -e /tmp/go ]; do sleep 0.05; done; grep PPid /proc/$$/status > /tmp/done",
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(out.stdout.is_empty(), "{}", text(&out));
    // The CLI has returned; the process still runs and does its work when told.
    t.ok(&["exec", &c.name, "touch", "/tmp/go"]);
    wait_for(
        "the detached exec's file",
        std::time::Duration::from_secs(20),
        || {
            t.run(&["exec", &c.name, "cat", "/tmp/done"])
                .status
                .success()
        },
    );
    // Orphaned inside the container, it belongs to the container's init.
    assert_eq!(t.ok(&["exec", &c.name, "cat", "/tmp/done"]), "PPid:\t1\n");
    let out = t.run(&["exec", "-d", &c.name, "nosuchcmd"]);
    assert_eq!(code(&out), 127, "{}", text(&out));
    // -it needs a terminal, as with Docker; -d does not.
    let out = t.run(&["exec", "-it", &c.name, "true"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the input device is not a TTY"));
    let out = t.run(&["exec", "-dit", &c.name, "true"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
}

#[test]
fn exec_dt_gives_the_detached_process_a_terminal_that_is_drained() {
    let t = TestRoot::with_busybox();
    let c = Running::start(&t, "bgtty", &[], "");
    let until_file = |path: &str| {
        wait_for(path, std::time::Duration::from_secs(20), || {
            t.run(&["exec", &c.name, "test", "-e", path])
                .status
                .success()
        });
        t.ok(&["exec", &c.name, "cat", path])
    };
    // With -t, its stdio is a pty of the container's devpts, as with Docker; a megabyte
    // written to it does not block, since the shim reads what nobody attached reads.
    let script = "o=; [ -t 1 ] && [ -t 2 ] && o=out; { tty; [ -t 0 ] && echo in; echo $o; } \
                  > /tmp/t.part; head -c 1000000 /dev/zero; mv /tmp/t.part /tmp/t";
    let out = t.run(&["exec", "-dt", &c.name, "sh", "-c", script]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(out.stdout.is_empty(), "{}", text(&out));
    let seen = until_file("/tmp/t");
    let lines: Vec<&str> = seen.lines().collect();
    assert!(lines[0].starts_with("/dev/pts/"), "{seen}");
    assert_eq!(&lines[1..], ["in", "out"], "{seen}");
    // Without -t, it has none.
    let script =
        "o=none; [ -t 1 ] && o=tty; { tty; echo $o; } > /tmp/n.part; mv /tmp/n.part /tmp/n";
    t.ok(&["exec", "-d", &c.name, "sh", "-c", script]);
    assert_eq!(until_file("/tmp/n"), "not a tty\nnone\n");
}

#[test]
fn exec_it_runs_a_shell_on_a_pty_in_the_containers_devpts() {
    use tug_e2e::pty;
    let t = TestRoot::with_busybox();
    let c = Running::start(&t, "tty", &[], "");
    let mut cmd = t.tug();
    cmd.args(["exec", "-it", &c.name, "sh"]);
    let (master, slave) = pty::attach(&mut cmd, 24, 80);
    let mut child = tug_e2e::KillOnDrop(cmd.spawn().expect("spawn tug exec -it"));
    drop(slave);
    let mut seen = String::new();
    pty::write(
        &master,
        "echo $((6*7)) $TERM; stty size; tty; ls /dev/pts\n",
    );
    pty::read_until(&master, &mut seen, "ptmx");
    assert!(seen.contains("42 xterm"), "{seen:?}");
    assert!(seen.contains("24 80"), "{seen:?}");
    assert!(
        seen.contains("/dev/pts/0"),
        "the container's own devpts: {seen:?}"
    );

    pty::set_size(&master, 40, 120);
    pty::write(&master, "stty size\n");
    pty::read_until(&master, &mut seen, "40 120");

    pty::write(&master, "exit 3\n");
    let status = pty::wait_draining(&mut child, &master);
    assert_eq!(status.code(), Some(3));
}

#[test]
fn signals_to_the_cli_reach_the_execd_process() {
    use std::io::{BufRead, BufReader};
    let t = TestRoot::with_busybox();
    let c = Running::start(&t, "sig", &[], "");
    let mut child = tug_e2e::KillOnDrop(
        t.tug()
            .args([
                "exec",
                &c.name,
                "sh",
                "-c",
                "trap 'echo got-term; exit 7' TERM; echo armed; while :; do sleep 0.05; done",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // Lines come through a thread, so that a missing one fails at a deadline.
    let out = child.0.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let next = || rx.recv_timeout(std::time::Duration::from_secs(20)).unwrap();
    assert_eq!(next(), "armed");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert_eq!(next(), "got-term");
    assert_eq!(child.wait().unwrap().code(), Some(7));
}

#[test]
fn exec_and_top_help_show_dockers_flags() {
    let t = TestRoot::new();
    insta::assert_snapshot!("exec_help", t.ok(&["exec", "--help"]));
    insta::assert_snapshot!("top_help", t.ok(&["top", "--help"]));
    // Flags after the container belong to the command.
    let out = t.run(&["exec", "c", "ls", "-l", "--help"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("No such container: c"));
}

#[test]
fn exec_defaults_to_the_containers_user_and_reports_a_missing_workdir() {
    let t = TestRoot::with_busybox();
    let c = Running::start(&t, "asuser", &["-u", "1000:1000"], "");
    assert_eq!(t.ok(&["exec", &c.name, "id", "-u"]), "1000\n");
    assert_eq!(t.ok(&["exec", "-u", "0", &c.name, "id", "-u"]), "0\n");
    let out = t.run(&["exec", "-w", "/nonexistent", &c.name, "true"]);
    assert_eq!(code(&out), 126, "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("chdir to cwd (\"/nonexistent\")"),
        "{}",
        text(&out)
    );
}

#[test]
fn the_librarys_exec_captures_output_from_many_threads_at_once() {
    // `Engine::exec_output` from this multi-threaded test binary: the container's shim
    // runs every process, nothing forks this one, and concurrent execs into one
    // container each get their own output and exit code.
    let t = TestRoot::with_busybox();
    let c = Running::start(&t, "lib", &[], "");
    let engine = t.engine();
    let opts = |script: String| tug::container::ExecOptions {
        command: vec!["sh".into(), "-c".into(), script],
        ..Default::default()
    };
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let (engine, name) = (engine.clone(), c.name.clone());
            let o = opts(format!("echo out-{i}; echo err-{i} >&2; exit {i}"));
            std::thread::spawn(move || engine.exec_output(&name, &o).unwrap())
        })
        .collect();
    for (i, h) in threads.into_iter().enumerate() {
        let out = h.join().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), format!("out-{i}\n"));
        assert_eq!(String::from_utf8_lossy(&out.stderr), format!("err-{i}\n"));
        assert_eq!(out.exit_code, i as i32);
    }
    // More output than the shim queues: relayed whole, at the reader's pace.
    let big = engine
        .exec_output(&c.name, &opts("head -c 3000000 /dev/zero".into()))
        .unwrap();
    assert_eq!((big.exit_code, big.stdout.len()), (0, 3_000_000));
    // A command that cannot run is an exit code, as with Docker; a missing user is an
    // error of the exec itself.
    let missing = engine
        .exec_output(&c.name, &opts("exec nosuchcmd".into()))
        .unwrap();
    assert_eq!(missing.exit_code, 127, "{missing:?}");
    let missing = engine
        .exec_output(
            &c.name,
            &tug::container::ExecOptions {
                command: vec!["nosuchcmd".into()],
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(missing.exit_code, 127);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("executable file not found"));
    let nouser = tug::container::ExecOptions {
        command: vec!["true".into()],
        user: Some("nosuchuser".into()),
        ..Default::default()
    };
    assert!(engine.exec_output(&c.name, &nouser).is_err());
    // The container's own process was never disturbed.
    assert_eq!(
        t.ok(&["inspect", "-f", "{{.State.Running}}", &c.name]),
        "true\n"
    );
}

#[test]
fn exec_i_relays_more_stdin_than_a_pipe_holds() {
    let t = TestRoot::with_busybox();
    let c = Running::start(&t, "bigin", &[], "");
    let mut child = t
        .tug()
        .args(["exec", "-i", &c.name, "wc", "-c"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..64 {
            stdin.write_all(&chunk).unwrap();
        }
    });
    writer.join().unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "4194304");
}

#[test]
fn an_exec_ends_with_its_container() {
    // The container's process dies and its pid namespace with it: the shim reaps the
    // exec'd process too and tells its caller (128 + SIGKILL), who does not hang.
    let t = TestRoot::with_busybox();
    let c = Running::start(&t, "ends", &[], "");
    let mut child = tug_e2e::KillOnDrop(
        t.tug()
            .args(["exec", &c.name, "sh", "-c", "touch /tmp/started; sleep 60"])
            .spawn()
            .unwrap(),
    );
    wait_for(
        "the exec to start",
        std::time::Duration::from_secs(20),
        || {
            t.run(&["exec", &c.name, "test", "-e", "/tmp/started"])
                .status
                .success()
        },
    );
    t.ok(&["kill", &c.name]);
    let mut code = None;
    wait_for(
        "the exec's caller to return",
        std::time::Duration::from_secs(20),
        || {
            code = child.0.try_wait().unwrap().and_then(|s| s.code());
            code.is_some()
        },
    );
    assert_eq!(code, Some(137));
}
