//! `run`/`create` flags of Docker's that choose namespaces and what is set in them:
//! `--pid`, `--ipc` (and its /dev/shm), `--uts host`, `--cgroupns`, `--sysctl`,
//! `--domainname`, `--group-add`, `--oom-score-adj`; and `--cidfile`, `--label-file`,
//! `--device-cgroup-rule`, `--log-driver`. Each test checks the effect inside the
//! container, and Docker's refusal where Docker refuses. Over 600 lines on purpose: one
//! short test per flag; a split would only cut the list in two.

use std::time::Duration;

use tug_e2e::containers::Containers;
use tug_e2e::{TestRoot, code, stderr, text};

/// `tug run --rm ARGS` that must succeed: its stdout, trimmed.
fn run(t: &TestRoot, args: &[&str]) -> String {
    let mut a = vec!["run", "--rm"];
    a.extend_from_slice(args);
    t.ok(&a).trim().to_string()
}

/// `tug run --rm ARGS` that tug must refuse (exit 125) saying `message`.
fn refused(t: &TestRoot, args: &[&str], message: &str) {
    let mut a = vec!["run", "--rm"];
    a.extend_from_slice(args);
    let out = t.run(&a);
    assert_eq!(code(&out), 125, "{}", text(&out));
    assert!(stderr(&out).contains(message), "{}", text(&out));
}

fn host_ns(kind: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{kind}"))
        .expect("read the host's namespace")
        .display()
        .to_string()
}

/// Waits until container `name` runs its command (its marker file exists).
fn wait_ready(t: &TestRoot, name: &str) {
    tug_e2e::wait_for("the container's marker", Duration::from_secs(20), || {
        t.run(&["exec", name, "test", "-e", "/ready"])
            .status
            .success()
    });
}

#[test]
fn pid_host_shares_the_hosts_pid_namespace_and_nothing_else() {
    let t = TestRoot::with_busybox();
    let inside = run(
        &t,
        &["--pid", "host", "busybox", "readlink", "/proc/self/ns/pid"],
    );
    assert_eq!(inside, host_ns("pid"));
    // The host's processes are visible (this test's own pid among them)...
    // (`test -d` of one pid: an `ls /proc` stats every entry, and fails when a host
    // process exits between the listing and the stat.)
    let mine = format!("test -d /proc/{} && echo visible", std::process::id());
    let seen = run(&t, &["--pid", "host", "busybox", "sh", "-c", &mine]);
    assert_eq!(seen, "visible");
    // ...but the other namespaces stay the container's own, and the capabilities
    // Docker's: no tracing of host processes.
    let net = run(
        &t,
        &["--pid", "host", "busybox", "readlink", "/proc/self/ns/net"],
    );
    assert_ne!(net, host_ns("net"));
    let caps = run(
        &t,
        &[
            "--pid",
            "host",
            "busybox",
            "grep",
            "CapEff",
            "/proc/self/status",
        ],
    );
    assert_eq!(caps, "CapEff:\t00000000a80425fb");
    let own = run(&t, &["busybox", "readlink", "/proc/self/ns/pid"]);
    assert_ne!(own, host_ns("pid"));
    refused(
        &t,
        &["--pid", "hots", "busybox", "true"],
        "--pid: invalid PID mode",
    );
    // `top` lists the container's processes only, not the host's it can see.
    let cs = Containers::new(&t);
    cs.run_d(&[
        "--name", "hostpid", "--pid", "host", "busybox", "sleep", "1000",
    ]);
    let top = t.ok(&["top", "hostpid"]);
    let rows: Vec<&str> = top.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{top}");
    assert!(rows[0].ends_with("sleep 1000"), "{top}");
    // `exec` enters it although its process is not PID 1 of a namespace of its own.
    let host_ns = std::fs::read_link("/proc/self/ns/pid").unwrap();
    assert_eq!(
        t.ok(&["exec", "hostpid", "readlink", "/proc/self/ns/pid"])
            .trim(),
        host_ns.display().to_string()
    );
}

