//! The `influxdb` Python client (PyPI) writing and querying, as a user's script would.
//! Skips with a printed reason when python3 or the client is missing, unless
//! `STRATA_REQUIRE_PY_CLIENT=1` (set by `.ci/run`), where it fails instead.

use crate::{Srv, test_config};
use std::process::Command;
use strata_engine::Options;
use strata_server::Config;

const SCRIPT: &str = r#"
import sys
from influxdb import InfluxDBClient

port = int(sys.argv[1])
for gzip in (False, True):
    c = InfluxDBClient(host="127.0.0.1", port=port, username="admin", password="tok",
                       database="pydb", gzip=gzip)
    assert c.ping().startswith("1.8"), c.ping()
    c.create_database("pydb")
    dbs = c.get_list_database()
    assert len(dbs) >= 1 and "name" in dbs[0], dbs
    c.get_list_retention_policies("pydb")
    m = "weather_gz" if gzip else "weather"
    points = [
        {"measurement": m, "tags": {"city": city}, "time": 1700000000000 + i * 1000,
         "fields": {"temp": 10.0 + i, "ok": True, "n": i}}
        for i in range(100) for city in ("paris", "oslo")
    ]
    assert c.write_points(points, time_precision="ms", batch_size=64)
    rs = c.query("SELECT count(temp) FROM %s GROUP BY city" % m)
    counts = {tags["city"]: next(iter(points))["count"] for (_, tags), points in rs.items()}
    assert counts == {"paris": 100, "oslo": 100}, counts
    rs = c.query("SELECT temp, n FROM %s WHERE city = 'oslo' ORDER BY time DESC LIMIT 1" % m, epoch="ms")
    last = list(rs.get_points())[0]
    assert last["time"] == 1700000099000 and last["temp"] == 109.0 and last["n"] == 99, last
    c.write(["%s,city=rome temp=30 1700000000" % m], params={"db": "pydb", "precision": "s"}, protocol="line")
    assert list(c.query("SELECT temp FROM %s WHERE city = 'rome'" % m).get_points())[0]["temp"] == 30.0
    try:
        c.query("SELEC nonsense")
        raise SystemExit("a bad query must raise")
    except Exception as e:
        assert "error parsing query" in str(e) or "expected" in str(e), e
print("python influxdb client: ok")
"#;

fn have_client() -> Result<(), String> {
    let out = Command::new("python3")
        .args(["-c", "import influxdb"])
        .output()
        .map_err(|e| format!("python3 could not run: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "the influxdb Python client is not installed (python3 -m pip install influxdb): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

#[test]
fn python_influxdb_client_writes_and_queries() {
    if let Err(why) = have_client() {
        if std::env::var("STRATA_REQUIRE_PY_CLIENT").as_deref() == Ok("1") {
            panic!("STRATA_REQUIRE_PY_CLIENT=1 but {why}");
        }
        println!("skipped: {why}");
        return;
    }
    let config = Config {
        auth_token: Some("tok".into()),
        ..test_config()
    };
    let s = Srv::with(config, Options::default());
    let port = s.base.rsplit(':').next().unwrap().to_owned();
    let out = Command::new("python3")
        .args(["-c", SCRIPT, &port])
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "python client failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("python influxdb client: ok"), "{stdout}");
}
