//! `promgen`: node_exporter-shaped request bodies for the Prometheus ingest comparison
//! (`benches/compare/prom_ingest.py`).
//!
//! Reads a line-protocol file of Prometheus samples (measurement = metric name, tags =
//! labels, one float field `value`, as `../shared/data/node_exporter_15m.lp.zst`) and
//! writes the same samples three ways, each as a file of framed request bodies
//! (`u32 LE body length | u32 LE samples in the body | u32 LE shard | body`, repeated; shard
//! `u32::MAX` means any client may send the body):
//!
//! - `lp.frames`: line protocol, `--lp-lines` lines a body (the peers' `lp_load.py` batch);
//! - `rw.frames`: Prometheus remote write 1.0 (protobuf `WriteRequest`, snappy block
//!   format), `--rw-samples` samples a request, one sample per `TimeSeries` with its full
//!   label set, labels sorted by name, as a Prometheus server sends them: series are
//!   spread over `--rw-shards` shards by a hash of their labels, and each shard's requests
//!   go out in time order over one connection (Prometheus' queue manager does the same,
//!   which keeps each series in order for receivers that refuse out-of-order samples);
//! - `text.frames`: the text exposition format, one page per host and scrape (every metric
//!   preceded by its `# HELP` and `# TYPE` lines, samples with millisecond timestamps),
//!   whole pages gathered into bodies of about `--text-samples` samples;
//!
//! plus `data.lp` (every sample, for `strata import`) and `meta.json` (counts).
//!
//! With `--hosts 0` the file is used as it is (one real host). With `--hosts N` it becomes
//! N synthetic hosts: every series gets `instance="10.0.X.Y:9100"` and `job="node"`, and
//! host `h` scrapes `h × 7 ms mod 1 s` after the real scrape (values unchanged).
//! `--minutes M` keeps the first M minutes of the file.
//!
//! `cargo run --release -p strata-benches --bin promgen -- --input FILE --out-dir DIR [--hosts N] [--minutes M]`

use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use strata_engine::ingest::line_protocol::{LineSplitter, ParsedLine, ParsedValue, parse_line};
use strata_engine::model::Precision;

struct Args {
    input: PathBuf,
    out_dir: PathBuf,
    hosts: usize,
    minutes: Option<u64>,
    lp_lines: usize,
    rw_samples: usize,
    rw_shards: usize,
    text_samples: usize,
}

fn usage() -> ! {
    eprintln!(
        "usage: promgen --input FILE.lp[.zst] --out-dir DIR [--hosts N] [--minutes M] \
         [--lp-lines 5000] [--rw-samples 2000] [--rw-shards 2] [--text-samples 5000]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        input: PathBuf::new(),
        out_dir: PathBuf::new(),
        hosts: 0,
        minutes: None,
        lp_lines: 5000,
        rw_samples: 2000,
        rw_shards: 2,
        text_samples: 5000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let Some(v) = it.next() else { usage() };
        let num = || v.parse::<usize>().unwrap_or_else(|_| usage());
        match flag.as_str() {
            "--input" => a.input = PathBuf::from(&v),
            "--out-dir" => a.out_dir = PathBuf::from(&v),
            "--hosts" => a.hosts = num(),
            "--minutes" => a.minutes = Some(num() as u64),
            "--lp-lines" => a.lp_lines = num().max(1),
            "--rw-samples" => a.rw_samples = num().max(1),
            "--rw-shards" => a.rw_shards = num().max(1),
            "--text-samples" => a.text_samples = num().max(1),
            _ => usage(),
        }
    }
    if a.input.as_os_str().is_empty() || a.out_dir.as_os_str().is_empty() {
        usage()
    }
    a
}

/// A series: metric name and labels sorted by name (without `__name__`).
struct Series {
    name: String,
    labels: Vec<(String, String)>,
}

/// One scrape: its timestamp (ns) and its samples (series index, value) in file order.
struct Scrape {
    ts: i64,
    samples: Vec<(u32, f64)>,
}

