//! Mounts of `run`/`create`: `-v` binds (rw, `:ro`), named volumes (kept across
//! containers, filled with the image's content when new), anonymous volumes (`-v /path`,
//! image VOLUMEs; gone with `rm -v`, kept otherwise), `--mount`, `--tmpfs`,
//! `--volumes-from`; hostile image symlinks stay inside the rootfs; bad flags fail with
//! 125 and make nothing; no mount is left on the host.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tug_e2e::image::{Entry, import_image};
use tug_e2e::{TestRoot, code, text};

/// The host's mount table lines under `dir`.
fn host_mounts_under(dir: &Path) -> Vec<String> {
    let d = dir.display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(&d))
        .map(str::to_string)
        .collect()
}

/// Asserts that nothing the tests mounted is on the host.
fn assert_no_host_mounts(t: &TestRoot) {
    let left = host_mounts_under(t.path());
    assert!(left.is_empty(), "mounts left on the host: {left:?}");
}

fn host_dir(t: &TestRoot, name: &str) -> PathBuf {
    let d = t.path().join(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn inspect(t: &TestRoot, name: &str) -> serde_json::Value {
    t.inspect_first(&["inspect", name])
}

fn containers(t: &TestRoot) -> Vec<String> {
    std::fs::read_dir(t.root().join("containers"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.len() == 64)
                .collect()
        })
        .unwrap_or_default()
}

fn volumes(t: &TestRoot) -> Vec<String> {
    let mut v: Vec<String> = t
        .ok(&["volume", "ls", "-q"])
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

#[test]
fn a_named_volume_keeps_data_across_containers() {
    let t = TestRoot::with_busybox();
    t.ok(&[
        "run",
        "--rm",
        "-v",
        "data:/d",
        "busybox",
        "sh",
        "-c",
        "echo kept > /d/f",
    ]);
    assert_eq!(volumes(&t), ["data"], "made on first use");
    assert_eq!(
        t.ok(&[
            "run",
            "--rm",
            "-v",
            "data:/other",
            "busybox",
            "cat",
            "/other/f"
        ]),
        "kept\n"
    );
    assert_eq!(
        std::fs::read_to_string(t.root().join("volumes/data/_data/f")).unwrap(),
        "kept\n"
    );
    // --mount type=volume names the same volume; read-only there.
    let out = t.run(&[
        "run",
        "--rm",
        "--mount",
        "source=data,target=/d,readonly",
        "busybox",
        "sh",
        "-c",
        "cat /d/f; echo x > /d/g",
    ]);
    assert_ne!(code(&out), 0, "{}", text(&out));
    assert!(
        text(&out).contains("kept") && text(&out).contains("Read-only file system"),
        "{}",
        text(&out)
    );
    assert_no_host_mounts(&t);
}

#[test]
fn bind_mounts_read_write_and_read_only() {
    let t = TestRoot::with_busybox();
    let h = host_dir(&t, "host");
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
    let c = inspect(&t, id.trim());
    assert_eq!(
        c["Mounts"],
        serde_json::json!([{
            "Type": "bind", "Source": h.display().to_string(), "Destination": "/h",
            "Mode": "ro", "RW": false, "Propagation": "rprivate"
        }])
    );
    assert_eq!(c["HostConfig"]["Binds"], serde_json::json!([ro]));
    t.ok(&["rm", id.trim()]);
    assert_no_host_mounts(&t);
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
    assert!(containers(&t).is_empty());
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
    let c = inspect(&t, id.trim());
    assert_eq!(
        c["HostConfig"]["Tmpfs"],
        serde_json::json!({"/run": "size=1m"})
    );
    t.ok(&["rm", id.trim()]);
}

#[test]
fn volumes_from_shares_another_containers_mounts() {
    let t = TestRoot::with_busybox();
    let h = host_dir(&t, "shared");
    std::fs::write(h.join("hf"), "bind\n").unwrap();
    let hv = format!("{}:/h", h.display());
    t.ok(&[
        "create", "--name", "src", "-v", "vol1:/v", "-v", &hv, "busybox", "true",
    ]);
    t.ok(&[
        "run",
        "--rm",
        "-v",
        "vol1:/v",
        "busybox",
        "sh",
        "-c",
        "echo vol > /v/vf",
    ]);
    assert_eq!(
        t.ok(&[
            "run",
            "--rm",
            "--volumes-from",
            "src",
            "busybox",
            "cat",
            "/v/vf",
            "/h/hf"
        ]),
        "vol\nbind\n"
    );
    let out = t.run(&[
        "run",
        "--rm",
        "--volumes-from",
        "src:ro",
        "busybox",
        "sh",
        "-c",
        "echo x > /v/new",
    ]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        text(&out).contains("Read-only file system"),
        "{}",
        text(&out)
    );

    let out = t.run(&["run", "--rm", "--volumes-from", "nosuch", "busybox", "true"]);
    assert_eq!(code(&out), 125, "{}", text(&out));
    assert!(
        text(&out).contains("No such container: nosuch"),
        "{}",
        text(&out)
    );
    // An anonymous volume shared with --volumes-from outlives the sharer's --rm and
    // rm -v while its owner uses it.
    t.ok(&[
        "create", "--name", "owner", "-v", "/anon", "busybox", "true",
    ]);
    let anon = inspect(&t, "owner")["Mounts"][0]["Name"]
        .as_str()
        .unwrap()
        .to_string();
    t.ok(&[
        "run",
        "--rm",
        "--volumes-from",
        "owner",
        "busybox",
        "touch",
        "/anon/x",
    ]);
    t.ok(&[
        "create",
        "--name",
        "sharer",
        "--volumes-from",
        "owner",
        "busybox",
        "true",
    ]);
    t.ok(&["rm", "-v", "sharer"]);
    assert!(volumes(&t).contains(&anon), "{:?}", volumes(&t));
    t.ok(&["rm", "-v", "owner"]);
    assert!(!volumes(&t).contains(&anon), "{:?}", volumes(&t));
    t.ok(&["rm", "src"]);
    assert_no_host_mounts(&t);
}

#[test]
fn an_image_volume_gets_an_anonymous_volume_that_rm_v_removes() {
    let t = TestRoot::new();
    import_image(
        &t,
        "withvol",
        &[
            Entry::Dir("data"),
            Entry::File("data/seed", b"from the image\n"),
        ],
        &["VOLUME /data"],
    );
    t.ok(&[
        "create",
        "--name",
        "va",
        "withvol",
        "/bin/busybox",
        "cat",
        "/data/seed",
    ]);
    let c = inspect(&t, "va");
    let name = c["Mounts"][0]["Name"].as_str().unwrap().to_string();
    assert_eq!(name.len(), 64, "{c}");
    assert_eq!(c["Mounts"][0]["Type"], "volume");
    assert_eq!(c["Mounts"][0]["Destination"], "/data");
    assert_eq!(c["Config"]["Volumes"], serde_json::json!({"/data": {}}));
    assert_eq!(
        t.ok(&["volume", "inspect", "-f", "{{json .Labels}}", &name]),
        "{\"com.docker.volume.anonymous\":\"\"}\n"
    );
    // The new, empty volume is filled with the image's content.
    assert_eq!(t.ok(&["start", "-a", "va"]), "from the image\n");
    // rm without -v keeps it.
    t.ok(&["rm", "va"]);
    assert_eq!(volumes(&t), std::slice::from_ref(&name));

    // -v covering the image's VOLUME: no anonymous volume for it.
    t.ok(&[
        "run",
        "--rm",
        "-v",
        "mine:/data",
        "withvol",
        "/bin/busybox",
        "true",
    ]);
    assert_eq!(volumes(&t).len(), 2, "{:?}", volumes(&t));

    t.ok(&["create", "--name", "vb", "withvol", "/bin/busybox", "true"]);
    let b_vol = inspect(&t, "vb")["Mounts"][0]["Name"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(volumes(&t).len(), 3);
    t.ok(&["rm", "-v", "vb"]);
    assert!(
        !volumes(&t).contains(&b_vol),
        "rm -v removes the anonymous volume"
    );
    assert_eq!(volumes(&t).len(), 2);

    // run --rm removes its anonymous volumes too; -v /path makes one.
    t.ok(&[
        "run",
        "--rm",
        "-v",
        "/extra",
        "withvol",
        "/bin/busybox",
        "true",
    ]);
    assert_eq!(volumes(&t).len(), 2, "{:?}", volumes(&t));
    assert_no_host_mounts(&t);
}

#[test]
fn a_new_named_volume_is_filled_with_the_images_content_once() {
    let t = TestRoot::with_busybox();
    let out = t.ok(&[
        "run",
        "--rm",
        "-v",
        "etc:/etc",
        "busybox",
        "cat",
        "/etc/passwd",
    ]);
    assert!(out.starts_with("root:x:0:0:"), "{out}");
    let data = t.root().join("volumes/etc/_data");
    assert!(data.join("passwd").is_file());
    // Owners and modes come along (busybox's /etc/shadow is 0640).
    use std::os::unix::fs::PermissionsExt;
    let image_mode = t.ok(&[
        "run",
        "--rm",
        "busybox",
        "stat",
        "-c",
        "%a %u",
        "/etc/shadow",
    ]);
    let m = std::fs::metadata(data.join("shadow")).unwrap();
    assert_eq!(
        format!(
            "{:o} {}\n",
            m.permissions().mode() & 0o7777,
            std::os::unix::fs::MetadataExt::uid(&m)
        ),
        image_mode
    );

    // A volume with content is not filled. (The generated /etc/hosts, hostname and
    // resolv.conf are mounted on top, as Docker does.)
    let ls_etc = |v: &str| {
        let out = t.ok(&["run", "--rm", "-v", v, "busybox", "ls", "/etc"]);
        out.lines()
            .filter(|l| !["hosts", "hostname", "resolv.conf"].contains(l))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    // A volume made empty by `volume create` is filled too.
    t.ok(&["volume", "create", "--label", "k=v", "made"]);
    assert!(ls_etc("made:/etc").contains(&"passwd".to_string()));
    t.ok(&["volume", "create", "full"]);
    std::fs::write(t.root().join("volumes/full/_data/mine"), "x").unwrap();
    assert_eq!(ls_etc("full:/etc"), ["mine"]);
    // nocopy leaves a new volume empty.
    assert!(ls_etc("nc:/etc:nocopy").is_empty());
    let out = t.run(&[
        "run",
        "--rm",
        "--mount",
        "src=nc2,dst=/etc,volume-nocopy",
        "busybox",
        "cat",
        "/etc/passwd",
    ]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    // Bind mounts are never filled.
    let h = host_dir(&t, "empty");
    let hv = format!("{}:/etc", h.display());
    t.ok(&["run", "--rm", "-v", &hv, "busybox", "true"]);
    assert!(!h.join("passwd").exists());
}

#[test]
fn image_symlinks_cannot_send_mounts_outside_the_rootfs() {
    let t = TestRoot::new();
    // A host dir the image's links point at, with a secret in it.
    let outside = host_dir(&t, "outside");
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

    let src = host_dir(&t, "src");
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
    assert_no_host_mounts(&t);
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
    assert!(volumes(&t).is_empty(), "{:?}", volumes(&t));
    assert!(containers(&t).is_empty(), "{:?}", containers(&t));
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
    let h = host_dir(&t, "tree");
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
    assert_no_host_mounts(&t);
}

#[test]
fn a_volume_with_local_driver_options_mounts_what_they_say() {
    let t = TestRoot::with_busybox();
    t.ok(&[
        "volume",
        "create",
        "--opt",
        "type=tmpfs",
        "--opt",
        "device=tmpfs",
        "--opt",
        "o=size=2m",
        "scratch",
    ]);
    let out = t.ok(&[
        "run",
        "--rm",
        "-v",
        "scratch:/s",
        "busybox",
        "grep",
        " /s ",
        "/proc/mounts",
    ]);
    assert!(
        out.starts_with("tmpfs /s tmpfs ") && out.contains("size=2048k"),
        "{out}"
    );
    // --mount makes a new volume with its volume-label and volume-opt.
    let out = t.ok(&[
        "run",
        "--rm",
        "--mount",
        "src=lab,dst=/l,volume-label=team=a,volume-opt=type=tmpfs,volume-opt=device=tmpfs",
        "busybox",
        "grep",
        " /l ",
        "/proc/mounts",
    ]);
    assert!(out.starts_with("tmpfs /l tmpfs "), "{out}");
    assert_eq!(
        t.ok(&[
            "volume",
            "inspect",
            "-f",
            "{{json .Labels}} {{json .Options}}",
            "lab"
        ]),
        "{\"team\":\"a\"} {\"device\":\"tmpfs\",\"type\":\"tmpfs\"}\n"
    );
    let src = host_dir(&t, "dev");
    std::fs::write(src.join("f"), "bound\n").unwrap();
    let device = format!("device={}", src.display());
    t.ok(&[
        "volume",
        "create",
        "--opt",
        "type=none",
        "--opt",
        &device,
        "--opt",
        "o=bind",
        "hostdir",
    ]);
    assert_eq!(
        t.ok(&["run", "--rm", "-v", "hostdir:/b", "busybox", "cat", "/b/f"]),
        "bound\n"
    );
    assert_no_host_mounts(&t);
}

#[test]
fn parallel_containers_share_one_new_volume_filled_once() {
    let t = TestRoot::with_busybox();
    let children: Vec<_> = (0..4)
        .map(|_| {
            t.tug()
                .args([
                    "run",
                    "--rm",
                    "-v",
                    "shared:/etc",
                    "busybox",
                    "cat",
                    "/etc/passwd",
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert_eq!(code(&out), 0, "{}", text(&out));
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("root:x:0:0:"));
    }
    assert_eq!(volumes(&t), ["shared"]);
    assert_no_host_mounts(&t);
}
