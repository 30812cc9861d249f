//! The modules' start-to-ready benchmark (issue #11): `start()` of each module until its
//! ready condition holds, with the image built and cached (warm), and
//! `fresh_database()`; medians of BENCH_RUNS (default 10). With BENCH_COLD=1, the
//! kernel's page cache is dropped before each timed start (a cold cache: the image's
//! files are read from disk again). Run by `scripts/bench-modules.sh`.

use std::time::{Duration, Instant};

use tug_testkit::modules::{MariaDb, Postgres, Redis, Registry};
use tug_testkit::runners::SyncRunner;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Drops the page cache when BENCH_COLD=1.
fn maybe_cold() {
    if std::env::var("BENCH_COLD").is_ok_and(|v| v == "1") {
        // SAFETY: sync(2) takes nothing and cannot fail.
        unsafe { libc::sync() };
        std::fs::write("/proc/sys/vm/drop_caches", "3\n").expect("drop the page cache (root)");
    }
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    // One run first, not timed: builds the image if it is missing.
    drop(f());
    median(
        (0..runs)
            .map(|_| {
                maybe_cold();
                let t = Instant::now();
                let kept = f();
                let d = t.elapsed();
                drop(kept);
                d
            })
            .collect(),
    )
}

/// As [`time`], with each fixture held for `hold` after it is ready (a test's own work),
/// as a suite's tests hold theirs: what warm spares (`with_spare`) make use of.
fn time_held<T>(runs: usize, hold: Duration, mut f: impl FnMut() -> T) -> Duration {
    drop(f());
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                let kept = f();
                let d = t.elapsed();
                std::thread::sleep(hold);
                drop(kept);
                d
            })
            .collect(),
    )
}

/// The fixture's hold for the spare rows: BENCH_HOLD_MS (default 100).
fn hold() -> Duration {
    Duration::from_millis(
        std::env::var("BENCH_HOLD_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(100),
    )
}

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    // BENCH_ONLY=postgres: the first row only (scripts/bench-testcontainers.sh).
    let only_postgres = std::env::var("BENCH_ONLY").is_ok_and(|v| v == "postgres");
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
    let cache = if std::env::var("BENCH_COLD").is_ok_and(|v| v == "1") {
        "page cache dropped before each start"
    } else {
        "warm"
    };
    println!("start-to-ready, median of {runs} (image built and cached; {cache})");
    println!(
        "  Postgres::default()          {}",
        ms(time(runs, || Postgres::default().start().unwrap()))
    );
    let hold = hold();
    let spare_row = |name: &str, d: Duration| {
        println!(
            "  {name:<28} {} (a spare; each fixture held {} ms)",
            ms(d),
            hold.as_millis()
        )
    };
    use tug_testkit::ImageExt;
    spare_row(
        "Postgres with_spare(true)",
        time_held(runs, hold, || {
            Postgres::default().with_spare(true).start().unwrap()
        }),
    );
    let _ = tug_testkit::Tug::shared().and_then(|t| t.remove_spares());
    if only_postgres {
        return;
    }
    spare_row(
        "Redis with_spare(true)",
        time_held(runs, hold, || {
            Redis::default().with_spare(true).start().unwrap()
        }),
    );
    let _ = tug_testkit::Tug::shared().and_then(|t| t.remove_spares());
    let schema = b"CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL);".to_vec();
    println!(
        "  Postgres with init SQL       {}",
        ms(time(runs, || {
            Postgres::default()
                .with_db("app")
                .with_init_sql(schema.clone())
                .start()
                .unwrap()
        }))
    );
    println!(
        "  Redis::default()             {}",
        ms(time(runs, || Redis::default().start().unwrap()))
    );
    println!(
        "  MariaDb::default()           {}",
        ms(time(runs, || MariaDb::default().start().unwrap()))
    );
    println!(
        "  Registry::default()          {}",
        ms(time(runs, || Registry::default().start().unwrap()))
    );
    let pg = Postgres::default().start().unwrap();
    println!(
        "  fresh_database(), back to back  {}",
        ms(time(runs, || pg.fresh_database().unwrap()))
    );
    // As in a suite: each test runs for a while (100 ms here) with its database, while
    // the fixture makes the next copy in the background.
    let mut between = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let db = pg.fresh_database().unwrap();
        between.push(t.elapsed());
        std::thread::sleep(Duration::from_millis(100));
        drop(db);
    }
    println!(
        "  fresh_database(), tests of 100 ms  {}",
        ms(median(between))
    );
}