fn read_input(args: &Args) -> std::io::Result<(Vec<Series>, Vec<Scrape>)> {
    let raw = std::fs::read(&args.input)?;
    let text = if args.input.extension().is_some_and(|e| e == "zst") {
        zstd::stream::decode_all(&raw[..])?
    } else {
        raw
    };
    let mut series: Vec<Series> = Vec::new();
    let mut ids: HashMap<Vec<u8>, u32> = HashMap::new();
    let mut scrapes: Vec<Scrape> = Vec::new();
    let mut line = ParsedLine::default();
    let mut first_ts = None;
    for (no, l) in LineSplitter::new(&text) {
        if let Err(e) = parse_line(l, Precision::Nanosecond, &mut line) {
            eprintln!("promgen: skipping line {no}: {e}");
            continue;
        }
        let ts = line.timestamp.unwrap_or(0);
        let first = *first_ts.get_or_insert(ts);
        if let Some(m) = args.minutes
            && ts >= first + (m as i64) * 60_000_000_000
        {
            continue;
        }
        for (field, value) in &line.fields {
            let v = match value {
                ParsedValue::Float(v) => *v,
                ParsedValue::Integer(v) => *v as f64,
                ParsedValue::Unsigned(v) => *v as f64,
                ParsedValue::Boolean(b) => f64::from(u8::from(*b)),
                ParsedValue::String(_) => continue,
            };
            let name = if field == "value" {
                line.measurement.to_string()
            } else {
                format!("{}_{}", line.measurement, field)
            };
            let mut labels: Vec<(String, String)> = line
                .tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            labels.sort();
            let mut key = name.clone().into_bytes();
            for (k, v) in &labels {
                key.extend_from_slice(format!("\0{k}\0{v}").as_bytes());
            }
            let sid = *ids.entry(key).or_insert_with(|| {
                series.push(Series { name, labels });
                (series.len() - 1) as u32
            });
            match scrapes.last_mut() {
                Some(s) if s.ts == ts => s.samples.push((sid, v)),
                _ => scrapes.push(Scrape {
                    ts,
                    samples: vec![(sid, v)],
                }),
            }
        }
    }
    Ok((series, scrapes))
}

/// The series as host `h` exposes it (`hosts == 0`: the real one).
fn host_labels(s: &Series, hosts: usize, h: usize) -> Vec<(String, String)> {
    let mut labels = s.labels.clone();
    if hosts > 0 {
        labels.push((
            "instance".to_owned(),
            format!("10.0.{}.{}:9100", h / 256, h % 256),
        ));
        labels.push(("job".to_owned(), "node".to_owned()));
        labels.sort();
    }
    labels
}

fn metric_type(name: &str) -> &'static str {
    if name.ends_with("_total") {
        "counter"
    } else {
        "gauge"
    }
}

/// Frames written to one file.
struct Frames {
    out: BufWriter<std::fs::File>,
    bodies: u64,
    bytes: u64,
}

impl Frames {
    fn create(path: PathBuf) -> std::io::Result<Frames> {
        Ok(Frames {
            out: BufWriter::new(std::fs::File::create(path)?),
            bodies: 0,
            bytes: 0,
        })
    }

    fn put(&mut self, body: &[u8], samples: usize, shard: u32) -> std::io::Result<()> {
        let len = u32::try_from(body.len()).map_err(std::io::Error::other)?;
        self.out.write_all(&len.to_le_bytes())?;
        self.out.write_all(&(samples as u32).to_le_bytes())?;
        self.out.write_all(&shard.to_le_bytes())?;
        self.out.write_all(body)?;
        self.bodies += 1;
        self.bytes += body.len() as u64;
        Ok(())
    }
}

/// The shard field of a body any client may send.
const ANY: u32 = u32::MAX;

/// The shard of a series, from its labels (FNV-1a).
fn shard_of(labels: &[u8], shards: usize) -> usize {
    let h = labels.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (h % shards as u64) as usize
}

fn put_varint(dst: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        dst.push((v as u8) | 0x80);
        v >>= 7;
    }
    dst.push(v as u8);
}

fn put_bytes_field(dst: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_varint(dst, u64::from(field << 3 | 2));
    put_varint(dst, bytes.len() as u64);
    dst.extend_from_slice(bytes);
}

