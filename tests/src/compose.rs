//! A compose project in a test's state root, for the `tug compose` tests.

use std::path::PathBuf;
use std::process::Output;

use crate::{TestRoot, stderr};

/// Stdout as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A compose project dir in a test root; `down -v --remove-orphans` on drop.
pub struct Project<'a> {
    pub t: &'a TestRoot,
    pub dir: PathBuf,
}

impl<'a> Project<'a> {
    /// A project named `name` (its dir's name) with `compose.yml` holding `yaml`.
    pub fn new(t: &'a TestRoot, name: &str, yaml: &str) -> Project<'a> {
        let dir = t.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("compose.yml"), yaml).unwrap();
        Project { t, dir }
    }

    pub fn write(&self, file: &str, text: &str) {
        std::fs::write(self.dir.join(file), text).unwrap();
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.t
            .tug()
            .current_dir(&self.dir)
            .arg("compose")
            .args(args)
            .output()
            .expect("spawn tug")
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "tug compose {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            stdout(&out),
            stderr(&out)
        );
        stdout(&out)
    }

    /// The running containers' names, sorted.
    pub fn running(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .ok(&["ps", "--format", "{{.Name}}"])
            .lines()
            .map(String::from)
            .collect();
        v.sort();
        v
    }
}

impl Drop for Project<'_> {
    fn drop(&mut self) {
        let _ = self.run(&["down", "-v", "--remove-orphans", "-t", "1"]);
    }
}

/// Network names of the root other than Docker's three.
pub fn user_networks(t: &TestRoot) -> Vec<String> {
    t.ok(&["network", "ls", "--format", "{{.Name}}"])
        .lines()
        .filter(|n| !matches!(*n, "bridge" | "host" | "none"))
        .map(String::from)
        .collect()
}

pub fn ids(p: &Project) -> Vec<String> {
    let mut v: Vec<String> = p.ok(&["ps", "-q"]).lines().map(String::from).collect();
    v.sort();
    v
}
