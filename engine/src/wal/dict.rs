//! The per-file series dictionary: a WAL file names each series by its full key once, in
//! a `SeriesDefs` record, and by its number in every `Write` record after that. Layout:
//! docs/FORMAT.md, "Series definitions (kind 3)".
//!
//! ```text
//! defs := def+
//! def  := number uvarint (≤ 2^32 - 1) | len uvarint | canonical series-key bytes
//! ```
//!
//! Who numbers what: a batch names its series by the writer process's in-process series
//! ids ([`crate::index::SeriesId`]), known to the request thread without touching a key.
//! The WAL writer thread, which alone decides which file a record lands in, keeps the set
//! of numbers the current file has defined ([`Defined`]) and writes one `SeriesDefs`
//! record ahead of a commit group for the numbers the group uses that the file has not
//! defined yet, each key looked up once ([`SeriesKeys`]).
//!
//! Invariants:
//! - in a file, a number's definition comes before every record that uses it, and a
//!   number is defined at most once, so that any prefix of a file (a torn tail cut off)
//!   still resolves every use it holds;
//! - numbers mean nothing outside their file: a rolled file starts with nothing defined,
//!   and so does every process (each open starts a new file), so ids of different files
//!   or process lifetimes never mix;
//! - [`Defined`] describes exactly the bytes of the current file that stay: a group that
//!   fails is cut off the file (`writer.rs`, `recover`), and its definitions are forgotten
//!   with [`Defined::rollback`].

use super::frame::{self, RecordKind};
use crate::model::series::{put_uvarint, read_uvarint};
use rustc_hash::FxHashMap;

/// Largest payload of one `SeriesDefs` record the writer makes before starting another
/// (far below [`frame::MAX_RECORD_LEN`], so that a reader never holds a huge record).
const MAX_DEFS_PAYLOAD: usize = 4 << 20;

/// Where the WAL writer thread looks up the keys of the series numbers it must define.
pub trait SeriesKeys: Send + Sync {
    /// Calls `each(number, canonical key)` for every number in `ids`, in order; returns
    /// the first number it does not know (which the writer treats as a bug: the group is
    /// refused, nothing is written).
    fn keys(&self, ids: &[u32], each: &mut dyn FnMut(u32, &[u8])) -> Result<(), u32>;
}

/// The numbers the current file has defined, as a bitmap over the (dense) numbers, plus
/// those the commit group being written added, so that a failed group can be forgotten.
#[derive(Debug, Default)]
pub(crate) struct Defined {
    bits: Vec<u64>,
    added: Vec<u32>,
}

impl Defined {
    /// Whether `id` is defined in the current file.
    #[cfg(test)]
    pub(crate) fn contains(&self, id: u32) -> bool {
        self.bits
            .get(id as usize / 64)
            .is_some_and(|w| w & (1 << (id % 64)) != 0)
    }

    /// Marks `id` defined by the current group; false if it already was.
    #[inline]
    pub(crate) fn insert(&mut self, id: u32) -> bool {
        let word = id as usize / 64;
        if word >= self.bits.len() {
            self.bits.resize(word + 1, 0);
        }
        let bit = 1 << (id % 64);
        if self.bits[word] & bit != 0 {
            return false;
        }
        self.bits[word] |= bit;
        self.added.push(id);
        true
    }

    /// The numbers the current group added, in the order added.
    pub(crate) fn added(&self) -> &[u32] {
        &self.added
    }

    /// The group's definitions are in the file for good.
    pub(crate) fn commit(&mut self) {
        self.added.clear();
    }

    /// The group failed and its bytes will be cut off: forget what it defined.
    pub(crate) fn rollback(&mut self) {
        for &id in &self.added {
            self.bits[id as usize / 64] &= !(1 << (id % 64));
        }
        self.added.clear();
    }

    /// A new file: nothing is defined.
    pub(crate) fn clear(&mut self) {
        self.bits.clear();
        self.added.clear();
    }
}

