//! State that survives failures: an owner's death removes its container, a killed shim
//! leaves a container shown as exited that `rm` cleans up, and many `tug` processes at
//! once lose nothing.

use std::collections::BTreeSet;
use std::time::Duration;

use tug_e2e::containers::{Containers, alive, kill_shim_of, ppid};
use tug_e2e::wait_for;
use tug_e2e::{KillOnDrop, TestRoot, code, stderr, text};

#[test]
fn owner_killed_with_sigkill_removes_its_container_within_a_second() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    let mut owner = KillOnDrop(
        std::process::Command::new("sleep")
            .arg("1000")
            .spawn()
            .unwrap(),
    );
    let owner_pid = owner.id().to_string();
    let id = cs.run_d(&["--owner-pid", &owner_pid, "busybox", "sleep", "1000"]);
    let pid: i32 = t.inspect_f(&id, "{{.State.Pid}}").parse().unwrap();
    assert!(alive(pid));
    owner.kill().unwrap();
    owner.wait().unwrap();
    let dir = t.root().join("containers").join(&id);
    // Quick in practice (the shim watches its owner); 10 s for a loaded CI machine.
    wait_for(
        "the owned container's removal",
        Duration::from_secs(10),
        || !dir.exists() && !alive(pid),
    );
    assert_eq!(t.ok(&["ps", "-a", "-q"]).trim(), "");
    let run_dir = t.run_root().join("containers").join(&id);
    wait_for("the shim's run dir to go", Duration::from_secs(1), || {
        !run_dir.exists()
    });
}

#[test]
fn an_owner_that_is_gone_refuses_the_start() {
    let t = TestRoot::with_busybox();
    let out = t.run(&["run", "-d", "--owner-pid", "999999999", "busybox", "true"]);
    assert_eq!(code(&out), 125, "{}", text(&out));
    assert_eq!(t.ok(&["ps", "-a", "-q"]).trim(), "");
}

#[test]
fn a_killed_shim_leaves_an_exited_container_that_rm_cleans_up() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    let id = cs.run_d(&["--name", "orphan", "busybox", "sleep", "1000"]);
    let pid: i32 = t.inspect_f("orphan", "{{.State.Pid}}").parse().unwrap();
    let shim = ppid(pid);
    assert_eq!(
        std::fs::read_to_string(format!("/proc/{shim}/comm"))
            .unwrap()
            .trim(),
        "tug-shim",
        "the container's parent is its shim"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(shim),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_for(
        "the container to die with its shim",
        Duration::from_secs(2),
        || !alive(pid),
    );
    assert_eq!(
        t.inspect_f(
            "orphan",
            "{{.State.Status}} {{.State.Running}} {{.State.ExitCode}}"
        ),
        "exited false 137"
    );
    assert!(
        t.inspect_f("orphan", "{{.State.Error}}")
            .contains("shim died")
    );
    let ps = t.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    assert!(ps.starts_with("orphan Exited (137)"), "{ps}");
    assert_eq!(t.ok(&["ps", "-q"]).trim(), "");
    assert_eq!(t.ok(&["rm", "orphan"]).trim(), "orphan");
    assert!(!t.root().join("containers").join(&id).exists());
    assert!(!t.run_root().join("containers").join(&id).exists());
}

#[test]
fn a_reboot_leaves_exited_containers() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    let id = cs.run_d(&["busybox", "sleep", "1000"]);
    let pid: i32 = t.inspect_f(&id, "{{.State.Pid}}").parse().unwrap();
    kill_shim_of(pid);
    // $TUG_RUN is a tmpfs that a reboot empties.
    std::fs::remove_dir_all(t.run_root()).unwrap();
    assert_eq!(t.inspect_f(&id, "{{.State.Status}}"), "exited");
    t.ok(&["rm", &id]);
    assert_eq!(t.ok(&["ps", "-a", "-q"]).trim(), "");
}

#[test]
fn fifty_containers_created_and_removed_in_parallel_lose_nothing() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    let ids: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..10)
            .map(|th| {
                let t = &t;
                s.spawn(move || {
                    (0..5)
                        .map(|i| {
                            t.ok(&["create", "--name", &format!("c{th}-{i}"), "busybox", "true"])
                                .trim()
                                .to_string()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    for id in &ids {
        cs.add(id);
    }
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), 50);
    let listed: BTreeSet<String> = t
        .ok(&["ps", "-a", "-q", "--no-trunc"])
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(listed, ids.iter().cloned().collect::<BTreeSet<_>>());
    let names = t.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(names.lines().collect::<BTreeSet<_>>().len(), 50);

    // One name claimed by ten processes at once: exactly one wins.
    let wins: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..10)
            .map(|_| {
                let t = &t;
                s.spawn(move || {
                    let out = t.run(&["create", "--name", "contested", "busybox", "true"]);
                    if code(&out) == 0 {
                        Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
                    } else {
                        assert!(String::from_utf8_lossy(&out.stderr).contains("already in use"));
                        None
                    }
                })
            })
            .collect();
        let won: Vec<String> = handles
            .into_iter()
            .filter_map(|h| h.join().unwrap())
            .collect();
        for id in &won {
            cs.add(id);
        }
        won.len()
    });
    assert_eq!(wins, 1);

    std::thread::scope(|s| {
        for chunk in ids.chunks(5) {
            let t = &t;
            s.spawn(move || {
                for id in chunk {
                    t.ok(&["rm", id]);
                }
            });
        }
    });
    t.ok(&["rm", "contested"]);
    assert_eq!(t.ok(&["ps", "-a", "-q"]).trim(), "");
    let names_dir = t.root().join("containers").join("names");
    assert_eq!(std::fs::read_dir(names_dir).unwrap().count(), 0);
}

