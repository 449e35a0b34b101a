//! Targets: discovered label sets turned into scrape targets by Prometheus' rules
//! (`PopulateLabels`): job, scheme, path, interval, timeout and `__param_*` defaults,
//! then `relabel_configs`, then the default port for the scheme, the `instance` label,
//! and `__meta_*` labels removed.

use crate::config::ScrapeConfig;
use crate::discovery::TargetGroup;
use crate::duration::PromDuration;
use crate::relabel;
use strata_query::promql::Labels;

/// A target to scrape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Labels after relabelling, `__`-prefixed ones included (`__address__`, …).
    pub labels: Labels,
    /// Labels before relabelling (the API's `discoveredLabels`).
    pub discovered: Labels,
    /// The URL scraped.
    pub url: String,
    /// How often.
    pub interval: PromDuration,
    /// Per scrape.
    pub timeout: PromDuration,
}

/// A discovered label set that relabelling dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedTarget {
    /// Labels before relabelling.
    pub discovered: Labels,
}

impl Target {
    /// The labels written on the target's samples: those without a `__` prefix.
    pub fn public_labels(&self) -> Labels {
        Labels(
            self.labels
                .0
                .iter()
                .filter(|(k, _)| !k.starts_with("__"))
                .cloned()
                .collect(),
        )
    }

    /// Prometheus' target hash: FNV-1a over the labels' xxhash (as `%016d`) and the URL.
    pub fn hash(&self) -> u64 {
        let mut h = Fnv64a::new();
        h.write(format!("{:016}", labels_hash(&self.labels)).as_bytes());
        h.write(self.url.as_bytes());
        h.0
    }

    /// Delay from `now_ns` until this target's first scrape: Prometheus' offset, which
    /// spreads targets over the interval by their hash and keeps each one at a fixed
    /// phase of it.
    pub fn offset_ns(&self, now_ns: i64, jitter_seed: u64) -> i64 {
        let interval = self.interval.ms().max(1).saturating_mul(1_000_000);
        let base = interval - now_ns.rem_euclid(interval);
        let offset = ((self.hash() ^ jitter_seed) % interval as u64) as i64;
        let mut next = base + offset;
        if next > interval {
            next -= interval;
        }
        next
    }
}

/// Prometheus' `labels.Hash()`: xxhash64 of `name 0xff value 0xff …`.
pub fn labels_hash(l: &Labels) -> u64 {
    let mut b = Vec::new();
    for (k, v) in &l.0 {
        b.extend_from_slice(k.as_bytes());
        b.push(0xff);
        b.extend_from_slice(v.as_bytes());
        b.push(0xff);
    }
    xxhash_rust::xxh64::xxh64(&b, 0)
}

/// 64-bit FNV-1a.
pub struct Fnv64a(pub u64);

impl Fnv64a {
    /// The offset basis.
    pub fn new() -> Fnv64a {
        Fnv64a(0xcbf2_9ce4_8422_2325)
    }