#[test]
fn pid_container_joins_the_other_containers_processes() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    cs.run_d(&[
        "--name",
        "target",
        "busybox",
        "sh",
        "-c",
        "touch /ready; exec sleep 1000",
    ]);
    wait_ready(&t, "target");
    let ps = run(
        &t,
        &[
            "--pid",
            "container:target",
            "busybox",
            "ps",
            "-o",
            "pid,args",
        ],
    );
    assert!(
        ps.lines().any(|l| l.trim() == "1 sleep 1000"),
        "the joiner sees the target's PID 1: {ps}"
    );
    let id = t.inspect_f("target", "{{.Id}}");
    t.ok(&[
        "create",
        "--name",
        "joiner",
        "--pid",
        "container:target",
        "busybox",
        "true",
    ]);
    cs.add("joiner");
    assert_eq!(
        t.inspect_f("joiner", "{{.HostConfig.PidMode}}"),
        format!("container:{id}")
    );
    t.ok(&["stop", "-t", "0", "target"]);
    let out = t.run(&["start", "-a", "joiner"]);
    assert_ne!(code(&out), 0, "{}", text(&out));
    assert!(
        stderr(&out).contains(&format!("cannot join PID of a non running container: {id}")),
        "{}",
        text(&out)
    );
}

#[test]
fn ipc_shareable_shares_namespace_and_dev_shm_with_its_joiners() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    cs.run_d(&[
        "--name",
        "donor",
        "--ipc",
        "shareable",
        "busybox",
        "sh",
        "-c",
        "echo secret > /dev/shm/note; touch /ready; exec sleep 1000",
    ]);
    wait_ready(&t, "donor");
    let donor_ns = t.ok(&["exec", "donor", "readlink", "/proc/self/ns/ipc"]);
    let joined = run(
        &t,
        &[
            "--ipc",
            "container:donor",
            "busybox",
            "sh",
            "-c",
            "readlink /proc/self/ns/ipc; cat /dev/shm/note",
        ],
    );
    assert_eq!(joined, format!("{}\nsecret", donor_ns.trim()));
    assert_eq!(t.inspect_f("donor", "{{.HostConfig.IpcMode}}"), "shareable");

    // The joined namespace's sysctls are its owner's to set.
    refused(
        &t,
        &[
            "--ipc",
            "container:donor",
            "--sysctl",
            "kernel.shmmax=1",
            "busybox",
            "true",
        ],
        "is not allowed in the IPC namespace of container",
    );
    // A private one (Docker's default) cannot be joined.
    cs.run_d(&["--name", "private", "busybox", "sleep", "1000"]);
    assert_eq!(t.inspect_f("private", "{{.HostConfig.IpcMode}}"), "private");
    refused(
        &t,
        &["--ipc", "container:private", "busybox", "true"],
        "non-shareable IPC (hint: use IpcMode:shareable for the donor container)",
    );
    // The shareable /dev/shm is a host mount while the donor runs, gone after.
    t.ok(&["rm", "-f", "donor"]);
    t.assert_nothing_mounted();
}

#[test]
fn ipc_host_and_none() {
    let t = TestRoot::with_busybox();
    let inside = run(
        &t,
        &["--ipc", "host", "busybox", "readlink", "/proc/self/ns/ipc"],
    );
    assert_eq!(inside, host_ns("ipc"));
    // The host's /dev/shm: a file made there is seen inside.
    let name = format!("tug-e2e-ipc-{}", std::process::id());
    let host_file = std::path::Path::new("/dev/shm").join(&name);
    std::fs::write(&host_file, "from the host").expect("write /dev/shm");
    let seen = t.run(&[
        "run",
        "--rm",
        "--ipc",
        "host",
        "busybox",
        "cat",
        &format!("/dev/shm/{name}"),
    ]);
    let _ = std::fs::remove_file(&host_file);
    assert_eq!(
        String::from_utf8_lossy(&seen.stdout),
        "from the host",
        "{}",
        text(&seen)
    );
    // none: an IPC namespace of its own and no /dev/shm.
    let own = run(
        &t,
        &[
            "--ipc",
            "none",
            "busybox",
            "sh",
            "-c",
            "readlink /proc/self/ns/ipc; test -e /dev/shm || echo no-shm",
        ],
    );
    assert_eq!(own.lines().nth(1), Some("no-shm"), "{own}");
    assert_ne!(own.lines().next(), Some(host_ns("ipc").as_str()));
    refused(
        &t,
        &["--ipc", "container:", "busybox", "true"],
        "--ipc: invalid IPC mode",
    );
}

