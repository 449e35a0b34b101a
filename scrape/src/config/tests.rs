use super::*;

fn p(text: &str) -> Result<Config, ConfigError> {
    parse(text, Path::new("/etc/prom/prometheus.yml"))
}

#[test]
fn defaults_are_prometheus_defaults() {
    let c =
        p("scrape_configs:\n  - job_name: a\n    static_configs: [{targets: ['h:1']}]\n").unwrap();
    assert_eq!(c.global.scrape_interval, PromDuration(60_000));
    assert_eq!(c.global.scrape_timeout, PromDuration(10_000));
    assert_eq!(c.global.evaluation_interval, PromDuration(60_000));
    let s = &c.scrape_configs[0];
    assert_eq!(s.metrics_path, "/metrics");
    assert_eq!(s.scheme, "http");
    assert!(!s.honor_labels);
    assert!(s.honor_timestamps);
    assert_eq!(s.scrape_interval, PromDuration(60_000));
    assert_eq!(s.scrape_timeout, PromDuration(10_000));
    assert!(s.http.follow_redirects);
    // An empty file is an empty configuration.
    assert!(p("").unwrap().scrape_configs.is_empty());
}

#[test]
fn timeouts_follow_intervals() {
    let c = p("global: {scrape_interval: 5s}\nscrape_configs:\n  - job_name: a\n  - job_name: b\n    scrape_interval: 30s\n").unwrap();
    assert_eq!(c.global.scrape_timeout, PromDuration(5_000));
    assert_eq!(c.scrape_configs[0].scrape_timeout, PromDuration(5_000));
    assert_eq!(c.scrape_configs[1].scrape_timeout, PromDuration(5_000));
    let e =
        p("scrape_configs:\n  - job_name: a\n    scrape_interval: 5s\n    scrape_timeout: 6s\n")
            .unwrap_err();
    assert!(
        e.to_string().contains(
            "scrape timeout greater than scrape interval for scrape config with job name \"a\""
        ),
        "{e}"
    );
    let e = p("global: {scrape_interval: 5s, scrape_timeout: 6s}\n").unwrap_err();
    assert!(
        e.to_string()
            .contains("global scrape timeout greater than scrape interval"),
        "{e}"
    );
}

#[test]
fn unknown_keys_name_key_and_line() {
    let e = p("global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: a\n    scrape_intervall: 5s\n").unwrap_err();
    let m = e.to_string();
    assert!(m.contains("prometheus.yml"), "{m}");
    assert!(m.contains("unknown field `scrape_intervall`"), "{m}");
    assert!(m.contains("line 5"), "{m}");
    let e = p("globall: {}\n").unwrap_err().to_string();
    assert!(
        e.contains("unknown field `globall`") && e.contains("line 1"),
        "{e}"
    );
    let e = p("scrape_configs:\n  - job_name: k\n    kubernetes_sd_configs: [{role: pod}]\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("kubernetes_sd_configs is not supported by Strata"),
        "{e}"
    );
    let e = p("global: {scrape_interval: 1x}\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("not a valid duration string") && e.contains("line 1"),
        "{e}"
    );
}

#[test]
fn checks_prometheus_makes() {
    let e = p("scrape_configs:\n  - job_name: a\n  - job_name: a\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("found multiple scrape configs with job name \"a\""),
        "{e}"
    );
    let e = p("scrape_configs:\n  - job_name: ''\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("job_name is empty"), "{e}");
    let e =
        p("scrape_configs:\n  - job_name: a\n    basic_auth: {username: u}\n    bearer_token: t\n")
            .unwrap_err()
            .to_string();
    assert!(e.contains("at most one of basic_auth"), "{e}");
    let e = p("scrape_configs:\n  - job_name: a\n    scheme: ftp\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("invalid scheme"), "{e}");
    let e = p("scrape_configs:\n  - job_name: a\n    file_sd_configs: [{files: ['x.txt']}]\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("not valid for file discovery"), "{e}");
    let e = p("scrape_configs:\n  - job_name: a\n    relabel_configs: [{action: replace}]\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("requires 'target_label' value") && e.contains("line 3"),
        "{e}"
    );
}

#[test]
fn paths_resolve_against_the_file() {
    let c = p("rule_files: ['rules/*.yml', '/abs/r.yml']\nalerting:\n  alertmanagers:\n  - static_configs: [{targets: ['am:9093']}]\n    path_prefix: /am\n").unwrap();
    assert_eq!(c.rule_files, vec!["/etc/prom/rules/*.yml", "/abs/r.yml"]);
    let am = &c.alerting.alertmanagers[0];
    assert_eq!(am.path_prefix, "/am");
    assert_eq!(am.timeout, PromDuration(10_000));
    assert_eq!(am.scheme, "http");
    let c = p("remote_write: [{url: 'http://x'}]\nglobal: {external_labels: {dc: eu}}\n").unwrap();
    assert_eq!(c.global.external_labels.get("dc"), Some("eu"));
}
