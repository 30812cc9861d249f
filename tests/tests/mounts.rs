//! Mounts of `run`/`create`: `-v` binds (rw, `:ro`, read-only below too), `--mount`,
//! `--tmpfs`; hostile image symlinks stay inside the rootfs; bad flags fail with 125 and
//! make nothing; no mount is left on the host. (Volumes: run_volumes.rs.)

use std::path::{Path, PathBuf};

use tug_e2e::image::{Entry, import_image};
use tug_e2e::{TestRoot, code, text};

#[test]
fn bind_mounts_read_write_and_read_only() {
    let t = TestRoot::with_busybox();
    let h = t.host_dir("host");
    std::fs::write(h.join("in"), "from host\n").unwrap();
    let hv = format!("{}:/h", h.display());
    let out = t.ok(&[
        "run",
        "--rm",
        "-v",
        &hv,
        "busybox",
        "sh",
        "-c",
        "cat /h/in; echo back > /h/out",
    ]);
    assert_eq!(out, "from host\n");
    assert_eq!(std::fs::read_to_string(h.join("out")).unwrap(), "back\n");

    let ro = format!("{}:/h:ro", h.display());
    let out = t.run(&[
        "run",
        "--rm",
        "-v",
        &ro,
        "busybox",
        "sh",
        "-c",
        "cat /h/in && echo x > /h/new",
    ]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("from host"));
    assert!(
        text(&out).contains("Read-only file system"),
        "EROFS: {}",
        text(&out)
    );
    assert!(!h.join("new").exists());

    let m = format!("type=bind,source={},target=/m,readonly", h.display());
    let out = t.run(&[
        "run",
        "--rm",
        "--mount",
        &m,
        "busybox",
        "sh",
        "-c",
        "touch /m/new",
    ]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(!h.join("new").exists());

    // A file bind-mounted on a file.
    let f = format!("{}:/etc/motd:ro", h.join("in").display());
    assert_eq!(
        t.ok(&["run", "--rm", "-v", &f, "busybox", "cat", "/etc/motd"]),
        "from host\n"
    );

    // inspect shows Docker's Mounts and HostConfig.Binds.
    let id = t.ok(&["create", "-v", &ro, "busybox", "true"]);
    let c = t.inspect_first(&["inspect", id.trim()]);
    assert_eq!(
        c["Mounts"],
        serde_json::json!([{
            "Type": "bind", "Source": h.display().to_string(), "Destination": "/h",
            "Mode": "ro", "RW": false, "Propagation": "rprivate"
        }])
    );
    assert_eq!(c["HostConfig"]["Binds"], serde_json::json!([ro]));
    t.ok(&["rm", id.trim()]);
    t.assert_nothing_mounted();
}

#[test]
fn a_missing_host_dir_is_made_for_v_and_an_error_for_mount() {
    let t = TestRoot::with_busybox();
    let missing = t.path().join("new/sub");
    let v = format!("{}:/d", missing.display());
    t.ok(&[
        "run",
        "--rm",
        "-v",
        &v,
        "busybox",
        "sh",
        "-c",
        "echo hi > /d/f",
    ]);
    assert_eq!(std::fs::read_to_string(missing.join("f")).unwrap(), "hi\n");

    let gone = t.path().join("absent");
    let m = format!("type=bind,src={},dst=/d", gone.display());
    let out = t.run(&["run", "--rm", "--mount", &m, "busybox", "true"]);
    assert_eq!(code(&out), 125, "{}", text(&out));
    assert!(
        text(&out).contains(&format!(
            "bind source path does not exist: {}",
            gone.display()
        )),
        "{}",
        text(&out)
    );
    assert!(!gone.exists());
    assert!(t.container_ids().is_empty());
}

#[test]
fn tmpfs_mounts_with_size_and_mode() {
    let t = TestRoot::with_busybox();
    let out = t.ok(&[
        "run",
        "--rm",
        "--tmpfs",
        "/run:size=64m,mode=1770",
        "busybox",
        "sh",
        "-c",
        "grep ' /run ' /proc/mounts; stat -c %a /run",
    ]);
    let mut lines = out.lines();
    let mount = lines.next().unwrap_or_default();
    assert!(mount.starts_with("tmpfs /run tmpfs "), "{out}");
    for opt in ["size=65536k", "mode=1770", "noexec", "nosuid", "nodev"] {
        assert!(mount.contains(opt), "{opt} in {mount}");
    }
    assert_eq!(lines.next(), Some("1770"));

    let out = t.ok(&[
        "run",
        "--rm",
        "--mount",
        "type=tmpfs,destination=/t,tmpfs-size=1m,tmpfs-mode=700",
        "busybox",
        "sh",
        "-c",
        "grep ' /t ' /proc/mounts; stat -c %a /t",
    ]);
    assert!(
        out.contains("size=1024k") && out.ends_with("700\n"),
        "{out}"
    );

    let id = t.ok(&["create", "--tmpfs", "/run:size=1m", "busybox", "true"]);
    let c = t.inspect_first(&["inspect", id.trim()]);
    assert_eq!(
        c["HostConfig"]["Tmpfs"],
        serde_json::json!({"/run": "size=1m"})
    );
    t.ok(&["rm", id.trim()]);
}

#[test]
fn image_symlinks_cannot_send_mounts_outside_the_rootfs() {
    let t = TestRoot::new();
    // A host dir the image's links point at, with a secret in it.
    let outside = t.host_dir("outside");
    std::fs::write(outside.join("secret"), "host secret\n").unwrap();
    let abs = outside.display().to_string();
    let rel_up = format!("../../../../../../../..{abs}");
    let in_image = abs.trim_start_matches('/').to_string();
    let inside_file = format!("{in_image}/inside");
    let mut entries = vec![];
    // The same path inside the image, so that the links resolve there.
    let mut p = String::new();
    for part in in_image.split('/') {
        if !p.is_empty() {
            p.push('/');
        }
        p.push_str(part);
        entries.push(p.clone());
    }
    let mut e: Vec<Entry> = entries.iter().map(|d| Entry::Dir(d)).collect();
    e.push(Entry::File(&inside_file, b"image\n"));
    e.push(Entry::Symlink("abs", &abs));
    e.push(Entry::Symlink("up", &rel_up));
    e.push(Entry::Symlink("root", "/"));
    e.push(Entry::Symlink("dangling", "/nonexistent-tug-target"));
    import_image(&t, "hostile", &e, &[]);

    let src = t.host_dir("src");
    std::fs::write(src.join("f"), "bound\n").unwrap();
    for target in ["/abs", "/up", "/abs/sub", "/up/sub"] {
        let v = format!("{}:{target}", src.display());
        let out = t.ok(&[
            "run",
            "--rm",
            "-v",
            &v,
            "hostile",
            "/bin/busybox",
            "sh",
            "-c",
            &format!("cat {target}/f; echo w > {target}/w"),
        ]);
        assert_eq!(out, "bound\n", "{target}");
    }
    // The host's dir is untouched: no `sub`, nothing mounted, the secret alone.
    let names: Vec<String> = std::fs::read_dir(&outside)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["secret"]);
    // A volume on a link is filled from the image, never from the host.
    t.ok(&[
        "run",
        "--rm",
        "-v",
        "v1:/abs",
        "hostile",
        "/bin/busybox",
        "true",
    ]);
    t.ok(&[
        "run",
        "--rm",
        "-v",
        "v2:/up",
        "hostile",
        "/bin/busybox",
        "true",
    ]);
    for v in ["v1", "v2"] {
        let d = t.root().join(format!("volumes/{v}/_data"));
        assert!(d.join("inside").is_file(), "{v}");
        assert!(!d.join("secret").exists(), "{v} got the host's file");
    }
    // A link to / mounts on the rootfs's own root, inside the container.
    let v = format!("{}:/root/x", src.display());
    assert_eq!(
        t.ok(&[
            "run",
            "--rm",
            "-v",
            &v,
            "hostile",
            "/bin/busybox",
            "cat",
            "/x/f"
        ]),
        "bound\n"
    );
    assert!(!Path::new("/x").exists());
    // A dangling link gets its target made inside the rootfs, never on the host.
    let v = format!("{}:/dangling", src.display());
    assert_eq!(
        t.ok(&[
            "run",
            "--rm",
            "-v",
            &v,
            "hostile",
            "/bin/busybox",
            "cat",
            "/nonexistent-tug-target/f"
        ]),
        "bound\n"
    );
    assert!(!Path::new("/nonexistent-tug-target").exists());
    t.assert_nothing_mounted();
}

