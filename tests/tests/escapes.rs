//! The escape suite: a hostile image or a hostile process in a container tries the ways
//! out that runtimes have had (a forged /proc, device nodes, the exec'd process's fds,
//! environment and binary, unfiltered syscalls, symlinked mount targets) and each test
//! asserts that the host is unchanged. Every escape that was once open in tug is here, so
//! that it stays closed.

use tug_e2e::image::{Entry, import_image};
use tug_e2e::{TestRoot, code, text};

/// Docker's default bounding set, as /proc/self/status prints it.
const DOCKER_CAPS: &str = "00000000a80425fb";

/// The bounding set the container's process has.
fn cap_bnd(t: &TestRoot, args: &[&str]) -> std::process::Output {
    let mut a = vec!["run", "--rm"];
    a.extend_from_slice(args);
    a.extend(["/bin/busybox", "grep", "CapBnd", "/proc/self/status"]);
    t.run(&a)
}

fn containers_left(t: &TestRoot) -> usize {
    std::fs::read_dir(t.root().join("containers"))
        .map(|d| d.flatten().filter(|e| e.file_name().len() == 64).count())
        .unwrap_or(0)
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
    assert_eq!(containers_left(&t), 0);
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
    assert_eq!(containers_left(&t), 0);
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
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&t.path().display().to_string()));
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
