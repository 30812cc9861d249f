//! The image commands: `images`, `tag`, `rmi`, `history`, `image inspect`, and the store under
//! them (ids, prefixes, locking, verification).

use std::process::Stdio;

use tug_e2e::image::{commit_script, image_inspect, import_files, rootfs_tar, snapshots};
use tug_e2e::{TestRoot, code, stderr, text};

/// Filters for snapshots: ids and digests, and "N units ago".
fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.add_filter(r"sha256:[0-9a-f]{64}", "sha256:[DIGEST]");
    s.add_filter(r"\b[0-9a-f]{12}\b", "[ID]");
    s.add_filter(r"(\d+|About an?|Less than a) \w+ ago", "[AGO]");
    s
}

/// [`settings`] for tables: column widths follow the (time-dependent) texts, so compare
/// the cells, not the padding.
fn table_settings() -> insta::Settings {
    let mut s = settings();
    s.add_filter(r" {2,}", "  ");
    // busybox's version and size follow Debian's busybox-static package.
    s.add_filter(r"busybox \S+ from", "busybox [VERSION] from");
    s.add_filter(r"\b\d+(\.\d+)?MB\b", "[MB]");
    s
}

#[test]
fn images_table_shows_tags_and_untagged_images() {
    let t = TestRoot::with_busybox();
    import_files(&t, "app:1", &[("bin/app", b"one")], &[]);
    t.ok(&["tag", "app:1", "localhost:5000/app:v2"]);
    // Importing a new image under an existing tag leaves the old one dangling.
    import_files(&t, "app:1", &[("bin/app", b"two")], &[]);
    import_files(&t, "localhost:5000/app:v2", &[("bin/app", b"three")], &[]);
    table_settings().bind(|| insta::assert_snapshot!(t.ok(&["images"])));
}

