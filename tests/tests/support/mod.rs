//! Helpers of the lifecycle tests: a guard that removes (`rm -f`) every container a test
//! started, also when the test fails, and waiting on a condition with a deadline.

#![allow(dead_code)]

use std::cell::RefCell;
use std::time::{Duration, Instant};

use tug_e2e::TestRoot;

/// Removes the containers it was told of (by id) when dropped.
pub struct Containers<'a> {
    t: &'a TestRoot,
    ids: RefCell<Vec<String>>,
}

impl<'a> Containers<'a> {
    pub fn new(t: &'a TestRoot) -> Containers<'a> {
        Containers {
            t,
            ids: RefCell::new(Vec::new()),
        }
    }

    /// Remembers `id` (trimmed) and returns it.
    pub fn add(&self, id: &str) -> String {
        let id = id.trim().to_string();
        self.ids.borrow_mut().push(id.clone());
        id
    }

    /// `tug run -d ARGS`, remembered.
    pub fn run_d(&self, args: &[&str]) -> String {
        let mut a = vec!["run", "-d"];
        a.extend_from_slice(args);
        let id = self.t.ok(&a);
        self.add(&id)
    }
}

impl Drop for Containers<'_> {
    fn drop(&mut self) {
        for id in self.ids.borrow().iter() {
            let _ = self.t.run(&["rm", "-f", id]);
        }
    }
}

/// Waits until `cond` holds, failing the test with `what` after `limit`.
pub fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    loop {
        if cond() {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `inspect -f TEMPLATE NAME`, trimmed.
pub fn inspect(t: &TestRoot, name: &str, template: &str) -> String {
    t.ok(&["inspect", "-f", template, name]).trim().to_string()
}

/// Whether process `pid` exists (and is not a zombie).
pub fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(false)
}

/// The parent pid of `pid`.
pub fn ppid(pid: i32) -> i32 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("PPid:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}
