//! # Strata engine
//!
//! Storage for the Strata time-series database: the data model, the Influx line-protocol
//! parser, the write-ahead log, the in-memory hot tier, the series index and the embedded
//! [`Db`] API.
//!
//! ```text
//! write ─► WAL (append, checksummed, group-committed) ─► HOT (memory) ─► warm ─► cold
//! ```
//!
//! Invariants of the whole engine:
//! - a write is acknowledged only after its WAL record is written under the configured
//!   fsync policy, and is applied to the hot tier in WAL order, so that what a reader sees
//!   before a restart is what WAL replay rebuilds after it;
//! - writing the same (series, field, timestamp) twice keeps the last write;
//! - a field keeps the type it was first written with.
#![deny(missing_docs)]

mod clock_cache;
pub mod codec;
pub mod compaction;
mod db;
pub mod error;
pub mod fault;
pub mod fuzzing;
pub mod hot;
pub mod index;
pub mod ingest;
pub mod lock;
pub mod manifest;
pub mod metrics;
pub mod model;
pub mod options;
mod pool;
mod prefetch;
pub mod retention;
pub mod rollup;
pub mod scan;
pub mod segment;
pub mod snapshot;
pub mod wal;
pub mod write;

pub use db::{
    BucketSlice, CompactionProgress, CompactionReport, Db, DbStats, DeleteReport, ExportSummary,
    OVERLOAD_HOT_FACTOR, OVERLOAD_WAL_FACTOR, Piece, PromMetadata, PromTextSummary, RollupAsk,
    RollupRead, RollupStatus, RotationReport, SampleWriter, SeriesHandle, SeriesInfo, SubmitOrder,
    TierStats, TiersStats,
};
pub use error::{Error, Result};
pub use index::RawKind;
pub use metrics::MetricsSnapshot;
pub use options::{Clock, FsyncPolicy, ManualClock, Options, SystemClock};
pub use retention::RetentionRule;
pub use write::{RejectReason, RejectedLine, WriteSummary};
