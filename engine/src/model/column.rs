//! Column data as reads return it: timestamps and values of one type, time-ordered.

use super::{FieldType, FieldValue};

/// The values of one column, all of its type.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnValues {
    /// Floats.
    Float(Vec<f64>),
    /// Signed integers.
    Integer(Vec<i64>),
    /// Unsigned integers.
    Unsigned(Vec<u64>),
    /// Booleans.
    Boolean(Vec<bool>),
    /// Strings.
    String(Vec<String>),
}

impl ColumnValues {
    /// An empty vector of type `ty`.
    pub fn empty(ty: FieldType) -> ColumnValues {
        match ty {
            FieldType::Float => ColumnValues::Float(Vec::new()),
            FieldType::Integer => ColumnValues::Integer(Vec::new()),
            FieldType::Unsigned => ColumnValues::Unsigned(Vec::new()),
            FieldType::Boolean => ColumnValues::Boolean(Vec::new()),
            FieldType::String => ColumnValues::String(Vec::new()),
        }
    }

    /// The type of the values.
    pub fn field_type(&self) -> FieldType {
        match self {
            ColumnValues::Float(_) => FieldType::Float,
            ColumnValues::Integer(_) => FieldType::Integer,
            ColumnValues::Unsigned(_) => FieldType::Unsigned,
            ColumnValues::Boolean(_) => FieldType::Boolean,
            ColumnValues::String(_) => FieldType::String,
        }
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            ColumnValues::Float(v) => v.len(),
            ColumnValues::Integer(v) => v.len(),
            ColumnValues::Unsigned(v) => v.len(),
            ColumnValues::Boolean(v) => v.len(),
            ColumnValues::String(v) => v.len(),
        }
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `i`th value as an owned [`FieldValue`].
    pub fn get(&self, i: usize) -> Option<FieldValue> {
        Some(match self {
            ColumnValues::Float(v) => FieldValue::Float(*v.get(i)?),
            ColumnValues::Integer(v) => FieldValue::Integer(*v.get(i)?),
            ColumnValues::Unsigned(v) => FieldValue::Unsigned(*v.get(i)?),
            ColumnValues::Boolean(v) => FieldValue::Boolean(*v.get(i)?),
            ColumnValues::String(v) => FieldValue::String(v.get(i)?.clone()),
        })
    }
}

/// One column over a time range: `timestamps[i]` goes with value `i`. Timestamps are
/// strictly increasing (one value per timestamp: the last written).
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnData {
    /// Nanoseconds since the epoch, strictly increasing.
    pub timestamps: Vec<i64>,
    /// The values.
    pub values: ColumnValues,
}

impl ColumnData {
    /// No points, of type `ty`.
    pub fn empty(ty: FieldType) -> ColumnData {
        ColumnData {
            timestamps: Vec::new(),
            values: ColumnValues::empty(ty),
        }
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.timestamps.len()
    }

    /// Whether there are no points.
    pub fn is_empty(&self) -> bool {
        self.timestamps.is_empty()
    }
}
