//! `run`/`create` flags of Docker's that tutorials use: `--stop-signal` and
//! `--stop-timeout` (and the image's STOPSIGNAL), `--add-host NAME:host-gateway`,
//! `--shm-size`, Docker's default `--ulimit`s, `--init`.

use std::time::{Duration, Instant};

use tug_e2e::containers::Containers;
use tug_e2e::{TestRoot, code, stderr, text};

/// A shell that marks itself ready and exits 10 on `sig`, ignoring SIGTERM.
fn trapping(sig: &str) -> String {
    format!("trap '' TERM; trap 'exit 10' {sig}; touch /ready; while :; do sleep 0.05; done")
}

fn wait_ready(t: &TestRoot, name: &str) {
    tug_e2e::wait_for("the container's trap", Duration::from_secs(20), || {
        t.run(&["exec", name, "test", "-e", "/ready"])
            .status
            .success()
    });
}

#[test]
fn stop_signal_and_stop_timeout_are_the_containers_and_the_images() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    // --stop-signal: stop sends it first.
    cs.run_d(&[
        "--name",
        "sig",
        "--stop-signal",
        "USR1",
        "--stop-timeout",
        "30",
        "busybox",
        "sh",
        "-c",
        &trapping("USR1"),
    ]);
    assert_eq!(
        t.inspect_f("sig", "{{.Config.StopSignal}} {{.Config.StopTimeout}}"),
        "USR1 30"
    );
    wait_ready(&t, "sig");
    t.ok(&["stop", "sig"]);
    assert_eq!(t.inspect_f("sig", "{{.State.ExitCode}}"), "10");

    // --stop-timeout: stop waits that long for SIGTERM to work, then kills.
    cs.run_d(&[
        "--name",
        "slow",
        "--stop-timeout",
        "1",
        "busybox",
        "sh",
        "-c",
        &trapping("USR2"),
    ]);
    wait_ready(&t, "slow");
    let start = Instant::now();
    t.ok(&["stop", "slow"]);
    assert!(
        start.elapsed() < Duration::from_secs(8),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(t.inspect_f("slow", "{{.State.ExitCode}}"), "137");

    // The image's STOPSIGNAL, and --stop-signal over it.
    t.ok(&["create", "--name", "base", "busybox", "true"]);
    cs.add("base");
    t.ok(&["commit", "-c", "STOPSIGNAL SIGUSR2", "base", "usr2:1"]);
    cs.run_d(&["--name", "img", "usr2:1", "sh", "-c", &trapping("USR2")]);
    assert_eq!(t.inspect_f("img", "{{.Config.StopSignal}}"), "SIGUSR2");
    wait_ready(&t, "img");
    t.ok(&["stop", "img"]);
    assert_eq!(t.inspect_f("img", "{{.State.ExitCode}}"), "10");
    cs.run_d(&[
        "--name",
        "over",
        "--stop-signal",
        "USR1",
        "usr2:1",
        "sh",
        "-c",
        &trapping("USR1"),
    ]);
    wait_ready(&t, "over");
    t.ok(&["stop", "over"]);
    assert_eq!(t.inspect_f("over", "{{.State.ExitCode}}"), "10");

    let out = t.run(&["run", "--stop-signal", "NOPE", "busybox", "true"]);
    assert_eq!(code(&out), 125, "{}", text(&out));
    assert!(
        stderr(&out).contains("Invalid signal: NOPE"),
        "{}",
        text(&out)
    );
}

#[test]
fn add_host_host_gateway_reaches_the_host() {
    use std::io::Read;
    let n = tug_e2e::net::NetTest::new();
    n.network("gwnet", &[]);
    let listener = tug_e2e::net::tcp_listener(0, Duration::from_secs(20));
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let mut got = Vec::new();
        for _ in 0..2 {
            let (mut s, _) = listener.accept().expect("a connection from the container");
            let mut buf = String::new();
            s.read_to_string(&mut buf).unwrap();
            got.push(buf);
        }
        got
    });
    for net in ["bridge", "gwnet"] {
        let id = n.run_d(&[
            "--network",
            net,
            "--add-host",
            "host.docker.internal:host-gateway",
            "busybox",
            "sleep",
            "60",
        ]);
        let gw = n.inspect_f(
            &id,
            "{{(index .NetworkSettings.Networks \"NET\").Gateway}}"
                .replace("NET", net)
                .as_str(),
        );
        let hosts = n.exec(&id, &["cat", "/etc/hosts"]);
        assert!(
            text(&hosts).contains(&format!("{gw}\thost.docker.internal\n")),
            "{net}: {}",
            text(&hosts)
        );
        assert_eq!(
            n.inspect_f(&id, "{{json .HostConfig.ExtraHosts}}"),
            r#"["host.docker.internal:host-gateway"]"#
        );
        let sent = n.exec(
            &id,
            &[
                "sh",
                "-c",
                &format!("echo from-{net} | nc host.docker.internal {port}"),
            ],
        );
        assert!(sent.status.success(), "{net}: {}", text(&sent));
    }
    assert_eq!(server.join().unwrap(), ["from-bridge\n", "from-gwnet\n"]);
    n.finish();
}

