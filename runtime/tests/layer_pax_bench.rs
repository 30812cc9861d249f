//! Times `layer::apply` of a big tar into a dir of your choice (a tmpfs takes the disk out
//! of the measure): `TUG_BENCH_TAR=/path/to.tar TUG_BENCH_DIR=/mnt/tmpfs cargo test
//! --release -p tug --test layer_pax_bench -- --ignored --nocapture`.

#[test]
#[ignore = "a benchmark: needs TUG_BENCH_TAR and TUG_BENCH_DIR"]
fn apply_speed_in_a_dir() {
    let (Some(tar), Some(dir)) = (
        std::env::var_os("TUG_BENCH_TAR"),
        std::env::var_os("TUG_BENCH_DIR"),
    ) else {
        return;
    };
    let runs: usize = std::env::var("TUG_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let mut times = Vec::new();
    for _ in 0..runs {
        let out = tempfile::tempdir_in(&dir).unwrap();
        let file = std::io::BufReader::new(std::fs::File::open(&tar).unwrap());
        let start = std::time::Instant::now();
        let stats = tug::layer::apply(file, out.path()).unwrap();
        times.push(start.elapsed());
        eprintln!("{} entries in {:?}", stats.entries, times.last().unwrap());
    }
    times.sort();
    eprintln!("min {:?} median {:?}", times[0], times[times.len() / 2]);
}
