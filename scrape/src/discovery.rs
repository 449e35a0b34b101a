//! Service discovery: `static_configs` and `file_sd_configs` (JSON or YAML files, globs
//! allowed, re-read when a file changes and every `refresh_interval`), turned into
//! target groups as Prometheus' discovery manager hands them to the scrape manager.
//!
//! Each group from a file carries `__meta_filepath`. A file that cannot be read or
//! parsed keeps the groups it gave last time (as Prometheus does) and the error is
//! logged.

use crate::duration::PromDuration;
use crate::relabel::is_label_name;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::SystemTime;
use strata_query::promql::Labels;

/// `static_configs` entry (also the element of a file's list).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticConfig {
    /// `host:port` addresses.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Labels of every target of the group.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// `file_sd_configs` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSdConfig {
    /// Files or globs ending in `.json`, `.yml` or `.yaml`.
    pub files: Vec<String>,
    /// Re-read at least this often. Default 5m.
    #[serde(default = "five_minutes")]
    pub refresh_interval: PromDuration,
}

fn five_minutes() -> PromDuration {
    PromDuration(300_000)
}

impl FileSdConfig {
    pub(crate) fn resolve_paths(&mut self, dir: &Path) {
        for f in &mut self.files {
            if Path::new(f.as_str()).is_relative() {
                *f = dir.join(&*f).to_string_lossy().into_owned();
            }
        }
    }

    /// Prometheus' check: `^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$`.
    pub fn check(&self) -> Result<(), String> {
        let re = regex::Regex::new(r"^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$")
            .map_err(|e| e.to_string())?;
        for f in &self.files {
            if !re.is_match(f) {
                return Err(format!("path name {f:?} is not valid for file discovery"));
            }
        }
        Ok(())
    }
}

/// Targets sharing labels, from one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetGroup {
    /// Where it came from (`static/0`, `FILE:0`).
    pub source: String,
    /// Each target's own labels (at least `__address__`).
    pub targets: Vec<Labels>,
    /// Labels of the group.
    pub labels: Labels,
}

fn group(
    source: String,
    c: &StaticConfig,
    extra: Option<(&str, &str)>,
) -> Result<TargetGroup, String> {
    for k in c.labels.keys() {
        if !is_label_name(k) {
            return Err(format!("{k:?} is not a valid label name"));
        }
    }
    let mut targets = Vec::new();
    for t in &c.targets {
        if t.contains('/') {
            return Err(format!("{t:?} is not a valid hostname"));
        }
        targets.push(Labels::from_pairs([("__address__".to_owned(), t.clone())]));
    }
    let mut labels = Labels::from_pairs(c.labels.clone());
    if let Some((k, v)) = extra {
        labels.set(k, v);
    }
    Ok(TargetGroup {
        source,
        targets,
        labels,
    })
}

/// The groups of `static_configs`.
pub fn static_groups(configs: &[StaticConfig]) -> Result<Vec<TargetGroup>, String> {
    configs
        .iter()
        .enumerate()
        .map(|(i, c)| group(i.to_string(), c, None))
        .collect()
}

/// Reads one target file (JSON when it ends in `.json`, YAML otherwise).
pub fn read_file(path: &Path) -> Result<Vec<TargetGroup>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let configs: Vec<StaticConfig> = if is_json {
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
    } else if text.trim().is_empty() {
        Vec::new()
    } else {
        serde_yaml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
    };
    let name = path.to_string_lossy();
    configs
        .iter()
        .enumerate()
        .map(|(i, c)| {
            group(format!("{name}:{i}"), c, Some(("__meta_filepath", &name)))
                .map_err(|e| format!("{}: {e}", path.display()))
        })
        .collect()
}

/// Watches the files of some `file_sd_configs`: [`FileWatcher::poll`] says whether
/// anything changed since the last call and gives the groups.
#[derive(Debug, Default)]
pub struct FileWatcher {
    configs: Vec<FileSdConfig>,
    /// Per file: its (mtime, size) when last read, and what it gave.
    seen: HashMap<PathBuf, (Option<SystemTime>, u64, Vec<TargetGroup>)>,
    last_full: Option<std::time::Instant>,
}

impl FileWatcher {
    /// Watches the files of `configs`.
    pub fn new(configs: Vec<FileSdConfig>) -> FileWatcher {
        FileWatcher {
            configs,
            seen: HashMap::new(),
            last_full: None,
        }
    }

    /// Whether there is anything to watch.
    pub fn is_empty(&self) -> bool {
        self.configs.is_empty()
    }

