//! Metric metadata (TYPE, HELP, UNIT) seen on pushed exposition pages and in remote-write
//! requests, per metric family, for `/api/v1/metadata`. Kept in memory, as Prometheus
//! keeps what it scraped; bounded in entries so a hostile client cannot grow it.

use parking_lot::RwLock;
use std::collections::BTreeMap;

/// Most metric families remembered; later new ones are not added.
pub const MAX_FAMILIES: usize = 100_000;

/// One family's metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    /// `counter`, `gauge`, `histogram`, `summary`, `untyped`…
    pub kind: String,
    /// HELP text.
    pub help: String,
    /// Unit.
    pub unit: String,
}

/// The store.
#[derive(Debug, Default)]
pub struct MetadataStore {
    families: RwLock<BTreeMap<String, Metadata>>,
}

impl MetadataStore {
    /// Records what is known of `family`; `None` fields keep their earlier value.
    pub fn update(&self, family: &str, kind: Option<&str>, help: Option<&str>, unit: Option<&str>) {
        let mut f = self.families.write();
        if !f.contains_key(family) && f.len() >= MAX_FAMILIES {
            return;
        }
        let e = f.entry(family.to_owned()).or_insert_with(|| Metadata {
            kind: "unknown".into(),
            ..Metadata::default()
        });
        if let Some(k) = kind {
            e.kind = k.to_owned();
        }
        if let Some(h) = help {
            e.help = h.to_owned();
        }
        if let Some(u) = unit {
            e.unit = u.to_owned();
        }
    }

    /// Everything, sorted by family.
    pub fn snapshot(&self) -> Vec<(String, Metadata)> {
        self.families
            .read()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_fields_fill_in() {
        let s = MetadataStore::default();
        s.update("x", Some("counter"), None, None);
        s.update("x", None, Some("help"), None);
        assert_eq!(
            s.snapshot(),
            vec![(
                "x".to_owned(),
                Metadata {
                    kind: "counter".into(),
                    help: "help".into(),
                    unit: String::new()
                }
            )]
        );
    }
}