/// Appends framed `SeriesDefs` records defining every number in `ids` (looked up in
/// `keys`) to `dst`; on an unknown number returns it, with `dst` cut back to its old
/// length.
pub(crate) fn encode_defs(
    keys: &dyn SeriesKeys,
    ids: &[u32],
    dst: &mut Vec<u8>,
) -> Result<(), u32> {
    if ids.is_empty() {
        return Ok(());
    }
    let base = dst.len();
    let mut record = frame::begin_record(RecordKind::SeriesDefs, dst);
    let found = keys.keys(ids, &mut |id, key| {
        if dst.len() - record > MAX_DEFS_PAYLOAD {
            frame::end_record(dst, record);
            record = frame::begin_record(RecordKind::SeriesDefs, dst);
        }
        put_def(dst, id, key);
    });
    match found {
        Ok(()) => {
            frame::end_record(dst, record);
            Ok(())
        }
        Err(id) => {
            dst.truncate(base);
            Err(id)
        }
    }
}

/// Appends one definition to a `SeriesDefs` payload.
pub fn put_def(dst: &mut Vec<u8>, id: u32, key: &[u8]) {
    put_uvarint(dst, u64::from(id));
    put_uvarint(dst, key.len() as u64);
    dst.extend_from_slice(key);
}

/// Why a payload does not decode: the offset in it and what is wrong.
pub type DecodeError = (usize, &'static str);

/// Decodes a `SeriesDefs` payload into (number, key) pairs; on damage, the offset in the
/// payload and what is wrong. An empty payload is damage (the writer never makes one).
pub fn decode_defs(src: &[u8]) -> Result<Vec<(u32, &[u8])>, DecodeError> {
    if src.is_empty() {
        return Err((0, "series definitions record without a definition"));
    }
    let mut defs = Vec::new();
    let mut pos = 0;
    while pos < src.len() {
        let at = pos;
        let (id, used) = read_uvarint(&src[pos..]).ok_or((at, "series number"))?;
        let id = u32::try_from(id).map_err(|_| (at, "series number above 2^32 - 1"))?;
        pos += used;
        let (len, used) = read_uvarint(&src[pos..]).ok_or((pos, "series key length"))?;
        let key = usize::try_from(len)
            .ok()
            .and_then(|len| src.get(pos + used..(pos + used).checked_add(len)?))
            .ok_or((pos, "series key runs past the record"))?;
        pos += used + key.len();
        defs.push((id, key));
    }
    Ok(defs)
}

/// What a reader made of each series number the current file defined: replay keeps its
/// own series ids here, `verify` nothing. Starts empty for every file.
#[derive(Debug)]
pub struct FileDict<T> {
    file: Option<u64>,
    map: FxHashMap<u32, T>,
}

impl<T> Default for FileDict<T> {
    fn default() -> Self {
        FileDict {
            file: None,
            map: FxHashMap::default(),
        }
    }
}

impl<T> FileDict<T> {
    /// Enters WAL file `file`: when it is not the file of the previous call, every
    /// definition is forgotten (numbers of one file mean nothing in another).
    pub fn enter(&mut self, file: u64) {
        if self.file != Some(file) {
            self.map.clear();
            self.file = Some(file);
        }
    }

    /// Defines `id` in the current file; a second definition of one number in one file is
    /// damage (the writer never makes one).
    pub fn define(&mut self, id: u32, value: T) -> Result<(), &'static str> {
        match self.map.entry(id) {
            std::collections::hash_map::Entry::Occupied(_) => {
                Err("series number defined twice in one file")
            }
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(value);
                Ok(())
            }
        }
    }

    /// What `id` was defined as in the current file, if it was.
    pub fn get_mut(&mut self, id: u32) -> Option<&mut T> {
        self.map.get_mut(&id)
    }

    /// Numbers defined in the current file.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the current file has defined nothing yet.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests;
