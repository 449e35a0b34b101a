//! Where the cold bytes of node_exporter data go: timestamps vs values, per codec, with zstd.
use std::collections::BTreeMap;
use strata_engine::codec::{encode_floats, encode_timestamps};
use strata_engine::ingest::line_protocol::{LineSplitter, ParsedLine, ParsedValue, parse_line};
use strata_engine::model::Precision;

fn main() {
    let lp = strata_benches::load_lp("node_exporter_15m.lp.zst").expect("data");
    let mut cols: BTreeMap<Vec<u8>, (Vec<i64>, Vec<f64>)> = BTreeMap::new();
    let mut line = ParsedLine::default();
    for (_, l) in LineSplitter::new(&lp) {
        parse_line(l, Precision::Nanosecond, &mut line).unwrap();
        let e = cols.entry(line.raw_series.to_vec()).or_default();
        e.0.push(line.timestamp.unwrap());
        if let ParsedValue::Float(v) = line.fields[0].1 {
            e.1.push(v)
        }
    }
    let (mut ts_b, mut ts_z, mut v_b, mut v_z, mut n) = (0, 0, 0, 0, 0);
    let mut tags: BTreeMap<u8, (usize, usize, usize)> = BTreeMap::new();
    let mut worst: Vec<(usize, String)> = Vec::new();
    for (k, (t, v)) in &cols {
        n += t.len();
        let mut b = Vec::new();
        encode_timestamps(t, &mut b);
        ts_b += b.len();
        ts_z += zstd::bulk::compress(&b, 12).unwrap().len().min(b.len());
        let mut c = Vec::new();
        encode_floats(v, &mut c);
        v_b += c.len();
        let z = zstd::bulk::compress(&c, 12).unwrap().len().min(c.len());
        v_z += z;
        let e = tags.entry(c[0]).or_default();
        e.0 += 1;
        e.1 += c.len();
        e.2 += z;
        worst.push((z, String::from_utf8_lossy(k).into_owned()));
    }
    println!("{} columns, {n} points", cols.len());
    println!(
        "timestamps: {:.3} B/pt codec, {:.3} zstd",
        ts_b as f64 / n as f64,
        ts_z as f64 / n as f64
    );
    println!(
        "values:     {:.3} B/pt codec, {:.3} zstd",
        v_b as f64 / n as f64,
        v_z as f64 / n as f64
    );
    for (t, (c, b, z)) in tags {
        println!("  tag {t:#x}: {c} columns, {b} bytes, {z} zstd");
    }
    worst.sort();
    worst.reverse();
    for (z, k) in worst.iter().take(25) {
        println!("  {z:6} {k}");
    }
    let (t, v) = cols.values().next().unwrap();
    let d: Vec<i64> = t.windows(2).map(|w| (w[1] - w[0]) / 1_000_000).collect();
    println!("first deltas ms: {:?}", &d[..30]);
    let _ = v;
}
