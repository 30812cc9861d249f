//! Helpers of the testkit's own tests.

use std::time::{Duration, Instant};

use tug_testkit::Tug;

/// Whether the container `id` is gone from the state root.
pub fn is_gone(id: &str) -> bool {
    let engine = Tug::shared().expect("tug").engine();
    matches!(
        engine.container(id),
        Err(tug::Error::Container(tug::container::Error::NotFound(_)))
    )
}

/// Waits until `cond` holds, at most `limit`; whether it did.
pub fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
