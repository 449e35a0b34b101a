//! Prometheus remote write 1.0: a snappy block-compressed protobuf `WriteRequest`.
//!
//! The message types are written by hand with `prost` derives, field for field as
//! Prometheus' `prompb/remote.proto` and `prompb/types.proto` define them (so no `protoc`
//! is needed to build). Fields Strata does not store are still declared where they help
//! decoding; unknown fields are skipped, as protobuf requires.
//!
//! Validation, as Prometheus' own remote-write receiver does it (`labels.IsValid`, and
//! its duplicate-name check): `__name__` is required and must match
//! `[a-zA-Z_:][a-zA-Z0-9_:]*`, every label name `[a-zA-Z_][a-zA-Z0-9_]*`, no name twice,
//! values valid UTF-8 (any characters, newlines included: they are stored, and exported
//! in Strata's exact form). A series that fails is refused with its index, labels and
//! reason; the other series of the request are stored, as Prometheus stores them.
//!
//! Mapping: the `__name__` label is the measurement, every other label a tag (an empty
//! value means "no label", as in Prometheus, and is dropped), each sample one point with
//! the float field `value` at its millisecond timestamp. Prometheus' staleness markers (a
//! NaN with a reserved bit pattern) are stored bit-exact: PromQL ends a series at one, and
//! remote read returns it as written. A native histogram
//! sample is stored as its two plain series, `<name>_count` and `<name>_sum`; its buckets
//! are not stored. Exemplars and metadata are decoded and ignored.

mod ingest;
pub mod wire;

pub use ingest::write_request;

use prost::Message;
use strata_engine::model::{FieldValue, Point, SeriesKey};

/// `WriteRequest` (remote.proto).
#[derive(Clone, PartialEq, Message)]
pub struct WriteRequest {
    /// The series and their samples.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
    /// Metric metadata (type, help, unit); not stored.
    #[prost(message, repeated, tag = "3")]
    pub metadata: Vec<MetricMetadata>,
}

/// `MetricMetadata` (remote.proto).
#[derive(Clone, PartialEq, Message)]
pub struct MetricMetadata {
    /// `MetricType` enum value.
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    /// The metric family name.
    #[prost(string, tag = "2")]
    pub metric_family_name: String,
    /// HELP text.
    #[prost(string, tag = "4")]
    pub help: String,
    /// Unit.
    #[prost(string, tag = "5")]
    pub unit: String,
}

/// `TimeSeries` (types.proto).
#[derive(Clone, PartialEq, Message)]
pub struct TimeSeries {
    /// Labels, `__name__` among them.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// Float samples.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
    /// Exemplars; not stored.
    #[prost(message, repeated, tag = "3")]
    pub exemplars: Vec<Exemplar>,
    /// Native histogram samples; stored as `_count` and `_sum`.
    #[prost(message, repeated, tag = "4")]
    pub histograms: Vec<Histogram>,
}

/// `Label` (types.proto). Declared as bytes (the same wire format as `string`) so that a
/// label that is not UTF-8 refuses its series, naming it, instead of the whole request.
#[derive(Clone, PartialEq, Message)]
pub struct Label {
    /// Label name.
    #[prost(bytes = "vec", tag = "1")]
    pub name: Vec<u8>,
    /// Label value.
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

/// `Sample` (types.proto).
#[derive(Clone, PartialEq, Message)]
pub struct Sample {
    /// The value.
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// `Exemplar` (types.proto).
#[derive(Clone, PartialEq, Message)]
pub struct Exemplar {
    /// Exemplar labels (e.g. a trace id).
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// The value.
    #[prost(double, tag = "2")]
    pub value: f64,
    /// Milliseconds since the epoch.
    #[prost(int64, tag = "3")]
    pub timestamp: i64,
}

/// `Histogram` (types.proto), the fields Strata reads: the count (one of two encodings of
/// the `count` oneof), the sum and the timestamp. Buckets are skipped.
#[derive(Clone, PartialEq, Message)]
pub struct Histogram {
    /// `count_int` of the `count` oneof (integer histograms).
    #[prost(uint64, optional, tag = "1")]
    pub count_int: Option<u64>,
    /// `count_float` of the `count` oneof (float histograms).
    #[prost(double, optional, tag = "2")]
    pub count_float: Option<f64>,
    /// Sum of observations.
    #[prost(double, tag = "3")]
    pub sum: f64,
    /// Milliseconds since the epoch.
    #[prost(int64, tag = "15")]
    pub timestamp: i64,
}

/// Why a remote-write body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RemoteWriteError {
    /// Not a valid snappy block.
    #[error("remote write body is not valid snappy (block format): {0}")]
    Snappy(String),
    /// Decompressed size over the limit.
    #[error(
        "remote write body decompresses to {len} bytes, over the limit of {limit} bytes (server.max_body_bytes)"
    )]
    TooLarge {
        /// Size the snappy header announces.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// Not a valid protobuf `WriteRequest`.
    #[error("remote write body is not a valid protobuf WriteRequest: {0}")]
    Protobuf(String),
}

