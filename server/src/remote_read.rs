//! Prometheus remote read 1.0 (`POST /api/v1/read`): a snappy block-compressed protobuf
//! `ReadRequest` in, a snappy `ReadResponse` of raw samples (response type SAMPLES) out.
//! The message types are written by hand with `prost` derives, field for field as
//! Prometheus' `prompb/remote.proto` and `prompb/types.proto`; the series types are
//! remote write's.
//!
//! Samples are returned raw, stale markers included (bit-exact), so a Prometheus that
//! reads Strata sees what it would have stored itself.

use crate::remote_write::{Label, Sample, TimeSeries};
use prost::Message;
use strata_query::plan::{MatchOp, Matcher};

/// `ReadRequest` (remote.proto).
#[derive(Clone, PartialEq, Message)]
pub struct ReadRequest {
    /// The queries.
    #[prost(message, repeated, tag = "1")]
    pub queries: Vec<Query>,
    /// Response types the client accepts, in order of preference (`ResponseType`).
    #[prost(enumeration = "ResponseType", repeated, tag = "2")]
    pub accepted_response_types: Vec<i32>,
}

/// `ReadRequest.ResponseType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum ResponseType {
    /// Whole `ReadResponse` of samples.
    Samples = 0,
    /// Streamed chunks (not offered by Strata).
    StreamedXorChunks = 1,
}

/// `Query` (remote.proto).
#[derive(Clone, PartialEq, Message)]
pub struct Query {
    /// Start, ms, inclusive.
    #[prost(int64, tag = "1")]
    pub start_timestamp_ms: i64,
    /// End, ms, inclusive.
    #[prost(int64, tag = "2")]
    pub end_timestamp_ms: i64,
    /// Label matchers.
    #[prost(message, repeated, tag = "3")]
    pub matchers: Vec<LabelMatcher>,
    /// Hints (ignored).
    #[prost(message, optional, tag = "4")]
    pub hints: Option<ReadHints>,
}

/// `LabelMatcher` (types.proto).
#[derive(Clone, PartialEq, Message)]
pub struct LabelMatcher {
    /// `EQ = 0; NEQ = 1; RE = 2; NRE = 3`.
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    /// Label name.
    #[prost(string, tag = "2")]
    pub name: String,
    /// Value or regex.
    #[prost(string, tag = "3")]
    pub value: String,
}

/// `ReadHints` (types.proto), decoded and not used.
#[derive(Clone, PartialEq, Message)]
pub struct ReadHints {
    /// Query step, ms.
    #[prost(int64, tag = "1")]
    pub step_ms: i64,
    /// Function name.
    #[prost(string, tag = "2")]
    pub func: String,
    /// Start, ms.
    #[prost(int64, tag = "3")]
    pub start_ms: i64,
    /// End, ms.
    #[prost(int64, tag = "4")]
    pub end_ms: i64,
}

/// `ReadResponse` (remote.proto).
#[derive(Clone, PartialEq, Message)]
pub struct ReadResponse {
    /// One result per query, in order.
    #[prost(message, repeated, tag = "1")]
    pub results: Vec<QueryResult>,
}

/// `QueryResult` (remote.proto).
#[derive(Clone, PartialEq, Message)]
pub struct QueryResult {
    /// The series with their samples.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// Why a remote-read request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RemoteReadError {
    /// Not a valid snappy block.
    #[error("remote read body is not valid snappy (block format): {0}")]
    Snappy(String),
    /// Decompressed size over the limit.
    #[error("remote read body decompresses to {len} bytes, over the limit of {limit} bytes")]
    TooLarge {
        /// Announced size.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// Not a valid protobuf `ReadRequest`.
    #[error("remote read body is not a valid protobuf ReadRequest: {0}")]
    Protobuf(String),
    /// A matcher that cannot be used.
    #[error("query {query}: {reason}")]
    Matcher {
        /// 0-based query index.
        query: usize,
        /// What is wrong.
        reason: String,
    },
}

/// Decodes a remote-read body (refusing, before allocating, one announced larger than
/// `max_bytes`).
pub fn decode_remote_read(body: &[u8], max_bytes: usize) -> Result<ReadRequest, RemoteReadError> {
    let len =
        snap::raw::decompress_len(body).map_err(|e| RemoteReadError::Snappy(e.to_string()))?;
    if len > max_bytes {
        return Err(RemoteReadError::TooLarge {
            len,
            limit: max_bytes,
        });
    }
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| RemoteReadError::Snappy(e.to_string()))?;
    ReadRequest::decode(&raw[..]).map_err(|e| RemoteReadError::Protobuf(e.to_string()))
}

/// Encodes a message as protobuf under snappy.
pub fn encode_snappy<M: Message>(m: &M) -> Vec<u8> {
    snap::raw::Encoder::new()
        .compress_vec(&m.encode_to_vec())
        .unwrap_or_default()
}

/// The matchers of one query, checked as Prometheus checks them.
pub fn matchers(index: usize, q: &Query) -> Result<Vec<Matcher>, RemoteReadError> {
    let fail = |reason: String| RemoteReadError::Matcher {
        query: index,
        reason,
    };
    let mut out = Vec::with_capacity(q.matchers.len());
    for m in &q.matchers {
        let op = match m.r#type {
            0 => MatchOp::Equal,
            1 => MatchOp::NotEqual,
            2 => MatchOp::Regex,
            3 => MatchOp::NotRegex,
            t => return Err(fail(format!("invalid matcher type {t}"))),
        };
        out.push(Matcher::new(&m.name, op, &m.value).map_err(fail)?);
    }
    if !out.iter().any(|m| !m.matches("")) {
        return Err(fail(
            "selector must contain at least one non-empty matcher".into(),
        ));
    }
    Ok(out)
}

/// A series for the response.
pub fn series(labels: &[(String, String)], ts: &[i64], vals: &[f64]) -> TimeSeries {
    TimeSeries {
        labels: labels
            .iter()
            .map(|(n, v)| Label {
                name: n.clone().into_bytes(),
                value: v.clone().into_bytes(),
            })
            .collect(),
        samples: ts
            .iter()
            .zip(vals)
            .map(|(&timestamp, &value)| Sample { value, timestamp })
            .collect(),
        exemplars: Vec::new(),
        histograms: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_round_trips_and_matchers_check() {
        let req = ReadRequest {
            queries: vec![Query {
                start_timestamp_ms: 1,
                end_timestamp_ms: 2,
                matchers: vec![LabelMatcher {
                    r#type: 2,
                    name: "__name__".into(),
                    value: "up|x".into(),
                }],
                hints: None,
            }],
            accepted_response_types: vec![0],
        };
        let body = encode_snappy(&req);
        let back = decode_remote_read(&body, 1 << 20).unwrap();
        assert_eq!(back, req);
        let ms = matchers(0, &back.queries[0]).unwrap();
        assert!(ms[0].matches("up"));
        assert!(matches!(
            decode_remote_read(b"junk", 1 << 20),
            Err(RemoteReadError::Snappy(_))
        ));
        assert!(matches!(
            decode_remote_read(&body, 3),
            Err(RemoteReadError::TooLarge { .. })
        ));
        let empty = Query {
            matchers: vec![LabelMatcher {
                r#type: 0,
                name: "a".into(),
                value: String::new(),
            }],
            ..back.queries[0].clone()
        };
        assert!(matchers(0, &empty).is_err());
    }
}