    /// Checks the files; `Some(groups)` when the set of files or any file changed (or the
    /// refresh interval passed), `None` otherwise. Read errors are logged and keep the
    /// file's previous groups.
    pub fn poll(&mut self) -> Option<Vec<TargetGroup>> {
        let refresh = self
            .configs
            .iter()
            .map(|c| c.refresh_interval.std())
            .min()
            .unwrap_or(std::time::Duration::from_secs(300));
        let force = self.last_full.is_none_or(|t| t.elapsed() >= refresh);
        let mut paths: Vec<PathBuf> = Vec::new();
        for c in &self.configs {
            for pattern in &c.files {
                match glob::glob(pattern) {
                    Ok(found) => paths.extend(found.flatten()),
                    Err(e) => tracing::warn!("file_sd pattern {pattern:?}: {e}"),
                }
            }
        }
        paths.sort();
        paths.dedup();
        let mut changed = force || paths.len() != self.seen.len();
        let mut next = HashMap::new();
        for p in paths {
            let meta = std::fs::metadata(&p).ok();
            let stamp = (
                meta.as_ref().and_then(|m| m.modified().ok()),
                meta.as_ref().map_or(0, std::fs::Metadata::len),
            );
            let old = self.seen.remove(&p);
            let same = old.as_ref().is_some_and(|o| (o.0, o.1) == stamp);
            if same && !force {
                if let Some(o) = old {
                    next.insert(p, o);
                }
                continue;
            }
            changed = true;
            let groups = match read_file(&p) {
                Ok(g) => g,
                Err(e) => {
                    tracing::warn!("file_sd: {e}");
                    old.map(|o| o.2).unwrap_or_default()
                }
            };
            next.insert(p, (stamp.0, stamp.1, groups));
        }
        if !self.seen.is_empty() {
            changed = true; // files disappeared
        }
        self.seen = next;
        if force {
            self.last_full = Some(std::time::Instant::now());
        }
        if !changed {
            return None;
        }
        let mut files: Vec<_> = self.seen.iter().collect();
        files.sort_by(|a, b| a.0.cmp(b.0));
        Some(files.into_iter().flat_map(|(_, v)| v.2.clone()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_and_file_groups() {
        let c: Vec<StaticConfig> =
            serde_yaml::from_str("- targets: ['a:1', 'b:2']\n  labels: {env: prod}\n").unwrap();
        let g = static_groups(&c).unwrap();
        assert_eq!(g[0].targets.len(), 2);
        assert_eq!(g[0].labels.get("env"), Some("prod"));
        let bad: Vec<StaticConfig> = serde_yaml::from_str("- targets: ['a/b']\n").unwrap();
        assert!(
            static_groups(&bad)
                .unwrap_err()
                .contains("not a valid hostname")
        );

        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("t.json");
        std::fs::write(&json, r#"[{"targets":["x:9"],"labels":{"team":"a"}}]"#).unwrap();
        let mut w = FileWatcher::new(vec![FileSdConfig {
            files: vec![dir.path().join("*.json").to_string_lossy().into_owned()],
            refresh_interval: PromDuration(300_000),
        }]);
        let g = w.poll().expect("first poll reads");
        assert_eq!(g.len(), 1);
        assert_eq!(
            g[0].labels.get("__meta_filepath"),
            Some(json.to_str().unwrap())
        );
        assert_eq!(w.poll(), None, "unchanged files give nothing");
        // A broken file keeps its last groups; a fixed one is read again.
        std::fs::write(&json, "[{").unwrap();
        assert_eq!(w.poll().map(|g| g.len()), Some(1));
        std::fs::write(&json, r#"[{"targets":["x:9","y:9"]}]"#).unwrap();
        assert_eq!(w.poll().map(|g| g[0].targets.len()), Some(2));
        let yml = dir.path().join("u.yml");
        std::fs::write(&yml, "- targets: ['z:1']\n").unwrap();
        let mut w = FileWatcher::new(vec![FileSdConfig {
            files: vec![yml.to_string_lossy().into_owned()],
            refresh_interval: PromDuration(300_000),
        }]);
        assert_eq!(
            w.poll()
                .map(|g| g[0].targets[0].get("__address__").map(str::to_owned)),
            Some(Some("z:1".into()))
        );
        std::fs::remove_file(&yml).unwrap();
        assert_eq!(w.poll(), Some(vec![]), "a removed file removes its targets");
    }

    #[test]
    fn file_names_are_checked() {
        let c = FileSdConfig {
            files: vec!["targets/*.txt".into()],
            refresh_interval: PromDuration(1000),
        };
        assert!(
            c.check()
                .unwrap_err()
                .contains("not valid for file discovery")
        );
    }
}
