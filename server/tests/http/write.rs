//! `/write`: line protocol, precision, gzip, partial writes.

use crate::{Srv, get, gzip, post, rows};

#[test]
fn write_then_read_back_with_precision() {
    let s = Srv::start();
    s.write_ok(
        "cpu,host=a usage=0.5 1700000000000000000\ncpu,host=b usage=1.5 1700000000000000000\n",
    );
    let r = post(
        &s.url("/write?db=x&rp=autogen&precision=s"),
        &[],
        b"cpu,host=a usage=0.75 1700000010\n",
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let v = s.query("SELECT usage FROM cpu WHERE host = 'a'");
    let got = rows(&v, 0);
    assert_eq!(got.len(), 2, "{v}");
    assert_eq!(got[1][0], "2023-11-14T22:13:30Z");
    assert_eq!(got[1][1], 0.75);
    let r = post(&s.url("/write?precision=fortnight"), &[], b"cpu v=1\n");
    assert_eq!(r.status, 400);
    assert!(r.error().contains("invalid precision"), "{}", r.body);
}

#[test]
fn partial_write_stores_good_lines_and_names_bad_ones() {
    let s = Srv::start();
    s.write_ok("m,host=a f=1 1000\n");
    let body = "m,host=a f=2 2000\n\
                m,host=a f=\"text\" 3000\n\
                this is not line protocol\n\
                m,host=a f=4 4000\n";
    let r = post(&s.url("/write?db=x"), &[], body.as_bytes());
    assert_eq!(r.status, 400, "{}", r.body);
    let e = r.error();
    assert!(e.starts_with("partial write: "), "{e}");
    assert!(
        e.contains("line 2") && e.contains("field type conflict"),
        "{e}"
    );
    assert!(e.contains("line 3"), "{e}");
    assert!(e.contains("dropped=2"), "{e}");
    let v = s.query("SELECT count(f) FROM m");
    assert_eq!(rows(&v, 0)[0][1], 3, "{v}");
}

#[test]
fn invalid_utf8_is_refused_per_line() {
    let s = Srv::start();
    let mut body = b"m,host=a f=1 1000\n".to_vec();
    body.extend_from_slice(b"m,host=\xff\xfe f=2 2000\n");
    body.extend_from_slice(b"m,host=a s=\"\xc3\x28\" 3000\n");
    body.extend_from_slice(b"m,host=a f=3 4000\n");
    let r = post(&s.url("/write"), &[], &body);
    assert_eq!(r.status, 400, "{}", r.body);
    let e = r.error();
    assert!(e.contains("line 2") && e.contains("line 3"), "{e}");
    assert!(e.to_lowercase().contains("utf-8"), "{e}");
    let v = s.query("SELECT count(f) FROM m");
    assert_eq!(rows(&v, 0)[0][1], 2, "{v}");
    assert_eq!(get(&s.url("/ping")).status, 204, "still serving");
}

#[test]
fn telegraf_shaped_gzip_post() {
    let s = Srv::start();
    // What Telegraf's influxdb output sends: gzip content encoding, ns timestamps,
    // several measurements and field types, db in the URL, its own user agent.
    let mut lp = String::new();
    for i in 0..500 {
        let t = 1_700_000_000_000_000_000i64 + i * 10_000_000_000;
        lp.push_str(&format!(
            "cpu,cpu=cpu-total,host=web01 usage_user={}.5,usage_system=1.25,usage_idle=90 {t}\n\
             mem,host=web01 used=123456{i}i,available_percent=42.5,swap_free=0u {t}\n\
             system,host=web01 load1=0.{i},uptime={i}i,uptime_format=\"1 day,  2:03\" {t}\n",
            i % 100
        ));
    }
    let body = gzip(lp.as_bytes());
    let r = post(
        &s.url("/write?db=telegraf"),
        &[
            ("Content-Encoding", "gzip"),
            ("Content-Type", "text/plain; charset=utf-8"),
            ("User-Agent", "Telegraf/1.30.0 Go/1.22.1"),
        ],
        &body,
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let v = s.query("SELECT count(usage_user) FROM cpu; SELECT count(used) FROM mem; SELECT last(uptime_format) FROM system");
    assert_eq!(rows(&v, 0)[0][1], 500, "{v}");
    assert_eq!(rows(&v, 1)[0][1], 500, "{v}");
    assert_eq!(rows(&v, 2)[0][1], "1 day,  2:03", "{v}");
    let r = post(
        &s.url("/write"),
        &[("Content-Encoding", "gzip")],
        b"not gzip at all",
    );
    assert_eq!(r.status, 400);
    assert!(r.error().contains("gzip"), "{}", r.body);
    let r = post(&s.url("/write"), &[("Content-Encoding", "br")], b"x");
    assert_eq!(r.status, 415, "{}", r.body);
}

#[test]
fn acknowledged_writes_survive_a_restart() {
    let s = Srv::start();
    for i in 0..20 {
        s.write_ok(&format!("ack,batch=b{i} v={i} {}\n", 1_000 + i));
    }
    let dir = s.stop();
    let s = Srv::in_dir(dir, crate::test_config(), strata_engine::Options::default());
    let v = s.query("SELECT count(v) FROM ack");
    assert_eq!(rows(&v, 0)[0][1], 20, "{v}");
}
