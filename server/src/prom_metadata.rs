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

    /// [`MetadataStore::update`] for each (family, type, help) under one lock, copying
    /// only what changes (a scrape repeats the same HELP and TYPE every time).
    pub fn update_all<'a>(
        &self,
        entries: impl Iterator<Item = (&'a str, Option<&'a str>, Option<&'a str>)>,
    ) {
        let mut f = self.families.write();
        for (family, kind, help) in entries {
            if !f.contains_key(family) {
                if f.len() >= MAX_FAMILIES {
                    continue;
                }
                f.insert(
                    family.to_owned(),
                    Metadata {
                        kind: "unknown".into(),
                        ..Metadata::default()
                    },
                );
            }
            let Some(e) = f.get_mut(family) else { continue };
            if let Some(k) = kind
                && e.kind != k
            {
                e.kind = k.to_owned();
            }
            if let Some(h) = help
                && e.help != h
            {
                e.help = h.to_owned();
            }
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