#[test]
fn images_flags_quiet_digests_no_trunc() {
    let t = TestRoot::with_busybox();
    let id = image_inspect(&t, "busybox")["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let hex = id.trim_start_matches("sha256:");
    assert_eq!(t.ok(&["images", "-q"]).trim(), &hex[..12]);
    assert_eq!(t.ok(&["images", "-q", "--no-trunc"]).trim(), id);
    let digests = t.ok(&["images", "--digests"]);
    let header: Vec<&str> = digests
        .lines()
        .next()
        .unwrap()
        .split("   ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(
        header,
        ["REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE"]
    );
    let manifest = image_inspect(&t, "busybox")["RepoDigests"][0]
        .as_str()
        .unwrap()
        .to_string();
    let digest = manifest.split('@').nth(1).unwrap();
    assert!(digests.contains(digest), "{digests}");
    assert!(t.ok(&["images", "--no-trunc"]).contains(&id));
}

#[test]
fn images_format_templates_table_and_json() {
    let t = TestRoot::with_busybox();
    let out = t.ok(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.Size}}"]);
    assert!(out.starts_with("busybox:latest "), "{out}");
    let out = t.ok(&["images", "--format", "table {{.Repository}}\\t{{.ID}}"]);
    let mut lines = out.lines();
    assert!(
        lines.next().unwrap().starts_with("REPOSITORY   IMAGE ID"),
        "{out}"
    );
    assert!(lines.next().unwrap().starts_with("busybox      "), "{out}");
    let out = t.ok(&["images", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(v["Repository"], "busybox");
    assert_eq!(v["Tag"], "latest");
    assert_eq!(v["ID"].as_str().unwrap().len(), 12);
    assert!(
        v["CreatedAt"].as_str().unwrap().ends_with("+0000 UTC"),
        "{v}"
    );
    let bad = t.run(&["images", "--format", "{{.Repository"]);
    assert_eq!(code(&bad), 125, "{}", text(&bad));
}

#[test]
fn images_filters_and_repository_argument() {
    let t = TestRoot::with_busybox();
    import_files(&t, "app:1", &[("a", b"1")], &[]);
    t.ok(&["tag", "app:1", "app:2"]);
    import_files(&t, "app:2", &[("a", b"2")], &[]);
    import_files(&t, "app:1", &[("a", b"3")], &[]);
    let names = |args: &[&str]| -> Vec<String> {
        let mut a = vec!["images", "--format", "{{.Repository}}:{{.Tag}}"];
        a.extend_from_slice(args);
        let mut v: Vec<String> = t.ok(&a).lines().map(String::from).collect();
        v.sort();
        v
    };
    assert_eq!(
        names(&[]),
        ["<none>:<none>", "app:1", "app:2", "busybox:latest"]
    );
    assert_eq!(names(&["app"]), ["app:1", "app:2"]);
    assert_eq!(names(&["app:2"]), ["app:2"]);
    assert_eq!(names(&["docker.io/library/busybox"]), ["busybox:latest"]);
    assert_eq!(names(&["-f", "reference=busy*"]), ["busybox:latest"]);
    assert_eq!(names(&["--filter", "reference=app:1"]), ["app:1"]);
    assert_eq!(names(&["-f", "dangling=true"]), ["<none>:<none>"]);
    assert_eq!(
        names(&["-f", "dangling=false"]),
        ["app:1", "app:2", "busybox:latest"]
    );
    let bad = t.run(&["images", "-f", "color=red"]);
    assert_eq!(code(&bad), 125, "{}", text(&bad));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("color"),
        "{}",
        text(&bad)
    );
}

#[test]
fn tag_names_an_image_by_name_or_id() {
    let t = TestRoot::with_busybox();
    let id = image_inspect(&t, "busybox")["Id"]
        .as_str()
        .unwrap()
        .to_string();
    t.ok(&["tag", "busybox", "mybox:v2"]);
    t.ok(&["tag", &id[7..19], "registry.example.com:443/a/b/c:tag"]);
    t.ok(&["image", "tag", &id, "user/app"]);
    let tags = image_inspect(&t, "mybox:v2")["RepoTags"].clone();
    let mut tags: Vec<String> = serde_json::from_value(tags).unwrap();
    tags.sort();
    assert_eq!(
        tags,
        [
            "busybox:latest",
            "mybox:v2",
            "registry.example.com:443/a/b/c:tag",
            "user/app:latest"
        ]
    );
    let bad = t.run(&["tag", "busybox", "Bad:Name"]);
    assert_eq!(code(&bad), 125, "{}", text(&bad));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("invalid reference format"),
        "{}",
        text(&bad)
    );
    let missing = t.run(&["tag", "nosuch", "x"]);
    assert_eq!(code(&missing), 125);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("No such image: nosuch:latest"));
}

