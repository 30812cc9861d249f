//! Interoperability with the OCI tools of Debian: skopeo and umoci read tug's store and
//! archives, and tug loads what they write, with the same image ids.

use std::path::Path;
use std::process::Command;

use tug_e2e::{TestRoot, text};

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(out.status.success(), "{cmd} {args:?}: {}", text(&out));
    String::from_utf8(out.stdout).unwrap()
}

fn skopeo(args: &[&str]) -> String {
    // No registry, no signature policy lookups beyond the local default.
    let mut a = vec!["--insecure-policy"];
    a.extend_from_slice(args);
    run("skopeo", &a)
}

fn inspect(t: &TestRoot, name: &str) -> serde_json::Value {
    t.inspect_first(&["image", "inspect", name])
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn skopeo_and_umoci_read_the_store_as_it_is() {
    let t = TestRoot::with_busybox();
    let store = t.root().join("images");
    let id = inspect(&t, "busybox")["Id"].as_str().unwrap().to_string();
    let digest = inspect(&t, "busybox")["RepoDigests"][0]
        .as_str()
        .unwrap()
        .split('@')
        .nth(1)
        .unwrap()
        .to_string();
    // The ref name is the full normalised name.
    let v: serde_json::Value = serde_json::from_str(&skopeo(&[
        "inspect",
        &format!("oci:{}:docker.io/library/busybox:latest", path(&store)),
    ]))
    .unwrap();
    assert_eq!(v["Digest"], digest);
    let config: serde_json::Value = serde_json::from_str(&skopeo(&[
        "inspect",
        "--config",
        &format!("oci:{}:docker.io/library/busybox:latest", path(&store)),
    ]))
    .unwrap();
    assert_eq!(config["config"]["Cmd"], serde_json::json!(["sh"]));
    let tags = run("umoci", &["ls", "--layout", path(&store)]);
    assert_eq!(tags.trim(), "docker.io/library/busybox:latest");
    let stat = run(
        "umoci",
        &[
            "stat",
            "--json",
            "--image",
            &format!("{}:docker.io/library/busybox:latest", path(&store)),
        ],
    );
    assert!(stat.contains("history"), "{stat}");
    assert!(id.starts_with("sha256:"));
}

#[test]
fn skopeo_copies_tugs_oci_archive() {
    let t = TestRoot::with_busybox();
    let archive = t.path().join("o.tar");
    t.ok(&[
        "save",
        "--format",
        "oci-archive",
        "-o",
        path(&archive),
        "busybox",
    ]);
    let dir = t.path().join("copy");
    skopeo(&[
        "copy",
        "--quiet",
        &format!("oci-archive:{}", path(&archive)),
        &format!("oci:{}:copied", path(&dir)),
    ]);
    let v: serde_json::Value =
        serde_json::from_str(&skopeo(&["inspect", &format!("oci:{}:copied", path(&dir))])).unwrap();
    let ours = inspect(&t, "busybox");
    let digest = ours["RepoDigests"][0]
        .as_str()
        .unwrap()
        .split('@')
        .nth(1)
        .unwrap();
    assert_eq!(v["Digest"], digest, "skopeo keeps tug's manifest");
    // And by its full name inside the archive.
    skopeo(&[
        "inspect",
        &format!(
            "oci-archive:{}:docker.io/library/busybox:latest",
            path(&archive)
        ),
    ]);
}

#[test]
fn skopeo_reads_tugs_docker_archive() {
    let t = TestRoot::with_busybox();
    let archive = t.path().join("d.tar");
    t.ok(&["save", "-o", path(&archive), "busybox"]);
    let v: serde_json::Value = serde_json::from_str(&skopeo(&[
        "inspect",
        "--config",
        &format!("docker-archive:{}", path(&archive)),
    ]))
    .unwrap();
    let ours = inspect(&t, "busybox");
    assert_eq!(v["rootfs"]["diff_ids"], ours["RootFS"]["Layers"]);
    let dir = t.path().join("copy");
    skopeo(&[
        "copy",
        "--quiet",
        &format!("docker-archive:{}", path(&archive)),
        &format!("oci:{}:x", path(&dir)),
    ]);
}

#[test]
fn skopeo_reads_tugs_docker_archive_as_an_oci_archive_too() {
    let t = TestRoot::with_busybox();
    let archive = t.path().join("both.tar");
    t.ok(&["save", "-o", path(&archive), "busybox"]);
    let oci = format!("oci-archive:{}", path(&archive));
    let v: serde_json::Value = serde_json::from_str(&skopeo(&["inspect", &oci])).unwrap();
    let ours = inspect(&t, "busybox");
    // Docker 25+'s layout: the layers uncompressed, named by their diff ids.
    assert_eq!(v["Layers"], ours["RootFS"]["Layers"]);
    let config: serde_json::Value =
        serde_json::from_str(&skopeo(&["inspect", "--config", &oci])).unwrap();
    assert_eq!(config["rootfs"]["diff_ids"], ours["RootFS"]["Layers"]);
    // skopeo copies it out by its tag, too.
    let dir = t.path().join("copy");
    skopeo(&[
        "copy",
        "--quiet",
        &format!("{oci}:docker.io/library/busybox:latest"),
        &format!("oci:{}:x", path(&dir)),
    ]);
}

#[test]
fn tug_loads_an_archive_that_skopeo_wrote() {
    let t = TestRoot::with_busybox();
    let id = inspect(&t, "busybox")["Id"].clone();
    let store = t.root().join("images");
    let archive = t.path().join("sk.tar");
    skopeo(&[
        "copy",
        "--quiet",
        &format!("oci:{}:docker.io/library/busybox:latest", path(&store)),
        &format!("oci-archive:{}:skopeo/made:1", path(&archive)),
    ]);
    let fresh = TestRoot::new();
    let out = fresh.ok(&["load", "-i", path(&archive)]);
    assert_eq!(out, "Loaded image: skopeo/made:1\n");
    assert_eq!(inspect(&fresh, "skopeo/made:1")["Id"], id);
    // skopeo's docker-archive too (its layers are uncompressed, its config the same).
    let darchive = t.path().join("skd.tar");
    skopeo(&[
        "copy",
        "--quiet",
        &format!("oci:{}:docker.io/library/busybox:latest", path(&store)),
        &format!("docker-archive:{}:skopeo/docker:2", path(&darchive)),
    ]);
    let out = fresh.ok(&["load", "-i", path(&darchive)]);
    assert_eq!(out, "Loaded image: skopeo/docker:2\n");
    let loaded = inspect(&fresh, "skopeo/docker:2");
    assert_eq!(loaded["RootFS"], inspect(&t, "busybox")["RootFS"]);
}

#[test]
fn tug_loads_an_umoci_made_layout() {
    let t = TestRoot::new();
    let layout = t.path().join("layout");
    let l = path(&layout);
    run("umoci", &["init", "--layout", l]);
    run("umoci", &["new", "--image", &format!("{l}:made")]);
    // `umoci insert` of Debian's umoci 0.4.7 writes a layer tar without its padding and
    // end blocks (GNU tar refuses it too): add a layer made by tar instead.
    let content = t.path().join("content");
    std::fs::create_dir(&content).unwrap();
    std::fs::write(content.join("hello"), "hello from umoci\n").unwrap();
    let layer = t.path().join("layer.tar");
    run("tar", &["-C", path(&content), "-cf", path(&layer), "."]);
    run(
        "umoci",
        &[
            "raw",
            "add-layer",
            "--image",
            &format!("{l}:made"),
            path(&layer),
        ],
    );
    run(
        "umoci",
        &[
            "config",
            "--image",
            &format!("{l}:made"),
            "--config.cmd",
            "/bin/sh",
        ],
    );
    let archive = t.path().join("umoci.tar");
    run("tar", &["-C", l, "-cf", path(&archive), "."]);
    let out = t.ok(&["load", "-i", path(&archive)]);
    // umoci's ref name is a bare word: tug reads it as a name.
    assert_eq!(out, "Loaded image: made:latest\n");
    let stat: serde_json::Value =
        serde_json::from_str(&run("cat", &[path(&layout.join("index.json"))])).unwrap();
    let manifest = stat["manifests"][0]["digest"].as_str().unwrap();
    let v = inspect(&t, "made");
    assert_eq!(v["RepoDigests"][0], format!("made@{manifest}"));
    assert_eq!(v["Config"]["Cmd"], serde_json::json!(["/bin/sh"]));
    assert_eq!(v["RootFS"]["Layers"].as_array().unwrap().len(), 1);
}