#[test]
fn uts_host_takes_the_hosts_name_and_refuses_another() {
    let t = TestRoot::with_busybox();
    let host = nix::unistd::gethostname().unwrap().into_string().unwrap();
    assert_eq!(run(&t, &["--uts", "host", "busybox", "hostname"]), host);
    assert_eq!(
        run(
            &t,
            &["--uts", "host", "busybox", "readlink", "/proc/self/ns/uts"]
        ),
        host_ns("uts")
    );
    refused(
        &t,
        &["--uts", "host", "-h", "other", "busybox", "true"],
        "conflicting options: hostname and the UTS mode",
    );
    refused(
        &t,
        &["--uts", "private", "busybox", "true"],
        "--uts: invalid UTS mode",
    );
    // The host's name is left as it was.
    assert_eq!(
        nix::unistd::gethostname().unwrap().into_string().unwrap(),
        host
    );
}

#[test]
fn domainname_is_set_in_the_containers_uts_namespace() {
    let t = TestRoot::with_busybox();
    let host = std::fs::read_to_string("/proc/sys/kernel/domainname").unwrap();
    let out = run(
        &t,
        &[
            "--domainname",
            "example.org",
            "-h",
            "box",
            "busybox",
            "sh",
            "-c",
            "hostname; cat /proc/sys/kernel/domainname",
        ],
    );
    assert_eq!(out, "box\nexample.org");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/domainname").unwrap(),
        host
    );
}

#[test]
fn cgroupns_private_hides_the_hosts_cgroup_paths_and_host_shows_them() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    for (mode, own) in [("private", true), ("host", false)] {
        let name = format!("cg-{mode}");
        cs.run_d(&[
            "--name",
            &name,
            "--cgroupns",
            mode,
            "-m",
            "64m",
            "busybox",
            "sh",
            "-c",
            "touch /ready; exec sleep 1000",
        ]);
        wait_ready(&t, &name);
        let id = t.inspect_f(&name, "{{.Id}}");
        let cg = t.ok(&["exec", &name, "cat", "/proc/self/cgroup"]);
        assert_eq!(!cg.contains(&id), own, "--cgroupns {mode}: {cg}");
        assert_eq!(t.inspect_f(&name, "{{.HostConfig.CgroupnsMode}}"), mode);
        // Either way /sys/fs/cgroup shows the container's own cgroup, never the host's
        // tree (runc binds it over the hierarchy in the host's namespace).
        let (dir, limit) = if tug_e2e::cgroup_v1() {
            (
                "/sys/fs/cgroup/memory",
                "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            )
        } else {
            ("/sys/fs/cgroup", "/sys/fs/cgroup/memory.max")
        };
        assert_eq!(
            t.ok(&["exec", &name, "cat", limit]),
            "67108864\n",
            "--cgroupns {mode}"
        );
        let listed = t.ok(&["exec", &name, "ls", dir]);
        assert!(
            !listed.lines().any(|l| l == "tug"),
            "--cgroupns {mode}: {listed}"
        );
    }
    refused(
        &t,
        &["--cgroupns", "shared", "busybox", "true"],
        "--cgroupns: invalid CGROUP mode",
    );
}

#[test]
fn sysctl_sets_namespaced_ones_and_refuses_the_rest_as_docker() {
    let t = TestRoot::with_busybox();
    let host_port_start =
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start").unwrap();
    let host_shmmax = std::fs::read_to_string("/proc/sys/kernel/shmmax").unwrap();
    let out = run(
        &t,
        &[
            "--sysctl",
            "net.ipv4.ip_unprivileged_port_start=99",
            "--sysctl",
            "kernel.shmmax=123456",
            "busybox",
            "cat",
            "/proc/sys/net/ipv4/ip_unprivileged_port_start",
            "/proc/sys/kernel/shmmax",
        ],
    );
    assert_eq!(out, "99\n123456");
    // The host's values did not move.
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start").unwrap(),
        host_port_start
    );
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/shmmax").unwrap(),
        host_shmmax
    );
    // /proc/sys stays read-only for the container's own writes.
    let w = t.run(&[
        "run",
        "--rm",
        "--sysctl",
        "kernel.shmmax=1",
        "busybox",
        "sh",
        "-c",
        "echo 5 > /proc/sys/kernel/shmmax",
    ]);
    assert_ne!(code(&w), 0, "{}", text(&w));
    refused(
        &t,
        &["--sysctl", "kernel.hostname=evil", "busybox", "true"],
        "invalid argument \"kernel.hostname=evil\" for \"--sysctl\" flag: sysctl 'kernel.hostname=evil' is not allowed",
    );
    refused(
        &t,
        &["--sysctl", "vm.swappiness=1", "busybox", "true"],
        "is not allowed",
    );
    refused(
        &t,
        &[
            "--net",
            "host",
            "--sysctl",
            "net.ipv4.ip_forward=1",
            "busybox",
            "true",
        ],
        "sysctl \"net.ipv4.ip_forward\" not allowed in host network namespace",
    );
    refused(
        &t,
        &[
            "--ipc",
            "host",
            "--sysctl",
            "kernel.shmmax=1",
            "busybox",
            "true",
        ],
        "sysctl \"kernel.shmmax\" is not allowed in host IPC namespace",
    );
}

