//! Engine integration tests: one binary, one module per concern.

mod common;
mod compaction;
mod compaction_concurrency;
mod compat;
mod crash;
mod deletes;
mod export;
mod faults;
mod index_image;
mod prom;
mod restart;
mod retention;
mod rollups;
mod rotation;
mod shape;
mod snapshot;
mod stress;
mod tombstones;
mod wal_dict;
mod writes;