/// Snappy block decompression of a remote-write body, refused before allocating when the
/// announced size is over `max_bytes`.
pub fn decompress(body: &[u8], max_bytes: usize) -> Result<Vec<u8>, RemoteWriteError> {
    let len =
        snap::raw::decompress_len(body).map_err(|e| RemoteWriteError::Snappy(e.to_string()))?;
    if len > max_bytes {
        return Err(RemoteWriteError::TooLarge {
            len,
            limit: max_bytes,
        });
    }
    snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| RemoteWriteError::Snappy(e.to_string()))
}

/// Decodes a remote-write body into the `prost` message types: [`decompress`], then the
/// protobuf `WriteRequest`. The server reads requests with [`wire::decode`] instead (no
/// allocation per label); this is the reference it is checked against, and what clients
/// and tests use.
pub fn decode_remote_write(
    body: &[u8],
    max_bytes: usize,
) -> Result<WriteRequest, RemoteWriteError> {
    let raw = decompress(body, max_bytes)?;
    WriteRequest::decode(&raw[..]).map_err(|e| RemoteWriteError::Protobuf(e.to_string()))
}

/// Encodes a request as a remote-write body (protobuf, then snappy): for clients and tests.
pub fn encode_remote_write(req: &WriteRequest) -> Vec<u8> {
    let raw = req.encode_to_vec();
    snap::raw::Encoder::new()
        .compress_vec(&raw)
        .unwrap_or_default()
}

/// A series of the request that could not be stored, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("timeseries {index} ({labels}): {reason}")]
pub struct SeriesError {
    /// 0-based position in `timeseries`.
    pub index: usize,
    /// Its labels, as `{a="b",…}`.
    pub labels: String,
    /// What is wrong.
    pub reason: String,
}

/// Whether `name` is a valid Prometheus metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn is_valid_metric_name(name: &[u8]) -> bool {
    match name.split_first() {
        Some((first, rest)) => {
            (first.is_ascii_alphabetic() || *first == b'_' || *first == b':')
                && rest
                    .iter()
                    .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b':')
        }
        None => false,
    }
}

/// Whether `name` is a valid Prometheus label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_valid_label_name(name: &[u8]) -> bool {
    match name.split_first() {
        Some((first, rest)) => {
            (first.is_ascii_alphabetic() || *first == b'_')
                && rest.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
        }
        None => false,
    }
}

/// A valid series' metric name and its tags (labels with a value, `__name__` aside).
pub type NameAndTags<'a> = (&'a str, Vec<(&'a str, &'a str)>);