#[test]
fn sysctl_of_an_interface_is_written_once_the_interface_is_up() {
    let t = TestRoot::with_busybox();
    let out = run(
        &t,
        &[
            "--sysctl",
            "net.ipv4.conf.eth0.route_localnet=1",
            "--sysctl",
            "net.ipv4.conf.all.route_localnet=0",
            "busybox",
            "cat",
            "/proc/sys/net/ipv4/conf/eth0/route_localnet",
            "/proc/sys/net/ipv4/conf/all/route_localnet",
        ],
    );
    assert_eq!(out, "1\n0");
    // The host's interfaces keep theirs.
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/conf/all/route_localnet").unwrap(),
        "0\n"
    );
    // No eth0 without a network: the start fails and says which interface is missing.
    let out = t.run(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--sysctl",
        "net.ipv4.conf.eth0.route_localnet=1",
        "busybox",
        "true",
    ]);
    assert_ne!(code(&out), 0, "{}", text(&out));
    assert!(
        stderr(&out).contains("the container has no interface eth0"),
        "{}",
        text(&out)
    );
    assert_eq!(
        t.ok(&["ps", "-aq"]),
        "",
        "a --rm container whose start failed stays"
    );
}

#[test]
fn group_add_and_oom_score_adj_reach_the_process() {
    let t = TestRoot::with_busybox();
    // The container's execs join the added groups too, as Docker's.
    let cs = Containers::new(&t);
    cs.run_d(&[
        "--name",
        "grouped",
        "--group-add",
        "4321",
        "busybox",
        "sleep",
        "1000",
    ]);
    let groups = t.ok(&["exec", "-u", "1000", "grouped", "id", "-G"]);
    assert!(groups.split_whitespace().any(|g| g == "4321"), "{groups}");
    let id = run(
        &t,
        &[
            "--group-add",
            "1234",
            "--group-add",
            "root",
            "-u",
            "1000:1000",
            "busybox",
            "id",
            "-G",
        ],
    );
    let mut groups: Vec<&str> = id.split_whitespace().collect();
    groups.sort();
    assert_eq!(groups, ["0", "1000", "1234"], "{id}");
    refused(
        &t,
        &["--group-add", "nosuchgroup", "busybox", "true"],
        "unable to find group nosuchgroup",
    );
    assert_eq!(
        run(
            &t,
            &[
                "--oom-score-adj",
                "500",
                "busybox",
                "cat",
                "/proc/self/oom_score_adj"
            ]
        ),
        "500"
    );
    refused(
        &t,
        &["--oom-score-adj", "1001", "busybox", "true"],
        "Invalid value 1001, range for oom score adj is [-1000, 1000]",
    );
}

#[test]
fn cidfile_gets_the_id_and_an_existing_one_is_refused() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    let f = t.path().join("cid");
    let f_s = f.display().to_string();
    let id = cs.run_d(&["--cidfile", &f_s, "busybox", "sleep", "1000"]);
    assert_eq!(std::fs::read_to_string(&f).unwrap(), id);
    let out = t.run(&["create", "--cidfile", &f_s, "busybox", "true"]);
    assert_eq!(code(&out), 125, "{}", text(&out));
    assert!(
        stderr(&out).contains(&format!(
            "Container ID file found, make sure the other container isn't running or delete {f_s}"
        )),
        "{}",
        text(&out)
    );
    // The file is left as it was, and no container was made.
    assert_eq!(std::fs::read_to_string(&f).unwrap(), id);
    assert_eq!(t.container_ids().len(), 1);
    // A create that fails leaves no file behind.
    let g = t.path().join("cid2").display().to_string();
    let out = t.run(&[
        "create",
        "--cidfile",
        &g,
        "--sysctl",
        "vm.x=1",
        "busybox",
        "true",
    ]);
    assert_eq!(code(&out), 125);
    assert!(!std::path::Path::new(&g).exists());
}

