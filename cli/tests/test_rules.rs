//! `strata test rules` against `promtool test rules` on the same files: the same exit
//! code and byte-for-byte the same output (stdout and stderr), for passing and failing
//! test files (tests/rules/). The rule files also pass `promtool check rules`.
//!
//! Needs `promtool` (`../shared/peers/install.sh`). Without it the test checks the exit
//! codes recorded from promtool 2.42 and says the comparison was skipped, unless
//! `STRATA_REQUIRE_PEERS=1`, where its absence fails it.

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn have_promtool() -> bool {
    let ok = Command::new("promtool")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("STRATA_REQUIRE_PEERS").as_deref() != Ok("1"),
            "promtool not found and STRATA_REQUIRE_PEERS=1"
        );
        eprintln!("skipped: promtool is not installed; comparing exit codes only");
    }
    ok
}

fn run(bin: &str, args: &[&str], dir: &Path) -> Output {
    Command::new(bin)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("runs")
}

/// (file, passes) as promtool 2.42 judged them.
const CASES: &[(&str, bool)] = &[
    ("pass.yml", true),
    ("pass_series.yml", true),
    ("fail_missing.yml", false),
    ("fail_values.yml", false),
    ("templates_fail.yml", false),
];

#[test]
fn strata_and_promtool_agree() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rules");
    let strata = env!("CARGO_BIN_EXE_strata");
    let promtool = have_promtool();
    if promtool {
        let check = run(
            "promtool",
            &["check", "rules", "rules.yml", "templates.yml"],
            &dir,
        );
        assert!(
            check.status.success(),
            "{}",
            String::from_utf8_lossy(&check.stdout)
        );
    }
    for (file, passes) in CASES {
        let ours = run(strata, &["test", "rules", file], &dir);
        assert_eq!(
            ours.status.code(),
            Some(if *passes { 0 } else { 1 }),
            "{file}: {}",
            String::from_utf8_lossy(&ours.stderr)
        );
        if promtool {
            let theirs = run("promtool", &["test", "rules", file], &dir);
            assert_eq!(ours.status.code(), theirs.status.code(), "{file}");
            assert_eq!(
                String::from_utf8_lossy(&ours.stdout),
                String::from_utf8_lossy(&theirs.stdout),
                "{file}: stdout"
            );
            assert_eq!(
                String::from_utf8_lossy(&ours.stderr),
                String::from_utf8_lossy(&theirs.stderr),
                "{file}: stderr"
            );
        }
    }
    // Several files at once: one failure fails the run.
    let ours = run(
        strata,
        &["test", "rules", "pass.yml", "fail_missing.yml"],
        &dir,
    );
    assert_eq!(ours.status.code(), Some(1));
    if promtool {
        let theirs = run(
            "promtool",
            &["test", "rules", "pass.yml", "fail_missing.yml"],
            &dir,
        );
        assert_eq!(
            String::from_utf8_lossy(&ours.stdout),
            String::from_utf8_lossy(&theirs.stdout)
        );
    }
}

#[test]
fn serve_refuses_a_bad_prometheus_yml() {
    let dir = tempfile::tempdir().unwrap();
    let yml = dir.path().join("prometheus.yml");
    std::fs::write(
        &yml,
        "scrape_configs:\n  - job_name: a\n    metrics_pathh: /m\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["serve", "--data-dir"])
        .arg(dir.path().join("d"))
        .arg("--config.file")
        .arg(&yml)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown field `metrics_pathh`") && err.contains("line 3"),
        "{err}"
    );
}

/// SIGHUP reloads `prometheus.yml`: a job added to the file appears in
/// `/api/v1/targets` (its target need not exist: it is listed, down).
#[cfg(unix)]
#[test]
fn sighup_reloads_the_prometheus_file() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let yml = dir.path().join("prometheus.yml");
    std::fs::write(&yml, "global: {scrape_interval: 1s}\n").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--fsync",
            "never",
            "--data-dir",
        ])
        .arg(dir.path().join("d"))
        .arg("--config.file")
        .arg(&yml)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    err.read_line(&mut line).unwrap();
    let base = line
        .split("listening on ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .expect("address line")
        .to_owned();
    let targets = |base: &str| -> usize {
        ureq::get(&format!("{base}/api/v1/targets"))
            .call()
            .ok()
            .and_then(|r| r.into_string().ok())
            .and_then(|b| serde_json::from_str::<serde_json::Value>(&b).ok())
            .and_then(|v| v["data"]["activeTargets"].as_array().map(Vec::len))
            .unwrap_or(usize::MAX)
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while targets(&base) != 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "server never answered"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::fs::write(
        &yml,
        "global: {scrape_interval: 1s}\nscrape_configs:\n  - job_name: later\n    static_configs: [{targets: ['127.0.0.1:9']}]\n",
    )
    .unwrap();
    let hup = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    while targets(&base) != 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "SIGHUP did not reload"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}