#[test]
fn the_library_api_runs_an_owned_detached_container() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    let engine = t.engine();
    let mut owner = KillOnDrop(
        std::process::Command::new("sleep")
            .arg("1000")
            .spawn()
            .unwrap(),
    );
    let c = engine
        .run_detached(&tug::container::CreateOptions {
            image: "busybox".into(),
            command: vec!["sleep".into(), "1000".into()],
            network: "none".into(),
            owner_pid: Some(owner.id() as i32),
            ..Default::default()
        })
        .unwrap();
    cs.add(&c.id);
    let running = engine.container(&c.id).unwrap();
    assert!(running.state.running);
    assert!(alive(running.state.pid));
    owner.kill().unwrap();
    owner.wait().unwrap();
    wait_for(
        "the owned container's removal",
        Duration::from_secs(1),
        || engine.containers().unwrap().is_empty() && !alive(running.state.pid),
    );
}

/// Whether nftables (or iptables) has the port table of container `id`.
fn has_port_table(id: &str) -> bool {
    let out = std::process::Command::new("nft")
        .args(["list", "tables"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    out.contains(&format!("tug_p{}", &id[..16]))
}

#[test]
fn a_killed_shim_gives_back_its_port_table_and_cgroup_at_once() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    let port = tug_e2e::net::free_port(false);
    let publish = format!("{port}:80");
    let id = cs.run_d(&["--name", "held", "-p", &publish, "busybox", "sleep", "1000"]);
    let pid: i32 = t.inspect_f("held", "{{.State.Pid}}").parse().unwrap();
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let memory = cgroup
        .lines()
        .find_map(|l| l.split_once(":memory:").map(|(_, p)| p.to_string()));
    assert!(has_port_table(&id));
    kill_shim_of(pid);
    // The first look at it repairs the record and releases what the shim held.
    assert_eq!(t.inspect_f("held", "{{.State.Status}}"), "exited");
    assert!(!has_port_table(&id), "the dead shim's DNAT table stayed");
    assert_eq!(t.inspect_f("held", "{{json .NetworkSettings.Ports}}"), "{}");
    if let Some(m) = memory {
        let dir = format!("/sys/fs/cgroup/memory{m}");
        assert!(!std::path::Path::new(&dir).exists(), "{dir} stayed");
    }
    // Another container takes the port; removing both leaves no table.
    let other = cs.run_d(&["-p", &publish, "busybox", "sleep", "1000"]);
    t.ok(&["rm", "-f", &other]);
    t.ok(&["rm", "held"]);
    assert!(!has_port_table(&id) && !has_port_table(&other));
}

/// `create` writes a container's hostname, hosts and resolv.conf without an fsync (as
/// Docker does); a crash soon after can leave them missing, empty or zero-filled. The
/// start writes each damaged one again, as create wrote it, and leaves a sound one (with
/// the changes made in it) alone.
#[test]
fn etc_files_a_crash_damaged_are_written_again_at_start() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    for (name, net) in [("etc-bridge", "bridge"), ("etc-host", "host")] {
        let id = cs.add(&t.ok(&[
            "create",
            "--name",
            name,
            "--network",
            net,
            "--hostname",
            "box1",
            "--add-host",
            "db.internal:10.1.2.3",
            "--dns",
            "10.9.9.9",
            "busybox",
            "cat",
            "/etc/hostname",
            "/etc/hosts",
            "/etc/resolv.conf",
        ]));
        let dir = t.root().join("containers").join(&id);
        let files = ["hostname", "hosts", "resolv.conf"];
        let created: Vec<Vec<u8>> = files
            .iter()
            .map(|f| std::fs::read(dir.join(f)).unwrap())
            .collect();
        assert!(created.iter().all(|c| !c.is_empty()), "{name}: {created:?}");
        // What a crash leaves: an empty file, none, blocks of zeros.
        std::fs::write(dir.join("hostname"), b"").unwrap();
        std::fs::remove_file(dir.join("hosts")).unwrap();
        std::fs::write(dir.join("resolv.conf"), vec![0u8; created[2].len()]).unwrap();
        let out = t.run(&["start", "-a", name]);
        assert_eq!(code(&out), 0, "{name}: {}", stderr(&out));
        let seen = text(&out);
        for want in ["box1\n", "10.1.2.3\tdb.internal\n", "nameserver 10.9.9.9\n"] {
            assert!(seen.contains(want), "{name}: no {want:?} in\n{seen}");
        }
        for (f, was) in files.iter().zip(&created) {
            let now = std::fs::read(dir.join(f)).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&now),
                String::from_utf8_lossy(was),
                "{name}: {f} written again as create wrote it"
            );
        }
        // A sound file is left as it is.
        let mut edited = created[1].clone();
        edited.extend_from_slice(b"10.4.4.4\tkept\n");
        std::fs::write(dir.join("hosts"), &edited).unwrap();
        let out = t.run(&["start", "-a", name]);
        assert_eq!(code(&out), 0, "{name}: {}", stderr(&out));
        assert!(
            text(&out).contains("10.4.4.4\tkept\n"),
            "{name}: {}",
            text(&out)
        );
    }
}

