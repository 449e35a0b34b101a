//! Hot-tier memory per point after importing the devops data: prints bytes per point of
//! the hot tier (compressed chunks and open heads), and of the index per series. This is a
//! measurement, not a timing, so it runs without criterion.
//!
//! `cargo bench -p strata-benches --bench hot_memory [-- FILE...]`

fn main() {
    let mut files: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if files.is_empty() {
        files = vec![
            "tsbs_cpu_only_scale100_6h.lp.zst".into(),
            "tsbs_cpu_only_scale100_1d.lp.zst".into(),
            "tsbs_devops_scale100_2h.lp.zst".into(),
            "node_exporter_15m.lp.zst".into(),
        ];
    }
    println!(
        "| data | points | series | columns | hot bytes | hot bytes/point | hot bytes/point after flush | index bytes/series |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for f in files {
        let lp = strata_benches::load_lp(&f).expect("shared data");
        let (_dir, db, points) = strata_benches::loaded_db(&strata_benches::batches(&lp, 5_000));
        let before = db.stats();
        db.flush().expect("flush");
        let after = db.stats();
        println!(
            "| {f} | {points} | {} | {} | {} | {:.2} | {:.2} | {:.0} |",
            after.series,
            after.columns,
            before.hot.bytes,
            before.hot.bytes as f64 / points as f64,
            after.hot.bytes as f64 / points as f64,
            after.index_bytes as f64 / after.series as f64,
        );
    }
}
