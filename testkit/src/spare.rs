//! Warm spares ([`crate::ImageExt::with_spare`]): once a request's container is ready, a
//! second container of the same request is started and made ready in the background, so
//! that the next start of that request in this process takes it at once (and starts the
//! next spare). A spare is a container like any other fixture: new, never handed out
//! before, owned by this process (its shim removes it when the process ends, killed or
//! not).
//!
//! The pool is per process and keyed by the request (see `start::spare_key`); at most
//! one spare per key is starting or ready at a time.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// One key's spare.
enum Slot {
    /// Being started by a background thread.
    Starting,
    /// Ready: the container's id.
    Ready(String),
}

struct Pool {
    slots: Mutex<HashMap<String, Slot>>,
    changed: Condvar,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool {
        slots: Mutex::new(HashMap::new()),
        changed: Condvar::new(),
    })
}

fn slots(p: &Pool) -> MutexGuard<'_, HashMap<String, Slot>> {
    p.slots.lock().unwrap_or_else(|e| e.into_inner())
}

/// Takes the spare of `key`: a ready one at once, one still starting once it is ready
/// (waiting up to `timeout`); `None` when there is none, it failed, or the wait ran out
/// (the spare then stays for a later start).
pub(crate) fn take(key: &str, timeout: Duration) -> Option<String> {
    let p = pool();
    let deadline = Instant::now() + timeout;
    let mut slots = slots(p);
    loop {
        match slots.get(key) {
            None => return None,
            Some(Slot::Ready(_)) => {
                return match slots.remove(key) {
                    Some(Slot::Ready(id)) => Some(id),
                    _ => None,
                };
            }
            Some(Slot::Starting) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return None;
                }
                slots = p
                    .changed
                    .wait_timeout(slots, left)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
        }
    }
}

/// Claims the making of `key`'s spare: `false` when one is already starting or ready.
pub(crate) fn begin(key: &str) -> bool {
    let mut slots = slots(pool());
    if slots.contains_key(key) {
        return false;
    }
    slots.insert(key.to_string(), Slot::Starting);
    true
}

/// The spare of `key` is ready (`Some(id)`) or failed to start (`None`).
pub(crate) fn finish(key: &str, id: Option<String>) {
    let p = pool();
    let mut slots = slots(p);
    match id {
        Some(id) => slots.insert(key.to_string(), Slot::Ready(id)),
        None => slots.remove(key),
    };
    p.changed.notify_all();
}

/// Waits (up to `timeout`) until no spare is starting, then takes every ready spare
/// that `ours` accepts out of the pool: their ids.
pub(crate) fn drain(timeout: Duration, ours: impl Fn(&str) -> bool) -> Vec<String> {
    let p = pool();
    let deadline = Instant::now() + timeout;
    let mut slots = slots(p);
    while slots.values().any(|s| matches!(s, Slot::Starting)) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        slots = p
            .changed
            .wait_timeout(slots, left)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
    let keys: Vec<String> = slots
        .iter()
        .filter(|(_, s)| matches!(s, Slot::Ready(id) if ours(id)))
        .map(|(k, _)| k.clone())
        .collect();
    keys.iter()
        .filter_map(|k| match slots.remove(k) {
            Some(Slot::Ready(id)) => Some(id),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pool's states: none, starting (a second begin refused, a take waits for it),
    /// ready (taken once), failed (nothing to take, a new begin allowed).
    #[test]
    fn a_spare_is_taken_once_and_waited_for_while_it_starts() {
        let key = "unit-test-key";
        assert_eq!(take(key, Duration::ZERO), None);
        assert!(begin(key));
        assert!(!begin(key));
        assert_eq!(take(key, Duration::from_millis(10)), None, "still starting");
        let t = std::thread::spawn(|| take("unit-test-key", Duration::from_secs(10)));
        std::thread::sleep(Duration::from_millis(20));
        finish(key, Some("abc".into()));
        assert_eq!(t.join().unwrap().as_deref(), Some("abc"));
        assert_eq!(take(key, Duration::ZERO), None, "taken once");
        assert!(begin(key));
        finish(key, None);
        assert_eq!(take(key, Duration::ZERO), None);
        assert!(begin(key));
        finish(key, None);
    }
}