/// A create killed before its record was written (here in the `stat` of a `-v` source on
/// a hung mount, as a Ctrl-C would) leaves its name and its dir. While it runs the name
/// is its own; once it is dead, the next create of that name takes them back.
#[test]
fn a_name_left_by_a_killed_create_is_taken_back() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    let hung = tug_e2e::fuse::HungFuse::mount();
    let vol = format!("{}:/data", hung.path_str());
    let names = t.root().join("containers").join("names");
    let mut create = KillOnDrop(
        t.tug()
            .args(["create", "--name", "stuck", "-v", &vol, "busybox", "true"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("the create's name", Duration::from_secs(20), || {
        names.join("stuck").exists()
    });
    let out = t.run(&["create", "--name", "stuck", "busybox", "true"]);
    assert_eq!(code(&out), 125, "{}", text(&out));
    assert!(
        stderr(&out).contains("is already in use"),
        "{}",
        stderr(&out)
    );
    assert!(
        create.try_wait().unwrap().is_none(),
        "the create should hang"
    );

    create.kill().unwrap();
    create.wait().unwrap();
    let dead = std::fs::read_to_string(names.join("stuck")).unwrap();
    let dead_dir = t.root().join("containers").join(&dead);
    assert!(dead_dir.is_dir());
    assert!(!dead_dir.join("container.json").exists());
    assert_eq!(t.run(&["ps", "-aq"]).stdout, b"");

    let id = cs.add(&t.ok(&["create", "--name", "stuck", "busybox", "true"]));
    assert_ne!(id, dead);
    assert!(!dead_dir.exists(), "the dead create's dir is removed");
    assert_eq!(t.inspect_f("stuck", "{{.Id}}"), id);
    drop(hung);
}

/// A start that never gets its container ready (its `-v` source sits on a hung mount) is
/// given up by `rm -f`: the shim kills the init and undoes the start, the start fails
/// saying so, and nothing of the container is left: no process of it, no port table,
/// no run dir, no record. Before, `rm -f` removed the record and released the address
/// while the shim and the init (with the address on its interface) stayed.
#[test]
fn rm_f_ends_a_start_stuck_before_the_container_is_ready() {
    let t = TestRoot::with_busybox();
    let cs = Containers::new(&t);
    let src = t.host_dir("src");
    let vol = format!("{}:/data", src.display());
    let id = cs.add(&t.ok(&[
        "create",
        "--name",
        "stuck",
        "-p",
        "127.0.0.1::80",
        "-v",
        &vol,
        "busybox",
        "sleep",
        "100",
    ]));
    let hung = tug_e2e::fuse::HungFuse::mount_on(&src);
    let mut start = KillOnDrop(
        t.tug()
            .args(["start", "stuck"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let run_dir = t.run_root().join("containers").join(&id);
    wait_for("the shim's socket", Duration::from_secs(20), || {
        run_dir.join("attach.sock").exists()
    });
    let out = t.run(&["rm", "-f", "stuck"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    wait_for("the start to fail", Duration::from_secs(20), || {
        start.try_wait().unwrap().is_some()
    });
    assert!(!start.wait().unwrap().success());
    let mut said = String::new();
    std::io::Read::read_to_string(&mut start.stderr.take().unwrap(), &mut said).unwrap();
    assert!(said.contains("the start was cancelled"), "{said}");

    let of_it = || -> Vec<String> {
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .bytes()
                    .all(|b| b.is_ascii_digit())
            })
            .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
            .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
            .filter(|c| c.contains(&id))
            .collect()
    };
    wait_for(
        "the shim and the init to end",
        Duration::from_secs(20),
        || of_it().is_empty(),
    );
    let table = tug::network::endpoint::ports_table(&id);
    let listed = std::process::Command::new("nft")
        .args(["list", "table", "ip", &table])
        .output()
        .unwrap();
    assert!(!listed.status.success(), "{table} is left");
    assert!(!run_dir.exists());
    assert!(!t.root().join("containers").join(&id).exists());
    assert_eq!(t.run(&["ps", "-aq"]).stdout, b"");
    drop(hung);
}
