//! `tug pull` and `push` against Debian's docker-registry on loopback: round trips,
//! skips, mounts, platforms, chunked uploads, skopeo interop, and what they print.

use std::process::Output;

use tug_e2e::registry::{
    Layout, Registry, World, add_image, layer_tar, noise, skopeo_copy, stderr,
};
use tug_e2e::{TestRoot, code, text};

#[test]
fn push_then_pull_round_trip_of_a_multi_layer_image() {
    let reg = Registry::start();
    let a = World::new();
    let name = format!("{}/app:1", reg.host());
    let digest = add_image(&a, &name, 1);
    let out = a.ok(&["push", &name]);
    assert!(out.contains(&format!("1: digest: {digest}")), "{out}");

    let b = World::new();
    let out = b.ok(&["pull", &name]);
    assert!(out.contains("Downloaded newer image"), "{out}");
    assert_eq!(b.store().lookup(&name).as_deref(), Some(digest.as_str()));
    let manifest: serde_json::Value =
        serde_json::from_slice(&b.store().read_blob(&digest)).expect("manifest");
    for l in manifest["layers"].as_array().expect("layers") {
        let d = l["digest"].as_str().expect("digest");
        assert_eq!(
            b.store().read_blob(d),
            a.store().read_blob(d),
            "layer {d} differs"
        );
    }
    // Each layer was unpacked into its snapshot as it arrived.
    let config: serde_json::Value = serde_json::from_slice(
        &b.store()
            .read_blob(manifest["config"]["digest"].as_str().expect("config")),
    )
    .expect("config");
    let diff_ids: Vec<tug::Digest> = config["rootfs"]["diff_ids"]
        .as_array()
        .expect("diff_ids")
        .iter()
        .map(|d| d.as_str().expect("str").parse().expect("digest"))
        .collect();
    let snapshots = tug::snapshot::Snapshots::open(&b.root.root()).expect("snapshots");
    let chains = tug::snapshot::chain_ids(&diff_ids);
    assert!(snapshots.path(&chains[0]).join("etc/a").is_file());
    assert_eq!(
        std::fs::read(snapshots.path(&chains[1]).join("bin/blob")).expect("blob"),
        noise(1, 300_000)
    );
    // A second pull fetches nothing.
    let out = b.ok(&["pull", &name]);
    assert!(out.contains("Image is up to date"), "{out}");

    // By digest, quietly: only the reference is printed.
    let by_digest = format!("{}/app@{digest}", reg.host());
    let c = World::new();
    let out = c.tug(&["pull", "-q", &by_digest]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{by_digest}\n")
    );
    assert!(out.stderr.is_empty(), "{}", text(&out));
    assert_eq!(
        c.store().lookup(&by_digest).as_deref(),
        Some(digest.as_str())
    );
}

#[test]
fn push_skips_blobs_the_registry_has() {
    let reg = Registry::start();
    let w = World::new();
    let name = format!("{}/app:1", reg.host());
    add_image(&w, &name, 2);
    let first = w.tug(&["push", &name]);
    assert_eq!(code(&first), 0, "{}", text(&first));
    assert_eq!(
        stderr(&first).matches(": Pushed").count(),
        3,
        "{}",
        text(&first)
    );
    let again = w.tug(&["push", &name]);
    assert_eq!(code(&again), 0, "{}", text(&again));
    assert_eq!(
        stderr(&again).matches(": Layer already exists").count(),
        3,
        "{}",
        text(&again)
    );
}

