//! `tug save` and `tug load`: round trips in both formats, stdin/stdout, gzip, and
//! malformed archives that must change nothing.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tug_e2e::{TestRoot, code, text};

fn inspect(t: &TestRoot, name: &str) -> serde_json::Value {
    t.inspect_first(&["image", "inspect", name])
}

/// Everything under the store, by path, so a test can check that nothing changed.
fn store_files(t: &TestRoot) -> Vec<(PathBuf, Vec<u8>)> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.file_name().is_some_and(|n| n != ".lock") {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(&t.root().join("images"), &mut out);
    out.sort();
    out
}

fn round_trip(format: &str) {
    let t = TestRoot::with_busybox();
    t.ok(&["tag", "busybox", "mybox:v2"]);
    let before = inspect(&t, "busybox");
    let archive = t.path().join("b.tar");
    t.ok(&[
        "save",
        "--format",
        format,
        "-o",
        archive.to_str().unwrap(),
        "busybox",
        "mybox:v2",
    ]);
    t.ok(&["rmi", "busybox", "mybox:v2"]);
    assert_eq!(t.ok(&["images", "-q"]), "");
    let out = t.ok(&["load", "-i", archive.to_str().unwrap()]);
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        ["Loaded image: busybox:latest", "Loaded image: mybox:v2"]
    );
    let after = inspect(&t, "busybox");
    assert_eq!(after["Id"], before["Id"]);
    assert_eq!(after["RootFS"], before["RootFS"]);
    assert_eq!(after["Config"], before["Config"]);
    assert_eq!(inspect(&t, "mybox:v2")["Id"], before["Id"]);
    if format == "oci-archive" {
        assert_eq!(
            after["RepoDigests"], before["RepoDigests"],
            "the manifest is kept as is"
        );
    }
}

#[test]
fn docker_archive_round_trip_keeps_the_image_id() {
    round_trip("docker-archive");
}

#[test]
fn oci_archive_round_trip_keeps_id_and_manifest_digest() {
    round_trip("oci-archive");
}

#[test]
fn docker_archive_has_docker_load_layout() {
    let t = TestRoot::with_busybox();
    let archive = t.path().join("d.tar");
    t.ok(&["save", "-o", archive.to_str().unwrap(), "busybox"]);
    let mut names = Vec::new();
    let mut manifest = None;
    let mut a = tar::Archive::new(std::fs::File::open(&archive).unwrap());
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let p = e.path().unwrap().to_string_lossy().into_owned();
        if p == "manifest.json" {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut e, &mut s).unwrap();
            manifest = Some(serde_json::from_str::<serde_json::Value>(&s).unwrap());
        }
        names.push(p);
    }
    let m = manifest.expect("manifest.json");
    let id = inspect(&t, "busybox")["Id"].as_str().unwrap().to_string();
    // Docker 25+'s paths, inside its OCI layout.
    assert_eq!(m[0]["Config"], format!("blobs/sha256/{}", &id[7..]));
    assert_eq!(m[0]["RepoTags"], serde_json::json!(["busybox:latest"]));
    let layer = m[0]["Layers"][0].as_str().unwrap();
    assert!(names.iter().any(|n| n == layer), "{names:?}");
    assert!(names.iter().any(|n| n == "repositories"), "{names:?}");
}

#[test]
fn save_to_stdout_and_load_from_stdin_also_gzip() {
    let t = TestRoot::with_busybox();
    let id = inspect(&t, "busybox")["Id"].clone();
    let out = t.tug().args(["save", "busybox"]).output().unwrap();
    assert_eq!(code(&out), 0, "{}", text(&out));
    let archive = out.stdout;
    t.ok(&["rmi", "busybox"]);
    let loaded = t.run_with_stdin(&["load"], &archive, &[]);
    assert_eq!(code(&loaded), 0, "{}", text(&loaded));
    assert_eq!(
        String::from_utf8_lossy(&loaded.stdout),
        "Loaded image: busybox:latest\n"
    );
    assert_eq!(inspect(&t, "busybox")["Id"], id);

    let oci = t
        .tug()
        .args(["image", "save", "--format", "oci-archive", "busybox"])
        .output()
        .unwrap();
    assert_eq!(code(&oci), 0, "{}", text(&oci));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&oci.stdout).unwrap();
    let gz = gz.finish().unwrap();
    t.ok(&["rmi", "busybox"]);
    let loaded = t.run_with_stdin(&["image", "load", "-q"], &gz, &[]);
    assert_eq!(code(&loaded), 0, "{}", text(&loaded));
    assert_eq!(loaded.stdout, b"");
    assert_eq!(inspect(&t, "busybox")["Id"], id);
}