#[test]
fn rmi_untags_then_deletes_and_frees_blobs() {
    let t = TestRoot::with_busybox();
    let blobs = t.root().join("images/blobs/sha256");
    let count = || std::fs::read_dir(&blobs).unwrap().count();
    let before = count();
    let id = import_files(&t, "app:1", &[("bin/app", b"app")], &[]);
    t.ok(&["tag", "app:1", "app:2"]);
    assert_eq!(count(), before + 3);
    assert_eq!(t.ok(&["rmi", "app:1"]), "Untagged: app:1\n");
    assert_eq!(count(), before + 3);
    assert_eq!(
        t.ok(&["rmi", "app:2"]),
        format!("Untagged: app:2\nDeleted: {id}\n")
    );
    assert_eq!(count(), before);
    let out = t.run(&["rmi", "app:2"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("No such image: app:2"));
    // Several at once; an unknown one does not stop the others.
    let out = t.run(&["rmi", "nosuch", "busybox"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Untagged: busybox:latest"));
    assert_eq!(t.ok(&["images", "-q"]), "");
    assert_eq!(count(), 0);
    assert_eq!(
        snapshots(&t),
        Vec::<String>::new(),
        "rmi drops unused snapshots"
    );
}

#[test]
fn rmi_by_id_with_several_tags_needs_force() {
    let t = TestRoot::with_busybox();
    t.ok(&["tag", "busybox", "other:1"]);
    let id = image_inspect(&t, "busybox")["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = t.run(&["rmi", &id[7..19]]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("referenced in multiple repositories"));
    let out = t.ok(&["image", "rm", "-f", &id[7..19]]);
    assert_eq!(
        out,
        format!("Untagged: busybox:latest\nUntagged: other:1\nDeleted: {id}\n")
    );
    assert_eq!(t.ok(&["images", "-q"]), "");
}

#[test]
fn history_lists_layers_newest_first() {
    let t = TestRoot::with_busybox();
    table_settings()
        .bind(|| insta::assert_snapshot!("history_busybox", t.ok(&["history", "busybox"])));
    let q = t.ok(&["history", "-q", "busybox"]);
    assert_eq!(q.lines().count(), 1);
    let id = image_inspect(&t, "busybox")["Id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(t.ok(&["history", "-q", "--no-trunc", "busybox"]).trim(), id);
    let raw = t.ok(&[
        "history",
        "-H=false",
        "--format",
        "{{.Size}} {{.CreatedSince}}",
        "busybox",
    ]);
    let size = image_inspect(&t, "busybox")["Size"].as_u64().unwrap();
    assert!(raw.starts_with(&format!("{size} ")), "{raw}");
    assert!(raw.trim().ends_with('Z'), "{raw}");
    let long = "x".repeat(60);
    import_files(&t, "long", &[("a", b"a")], &["-m", &long]);
    let table = t.ok(&[
        "history",
        "--format",
        "table {{.ID}}\\t{{.Comment}}",
        "long",
    ]);
    assert!(table.starts_with("IMAGE"), "{table}");
    assert!(table.contains(&long), "{table}");
}

#[test]
fn image_inspect_prints_docker_fields() {
    let t = TestRoot::with_busybox();
    let out = t.ok(&["image", "inspect", "busybox"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    settings().bind(|| {
        insta::assert_json_snapshot!(v, {
            "[0].Created" => "[CREATED]",
            "[0].Comment" => "[COMMENT]",
            "[0].Architecture" => "[ARCH]",
            "[0].Size" => "[SIZE]",
        })
    });
    assert_eq!(
        t.ok(&["image", "inspect", "-f", "{{.Config.Cmd}}", "busybox"]),
        "[sh]\n"
    );
    let layers = t.ok(&[
        "inspect",
        "--type",
        "image",
        "-f",
        "{{json .RootFS.Layers}}",
        "busybox",
    ]);
    assert!(layers.starts_with("[\"sha256:"), "{layers}");
    let both = t.run(&["image", "inspect", "busybox", "nosuch"]);
    assert_eq!(code(&both), 1, "{}", text(&both));
    let v: serde_json::Value = serde_json::from_slice(&both.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert!(String::from_utf8_lossy(&both.stderr).contains("No such image: nosuch"));
}

#[test]
fn parallel_tags_and_imports_lose_nothing() {
    let t = TestRoot::with_busybox();
    let mut children = Vec::new();
    for i in 0..8 {
        let mut c = t.tug();
        c.args(["tag", "busybox", &format!("par/tag:{i}")])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        children.push(c.spawn().unwrap());
        let tar = rootfs_tar(&[("n", format!("{i}").as_bytes())]);
        let path = t.path().join(format!("p{i}.tar"));
        std::fs::write(&path, tar).unwrap();
        let mut c = t.tug();
        c.args(["import", path.to_str().unwrap(), &format!("par/import:{i}")])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        children.push(c.spawn().unwrap());
    }
    // Wait for every process before asserting, so that a failure leaves none running.
    let outputs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    for out in outputs {
        assert!(out.status.success(), "{}", text(&out));
    }
    let rows = t.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    for i in 0..8 {
        assert!(rows.contains(&format!("par/tag:{i}\n")), "{rows}");
        assert!(rows.contains(&format!("par/import:{i}\n")), "{rows}");
    }
    assert_eq!(rows.lines().count(), 17, "{rows}");
}

#[test]
fn ids_resolve_by_full_id_prefix_and_digest_reference() {
    let t = TestRoot::with_busybox();
    let v = image_inspect(&t, "busybox");
    let id = v["Id"].as_str().unwrap();
    let hex = &id[7..];
    let repo_digest = v["RepoDigests"][0].as_str().unwrap();
    for name in [
        id,
        hex,
        &hex[..5],
        &id[..12],
        repo_digest,
        "docker.io/library/busybox:latest",
    ] {
        assert_eq!(image_inspect(&t, name)["Id"], id, "{name}");
    }
    // Enough images that two ids share a first hex digit: that prefix is ambiguous.
    let mut ids = vec![id.to_string()];
    for i in 0..20 {
        ids.push(import_files(
            &t,
            &format!("amb:{i}"),
            &[("f", format!("{i}").as_bytes())],
            &[],
        ));
    }
    let clash = ids
        .iter()
        .map(|i| &i[7..8])
        .find(|c| ids.iter().filter(|i| &i[7..8] == *c).count() > 1)
        .expect("17 ids share a first digit");
    let out = t.run(&["image", "inspect", clash]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("ambiguous"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_corrupt_blob_is_detected_on_read() {
    let t = TestRoot::with_busybox();
    let engine = t.engine();
    let store = engine.image_store().unwrap();
    let image = store.resolve("busybox").unwrap();
    let layer = &image.layers[0];
    let path = store.blob_path(&layer.digest);
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();
    let mut r = store.open_blob(&layer.digest).unwrap();
    let err = std::io::copy(&mut r, &mut std::io::sink()).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    for format in ["docker-archive", "oci-archive"] {
        let dest = t.path().join("x.tar");
        let out = t.run(&[
            "save",
            "--format",
            format,
            "-o",
            dest.to_str().unwrap(),
            "busybox",
        ]);
        assert_eq!(code(&out), 125, "{}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("is corrupt"),
            "{}",
            text(&out)
        );
        assert!(!dest.exists());
    }
}

#[test]
fn rmi_refuses_an_image_a_container_uses_unless_forced() {
    let t = TestRoot::with_busybox();
    let id = image_inspect(&t, "busybox")["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let cid = t.ok(&["create", "--name", "user", "busybox", "true"]);
    let short = &cid.trim()[..12];
    let image_short = &id["sha256:".len()..][..12];
    // Docker's words: the reference as given, the container's and the image's short ids.
    let out = t.run(&["rmi", "busybox"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert_eq!(
        stderr(&out).trim_end(),
        format!(
            "tug: conflict: unable to remove repository reference \"busybox\" (must force) - container {short} is using its referenced image {image_short}"
        )
    );
    let out = t.run(&["rmi", &id]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        stderr(&out).contains(&format!("image is being used by stopped container {short}")),
        "{}",
        text(&out)
    );
    // Forced, the name goes and the image stays, untagged, for the container.
    assert_eq!(
        t.ok(&["rmi", "-f", "busybox"]),
        "Untagged: busybox:latest\n"
    );
    assert_eq!(
        t.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]),
        "<none>:<none>\n"
    );
    assert_eq!(image_inspect(&t, &id)["Id"], id);
    t.ok(&["rm", "user"]);
    assert_eq!(t.ok(&["rmi", &id]), format!("Deleted: {id}\n"));
    assert_eq!(snapshots(&t), Vec::<String>::new());
}

#[test]
fn an_image_with_a_corrupt_config_can_still_be_untagged() {
    let t = TestRoot::with_busybox();
    import_files(&t, "broken:1", &[("a", b"a")], &[]);
    let id = image_inspect(&t, "broken:1")["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let config = t.root().join("images/blobs/sha256").join(&id[7..]);
    std::fs::write(&config, b"{\"not\": \"the same\"}").unwrap();
    let out = t.run(&["image", "inspect", "broken:1"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is corrupt"),
        "{}",
        text(&out)
    );
    assert_eq!(t.ok(&["rmi", "broken:1"]), "Untagged: broken:1\n");
    assert_eq!(
        t.ok(&["images", "--format", "{{.Repository}}"]),
        "busybox\n"
    );
    assert!(!config.exists(), "the damaged image's blobs are collected");
}

#[test]
fn images_filters_by_label_and_creation_order() {
    let t = TestRoot::new();
    let at = |epoch: &str, name: &str, label: &str| {
        let tar = rootfs_tar(&[("f", name.as_bytes())]);
        let out = t.run_with_stdin(
            &["import", "-c", &format!("LABEL {label}"), "-", name],
            &tar,
            &[("SOURCE_DATE_EPOCH", epoch)],
        );
        assert_eq!(code(&out), 0, "{}", text(&out));
    };
    at("1000", "old", "tier=base");
    at("2000", "mid", "tier=app");
    at("3000", "new", "other=1");
    let names = |args: &[&str]| -> Vec<String> {
        let mut a = vec!["images", "--format", "{{.Repository}}"];
        a.extend_from_slice(args);
        t.ok(&a).lines().map(String::from).collect()
    };
    assert_eq!(names(&[]), ["new", "mid", "old"]);
    assert_eq!(names(&["-f", "label=tier"]), ["mid", "old"]);
    assert_eq!(names(&["-f", "label=tier=app"]), ["mid"]);
    assert_eq!(names(&["-f", "before=mid"]), ["old"]);
    assert_eq!(names(&["-f", "since=old"]), ["new", "mid"]);
    assert_eq!(names(&["-f", "since=old", "-f", "label=tier"]), ["mid"]);
    let out = t.run(&["images", "-f", "before=nosuch"]);
    assert_eq!(code(&out), 125, "{}", text(&out));
}

/// An image's size is what its files take unpacked, as Docker counts it (not its tar's
/// headers and padding), whichever way the layer came in: import, commit, save and load.
#[test]
fn an_images_size_is_its_files_bytes() {
    let t = TestRoot::with_busybox();
    let size = |name: &str| image_inspect(&t, name)["Size"].as_u64().unwrap();
    import_files(
        &t,
        "sized:1",
        &[("a", &[b'a'; 1000]), ("d/b", &[b'b'; 3000]), ("e", b"")],
        &[],
    );
    assert_eq!(size("sized:1"), 4000);
    // A committed layer: busybox's bytes and the file written.
    let bb = size("busybox");
    commit_script(
        &t,
        "written:1",
        "head -c 5000 /dev/zero > /f && ln -s /f /link",
    );
    // The symlink counts its target's length, as `ls -l` shows it.
    assert_eq!(size("written:1"), bb + 5000 + 2);
    // Saved and loaded into another root, the same.
    let other = TestRoot::new();
    let saved = t.path().join("sized.tar");
    t.ok(&[
        "save",
        "-o",
        saved.to_str().unwrap(),
        "sized:1",
        "written:1",
    ]);
    other.ok(&["load", "-i", saved.to_str().unwrap()]);
    let size2 = |name: &str| image_inspect(&other, name)["Size"].as_u64().unwrap();
    assert_eq!(size2("sized:1"), 4000);
    assert_eq!(size2("written:1"), bb + 5002);
    // A store whose layers have no such record (an older tug's) measures them once.
    std::fs::remove_dir_all(other.root().join("images/.content-sizes")).unwrap();
    assert_eq!(size2("written:1"), bb + 5002);
    assert!(other.root().join("images/.content-sizes").is_dir());
}