#[test]
fn push_mounts_blobs_from_another_repository() {
    let reg = Registry::start();
    let w = World::new();
    let a = format!("{}/team/a:1", reg.host());
    let b = format!("{}/team/b:1", reg.host());
    let digest = add_image(&w, &a, 3);
    w.ok(&["push", &a]);
    w.ok(&["tag", &a, &b]);
    let out = w.tug(&["push", &b]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(
        stderr(&out).matches(": Mounted from team/a").count(),
        3,
        "{}",
        text(&out)
    );
    let c = World::new();
    c.ok(&["pull", &b]);
    assert_eq!(c.store().lookup(&b).as_deref(), Some(digest.as_str()));
}

#[test]
fn platform_is_chosen_in_a_manifest_list() {
    let reg = Registry::start();
    let src = tempfile::tempdir().expect("tempdir");
    let layout = Layout::new(src.path());
    let amd = layout.image(&[layer_tar(&[("arch", b"amd64\n")])], "amd64", 6);
    let arm = layout.image(&[layer_tar(&[("arch", b"arm64\n")])], "arm64", 6);
    let index = layout.index(&[(amd.clone(), "linux/amd64"), (arm.clone(), "linux/arm64")]);
    layout.tag(&index, "multi");
    skopeo_copy(
        &format!("oci:{}:multi", src.path().display()),
        &format!("docker://{}/multi:1", reg.host()),
        true,
    );
    let name = format!("{}/multi:1", reg.host());
    let w = World::new();
    let out = w.ok(&["pull", "--platform", "linux/arm64", &name]);
    assert!(out.contains(&format!("Digest: {}", index.digest)), "{out}");
    assert_eq!(
        w.store().lookup(&name).as_deref(),
        Some(arm.digest.as_str())
    );
    let w = World::new();
    w.ok(&["pull", "--platform", "linux/amd64", &name]);
    assert_eq!(
        w.store().lookup(&name).as_deref(),
        Some(amd.digest.as_str())
    );
    let out = w.tug(&["pull", "--platform", "linux/s390x", &name]);
    assert_eq!(code(&out), 125);
    assert!(
        stderr(&out).contains("linux/amd64, linux/arm64"),
        "{}",
        text(&out)
    );
}

/// Through a manifest list, the repo digest is the list's, as Docker records it: shown by
/// `images --digests` and `RepoDigests`, and `name@<list digest>` finds the image.
#[test]
fn a_pull_through_a_manifest_list_records_the_list_digest() {
    let reg = Registry::start();
    let src = tempfile::tempdir().expect("tempdir");
    let layout = Layout::new(src.path());
    let amd = layout.image(&[layer_tar(&[("arch", b"amd64\n")])], "amd64", 6);
    let arm = layout.image(&[layer_tar(&[("arch", b"arm64\n")])], "arm64", 6);
    let index = layout.index(&[(amd.clone(), "linux/amd64"), (arm.clone(), "linux/arm64")]);
    layout.tag(&index, "multi");
    skopeo_copy(
        &format!("oci:{}:multi", src.path().display()),
        &format!("docker://{}/multi:1", reg.host()),
        true,
    );
    let repo = format!("{}/multi", reg.host());
    let name = format!("{repo}:1");
    let by_digest = format!("{repo}@{}", index.digest);
    let w = World::new();
    w.ok(&["pull", "--platform", "linux/arm64", &name]);
    let digests = w.ok(&["images", "--digests", "--format", "{{.Digest}}", &name]);
    assert_eq!(digests.trim(), index.digest, "{digests}");
    let repo_digests = w.ok(&["image", "inspect", "-f", "{{json .RepoDigests}}", &name]);
    assert_eq!(
        repo_digests.trim(),
        serde_json::json!([by_digest]).to_string(),
        "{repo_digests}"
    );
    let id = w.ok(&["image", "inspect", "-f", "{{.Id}}", &name]);
    assert_eq!(w.ok(&["image", "inspect", "-f", "{{.Id}}", &by_digest]), id);
    let out = w.ok(&["pull", "--platform", "linux/arm64", &by_digest]);
    assert!(out.contains(&format!("Digest: {}", index.digest)), "{out}");
    assert!(out.contains("Image is up to date"), "{out}");
    assert_eq!(w.ok(&["image", "inspect", "-f", "{{.Id}}", &by_digest]), id);
    assert_eq!(
        w.store().lookup(&name).as_deref(),
        Some(arm.digest.as_str())
    );

    // A fresh store pulled by the list digest alone records it too.
    let w = World::new();
    w.ok(&["pull", "--platform", "linux/arm64", &by_digest]);
    assert_eq!(w.ok(&["image", "inspect", "-f", "{{.Id}}", &by_digest]), id);
    let digests = w.ok(&["images", "--digests", "--format", "{{.Digest}}", &repo]);
    assert_eq!(digests.trim(), index.digest, "{digests}");
}

#[test]
fn skopeo_pushes_and_tug_pulls() {
    let reg = Registry::start();
    let src = tempfile::tempdir().expect("tempdir");
    let layout = Layout::new(src.path());
    let m = layout.image(
        &[
            layer_tar(&[("x", b"1")]),
            layer_tar(&[("y", &noise(7, 100_000))]),
        ],
        "amd64",
        6,
    );
    layout.tag(&m, "img");
    // skopeo converts to Docker v2 schema 2 on the way: the digest tug sees is skopeo's.
    skopeo_copy(
        &format!("oci:{}:img", src.path().display()),
        &format!("docker://{}/from-skopeo:1", reg.host()),
        false,
    );
    let raw = std::process::Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--format", "{{.Digest}}"])
        .arg(format!("docker://{}/from-skopeo:1", reg.host()))
        .output()
        .expect("skopeo inspect");
    let want = String::from_utf8_lossy(&raw.stdout).trim().to_string();
    let w = World::new();
    let name = format!("{}/from-skopeo:1", reg.host());
    let out = w.ok(&["pull", &name]);
    assert!(out.contains(&want), "{out}");
    assert_eq!(w.store().lookup(&name).as_deref(), Some(want.as_str()));
    // No list: the repo digest is the manifest's.
    let digests = w.ok(&["images", "--digests", "--format", "{{.Digest}}", &name]);
    assert_eq!(digests.trim(), want, "{digests}");
}

#[test]
fn tug_pushes_and_skopeo_pulls_with_the_same_digest() {
    let reg = Registry::start();
    let w = World::new();
    let name = format!("{}/to-skopeo:1", reg.host());
    let digest = add_image(&w, &name, 8);
    w.ok(&["push", &name]);
    let dest = tempfile::tempdir().expect("tempdir");
    skopeo_copy(
        &format!("docker://{name}"),
        &format!("oci:{}:copy", dest.path().display()),
        false,
    );
    let copy = Layout::new(dest.path());
    assert_eq!(copy.lookup("copy").as_deref(), Some(digest.as_str()));
    let inspect = std::process::Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--format", "{{.Digest}}"])
        .arg(format!("docker://{name}"))
        .output()
        .expect("skopeo inspect");
    assert_eq!(String::from_utf8_lossy(&inspect.stdout).trim(), digest);
}

#[test]
fn chunked_upload_round_trips() {
    let reg = Registry::start();
    let w = World::new();
    let name = format!("{}/chunky:1", reg.host());
    let digest = add_image(&w, &name, 9);
    let out = w
        .root
        .tug()
        .env("DOCKER_CONFIG", w.docker_config.path())
        .env("TUG_PUSH_CHUNK_SIZE", "65536")
        .args(["push", &name])
        .output()
        .expect("spawn");
    assert_eq!(code(&out), 0, "{}", text(&out));
    let c = World::new();
    c.ok(&["pull", &name]);
    assert_eq!(c.store().lookup(&name).as_deref(), Some(digest.as_str()));
}

/// The output with the registry's port replaced and the (parallel, so unordered)
/// progress lines on stderr sorted.
fn transcript(out: &Output, host: &str) -> String {
    let mut err: Vec<String> = stderr(out).lines().map(str::to_string).collect();
    err.sort();
    format!(
        "exit {}\n--- stdout\n{}--- stderr (sorted)\n{}\n",
        code(out),
        String::from_utf8_lossy(&out.stdout),
        err.join("\n")
    )
    .replace(host, "127.0.0.1:PORT")
}

#[test]
fn push_and_pull_print_what_docker_prints() {
    let reg = Registry::start();
    let w = World::new();
    let name = format!("{}/app:1", reg.host());
    add_image(&w, &name, 30);
    let push = w.tug(&["push", &name]);
    insta::assert_snapshot!("push", transcript(&push, &reg.host()));
    let b = World::new();
    let pull = b.tug(&["pull", &name]);
    insta::assert_snapshot!("pull", transcript(&pull, &reg.host()));
    let again = b.tug(&["pull", &name]);
    insta::assert_snapshot!("pull_again", transcript(&again, &reg.host()));
    let missing = b.tug(&["pull", &format!("{}/app:nope", reg.host())]);
    insta::assert_snapshot!("pull_unknown_tag", transcript(&missing, &reg.host()));
}

#[test]
fn busybox_pushed_then_pulled_is_the_same_image() {
    let reg = Registry::start();
    let a = World {
        root: TestRoot::with_busybox(),
        docker_config: tempfile::tempdir().expect("tempdir"),
    };
    let name = format!("{}/busybox:1", reg.host());
    a.ok(&["tag", "busybox", &name]);
    a.ok(&["push", &name]);
    let b = World::new();
    b.ok(&["pull", &name]);
    let id = |w: &World| w.ok(&["image", "inspect", "-f", "{{.Id}}", &name]);
    assert_eq!(id(&a), id(&b));
    let images = b.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(images.trim(), name);
    // Sizes count the uncompressed layers, as Docker does, on both sides.
    let size = |w: &World| w.ok(&["image", "inspect", "-f", "{{.Size}}", &name]);
    assert_eq!(size(&a), size(&b));
    // And it runs.
    let out = b.ok(&["run", "--rm", &name, "echo", "pulled and running"]);
    assert_eq!(out.trim(), "pulled and running");
}

#[test]
fn two_pulls_of_one_image_into_one_root_at_once_both_succeed() {
    let reg = Registry::start();
    let a = World::new();
    let name = format!("{}/twice:1", reg.host());
    let tars = vec![
        layer_tar(&[("one", &noise(50, 4 << 20))]),
        layer_tar(&[("two", &noise(51, 4 << 20))]),
    ];
    let m = a.store().image(&tars, "amd64", 0);
    a.store().tag(&m, &name);
    a.ok(&["push", &name]);
    let b = World::new();
    let spawn = || {
        b.root
            .tug()
            .env("DOCKER_CONFIG", b.docker_config.path())
            .args(["pull", "-q", &name])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn tug")
    };
    let (p1, p2) = (spawn(), spawn());
    for p in [p1, p2] {
        let out = p.wait_with_output().expect("wait");
        assert_eq!(code(&out), 0, "{}", text(&out));
    }
    assert_eq!(b.store().lookup(&name).as_deref(), Some(m.digest.as_str()));
    b.ok(&["image", "inspect", &name]);
}

/// `run` and `create` pull a missing image, as Docker's do (`--pull missing`, the
/// default), or always, or never; the default busybox is made locally.
#[test]
fn run_pulls_a_missing_image_and_honours_the_pull_policy() {
    let reg = Registry::start();
    let name = format!("{}/tools/box:1", reg.host());
    let a = TestRoot::with_busybox();
    a.ok(&["tag", "busybox", &name]);
    a.ok(&["push", "-q", &name]);

    let b = TestRoot::new();
    // never: refused, nothing pulled.
    let out = b.run(&["run", "--rm", "--pull", "never", &name, "true"]);
    assert_eq!(code(&out), 125, "{}", text(&out));
    // missing: pulled, saying so on stderr, then run.
    let out = b.run(&["run", "--rm", &name, "echo", "pulled and ran"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "pulled and ran\n");
    let err = stderr(&out);
    assert!(
        err.contains(&format!("Unable to find image '{name}' locally")),
        "{err}"
    );
    assert!(err.contains("Downloaded newer image"), "{err}");
    // Present now: no pull.
    let out = b.run(&["create", &name]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(!stderr(&out).contains("Unable to find"), "{}", text(&out));
    // always: pulled again (nothing new to fetch).
    let out = b.run(&["run", "--rm", "--pull", "always", &name, "true"]);
    assert!(
        stderr(&out).contains("Image is up to date"),
        "{}",
        text(&out)
    );
    // The default busybox needs no registry.
    let c = TestRoot::new();
    assert_eq!(c.ok(&["run", "--rm", "busybox", "echo", "hi"]), "hi\n");
    for t in [&b, &c] {
        for id in t.container_ids() {
            t.ok(&["rm", "-f", &id]);
        }
    }
}