#[test]
fn shm_size_sizes_dev_shm() {
    let t = TestRoot::with_busybox();
    let df = |args: &[&str]| -> String {
        let mut a = vec!["run", "--rm"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["busybox", "sh", "-c", "df -k /dev/shm | tail -1"]);
        let out = t.ok(&a);
        out.split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(df(&[]), "65536", "Docker's default: 64 MiB");
    assert_eq!(df(&["--shm-size", "256m"]), "262144");
    let id = t.ok(&["create", "--shm-size", "1g", "busybox", "true"]);
    assert_eq!(
        t.inspect_f(id.trim(), "{{.HostConfig.ShmSize}}"),
        "1073741824"
    );
    t.ok(&["rm", id.trim()]);
    let out = t.run(&["run", "--shm-size", "lots", "busybox", "true"]);
    assert_eq!(code(&out), 125, "{}", text(&out));
    assert!(
        stderr(&out).contains("invalid size: 'lots'"),
        "{}",
        text(&out)
    );
}

/// `--runtime`: Docker's default runtime's names run tug's own; another is refused as
/// Docker's daemon refuses a runtime it does not know, and no container is made.
#[test]
fn runtime_runc_is_tugs_own_and_others_are_refused() {
    let t = TestRoot::with_busybox();
    for name in ["runc", "io.containerd.runc.v2"] {
        assert_eq!(
            t.ok(&["run", "--rm", "--runtime", name, "busybox", "echo", "ran"]),
            "ran\n"
        );
    }
    let out = t.run(&["run", "--runtime", "kata", "busybox", "true"]);
    assert_eq!(code(&out), 125, "{}", text(&out));
    assert!(
        stderr(&out).contains("unknown or invalid runtime name: kata"),
        "{}",
        text(&out)
    );
    assert_eq!(t.ok(&["ps", "-aq"]), "");
}

/// `tug ARGS` run with a soft open-files limit of 256 (its hard limit kept): stdout.
fn with_low_nofile(t: &TestRoot, args: &[&str]) -> String {
    use std::os::unix::process::CommandExt;
    let mut cmd = t.tug();
    cmd.args(args);
    // SAFETY: getrlimit and setrlimit are async-signal-safe; the closure allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            let mut l = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            l.rlim_cur = 256;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &l) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn containers_get_dockers_default_limits_not_the_callers() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    let (_, hard) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
    // Docker's nofile 1024:524288, never above what the caller may set.
    let want = format!("{} {}\n", 1024.min(hard), 524_288.min(hard));
    let limits = "echo $(ulimit -n) $(ulimit -Hn)";
    let out = with_low_nofile(&t, &["run", "--rm", "busybox", "sh", "-c", limits]);
    assert_eq!(out, want, "not the caller's 256");
    cs.run_d(&["--name", "lim", "busybox", "sleep", "60"]);
    let out = with_low_nofile(&t, &["exec", "lim", "sh", "-c", limits]);
    assert_eq!(out, want, "an exec too");
    // --ulimit overrides the default.
    let out = with_low_nofile(
        &t,
        &[
            "run",
            "--rm",
            "--ulimit",
            "nofile=512:900",
            "busybox",
            "sh",
            "-c",
            limits,
        ],
    );
    assert_eq!(out, "512 900\n");
}

/// The processes of container `name` in state Z (zombies), from `ps` inside it.
fn zombies(t: &TestRoot, name: &str) -> usize {
    let out = t.ok(&["exec", name, "ps", "-o", "stat"]);
    out.lines()
        .filter(|l| l.trim_start().starts_with('Z'))
        .count()
}

#[test]
fn init_reaps_orphans_forwards_signals_and_stays_closed() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    // Two orphans that exit after the container's command became `sleep`, which reaps
    // nothing: without --init they stay zombies; with it PID 1 reaps them.
    let orphans = "(sleep 0.3 &); (sleep 0.3 &); exec sleep 60";
    cs.run_d(&["--name", "plain", "busybox", "sh", "-c", orphans]);
    cs.run_d(&["--name", "inited", "--init", "busybox", "sh", "-c", orphans]);
    tug_e2e::wait_for(
        "the orphans' zombies without --init",
        Duration::from_secs(20),
        || zombies(&t, "plain") == 2,
    );
    assert_eq!(zombies(&t, "inited"), 0, "--init reaped them");
    assert_eq!(t.inspect_f("inited", "{{.HostConfig.Init}}"), "true");
    let ps = t.ok(&["exec", "inited", "ps", "-o", "pid,comm"]);
    assert!(ps.contains("    1 docker-init"), "{ps}");
    // Its command line is Docker's, not the shim's command on the host.
    let ps = t.ok(&["exec", "inited", "ps", "-o", "pid,args"]);
    assert!(
        ps.contains(&format!("    1 /sbin/docker-init -- sh -c {orphans}")),
        "{ps}"
    );
    assert!(!ps.contains("tug"), "{ps}");

    // SIGTERM reaches `sleep` through the init (sleep as PID 1 would ignore it).
    let start = Instant::now();
    t.ok(&["stop", "inited"]);
    assert!(
        start.elapsed() < Duration::from_secs(8),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(t.inspect_f("inited", "{{.State.ExitCode}}"), "143");

    // Its exit code is the command's; a missing command fails as without --init.
    let out = t.run(&["run", "--rm", "--init", "busybox", "sh", "-c", "exit 7"]);
    assert_eq!(code(&out), 7, "{}", text(&out));
    let out = t.run(&["run", "--rm", "--init", "busybox", "nosuchcmd"]);
    assert_eq!(code(&out), 127, "{}", text(&out));

    // The init is tug's code in the container: its memory, environment, fds and binary
    // stay out of the container's reach.
    let probe = "cat /proc/1/environ || echo environ-denied; head -c1 /proc/1/mem || \
                 echo mem-denied; (echo x >> /proc/1/exe) || echo exe-denied; \
                 ls /proc/1/fd/ | wc -l";
    let out = t.run(&["run", "--rm", "--init", "busybox", "sh", "-c", probe]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    for want in ["environ-denied", "mem-denied", "exe-denied"] {
        assert!(stdout.contains(want), "{want}: {}", text(&out));
    }
    assert!(stdout.ends_with("3\n"), "only stdio: {}", text(&out));
}
