//! One measurement's series, tag postings and fields.

use super::SeriesId;
use super::tag_values::TagValues;
use crate::model::FieldType;
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;

/// A write of a field with a type other than the one it was first written with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field type conflict: field {field:?} is {existing}, this write has {attempted}")]
pub struct FieldConflict {
    /// The field.
    pub field: String,
    /// Its stored type.
    pub existing: FieldType,
    /// The type the write had.
    pub attempted: FieldType,
}

#[derive(Debug)]
pub(super) struct Measurement {
    name: String,
    series: Vec<SeriesId>,
    tags: BTreeMap<String, TagValues>,
    fields: Vec<(String, FieldType)>,
    field_ids: FxHashMap<String, u32>,
}

impl Measurement {
    pub(super) fn new(name: &str) -> Measurement {
        Measurement {
            name: name.to_owned(),
            series: Vec::new(),
            tags: BTreeMap::new(),
            fields: Vec::new(),
            field_ids: FxHashMap::default(),
        }
    }

    /// Adds series `id` with these tags (strings are allocated only for new keys and
    /// values).
    /// A measurement from an index image's parts (`series` sorted; the tag postings
    /// name only those series).
    pub(super) fn from_parts(
        name: String,
        series: Vec<SeriesId>,
        tags: BTreeMap<String, TagValues>,
        fields: Vec<(String, FieldType)>,
    ) -> Measurement {
        let field_ids = fields
            .iter()
            .enumerate()
            .map(|(i, (n, _))| (n.clone(), i as u32))
            .collect();
        Measurement {
            name,
            series,
            tags,
            fields,
            field_ids,
        }
    }

    pub(super) fn name(&self) -> &str {
        &self.name
    }

    pub(super) fn tags(&self) -> impl Iterator<Item = (&str, &TagValues)> {
        self.tags.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub(super) fn add_series<'a>(
        &mut self,
        id: SeriesId,
        tags: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) {
        self.series.push(id);
        for (k, v) in tags {
            let values = match self.tags.get_mut(k) {
                Some(v) => v,
                None => self.tags.entry(k.to_owned()).or_default(),
            };
            values.add(v, id);
        }
    }

    pub(super) fn series(&self) -> &[SeriesId] {
        &self.series
    }

    pub(super) fn postings(&self, key: &str, value: &str) -> &[SeriesId] {
        self.tags.get(key).map_or(&[], |v| v.postings(value))
    }

    pub(super) fn tag_keys(&self) -> impl Iterator<Item = &str> {
        self.tags.keys().map(String::as_str)
    }

    /// Whether some value of tag `key` has postings for which `f` holds.
    pub(super) fn any_postings(&self, key: &str, f: impl FnMut(&[SeriesId]) -> bool) -> bool {
        self.tags.get(key).is_some_and(|v| v.all_postings().any(f))
    }

    /// Values of tag `key` with their postings, sorted by value.
    pub(super) fn tag_values(&self, key: &str) -> Vec<(&str, &[SeriesId])> {
        self.tags.get(key).map_or_else(Vec::new, TagValues::sorted)
    }

    pub(super) fn fields(&self) -> &[(String, FieldType)] {
        &self.fields
    }

    pub(super) fn lookup_field(&self, name: &str) -> Option<(u32, FieldType)> {
        // Most measurements have a field or two (every Prometheus metric has one,
        // `value`): comparing names is cheaper than hashing one.
        if self.fields.len() <= 2 {
            return self
                .fields
                .iter()
                .position(|(n, _)| n == name)
                .map(|i| (i as u32, self.fields[i].1));
        }
        let &fid = self.field_ids.get(name)?;
        Some((fid, self.fields[fid as usize].1))
    }

    /// The field's id if it exists with type `ty`; `Ok(None)` if it does not exist.
    pub(super) fn field_id(&self, name: &str, ty: FieldType) -> Result<Option<u32>, FieldConflict> {
        match self.lookup_field(name) {
            None => Ok(None),
            Some((fid, existing)) if existing == ty => Ok(Some(fid)),
            Some((_, existing)) => Err(FieldConflict {
                field: name.to_owned(),
                existing,
                attempted: ty,
            }),
        }
    }

    pub(super) fn field_id_or_create(
        &mut self,
        name: &str,
        ty: FieldType,
    ) -> Result<u32, FieldConflict> {
        if let Some(fid) = self.field_id(name, ty)? {
            return Ok(fid);
        }
        let fid = u32::try_from(self.fields.len()).expect("fewer than 2^32 fields");
        self.fields.push((name.to_owned(), ty));
        self.field_ids.insert(name.to_owned(), fid);
        Ok(fid)
    }

    pub(super) fn heap_bytes(&self) -> usize {
        let tags: usize = self
            .tags
            .iter()
            .map(|(k, vs)| k.len() + 48 + vs.heap_bytes())
            .sum();
        self.name.len() + self.series.capacity() * 4 + tags + self.fields.len() * 64
    }
}