#[test]
fn save_by_id_keeps_every_tag_and_untagged_loads_by_id() {
    let t = TestRoot::with_busybox();
    t.ok(&["tag", "busybox", "other:1"]);
    let id = inspect(&t, "busybox")["Id"].as_str().unwrap().to_string();
    let archive = t.path().join("x.tar");
    t.ok(&["save", "-o", archive.to_str().unwrap(), &id[7..19]]);
    t.ok(&["rmi", "-f", &id]);
    let out = t.ok(&["load", "-i", archive.to_str().unwrap()]);
    assert!(
        out.contains("Loaded image: busybox:latest") && out.contains("Loaded image: other:1"),
        "{out}"
    );
    // An image saved without a name loads untagged and says its id.
    import_untagged(&t);
    let untagged = t.ok(&["images", "-q", "-f", "dangling=true"]);
    let uid = untagged.trim();
    t.ok(&[
        "save",
        "--format",
        "oci-archive",
        "-o",
        archive.to_str().unwrap(),
        uid,
    ]);
    t.ok(&["rmi", uid]);
    let out = t.ok(&["load", "-i", archive.to_str().unwrap()]);
    assert!(out.starts_with("Loaded image ID: sha256:"), "{out}");
    assert_eq!(t.ok(&["images", "-q", "-f", "dangling=true"]).trim(), uid);
}

fn import_untagged(t: &TestRoot) {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(2);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    b.append_data(&mut h, "f", &b"hi"[..]).unwrap();
    let out = t.run_with_stdin(&["import", "-"], &b.into_inner().unwrap(), &[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
}

/// The files of a tar archive: (path, bytes), dirs left out.
fn archive_parts(path: &Path) -> Vec<(String, Vec<u8>)> {
    let mut parts = Vec::new();
    let mut a = tar::Archive::new(std::fs::File::open(path).unwrap());
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        if e.header().entry_type().is_dir() {
            continue;
        }
        let p = e.path().unwrap().to_string_lossy().into_owned();
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut v).unwrap();
        parts.push((p, v));
    }
    parts
}

/// A tar made of `(path, bytes)` entries.
fn archive_of(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let files: Vec<(&str, &[u8])> = entries.iter().map(|(p, d)| (*p, &d[..])).collect();
    tug_e2e::files_tar(&files, 0o644, 0)
}

