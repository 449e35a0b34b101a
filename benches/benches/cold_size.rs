//! Bytes per point of a whole data directory after `compact --to-cold` (segments, WAL,
//! manifest, everything on disk), for each shared data set. A measurement, not a timing.
//!
//! `cargo bench -p strata-benches --bench cold_size [-- FILE...]`

fn dir_bytes(p: &std::path::Path) -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir(p).expect("read_dir") {
        let e = e.expect("entry");
        let m = e.metadata().expect("metadata");
        total += if m.is_dir() {
            dir_bytes(&e.path())
        } else {
            m.len()
        };
    }
    total
}

fn main() {
    let mut files: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if files.is_empty() {
        files = vec![
            "tsbs_cpu_only_scale100_1d.lp.zst".into(),
            "tsbs_devops_scale100_2h.lp.zst".into(),
            "node_exporter_15m.lp.zst".into(),
        ];
    }
    println!(
        "| data | points | warm B/point | cold files | whole directory after compact --to-cold, B/point |"
    );
    println!("| --- | --- | --- | --- | --- |");
    for f in files {
        let lp = strata_benches::load_lp(&f).expect("shared data");
        let (dir, db, points) = strata_benches::loaded_db(&strata_benches::batches(&lp, 5_000));
        db.rotate().expect("rotate");
        let warm = db.tier_stats().warm.bytes;
        db.compact(true, true).expect("compact");
        let cold_files = db.tier_stats().cold.files;
        db.close().expect("close");
        let total = dir_bytes(dir.path());
        println!(
            "| {f} | {points} | {:.2} | {cold_files} | {:.3} |",
            warm as f64 / points as f64,
            total as f64 / points as f64
        );
    }
}
