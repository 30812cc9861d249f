//! `import`: a tarball (file, URL-less stdin, gzip or not) becomes an image, with
//! `--change`, `--message` and `--platform`; reproducible under SOURCE_DATE_EPOCH; a hostile
//! or malformed tar fails and changes nothing.

use std::io::Write;

use tug_e2e::image::{image_inspect, import_files, rootfs_tar, snapshots};
use tug_e2e::{TestRoot, code, sha256_hex, text};

#[test]
fn import_applies_changes_and_message() {
    let t = TestRoot::new();
    import_files(
        &t,
        "app:1",
        &[("bin/app", b"x")],
        &[
            "-c",
            r#"ENTRYPOINT ["/bin/app"]"#,
            "-c",
            "CMD app --serve $A",
            "--change",
            "ENV A=1 B=\"two words\"",
            "--change",
            "WORKDIR /srv",
            "--change",
            "USER 1000:1000",
            "--change",
            "EXPOSE 80 53/udp",
            "--change",
            "LABEL org.example=yes",
            "--change",
            "VOLUME /data",
            "-m",
            "made for a test",
        ],
    );
    let v = image_inspect(&t, "app:1");
    let c = &v["Config"];
    assert_eq!(c["Entrypoint"], serde_json::json!(["/bin/app"]));
    // A shell-form CMD is run by the shell, which expands $A: the builder does not.
    assert_eq!(
        c["Cmd"],
        serde_json::json!(["/bin/sh", "-c", "app --serve $A"])
    );
    assert_eq!(c["Env"], serde_json::json!(["A=1", "B=two words"]));
    assert_eq!(c["WorkingDir"], "/srv");
    assert_eq!(c["User"], "1000:1000");
    assert_eq!(
        c["ExposedPorts"],
        serde_json::json!({"80/tcp": {}, "53/udp": {}})
    );
    assert_eq!(c["Labels"], serde_json::json!({"org.example": "yes"}));
    assert_eq!(c["Volumes"], serde_json::json!({"/data": {}}));
    assert_eq!(v["Comment"], "made for a test");
    assert_eq!(v["Created"], "2023-11-14T22:13:20Z");
    let h = t.ok(&["history", "--format", "{{.Comment}}", "app:1"]);
    assert_eq!(h, "made for a test\n");
}

#[test]
fn import_bad_change_names_it_and_adds_nothing() {
    let t = TestRoot::new();
    let tar = rootfs_tar(&[("a", b"a")]);
    for (change, why) in [
        ("RUN echo hi", "RUN is not a valid change command"),
        // As in a Dockerfile: a leading `--word` is a flag, and CMD has none.
        ("CMD --serve", "unknown flag: --serve"),
        ("ENV ONLYNAME", "ENV must have two arguments"),
        ("EXPOSE 99999", "invalid port"),
    ] {
        let out = t.run_with_stdin(&["import", "--change", change, "-", "x"], &tar, &[]);
        assert_eq!(code(&out), 125, "{}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(change) && err.contains(why), "{err}");
    }
    assert_eq!(t.ok(&["images", "-q"]), "");
}

#[test]
fn import_reads_gzip_files_and_stdin_untagged() {
    let t = TestRoot::new();
    let tar = rootfs_tar(&[("etc/hello", b"hello")]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    let file = t.path().join("rootfs.tar.gz");
    std::fs::write(&file, gz.finish().unwrap()).unwrap();
    let from_file = t.ok(&["image", "import", file.to_str().unwrap(), "gz:1"]);
    assert!(from_file.starts_with("sha256:"), "{from_file}");
    let v = image_inspect(&t, "gz:1");
    let diff = v["RootFS"]["Layers"][0].as_str().unwrap().to_string();
    let want = format!("sha256:{}", sha256_hex(&tar));
    assert_eq!(
        diff, want,
        "the diff id is the digest of the uncompressed tar"
    );
    let untagged = t.run_with_stdin(&["import", "-"], &tar, &[]);
    assert_eq!(code(&untagged), 0, "{}", text(&untagged));
    let rows = t.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(
        rows.contains("<none>:<none>") && rows.contains("gz:1"),
        "{rows}"
    );
    let empty = t.run_with_stdin(&["import", "-", "e"], b"", &[]);
    assert_eq!(code(&empty), 125, "{}", text(&empty));
}

#[test]
fn import_is_reproducible_with_source_date_epoch() {
    let a = TestRoot::with_busybox();
    let b = TestRoot::with_busybox();
    let ia = image_inspect(&a, "busybox");
    let ib = image_inspect(&b, "busybox");
    assert_eq!(ia["Id"], ib["Id"]);
    assert_eq!(ia["RepoDigests"], ib["RepoDigests"]);
    // The same tar, imported again in the same root, gives the same image.
    let files: &[(&str, &[u8])] = &[("bin/app", b"same")];
    let one = import_files(&a, "r:1", files, &["-c", "CMD [\"app\"]"]);
    let two = import_files(&b, "r:1", files, &["-c", "CMD [\"app\"]"]);
    assert_eq!(one, two);
    assert_eq!(
        image_inspect(&a, "r:1")["RepoDigests"],
        image_inspect(&b, "r:1")["RepoDigests"]
    );
}

#[test]
fn import_of_a_hostile_tar_fails_and_changes_nothing() {
    let t = TestRoot::with_busybox();
    let before = t.ok(&["images", "--no-trunc"]);
    let blobs = |t: &TestRoot| {
        let mut v: Vec<_> = std::fs::read_dir(t.root().join("images/blobs/sha256"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        v.sort();
        v
    };
    let blobs_before = blobs(&t);
    let snapshots_before = snapshots(&t);
    assert_eq!(snapshots_before.len(), 1, "busybox is unpacked on import");
    // A `../` entry, written raw (the tar crate refuses to make one).
    let mut h = tar::Header::new_gnu();
    h.as_gnu_mut().unwrap().name[..10].copy_from_slice(b"../escaped");
    h.set_size(4);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    let mut tar = h.as_bytes().to_vec();
    tar.extend_from_slice(b"evil");
    tar.resize(512 + 512, 0);
    tar.extend_from_slice(&[0u8; 1024]);
    let out = t.run_with_stdin(&["import", "-", "evil:1"], &tar, &[]);
    assert_eq!(code(&out), 125, "{}", text(&out));
    assert!(!t.path().join("escaped").exists());
    assert!(!t.root().join("escaped").exists());
    assert_eq!(t.ok(&["images", "--no-trunc"]), before);
    assert_eq!(blobs(&t), blobs_before);
    assert_eq!(snapshots(&t), snapshots_before);
    let leftovers = std::fs::read_dir(t.root().join("images/.tmp"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(leftovers, 0);
}

#[test]
fn import_platform_must_be_this_machines() {
    let t = TestRoot::new();
    let tar = rootfs_tar(&[("a", b"a")]);
    let out = t.run_with_stdin(
        &["import", "--platform", "windows/arm", "-", "p"],
        &tar,
        &[],
    );
    assert_eq!(code(&out), 125, "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--platform"),
        "{}",
        text(&out)
    );
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let platform = format!("linux/{arch}");
    let out = t.run_with_stdin(&["import", "--platform", &platform, "-", "p"], &tar, &[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(image_inspect(&t, "p")["Architecture"], arch);
    assert_eq!(image_inspect(&t, "p")["Os"], "linux");
    // `-a` is accepted (tug has no intermediate images to hide).
    assert_eq!(
        t.ok(&["images", "-a", "--format", "{{.Repository}}"]),
        "p\n"
    );
}