#[test]
fn malformed_archives_fail_and_change_nothing() {
    let t = TestRoot::with_busybox();
    let good = t.path().join("good.tar");
    t.ok(&["save", "-o", good.to_str().unwrap(), "busybox"]);
    // The parts of a good archive, to make bad ones from.
    let parts = archive_parts(&good);
    // The paths manifest.json names (the layout Docker 25+ writes: blobs/sha256/...).
    let docker_manifest: serde_json::Value =
        serde_json::from_slice(&parts.iter().find(|p| p.0 == "manifest.json").unwrap().1).unwrap();
    let layer = docker_manifest[0]["Layers"][0]
        .as_str()
        .unwrap()
        .to_string();
    let config = docker_manifest[0]["Config"].as_str().unwrap().to_string();
    let without = |names: &[&str]| -> Vec<(&str, Vec<u8>)> {
        parts
            .iter()
            .filter(|(p, _)| !names.contains(&p.as_str()))
            .map(|(p, v)| (p.as_str(), v.clone()))
            .collect()
    };
    let tampered: Vec<(&str, Vec<u8>)> = parts
        .iter()
        .map(|(p, v)| {
            let mut v = v.clone();
            if *p == layer {
                v[600] ^= 1;
            }
            (p.as_str(), v)
        })
        .collect();
    let mut bad_manifest = without(&["manifest.json"]);
    bad_manifest.push(("manifest.json", b"[{\"Config\": 7}]".to_vec()));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("not a tar", b"this is not an archive at all".repeat(40)),
        (
            "neither manifest",
            archive_of(&without(&["manifest.json", "index.json"])),
        ),
        ("no layer", archive_of(&without(&[&layer]))),
        ("no config", archive_of(&without(&[&config]))),
        ("bad manifest", archive_of(&bad_manifest)),
        ("tampered layer", archive_of(&tampered)),
        ("truncated", std::fs::read(&good).unwrap()[..4000].to_vec()),
    ];
    t.ok(&["rmi", "busybox"]);
    let before = store_files(&t);
    for (what, bytes) in cases {
        let out = t.run_with_stdin(&["load"], &bytes, &[]);
        assert_eq!(code(&out), 125, "{what}: {}", text(&out));
        assert!(!out.stderr.is_empty(), "{what}");
        assert_eq!(store_files(&t), before, "{what} changed the store");
        assert_eq!(t.ok(&["images", "-q"]), "", "{what}");
    }
    // A path escaping the archive.
    let mut h = tar::Header::new_gnu();
    h.as_gnu_mut().unwrap().name[..12].copy_from_slice(b"../evil.json");
    h.set_size(2);
    h.set_mode(0o644);
    h.set_cksum();
    let mut evil = h.as_bytes().to_vec();
    evil.extend_from_slice(b"{}");
    evil.resize(1024, 0);
    evil.extend_from_slice(&[0u8; 1024]);
    let out = t.run_with_stdin(&["load"], &evil, &[]);
    assert_eq!(code(&out), 125, "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("outside the archive"),
        "{}",
        text(&out)
    );
    assert_eq!(store_files(&t), before);
}

#[test]
fn a_saved_archive_is_a_docker_archive_and_an_oci_layout_and_loads_as_either() {
    let t = TestRoot::with_busybox();
    let id = inspect(&t, "busybox")["Id"].clone();
    let archive = t.path().join("both.tar");
    t.ok(&["save", "-o", archive.to_str().unwrap(), "busybox"]);
    let parts = archive_parts(&archive);
    let file = |name: &str| -> serde_json::Value {
        let bytes = &parts.iter().find(|p| p.0 == name).expect(name).1;
        serde_json::from_slice(bytes).unwrap()
    };
    assert_eq!(
        file("oci-layout"),
        serde_json::json!({"imageLayoutVersion": "1.0.0"})
    );
    let index = file("index.json");
    let m = &index["manifests"][0];
    assert_eq!(
        m["annotations"]["io.containerd.image.name"],
        "docker.io/library/busybox:latest"
    );
    // The index's manifest names the same config and layers as manifest.json.
    let manifest = file(&format!(
        "blobs/sha256/{}",
        &m["digest"].as_str().unwrap()[7..]
    ));
    let docker = file("manifest.json");
    assert_eq!(
        format!(
            "blobs/sha256/{}",
            &manifest["config"]["digest"].as_str().unwrap()[7..]
        ),
        docker[0]["Config"]
    );
    assert_eq!(manifest["config"]["digest"], id);
    let layers: Vec<String> = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| format!("blobs/sha256/{}", &l["digest"].as_str().unwrap()[7..]))
        .collect();
    assert_eq!(serde_json::json!(layers), docker[0]["Layers"]);

    // Loaded through its OCI layout alone (manifest.json left out): the same image.
    let oci_only: Vec<(&str, Vec<u8>)> = parts
        .iter()
        .filter(|(p, _)| p != "manifest.json" && p != "repositories")
        .map(|(p, v)| (p.as_str(), v.clone()))
        .collect();
    let fresh = TestRoot::new();
    let out = fresh.run_with_stdin(&["load"], &archive_of(&oci_only), &[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Loaded image: busybox:latest\n"
    );
    assert_eq!(inspect(&fresh, "busybox")["Id"], id);
    // And as the docker-archive it also is.
    let fresh = TestRoot::new();
    fresh.ok(&["load", "-i", archive.to_str().unwrap()]);
    assert_eq!(inspect(&fresh, "busybox")["Id"], id);
}

