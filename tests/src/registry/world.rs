//! A test's world for the registry tests: a state root, a private Docker config dir,
//! and the commands the tests run in it.

use std::process::Output;

use super::{Layout, layer_tar, noise};
use crate::{TestRoot, text};

/// A test's world: a state root and a private Docker config dir.
pub struct World {
    pub root: TestRoot,
    pub docker_config: tempfile::TempDir,
}

impl Default for World {
    fn default() -> Self {
        Self::new()
    }
}

impl World {
    pub fn new() -> World {
        let root = TestRoot::new();
        std::fs::create_dir_all(root.root()).expect("create root");
        World {
            root,
            docker_config: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn tug(&self, args: &[&str]) -> Output {
        self.root
            .tug()
            .env("DOCKER_CONFIG", self.docker_config.path())
            .args(args)
            .output()
            .expect("spawn tug")
    }

    pub fn tug_stdin(&self, args: &[&str], stdin: &str) -> Output {
        let mut c = self.root.tug();
        c.env("DOCKER_CONFIG", self.docker_config.path()).args(args);
        crate::output_with_stdin(c, stdin.as_bytes())
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.tug(args);
        assert!(out.status.success(), "tug {args:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn store(&self) -> Layout {
        Layout::new(&self.root.root().join("images"))
    }

    pub fn docker_config(&self) -> serde_json::Value {
        let p = self.docker_config.path().join("config.json");
        serde_json::from_slice(&std::fs::read(p).expect("read config.json")).expect("json")
    }
}

/// Puts a three-layer image named `name` in the world's store; returns its manifest
/// digest.
pub fn add_image(w: &World, name: &str, seed: u64) -> String {
    let tars = vec![
        layer_tar(&[("etc/a", b"layer one\n")]),
        layer_tar(&[("bin/blob", &noise(seed, 300_000))]),
        layer_tar(&[("etc/c", format!("seed {seed}\n").as_bytes())]),
    ];
    let store = w.store();
    let m = store.image(&tars, "amd64", 6);
    store.tag(&m, name);
    m.digest
}

/// `skopeo copy` between any two transports, TLS verification off (loopback).
pub fn skopeo_copy(from: &str, to: &str, all: bool) {
    let mut c = std::process::Command::new("skopeo");
    c.args(["copy", "--src-tls-verify=false", "--dest-tls-verify=false"]);
    if all {
        c.arg("--all");
    }
    let out = c.args([from, to]).output().expect("run skopeo");
    assert!(
        out.status.success(),
        "skopeo copy {from} {to}: {}",
        text(&out)
    );
}