#[test]
fn label_file_labels_come_first_and_label_flags_win() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    let f = t.path().join("labels");
    std::fs::write(&f, "# a comment\n\ntier=backend\nowner=files\nflag\n").unwrap();
    t.ok(&[
        "create",
        "--name",
        "lab",
        "--label-file",
        f.to_str().unwrap(),
        "-l",
        "owner=flag",
        "busybox",
        "true",
    ]);
    cs.add("lab");
    assert_eq!(
        t.inspect_f("lab", "{{json .Config.Labels}}"),
        r#"{"flag":"","owner":"flag","tier":"backend"}"#
    );
}

#[test]
fn device_cgroup_rule_allows_a_node_made_with_mknod() {
    let t = TestRoot::with_busybox();
    // /dev/kmsg's numbers (1:11), which Docker's default rules do not allow; opened for
    // writing with nothing written (no syslog permission is needed for that).
    let script = "mknod /tmp/k c 1 11 && : > /tmp/k && echo opened";
    let denied = t.run(&["run", "--rm", "busybox", "sh", "-c", script]);
    assert!(
        !String::from_utf8_lossy(&denied.stdout).contains("opened"),
        "{}",
        text(&denied)
    );
    let allowed = run(
        &t,
        &[
            "--device-cgroup-rule",
            "c 1:11 w",
            "busybox",
            "sh",
            "-c",
            script,
        ],
    );
    assert_eq!(allowed, "opened");
    refused(
        &t,
        &["--device-cgroup-rule", "x 1:11 r", "busybox", "true"],
        "invalid device cgroup format 'x 1:11 r'",
    );
}

#[test]
fn log_driver_none_keeps_no_log_but_attaches_and_local_keeps_one() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    let out = t.ok(&[
        "run",
        "--name",
        "quiet",
        "--log-driver",
        "none",
        "busybox",
        "echo",
        "hi",
    ]);
    cs.add("quiet");
    assert_eq!(out, "hi\n");
    let logs = t.run(&["logs", "quiet"]);
    assert_ne!(code(&logs), 0);
    assert!(
        stderr(&logs).contains("configured logging driver does not support reading"),
        "{}",
        text(&logs)
    );
    assert_eq!(
        t.inspect_f("quiet", "{{.HostConfig.LogConfig.Type}}"),
        "none"
    );
    t.ok(&[
        "run",
        "--name",
        "kept",
        "--log-driver",
        "local",
        "busybox",
        "echo",
        "kept",
    ]);
    cs.add("kept");
    assert_eq!(t.ok(&["logs", "kept"]), "kept\n");
    refused(
        &t,
        &["--log-driver", "syslog", "busybox", "true"],
        "logging driver \"syslog\" is not supported",
    );
}

#[test]
fn attach_flag_relays_only_the_streams_named() {
    let t = TestRoot::with_busybox();
    let script = "echo out; echo err >&2";
    let out = t.run(&["run", "--rm", "-a", "stderr", "busybox", "sh", "-c", script]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(
        (
            String::from_utf8_lossy(&out.stdout).as_ref(),
            stderr(&out).as_str()
        ),
        ("", "err\n")
    );
    let out = t.run(&["run", "--rm", "-a", "STDOUT", "busybox", "sh", "-c", script]);
    assert_eq!(
        (
            String::from_utf8_lossy(&out.stdout).as_ref(),
            stderr(&out).as_str()
        ),
        ("out\n", "")
    );
    refused(
        &t,
        &["-a", "stdtv", "busybox", "true"],
        "invalid argument \"stdtv\" for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and STDERR",
    );
    let out = t.run(&["run", "-d", "-a", "stdout", "busybox", "true"]);
    assert_eq!(code(&out), 125);
    assert!(
        stderr(&out).contains("Conflicting options: -a and -d"),
        "{}",
        text(&out)
    );
    assert!(t.container_ids().is_empty());
}