#[test]
fn bad_mount_flags_fail_with_125_and_make_nothing() {
    let t = TestRoot::with_busybox();
    for args in [
        vec!["-v", "/h:rel"],
        vec!["-v", "/h:/c:xx"],
        vec!["-v", "a:b:c:d"],
        vec!["-v", "bad name:/c"],
        vec!["-v", "/h:/"],
        vec!["--mount", "type=foo,target=/c"],
        vec!["--mount", "type=bind,target=/c"],
        vec!["--mount", "type=volume,src=v9,target=/c,color=red"],
        vec!["--tmpfs", "/run:size=lots"],
        vec!["--tmpfs", "run"],
        vec!["--volumes-from", "x:xx"],
    ] {
        let value = args[1];
        let mut a = vec!["run", "--rm", "-v", "early:/early"];
        a.extend(&args);
        a.extend(["busybox", "true"]);
        let out = t.run(&a);
        assert_eq!(code(&out), 125, "{args:?}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(value),
            "{args:?}: the error names the value: {err}"
        );
        let flag = args[0].trim_start_matches('-');
        assert!(
            err.contains(flag),
            "{args:?}: the error names the flag: {err}"
        );
    }
    // Duplicates, and a failure after the volumes were made, leave nothing either.
    let out = t.run(&["run", "-v", "early:/d", "-v", "v2:/d", "busybox", "true"]);
    assert_eq!(code(&out), 125, "{}", text(&out));
    assert!(
        text(&out).contains("Duplicate mount point: /d"),
        "{}",
        text(&out)
    );
    let out = t.run(&["run", "-v", "early:/d", "-w", "relative", "busybox", "true"]);
    assert_eq!(code(&out), 125, "{}", text(&out));
    assert!(t.volume_names().is_empty(), "{:?}", t.volume_names());
    assert!(t.container_ids().is_empty(), "{:?}", t.container_ids());
}