#[test]
fn load_over_an_existing_tag_says_it_renames_the_old_image() {
    let t = TestRoot::with_busybox();
    let archive = t.path().join("b.tar");
    t.ok(&["save", "-o", archive.to_str().unwrap(), "busybox"]);
    import_untagged(&t);
    let other = t.ok(&["images", "-q", "--no-trunc", "-f", "dangling=true"]);
    t.ok(&["tag", other.trim(), "busybox"]);
    let out = t.ok(&["load", "-i", archive.to_str().unwrap()]);
    assert_eq!(
        out,
        format!(
            "The image busybox:latest already exists, renaming the old one with ID {} to empty string\nLoaded image: busybox:latest\n",
            other.trim()
        )
    );
    assert_eq!(
        t.ok(&["images", "-q", "--no-trunc", "-f", "dangling=true"]),
        other
    );
    // Loading the same again renames nothing.
    let out = t.ok(&["load", "-i", archive.to_str().unwrap()]);
    assert_eq!(out, "Loaded image: busybox:latest\n");
}

/// Sets the modification time of every entry of `dir` an hour back.
fn age_entries(dir: &Path) {
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        std::fs::File::open(e.path())
            .unwrap()
            .set_modified(old)
            .unwrap();
    }
}

/// Starts `tug load` on `t` with the first half of `archive`, waits until it staged a
/// blob, sends it `sig` and returns its exit status.
fn interrupt_load(
    t: &TestRoot,
    archive: &[u8],
    sig: nix::sys::signal::Signal,
) -> std::process::ExitStatus {
    let tmp = t.root().join("images/.tmp");
    let staged = || std::fs::read_dir(&tmp).map(|d| d.count()).unwrap_or(0);
    let mut child = t
        .tug()
        .args(["load"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&archive[..archive.len() / 2]).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while staged() == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(
        staged() > 0,
        "the load staged nothing before it was interrupted"
    );
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig).unwrap();
    let status = child.wait().unwrap();
    drop(stdin);
    status
}

#[test]
fn a_killed_load_leaves_staging_that_the_next_write_and_prune_reclaim() {
    let t = TestRoot::with_busybox();
    let out = t.tug().args(["save", "busybox"]).output().unwrap();
    assert!(out.status.success());
    let archive = out.stdout;
    let other = TestRoot::new();
    let tmp = other.root().join("images/.tmp");
    let staged = || std::fs::read_dir(&tmp).map(|d| d.count()).unwrap_or(0);
    interrupt_load(&other, &archive, nix::sys::signal::Signal::SIGKILL);
    // A young leftover might be a live writer's: it stays.
    other.ok(&["image", "prune", "-f"]);
    assert!(staged() > 0);
    // Once old and unlocked, prune takes it.
    age_entries(&tmp);
    other.ok(&["image", "prune", "-f"]);
    assert_eq!(staged(), 0, "prune left the killed load's staging");
    // And the next store write does too.
    interrupt_load(&other, &archive, nix::sys::signal::Signal::SIGKILL);
    age_entries(&tmp);
    let out = other.run_with_stdin(&["load"], &archive, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(staged(), 0, "the next load left the killed one's staging");
}

#[test]
fn an_interrupted_load_removes_its_staging_at_once() {
    let t = TestRoot::with_busybox();
    let out = t.tug().args(["save", "busybox"]).output().unwrap();
    let archive = out.stdout;
    let other = TestRoot::new();
    let tmp = other.root().join("images/.tmp");
    let staged = || std::fs::read_dir(&tmp).map(|d| d.count()).unwrap_or(0);
    for sig in [
        nix::sys::signal::Signal::SIGINT,
        nix::sys::signal::Signal::SIGTERM,
    ] {
        let status = interrupt_load(&other, &archive, sig);
        assert_eq!(status.code(), Some(128 + sig as i32));
        assert_eq!(staged(), 0, "{sig}: the staging stayed");
    }
}
