//! Volumes in `run`/`create`: named volumes (kept across containers, filled with the
//! image's content when new, once even when containers start in parallel), anonymous
//! volumes (`-v /path`, image VOLUMEs; gone with `rm -v`, kept otherwise), local driver
//! options, `--volumes-from`; no mount is left on the host.

use std::process::Stdio;

use tug_e2e::image::{Entry, import_image};
use tug_e2e::{TestRoot, code, text};

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
    assert_eq!(t.volume_names(), ["data"], "made on first use");
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
    t.assert_nothing_mounted();
}

#[test]
fn volumes_from_shares_another_containers_mounts() {
    let t = TestRoot::with_busybox();
    let h = t.host_dir("shared");
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
    let anon = t.inspect_first(&["inspect", "owner"])["Mounts"][0]["Name"]
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
    assert!(t.volume_names().contains(&anon), "{:?}", t.volume_names());
    t.ok(&["rm", "-v", "owner"]);
    assert!(!t.volume_names().contains(&anon), "{:?}", t.volume_names());
    t.ok(&["rm", "src"]);
    t.assert_nothing_mounted();
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
    let c = t.inspect_first(&["inspect", "va"]);
    let name = c["Mounts"][0]["Name"].as_str().unwrap().to_string();
    assert_eq!(name.len(), 64, "{c}");
    assert_eq!(c["Mounts"][0]["Type"], "volume");
    assert_eq!(c["Mounts"][0]["Destination"], "/data");
    // An anonymous volume has no mode, as in Docker's inspect (a named one's is `z`).
    assert_eq!(c["Mounts"][0]["Mode"], "");
    assert_eq!(c["Config"]["Volumes"], serde_json::json!({"/data": {}}));
    assert_eq!(
        t.ok(&["volume", "inspect", "-f", "{{json .Labels}}", &name]),
        "{\"com.docker.volume.anonymous\":\"\"}\n"
    );
    // The new, empty volume is filled with the image's content.
    assert_eq!(t.ok(&["start", "-a", "va"]), "from the image\n");
    // rm without -v keeps it.
    t.ok(&["rm", "va"]);
    assert_eq!(t.volume_names(), std::slice::from_ref(&name));

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
    assert_eq!(t.volume_names().len(), 2, "{:?}", t.volume_names());

    t.ok(&["create", "--name", "vb", "withvol", "/bin/busybox", "true"]);
    let b_vol = t.inspect_first(&["inspect", "vb"])["Mounts"][0]["Name"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(t.volume_names().len(), 3);
    t.ok(&["rm", "-v", "vb"]);
    assert!(
        !t.volume_names().contains(&b_vol),
        "rm -v removes the anonymous volume"
    );
    assert_eq!(t.volume_names().len(), 2);

    // -v /path makes one, without a mode too; run --rm removes its anonymous volumes.
    t.ok(&[
        "create",
        "--name",
        "vc",
        "-v",
        "/extra",
        "withvol",
        "/bin/busybox",
        "true",
    ]);
    let modes: Vec<String> = t.inspect_first(&["inspect", "vc"])["Mounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!(
                "{} [{}]",
                m["Destination"].as_str().unwrap(),
                m["Mode"].as_str().unwrap()
            )
        })
        .collect();
    assert!(modes.contains(&"/extra []".to_string()), "{modes:?}");
    t.ok(&["rm", "-v", "vc"]);
    t.ok(&[
        "run",
        "--rm",
        "-v",
        "/extra",
        "withvol",
        "/bin/busybox",
        "true",
    ]);
    assert_eq!(t.volume_names().len(), 2, "{:?}", t.volume_names());
    t.assert_nothing_mounted();
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
    let h = t.host_dir("empty");
    let hv = format!("{}:/etc", h.display());
    t.ok(&["run", "--rm", "-v", &hv, "busybox", "true"]);
    assert!(!h.join("passwd").exists());
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
    let src = t.host_dir("dev");
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
    t.assert_nothing_mounted();
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
    assert_eq!(t.volume_names(), ["shared"]);
    t.assert_nothing_mounted();
}

/// `rm -f` of a running container has its shim remove it at the exit: its anonymous
/// volume stays, as Docker's does, unless `-v` asks for it to go.
#[test]
fn rm_f_of_a_running_container_keeps_its_anonymous_volume_unless_v() {
    let t = TestRoot::with_busybox();
    t.ok(&[
        "run", "-d", "--name", "rf", "-v", "/data", "busybox", "sleep", "60",
    ]);
    let vol = t.inspect_f("rf", "{{(index .Mounts 0).Name}}");
    assert_eq!(vol.len(), 64, "{vol}");
    t.ok(&["rm", "-f", "rf"]);
    assert!(t.container_ids().is_empty());
    assert_eq!(t.volume_names(), std::slice::from_ref(&vol));
    assert!(!t.run(&["inspect", "rf"]).status.success());
    t.ok(&[
        "run", "-d", "--name", "rv", "-v", "/data", "busybox", "sleep", "60",
    ]);
    let second = t.inspect_f("rv", "{{(index .Mounts 0).Name}}");
    t.ok(&["rm", "-f", "-v", "rv"]);
    assert!(t.container_ids().is_empty());
    assert_eq!(
        t.volume_names(),
        std::slice::from_ref(&vol),
        "{second} went with -v"
    );
}
