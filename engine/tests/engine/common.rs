//! Helpers shared by the integration tests.

use std::sync::Arc;
use strata_engine::model::{ColumnData, ColumnValues, SeriesKey, TimeRange};
use strata_engine::{Db, ManualClock, Options};

/// Options with a clock fixed at 2016-01-01T00:00:00Z.
pub fn options() -> Options {
    Options {
        clock: Arc::new(ManualClock::new(1_451_606_400_000_000_000)),
        ..Options::default()
    }
}

/// Reads a column that must exist.
pub fn read(db: &Db, key: &SeriesKey, field: &str) -> ColumnData {
    db.read_column(key, field, TimeRange::ALL)
        .expect("read succeeds")
        .unwrap_or_else(|| panic!("column {key} {field} exists"))
}

/// Integer values of a column.
pub fn ints(c: &ColumnData) -> &[i64] {
    match &c.values {
        ColumnValues::Integer(v) => v,
        other => panic!("expected integers, got {other:?}"),
    }
}

/// Float values of a column.
pub fn floats(c: &ColumnData) -> &[f64] {
    match &c.values {
        ColumnValues::Float(v) => v,
        other => panic!("expected floats, got {other:?}"),
    }
}

/// `host=h<i>` series of measurement `m`.
pub fn host(m: &str, i: usize) -> SeriesKey {
    SeriesKey::new(m, [("host", format!("h{i}"))]).unwrap()
}

/// A line-protocol batch: `lines` lines over `hosts` hosts, fields f0..f{fields}, integer
/// values derived from (line, field), timestamps 1 s apart per host starting at `t0`.
pub fn lp_batch(first: usize, lines: usize, hosts: usize, fields: usize, t0: i64) -> String {
    let mut s = String::new();
    for l in first..first + lines {
        let h = l % hosts;
        let t = t0 + (l / hosts) as i64 * 1_000_000_000;
        s.push_str(&format!("m,host=h{h} "));
        for f in 0..fields {
            if f > 0 {
                s.push(',');
            }
            s.push_str(&format!("f{f}={}i", value(l, f)));
        }
        s.push_str(&format!(" {t}\n"));
    }
    s
}

/// The value `lp_batch` writes for line `l`, field `f`.
pub fn value(l: usize, f: usize) -> i64 {
    ((l * 31 + f * 7) % 1000) as i64 - 500
}

/// Copies a closed data directory (without its lock file).
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else if e.file_name() != strata_engine::lock::LOCK_FILE {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}