/// The name and tags of a series, or why its labels are refused, as Prometheus' receiver
/// would refuse them.
pub fn check_labels<'a>(
    labels: impl Iterator<Item = (&'a [u8], &'a [u8])>,
) -> Result<NameAndTags<'a>, String> {
    let mut name = None;
    let mut tags = Vec::new();
    let mut seen: Vec<&[u8]> = Vec::new();
    for (l_name, l_value) in labels {
        if !is_valid_label_name(l_name) {
            return Err(format!(
                "invalid label name {:?}: label names must match [a-zA-Z_][a-zA-Z0-9_]*",
                String::from_utf8_lossy(l_name)
            ));
        }
        if seen.contains(&l_name) {
            return Err(format!(
                "duplicate label name {:?}",
                String::from_utf8_lossy(l_name)
            ));
        }
        seen.push(l_name);
        let value = std::str::from_utf8(l_value).map_err(|_| {
            format!(
                "label {:?} has a value that is not valid UTF-8",
                String::from_utf8_lossy(l_name)
            )
        })?;
        // Validated ASCII above.
        let key = std::str::from_utf8(l_name).unwrap_or_default();
        if key == "__name__" {
            if !is_valid_metric_name(l_value) {
                return Err(format!(
                    "invalid metric name {value:?}: metric names must match [a-zA-Z_:][a-zA-Z0-9_:]*"
                ));
            }
            name = Some(value);
        } else if !value.is_empty() {
            tags.push((key, value));
        }
    }
    let name =
        name.ok_or("no __name__ label: the metric name becomes the measurement".to_owned())?;
    Ok((name, tags))
}

/// The points of a request, and the series that could not become points.
pub fn to_points(req: &WriteRequest) -> (Vec<Point>, Vec<SeriesError>) {
    let mut points = Vec::new();
    let mut errors = Vec::new();
    for (index, ts) in req.timeseries.iter().enumerate() {
        let fail = |reason: String| SeriesError {
            index,
            labels: show_labels(&ts.labels),
            reason,
        };
        let labels = ts.labels.iter().map(|l| (&l.name[..], &l.value[..]));
        let (name, tags) = match check_labels(labels) {
            Ok(v) => v,
            Err(reason) => {
                errors.push(fail(reason));
                continue;
            }
        };
        let key = |measurement: &str| {
            SeriesKey::new(measurement, tags.iter().copied()).map_err(|e| fail(e.to_string()))
        };
        let point = |key: &SeriesKey, value: f64, ms: i64| match ms.checked_mul(1_000_000) {
            Some(ns) => Ok(Point::new(
                key.clone(),
                vec![("value".to_owned(), FieldValue::Float(value))],
                ns,
            )),
            None => Err(fail(format!("timestamp {ms} ms is out of range"))),
        };
        let mut push = |p: Result<Point, SeriesError>| match p {
            Ok(p) => points.push(p),
            Err(e) => errors.push(e),
        };
        if !ts.samples.is_empty() {
            match key(name) {
                Ok(k) => {
                    for s in &ts.samples {
                        push(point(&k, s.value, s.timestamp));
                    }
                }
                Err(e) => push(Err(e)),
            }
        }
        if !ts.histograms.is_empty() {
            match (key(&format!("{name}_count")), key(&format!("{name}_sum"))) {
                (Ok(count_key), Ok(sum_key)) => {
                    for h in &ts.histograms {
                        let count = h
                            .count_float
                            .unwrap_or_else(|| h.count_int.unwrap_or(0) as f64);
                        push(point(&count_key, count, h.timestamp));
                        push(point(&sum_key, h.sum, h.timestamp));
                    }
                }
                (Err(e), _) | (_, Err(e)) => push(Err(e)),
            }
        }
    }
    (points, errors)
}

fn show_labels(labels: &[Label]) -> String {
    show_label_pairs(labels.iter().map(|l| (&l.name[..], &l.value[..])))
}

