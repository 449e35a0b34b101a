//! What a write returns: how much landed, and which lines were refused and why.

use crate::index::FieldConflict;
use crate::ingest::line_protocol::ParseErrorKind;
use crate::model::SeriesKeyError;

/// The outcome of a write: the lines stored, and each refused line with its reason. A
/// refused line never stops the rest of the batch.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct WriteSummary {
    /// Lines (or points, for [`crate::Db::write_points`]) stored.
    pub lines: usize,
    /// Field values stored (what Strata calls points).
    pub points: usize,
    /// Refused lines, in input order.
    pub rejected: Vec<RejectedLine>,
}

/// A refused line: where and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}, column {column}: {reason}")]
pub struct RejectedLine {
    /// 1-based line number in the batch (index + 1 for `write_points`).
    pub line: usize,
    /// 1-based column (character) of the problem, 1 when it concerns the whole line.
    pub column: usize,
    /// Why.
    pub reason: RejectReason,
}

/// Why a line was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RejectReason {
    /// Line-protocol syntax.
    #[error("{0}")]
    Parse(ParseErrorKind),
    /// Measurement or tags do not form a valid series.
    #[error("{0}")]
    Series(SeriesKeyError),
    /// A field's type differs from its stored type.
    #[error("{0}")]
    FieldType(FieldConflict),
    /// A point with no fields (from `write_points`).
    #[error("a point needs at least one field")]
    NoFields,
    /// A field or tag named `time`, which queries could not address (InfluxDB 1.x
    /// refuses it the same way).
    #[error("invalid {what} name: {what} \"time\" on measurement {measurement:?} is reserved")]
    ReservedName {
        /// `field` or `tag`.
        what: &'static str,
        /// The measurement.
        measurement: String,
    },
    /// The timestamp is older than the retention period of its measurement allows: the
    /// global `retention`, or the retention rule that matched the measurement.
    #[error(
        "point is beyond the retention period{}: its time {timestamp} is before the cutoff {cutoff}",
        match rule { Some(r) => format!(" of {r}"), None => String::new() }
    )]
    BeyondRetention {
        /// The point's timestamp (ns).
        timestamp: i64,
        /// The oldest timestamp kept (ns).
        cutoff: i64,
        /// The rule that set the period, as `retention rule N (match = "cpu_.*", raw =
        /// 7d)` (N counting from 1 in the order of the settings); `None` for the global
        /// retention.
        rule: Option<String>,
    },
    /// The timestamp lies outside [`crate::model::MIN_TIMESTAMP`]`..=`
    /// [`crate::model::MAX_TIMESTAMP`], the range queries can address (InfluxDB 1.x's).
    #[error(
        "timestamp {timestamp} is out of range: points must lie between {min} and {max} (1677-09-21T00:12:43.145224194Z to 2262-04-11T23:47:16.854775806Z), the times queries can address"
    )]
    TimestampOutOfRange {
        /// The point's timestamp (ns).
        timestamp: i64,
        /// The earliest accepted.
        min: i64,
        /// The latest accepted.
        max: i64,
    },
    /// More fields in one line than `Options::max_fields_per_line` allows.
    #[error("{count} fields in one line, more than the limit of {max} (write.max_fields_per_line)")]
    TooManyFields {
        /// Fields in the line.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// More tags in one line than `Options::max_tags_per_line` allows.
    #[error("{count} tags in one line, more than the limit of {max} (write.max_tags_per_line)")]
    TooManyTags {
        /// Tags in the line.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A field with an empty name (from `write_points`; line protocol cannot spell one).
    #[error("field key is empty")]
    EmptyFieldKey,
    /// Creating the series would give its measurement more series than
    /// `Options::max_series_per_metric` allows.
    #[error(
        "series limit reached: measurement {measurement:?} already has {max} series, the limit of write.max_series_per_metric; new series {series} refused"
    )]
    SeriesPerMetricLimit {
        /// The measurement (Prometheus metric name).
        measurement: String,
        /// The refused series, as `measurement,tag=value,…` (long ones shortened).
        series: String,
        /// The limit.
        max: usize,
    },
    /// More series were created in the last minute than
    /// `Options::max_new_series_per_minute` allows.
    #[error(
        "new-series rate limit reached: at most {max} new series per minute (write.max_new_series_per_minute); new series {series} of measurement {measurement:?} refused"
    )]
    NewSeriesRateLimit {
        /// The measurement (Prometheus metric name).
        measurement: String,
        /// The refused series, as `measurement,tag=value,…` (long ones shortened).
        series: String,
        /// The limit.
        max: usize,
    },
    /// A Prometheus sample or label set that Prometheus itself would refuse (the text
    /// says why: a label name, a metric name, a duplicate label…).
    #[error("{0}")]
    Invalid(String),
    /// The series key (measurement and tags) is longer than InfluxDB's limit.
    #[error("series key of {len} bytes exceeds the limit of {max} bytes")]
    SeriesKeyTooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// Longest series key accepted, in bytes of its line-protocol form (InfluxDB 1.x's limit).
pub const MAX_SERIES_KEY_BYTES: usize = 65_535;