/// A tmpfs the test mounts on the host, unmounted on drop (also when the test fails).
struct HostTmpfs(PathBuf);

impl HostTmpfs {
    fn new(dir: PathBuf) -> HostTmpfs {
        std::fs::create_dir_all(&dir).unwrap();
        nix::mount::mount(
            Some("tmpfs"),
            &dir,
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            None::<&str>,
        )
        .expect("mount a tmpfs");
        HostTmpfs(dir)
    }
}

impl Drop for HostTmpfs {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

#[test]
fn a_read_only_bind_is_read_only_below_too() {
    let t = TestRoot::with_busybox();
    let h = t.host_dir("tree");
    let sub = HostTmpfs::new(h.join("sub"));
    let ro = format!("{}:/h:ro", h.display());
    let out = t.run(&[
        "run",
        "--rm",
        "-v",
        &ro,
        "busybox",
        "sh",
        "-c",
        "touch /h/sub/x",
    ]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        text(&out).contains("Read-only file system"),
        "{}",
        text(&out)
    );
    assert!(!sub.0.join("x").exists());
    // Read-write: the submount is there and writable.
    let rw = format!("{}:/h", h.display());
    t.ok(&["run", "--rm", "-v", &rw, "busybox", "touch", "/h/sub/x"]);
    assert!(sub.0.join("x").exists());
    drop(sub);
    t.assert_nothing_mounted();
}