/// Labels as `{a="b",…}` for a message (the first 16).
pub fn show_label_pairs<'a>(labels: impl Iterator<Item = (&'a [u8], &'a [u8])>) -> String {
    let inner: Vec<String> = labels
        .take(16)
        .map(|(n, v)| {
            format!(
                "{}={:?}",
                String::from_utf8_lossy(n),
                String::from_utf8_lossy(v)
            )
        })
        .collect();
    format!("{{{}}}", inner.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_query::promql::STALE_NAN_BITS;

    fn label(n: &str, v: &str) -> Label {
        Label {
            name: n.into(),
            value: v.into(),
        }
    }

    #[test]
    fn round_trip_and_mapping() {
        let req = WriteRequest {
            timeseries: vec![
                TimeSeries {
                    labels: vec![
                        label("__name__", "up"),
                        label("job", "node"),
                        label("empty", ""),
                    ],
                    samples: vec![
                        Sample {
                            value: 1.0,
                            timestamp: 1_700_000_000_000,
                        },
                        Sample {
                            value: f64::from_bits(STALE_NAN_BITS),
                            timestamp: 1_700_000_015_000,
                        },
                    ],
                    ..Default::default()
                },
                TimeSeries {
                    labels: vec![label("job", "x")],
                    samples: vec![Sample {
                        value: 2.0,
                        timestamp: 1,
                    }],
                    ..Default::default()
                },
            ],
            metadata: vec![],
        };
        let body = encode_remote_write(&req);
        let back = decode_remote_write(&body, 1 << 20).unwrap();
        assert_eq!(
            back.encode_to_vec(),
            req.encode_to_vec(),
            "NaN != NaN: compare bytes"
        );
        let (points, errors) = to_points(&back);
        assert_eq!(points.len(), 2, "the stale marker is kept");
        assert!(matches!(
            points[1].fields[0].1,
            FieldValue::Float(v) if v.to_bits() == STALE_NAN_BITS
        ));
        assert_eq!(points[0].series.measurement(), "up");
        assert_eq!(
            points[0].series.tags(),
            [("job".to_owned(), "node".to_owned())]
        );
        assert_eq!(points[0].timestamp, 1_700_000_000_000_000_000);
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].to_string().contains("no __name__"),
            "{}",
            errors[0]
        );
    }

    #[test]
    fn names_are_checked_as_prometheus_checks_them() {
        for ok in ["up", "a_b:c", "_x", ":x", "X9"] {
            assert!(is_valid_metric_name(ok.as_bytes()), "{ok}");
        }
        for bad in ["", "9x", "a-b", "a b", "é", "a\n"] {
            assert!(!is_valid_metric_name(bad.as_bytes()), "{bad:?}");
        }
        for ok in ["job", "_x", "A_9", "__name__"] {
            assert!(is_valid_label_name(ok.as_bytes()), "{ok}");
        }
        for bad in ["", "9x", "a:b", "a-b", "é"] {
            assert!(!is_valid_label_name(bad.as_bytes()), "{bad:?}");
        }
        let ts = |labels: Vec<Label>| TimeSeries {
            labels,
            samples: vec![Sample {
                value: 1.0,
                timestamp: 1,
            }],
            ..Default::default()
        };
        let (points, errors) = to_points(&WriteRequest {
            timeseries: vec![
                ts(vec![label("__name__", "up"), label("v", "a\nb\\")]),
                ts(vec![
                    label("__name__", "up"),
                    label("v", "a"),
                    label("v", "b"),
                ]),
            ],
            metadata: vec![],
        });
        assert_eq!(points.len(), 1);
        assert_eq!(points[0].series.tag("v"), Some("a\nb\\"));
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].index, 1);
        assert!(
            errors[0].reason.contains("duplicate label name"),
            "{}",
            errors[0]
        );
    }

    #[test]
    fn bad_bytes_are_errors() {
        assert!(matches!(
            decode_remote_write(b"\xff\xff\xff\xff\xff", 1 << 20),
            Err(RemoteWriteError::Snappy(_))
        ));
        let not_proto = snap::raw::Encoder::new()
            .compress_vec(b"\xff\xff\xff")
            .unwrap();
        assert!(matches!(
            decode_remote_write(&not_proto, 1 << 20),
            Err(RemoteWriteError::Protobuf(_))
        ));
        let big = snap::raw::Encoder::new()
            .compress_vec(&vec![0u8; 4096])
            .unwrap();
        assert!(matches!(
            decode_remote_write(&big, 100),
            Err(RemoteWriteError::TooLarge {
                len: 4096,
                limit: 100
            })
        ));
    }
}
