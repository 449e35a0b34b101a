//! The value types a hot column can hold, and how each is compressed in a closed chunk.

use crate::codec::{self, CodecError};
use crate::model::{ColumnValues, FieldValue};

/// A value type storable in a hot column.
pub(crate) trait HotValue: Clone + Sized {
    /// Appends the compressed block of `src` to `dst`.
    fn encode(src: &[Self], dst: &mut Vec<u8>);
    /// Decodes a block produced by `encode`, appending to `dst`; returns bytes consumed.
    fn decode(src: &[u8], dst: &mut Vec<Self>) -> Result<usize, CodecError>;
    /// Heap bytes a value holds beyond its inline size (string contents).
    fn extra_bytes(&self) -> usize {
        0
    }
    /// Extracts this type from a field value.
    fn from_field(v: FieldValue) -> Option<Self>;
    /// Wraps a vector of this type.
    fn into_values(v: Vec<Self>) -> ColumnValues;
}

macro_rules! hot_value {
    ($t:ty, $variant:ident, $enc:path, $dec:path) => {
        impl HotValue for $t {
            fn encode(src: &[Self], dst: &mut Vec<u8>) {
                $enc(src, dst)
            }
            fn decode(src: &[u8], dst: &mut Vec<Self>) -> Result<usize, CodecError> {
                $dec(src, dst)
            }
            fn from_field(v: FieldValue) -> Option<Self> {
                match v {
                    FieldValue::$variant(x) => Some(x),
                    _ => None,
                }
            }
            fn into_values(v: Vec<Self>) -> ColumnValues {
                ColumnValues::$variant(v)
            }
        }
    };
}

hot_value!(f64, Float, codec::encode_floats, codec::decode_floats);
hot_value!(i64, Integer, codec::encode_i64, codec::decode_i64);
hot_value!(u64, Unsigned, codec::encode_u64, codec::decode_u64);
hot_value!(bool, Boolean, codec::encode_bools, codec::decode_bools);

impl HotValue for String {
    fn encode(src: &[Self], dst: &mut Vec<u8>) {
        codec::encode_strings(src, dst)
    }
    fn decode(src: &[u8], dst: &mut Vec<Self>) -> Result<usize, CodecError> {
        codec::decode_strings(src, dst)
    }
    fn extra_bytes(&self) -> usize {
        self.capacity()
    }
    fn from_field(v: FieldValue) -> Option<Self> {
        match v {
            FieldValue::String(x) => Some(x),
            _ => None,
        }
    }
    fn into_values(v: Vec<Self>) -> ColumnValues {
        ColumnValues::String(v)
    }
}
