//! Label sets and the signatures that match series across the two sides of a binary
//! operation or into aggregation groups.
//!
//! Invariant: a [`Labels`] is sorted by name, names are unique, and no value is empty
//! (setting a label to "" removes it, as in Prometheus).

use crate::plan::selection::METRIC_NAME;

/// A series' labels, sorted by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Labels(pub Vec<(String, String)>);

impl Labels {
    /// Builds a label set from pairs in any order (later duplicates win, empty values are
    /// dropped).
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Labels {
        let mut l = Labels::default();
        for (k, v) in pairs {
            l.set(&k, &v);
        }
        l
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(k, _)| k.as_str().cmp(name))
            .ok()
            .map(|i| self.0[i].1.as_str())
    }

    /// Sets `name` to `value`; an empty value removes the label.
    pub fn set(&mut self, name: &str, value: &str) {
        match self.0.binary_search_by(|(k, _)| k.as_str().cmp(name)) {
            Ok(i) if value.is_empty() => {
                self.0.remove(i);
            }
            Ok(i) => self.0[i].1 = value.to_owned(),
            Err(_) if value.is_empty() => {}
            Err(i) => self.0.insert(i, (name.to_owned(), value.to_owned())),
        }
    }

    /// Removes `name`.
    pub fn del(&mut self, name: &str) {
        if let Ok(i) = self.0.binary_search_by(|(k, _)| k.as_str().cmp(name)) {
            self.0.remove(i);
        }
    }

    /// The labels without the metric name.
    pub fn without_name(&self) -> Labels {
        let mut l = self.clone();
        l.del(METRIC_NAME);
        l
    }

    /// Only the labels named in `names`.
    pub fn keep(&self, names: &[String]) -> Labels {
        Labels(
            self.0
                .iter()
                .filter(|(k, _)| names.iter().any(|n| n == k))
                .cloned()
                .collect(),
        )
    }

    /// Every label but those in `names` and the metric name.
    pub fn drop(&self, names: &[String]) -> Labels {
        Labels(
            self.0
                .iter()
                .filter(|(k, _)| k != METRIC_NAME && !names.iter().any(|n| n == k))
                .cloned()
                .collect(),
        )
    }

    /// The matching signature: with `on`, the labels in `names`; otherwise every label
    /// but those and the metric name.
    pub fn signature(&self, on: bool, names: &[String]) -> Vec<u8> {
        let mut out = Vec::new();
        for (k, v) in &self.0 {
            let listed = names.iter().any(|n| n == k);
            let take = if on {
                listed
            } else {
                !listed && k != METRIC_NAME
            };
            if take {
                out.extend_from_slice(k.as_bytes());
                out.push(0xff);
                out.extend_from_slice(v.as_bytes());
                out.push(0xff);
            }
        }
        out
    }
}

impl std::fmt::Display for Labels {
    /// `{a="b", c="d"}`, as Prometheus prints a label set in messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("{")?;
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{k}={v:?}")?;
        }
        f.write_str("}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(p: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(p.iter().map(|(a, b)| (a.to_string(), b.to_string())))
    }

    #[test]
    fn set_keeps_order_and_empty_removes() {
        let mut x = l(&[("b", "2"), ("a", "1")]);
        assert_eq!(x.0[0].0, "a");
        x.set("c", "3");
        x.set("a", "");
        assert_eq!(x, l(&[("b", "2"), ("c", "3")]));
        assert_eq!(x.get("c"), Some("3"));
    }

    #[test]
    fn signatures_ignore_the_name_unless_asked() {
        let a = l(&[("__name__", "x"), ("i", "1"), ("j", "2")]);
        let b = l(&[("__name__", "y"), ("i", "1"), ("j", "3")]);
        assert_eq!(
            a.signature(true, &["i".into()]),
            b.signature(true, &["i".into()])
        );
        assert_ne!(a.signature(false, &[]), b.signature(false, &[]));
        assert_eq!(
            a.signature(false, &["j".into()]),
            b.signature(false, &["j".into()])
        );
        assert_eq!(a.drop(&["j".into()]), l(&[("i", "1")]));
    }
}