    /// Adds bytes.
    pub fn write(&mut self, b: &[u8]) {
        for &x in b {
            self.0 ^= u64::from(x);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

impl Default for Fnv64a {
    fn default() -> Self {
        Fnv64a::new()
    }
}

/// Prometheus' jitter seed: FNV-1a of the host name and the external labels.
pub fn jitter_seed(hostname: &str, external: &Labels) -> u64 {
    let mut h = Fnv64a::new();
    h.write(hostname.as_bytes());
    h.write(external.to_string().as_bytes());
    h.0
}

/// The targets of a job's groups: active ones and dropped ones, or an error per bad
/// label set (logged by the caller).
pub fn targets_from_groups(
    cfg: &ScrapeConfig,
    groups: &[TargetGroup],
) -> (Vec<Target>, Vec<DroppedTarget>, Vec<String>) {
    let mut active = Vec::new();
    let mut dropped = Vec::new();
    let mut errors = Vec::new();
    for g in groups {
        for t in &g.targets {
            let mut l = g.labels.clone();
            for (k, v) in &t.0 {
                l.set(k, v);
            }
            match populate(&l, cfg) {
                Ok(Some(t)) => active.push(t),
                Ok(None) => dropped.push(DroppedTarget {
                    discovered: with_defaults(&l, cfg),
                }),
                Err(e) => errors.push(format!("instance {}: {e}", g.source)),
            }
        }
    }
    (active, dropped, errors)
}

fn with_defaults(l: &Labels, cfg: &ScrapeConfig) -> Labels {
    let mut l = l.clone();
    let mut default = |k: &str, v: String| {
        if l.get(k).is_none() {
            l.set(k, &v);
        }
    };
    default("job", cfg.job_name.clone());
    default("__scrape_interval__", cfg.scrape_interval.to_string());
    default("__scrape_timeout__", cfg.scrape_timeout.to_string());
    default("__metrics_path__", cfg.metrics_path.clone());
    default("__scheme__", cfg.scheme.clone());
    for (k, vs) in &cfg.params {
        if let Some(v) = vs.first() {
            default(&format!("__param_{k}"), v.clone());
        }
    }
    l
}

/// Prometheus' `PopulateLabels`: `Ok(None)` when relabelling drops the target.
pub fn populate(discovered: &Labels, cfg: &ScrapeConfig) -> Result<Option<Target>, String> {
    let pre = with_defaults(discovered, cfg);
    let Some(mut l) = relabel::process(&pre, &cfg.relabel_configs) else {
        return Ok(None);
    };
    let Some(addr) = l.get("__address__").map(str::to_owned) else {
        return Err("no address".into());
    };
    let scheme = l.get("__scheme__").unwrap_or("").to_owned();
    let addr = if has_port(&addr) {
        addr
    } else {
        let with = match scheme.as_str() {
            "http" | "" => format!("{addr}:80"),
            "https" => format!("{addr}:443"),
            _ => return Err(format!("invalid scheme: {:?}", cfg.scheme)),
        };
        l.set("__address__", &with);
        with
    };
    if addr.contains('/') {
        return Err(format!("{addr:?} is not a valid hostname"));
    }
    let interval = match l.get("__scrape_interval__") {
        Some(s) => PromDuration::parse(s).ok_or_else(|| {
            format!("error parsing scrape interval: not a valid duration string: {s:?}")
        })?,
        None => cfg.scrape_interval,
    };
    let timeout = match l.get("__scrape_timeout__") {
        Some(s) => PromDuration::parse(s).ok_or_else(|| {
            format!("error parsing scrape timeout: not a valid duration string: {s:?}")
        })?,
        None => cfg.scrape_timeout,
    };
    if interval.ms() == 0 {
        return Err("scrape interval cannot be 0".into());
    }
    if timeout.ms() == 0 {
        return Err("scrape timeout cannot be 0".into());
    }
    if timeout > interval {
        return Err(format!(
            "scrape timeout cannot be greater than scrape interval ({:?} > {:?})",
            timeout.to_string(),
            interval.to_string()
        ));
    }
    l.0.retain(|(k, _)| !k.starts_with("__meta_"));
    if l.get("instance").is_none() {
        l.set("instance", &addr);
    }
    for (k, v) in &l.0 {
        if !relabel::is_label_name(k) {
            return Err(format!("{k:?} is not a valid label name"));
        }
        if std::str::from_utf8(v.as_bytes()).is_err() {
            return Err(format!("invalid label value for {k:?}"));
        }
    }
    let url = target_url(&l);
    Ok(Some(Target {
        labels: l,
        discovered: pre,
        url,
        interval,
        timeout,
    }))
}

/// `scheme://address/path?params`, params from `__param_*` labels.
fn target_url(l: &Labels) -> String {
    let scheme = l.get("__scheme__").unwrap_or("http");
    let addr = l.get("__address__").unwrap_or("");
    let path = l.get("__metrics_path__").unwrap_or("/metrics");
    let mut url = format!("{scheme}://{addr}{path}");
    let params: Vec<(&str, &str)> =
        l.0.iter()
            .filter_map(|(k, v)| k.strip_prefix("__param_").map(|n| (n, v.as_str())))
            .collect();
    if !params.is_empty() {
        let q = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        url.push('?');
        url.push_str(&q);
    }
    url
}

/// Whether `addr` already names a port (`host:port`, `[v6]:port`).
fn has_port(addr: &str) -> bool {
    if let Some(rest) = addr.strip_prefix('[') {
        return rest.split_once("]:").is_some_and(|(_, p)| !p.is_empty());
    }
    match addr.rsplit_once(':') {
        Some((host, port)) => !host.contains(':') && !port.is_empty(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(yaml: &str) -> ScrapeConfig {
        crate::config::parse(
            &format!("scrape_configs:\n{yaml}"),
            std::path::Path::new("/p.yml"),
        )
        .unwrap()
        .scrape_configs
        .remove(0)
    }

    #[test]
    fn populate_as_prometheus() {
        let c = cfg("- job_name: node\n  static_configs: [{targets: ['h:9100', 'bare']}]\n");
        let groups = crate::discovery::static_groups(&c.static_configs).unwrap();
        let (active, dropped, errors) = targets_from_groups(&c, &groups);
        assert!(dropped.is_empty() && errors.is_empty());
        assert_eq!(active[0].url, "http://h:9100/metrics");
        assert_eq!(
            active[0].public_labels().to_string(),
            r#"{instance="h:9100", job="node"}"#
        );
        assert_eq!(active[0].labels.get("__scrape_interval__"), Some("1m"));
        // No port: the scheme's default is added.
        assert_eq!(active[1].url, "http://bare:80/metrics");
        assert_eq!(active[1].labels.get("instance"), Some("bare:80"));
    }

    #[test]
    fn relabel_drops_and_params() {
        let c = cfg(
            "- job_name: j\n  params: {module: [m1, m2]}\n  static_configs: [{targets: ['a:1', 'b:2'], labels: {__meta_x: y}}]\n  relabel_configs:\n  - source_labels: [__address__]\n    regex: 'b:.*'\n    action: drop\n",
        );
        let groups = crate::discovery::static_groups(&c.static_configs).unwrap();
        let (active, dropped, _) = targets_from_groups(&c, &groups);
        assert_eq!(active.len(), 1);
        assert_eq!(active[0].url, "http://a:1/metrics?module=m1");
        assert_eq!(
            active[0].labels.get("__meta_x"),
            None,
            "meta labels removed"
        );
        assert_eq!(active[0].discovered.get("__meta_x"), Some("y"));
        assert_eq!(dropped.len(), 1);
        assert_eq!(dropped[0].discovered.get("__address__"), Some("b:2"));
    }

    #[test]
    fn offsets_spread_within_the_interval() {
        let c = cfg(
            "- job_name: j\n  scrape_interval: 10s\n  static_configs: [{targets: ['a:1','b:1','c:1','d:1']}]\n",
        );
        let groups = crate::discovery::static_groups(&c.static_configs).unwrap();
        let (active, _, _) = targets_from_groups(&c, &groups);
        let now = 1_700_000_000_123_456_789i64;
        let offs: Vec<i64> = active.iter().map(|t| t.offset_ns(now, 7)).collect();
        for (t, o) in active.iter().zip(&offs) {
            assert!(*o > 0 && *o <= 10_000_000_000, "{o}");
            // The phase is fixed: the first scrape lands at the same point of every interval.
            let later = t.offset_ns(now + 3_333_333_333, 7);
            assert_eq!(
                (now + o) % 10_000_000_000,
                (now + 3_333_333_333 + later) % 10_000_000_000
            );
        }
        let distinct: std::collections::HashSet<_> = offs.iter().collect();
        assert_eq!(distinct.len(), 4);
    }

    #[test]
    fn hashes_match_prometheus_primitives() {
        // FNV-1a 64 of "a" is af63dc4c8601ec8c; xxh64 of "" with seed 0 is ef46db3751d8e999.
        let mut h = Fnv64a::new();
        h.write(b"a");
        assert_eq!(h.0, 0xaf63_dc4c_8601_ec8c);
        assert_eq!(labels_hash(&Labels::default()), 0xef46_db37_51d8_e999);
    }
}