/// The protobuf `Label` entries of a series (`__name__` first: it sorts before the others'
/// lowercase names, as Prometheus sorts labels).
fn rw_labels(name: &str, labels: &[(String, String)]) -> Vec<u8> {
    let mut all: Vec<(&str, &str)> = vec![("__name__", name)];
    all.extend(labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    all.sort();
    let mut out = Vec::new();
    let mut label = Vec::new();
    for (k, v) in all {
        label.clear();
        put_bytes_field(&mut label, 1, k.as_bytes());
        put_bytes_field(&mut label, 2, v.as_bytes());
        put_bytes_field(&mut out, 1, &label);
    }
    out
}

fn escape_label_value(v: &str, dst: &mut Vec<u8>) {
    for b in v.bytes() {
        match b {
            b'\\' => dst.extend_from_slice(b"\\\\"),
            b'"' => dst.extend_from_slice(b"\\\""),
            b'\n' => dst.extend_from_slice(b"\\n"),
            _ => dst.push(b),
        }
    }
}

fn text_value(v: f64, dst: &mut Vec<u8>) {
    if v.is_nan() {
        dst.extend_from_slice(b"NaN");
    } else if v.is_infinite() {
        dst.extend_from_slice(if v > 0.0 { b"+Inf" } else { b"-Inf" });
    } else {
        dst.extend_from_slice(ryu::Buffer::new().format_finite(v).as_bytes());
    }
}

fn lp_line(dst: &mut Vec<u8>, name: &str, labels: &[(String, String)], v: f64, ts: i64) {
    use strata_engine::model::FieldValueRef;
    let ok = strata_engine::ingest::line_protocol::write_line(
        dst,
        name,
        labels.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        [("value", FieldValueRef::Float(v))],
        ts,
    );
    if let Err(e) = ok {
        eprintln!("promgen: a sample line protocol cannot express ({name}): {e}");
    }
}

fn main() -> std::io::Result<()> {
    let args = parse_args();
    let (series, scrapes) = read_input(&args)?;
    std::fs::create_dir_all(&args.out_dir)?;
    let hosts = args.hosts;
    let n_hosts = hosts.max(1);
    // Per host and series: the label set, its protobuf labels, its text-format prefix.
    let mut labels = Vec::with_capacity(n_hosts);
    let mut rw = Vec::with_capacity(n_hosts);
    let mut text = Vec::with_capacity(n_hosts);
    for h in 0..n_hosts {
        let mut l = Vec::with_capacity(series.len());
        let mut r = Vec::with_capacity(series.len());
        let mut t = Vec::with_capacity(series.len());
        for s in &series {
            let hl = host_labels(s, hosts, h);
            r.push(rw_labels(&s.name, &hl));
            let mut p = s.name.clone().into_bytes();
            if !hl.is_empty() {
                p.push(b'{');
                for (i, (k, v)) in hl.iter().enumerate() {
                    if i > 0 {
                        p.push(b',');
                    }
                    p.extend_from_slice(k.as_bytes());
                    p.extend_from_slice(b"=\"");
                    escape_label_value(v, &mut p);
                    p.push(b'"');
                }
                p.push(b'}');
            }
            t.push(p);
            l.push(hl);
        }
        labels.push(l);
        rw.push(r);
        text.push(t);
    }
    let dir = &args.out_dir;
    let mut data = BufWriter::new(std::fs::File::create(dir.join("data.lp"))?);
    let mut lp = Frames::create(dir.join("lp.frames"))?;
    let mut rwf = Frames::create(dir.join("rw.frames"))?;
    let mut txt = Frames::create(dir.join("text.frames"))?;
    let (mut lp_body, mut lp_n) = (Vec::new(), 0usize);
    let shards = args.rw_shards;
    let mut rw_bodies: Vec<(Vec<u8>, usize)> = vec![(Vec::new(), 0); shards];
    let (mut tx_body, mut tx_n) = (Vec::new(), 0usize);
    let mut snappy = snap::raw::Encoder::new();
    let mut flush_rw = |body: &mut Vec<u8>, n: &mut usize, f: &mut Frames, shard: usize| {
        if *n > 0 {
            let c = snappy.compress_vec(body).map_err(std::io::Error::other)?;
            f.put(&c, *n, shard as u32)?;
            body.clear();
            *n = 0;
        }
        Ok::<(), std::io::Error>(())
    };
    let mut samples = 0u64;
    let mut ts_sample = Vec::new();
    let mut line = Vec::new();
    for scrape in &scrapes {
        for h in 0..n_hosts {
            let ts = scrape.ts + (h as i64 * 7 % 1000) * 1_000_000 * i64::from(hosts > 0);
            let ms = ts.div_euclid(1_000_000);
            let mut last_family: Option<&str> = None;
            for &(sid, v) in &scrape.samples {
                let s = &series[sid as usize];
                let hl = &labels[h][sid as usize];
                samples += 1;
                // line protocol
                line.clear();
                lp_line(&mut line, &s.name, hl, v, ts);
                data.write_all(&line)?;
                lp_body.extend_from_slice(&line);
                lp_n += 1;
                if lp_n == args.lp_lines {
                    lp.put(&lp_body, lp_n, ANY)?;
                    lp_body.clear();
                    lp_n = 0;
                }
                // remote write: one TimeSeries per sample
                ts_sample.clear();
                ts_sample.extend_from_slice(&rw[h][sid as usize]);
                let mut sample = vec![0x09];
                sample.extend_from_slice(&v.to_bits().to_le_bytes());
                sample.push(0x10);
                put_varint(&mut sample, ms as u64);
                put_bytes_field(&mut ts_sample, 2, &sample);
                let shard = shard_of(&rw[h][sid as usize], shards);
                let (body, n) = &mut rw_bodies[shard];
                put_bytes_field(body, 1, &ts_sample);
                *n += 1;
                if *n == args.rw_samples {
                    flush_rw(body, n, &mut rwf, shard)?;
                }
                // text format
                if last_family != Some(s.name.as_str()) {
                    let n = &s.name;
                    tx_body.extend_from_slice(
                        format!(
                            "# HELP {n} {n} as node_exporter 1.5 exposes it.\n# TYPE {n} {}\n",
                            metric_type(n)
                        )
                        .as_bytes(),
                    );
                    last_family = Some(s.name.as_str());
                }
                tx_body.extend_from_slice(&text[h][sid as usize]);
                tx_body.push(b' ');
                text_value(v, &mut tx_body);
                tx_body.push(b' ');
                tx_body.extend_from_slice(itoa::Buffer::new().format(ms).as_bytes());
                tx_body.push(b'\n');
                tx_n += 1;
            }
            // text bodies end at page boundaries
            if tx_n >= args.text_samples {
                txt.put(&tx_body, tx_n, ANY)?;
                tx_body.clear();
                tx_n = 0;
            }
        }
    }
    if lp_n > 0 {
        lp.put(&lp_body, lp_n, ANY)?;
    }
    for (shard, (body, n)) in rw_bodies.iter_mut().enumerate() {
        flush_rw(body, n, &mut rwf, shard)?;
    }
    if tx_n > 0 {
        txt.put(&tx_body, tx_n, ANY)?;
    }
    for f in [&mut lp, &mut rwf, &mut txt] {
        f.out.flush()?;
    }
    data.flush()?;
    let meta = format!(
        "{{\"input\": {:?}, \"hosts\": {hosts}, \"minutes\": {}, \"scrapes\": {}, \"series\": {}, \"samples\": {samples}, \
         \"lp_bodies\": {}, \"lp_bytes\": {}, \"rw_bodies\": {}, \"rw_bytes\": {}, \"text_bodies\": {}, \"text_bytes\": {}, \
         \"first_ts_ns\": {}, \"last_ts_ns\": {}}}\n",
        args.input.display().to_string(),
        args.minutes.map_or("null".to_owned(), |m| m.to_string()),
        scrapes.len(),
        series.len() * n_hosts,
        lp.bodies,
        lp.bytes,
        rwf.bodies,
        rwf.bytes,
        txt.bodies,
        txt.bytes,
        scrapes.first().map_or(0, |s| s.ts),
        scrapes
            .last()
            .map_or(0, |s| s.ts + 999_000_000 * i64::from(hosts > 0)),
    );
    std::fs::write(dir.join("meta.json"), &meta)?;
    print!("{meta}");
    Ok(())
}
