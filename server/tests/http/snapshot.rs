//! Prometheus' `POST /api/v1/admin/tsdb/snapshot` (and `/api/v1/admin/snapshot`): a
//! snapshot of the live directory under `snapshots/<name>`, which, copied into a new data
//! directory (a restore), answers as the source; `skip_head` leaves the WAL out.

use crate::{Srv, post, test_config};
use std::path::Path;
use strata_engine::Options;

fn admin() -> Srv {
    let mut c = test_config();
    c.enable_admin_api = true;
    Srv::with(c, Options::default())
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// Takes a snapshot through `path`; returns its directory.
fn take(s: &Srv, path: &str) -> std::path::PathBuf {
    let r = post(&s.url(path), &[], b"");
    assert_eq!(r.status, 200, "{}", r.body);
    let name = r.json()["data"]["name"].as_str().unwrap().to_owned();
    let (stamp, random) = name.split_once('-').unwrap();
    assert!(stamp.len() == 16 && stamp.ends_with('Z'), "{name}");
    assert!(
        random.len() == 16 && random.bytes().all(|b| b.is_ascii_hexdigit()),
        "{name}"
    );
    assert_eq!(
        r.body,
        format!(r#"{{"status":"success","data":{{"name":"{name}"}}}}"#)
    );
    s.path().join("snapshots").join(name)
}

#[test]
fn a_snapshot_restored_into_a_new_directory_answers_as_the_source() {
    let s = admin();
    let mut lp = String::new();
    for i in 0..500i64 {
        lp.push_str(&format!(
            "cpu,host=h{} usage={i} {}\n",
            i % 7,
            1_600_000_000_000_000_000 + i * 1_000_000_000
        ));
    }
    s.write_ok(&lp);
    let queries = [
        "SELECT count(usage), sum(usage) FROM cpu GROUP BY host",
        "SHOW SERIES",
    ];
    let want: Vec<_> = queries.iter().map(|q| s.query(q)).collect();
    let full = take(&s, "/api/v1/admin/tsdb/snapshot");
    // Writes after the snapshot are not in it.
    s.write_ok("cpu,host=late usage=1 1600000000000000000\n");
    let head_less = take(&s, "/api/v1/admin/snapshot?skip_head=true");

    let r = post(
        &s.url("/api/v1/admin/tsdb/snapshot?skip_head=maybe"),
        &[],
        b"",
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["error"],
        r#"invalid parameter "skip_head": unable to parse boolean: strconv.ParseBool: parsing "maybe": invalid syntax"#
    );

    let restored = tempfile::tempdir().unwrap();
    copy_tree(&full, restored.path());
    let back = Srv::in_dir(restored, test_config(), Options::default());
    for (q, want) in queries.iter().zip(&want) {
        assert_eq!(&back.query(q), want, "{q}");
    }
    // Everything was still in the WAL (the hot tier): without it, nothing.
    let empty = tempfile::tempdir().unwrap();
    copy_tree(&head_less, empty.path());
    let none = Srv::in_dir(empty, test_config(), Options::default());
    assert!(none.query("SHOW SERIES")["results"][0]["series"].is_null());
}
