//! The binary form of the internal requests a front-end sends to members (the answers'
//! form is [`strata_query::partial`]'s). A version byte, then the fields in order; the
//! same varint and string encoding as the partial states.

use strata_query::partial::codec::{DecodeError, Reader, Writer};

/// Version of the request form.
pub const REQUEST_VERSION: u8 = 1;

/// An InfluxQL partial request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfluxqlRequest {
    /// The statements' text.
    pub text: String,
    /// `now()` of the front-end, ns: every member resolves times the same way.
    pub now: i64,
    /// The tag each member adds to its series (`--cluster.node-label`).
    pub node_label: String,
    /// Longest the member may work, ms.
    pub timeout_ms: u64,
}

impl InfluxqlRequest {
    /// The wire form.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u8(REQUEST_VERSION);
        w.str(&self.text);
        w.i64(self.now);
        w.str(&self.node_label);
        w.u64(self.timeout_ms);
        w.buf
    }

    /// Reads the wire form.
    pub fn decode(src: &[u8]) -> Result<InfluxqlRequest, DecodeError> {
        let mut r = Reader::new(src);
        if r.u8()? != REQUEST_VERSION {
            return Err(r.err("request version 1"));
        }
        let q = InfluxqlRequest {
            text: r.str()?,
            now: r.i64()?,
            node_label: r.str()?,
            timeout_ms: r.u64()?,
        };
        if !r.is_empty() {
            return Err(r.err("the end of the request"));
        }
        Ok(q)
    }
}

/// A PromQL partial request: evaluate `expr` at the steps, as a plain vector (`mode` 0)
/// or as per-group partial aggregates (`mode` 1, the expression is an aggregation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromqlRequest {
    /// The expression (a sub-expression of the client's query), as PromQL text.
    pub expr: String,
    /// First step, ms.
    pub start: i64,
    /// Step, ms.
    pub step: i64,
    /// Steps.
    pub n: u64,
    /// The client query's start and end (for `@ start()` / `@ end()`), ms.
    pub query_start: i64,
    /// See `query_start`.
    pub query_end: i64,
    /// The label each member adds to its series.
    pub node_label: String,
    /// 0: the expression's series; 1: its aggregation's partial states.
    pub mode: u8,
    /// Longest the member may work, ms.
    pub timeout_ms: u64,
}

impl PromqlRequest {
    /// The wire form.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u8(REQUEST_VERSION);
        w.str(&self.expr);
        w.i64(self.start);
        w.i64(self.step);
        w.u64(self.n);
        w.i64(self.query_start);
        w.i64(self.query_end);
        w.str(&self.node_label);
        w.u8(self.mode);
        w.u64(self.timeout_ms);
        w.buf
    }

    /// Reads the wire form.
    pub fn decode(src: &[u8]) -> Result<PromqlRequest, DecodeError> {
        let mut r = Reader::new(src);
        if r.u8()? != REQUEST_VERSION {
            return Err(r.err("request version 1"));
        }
        let q = PromqlRequest {
            expr: r.str()?,
            start: r.i64()?,
            step: r.i64()?,
            n: r.u64()?,
            query_start: r.i64()?,
            query_end: r.i64()?,
            node_label: r.str()?,
            mode: r.u8()?,
            timeout_ms: r.u64()?,
        };
        if !r.is_empty() {
            return Err(r.err("the end of the request"));
        }
        Ok(q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_and_refuse_trailing_bytes() {
        let q = InfluxqlRequest {
            text: "SELECT sum(v) FROM m".into(),
            now: -3,
            node_label: "node".into(),
            timeout_ms: 5000,
        };
        let b = q.encode();
        assert_eq!(InfluxqlRequest::decode(&b).unwrap(), q);
        let mut long = b.clone();
        long.push(0);
        assert!(InfluxqlRequest::decode(&long).is_err());
        assert!(InfluxqlRequest::decode(&b[..b.len() - 1]).is_err());
        let p = PromqlRequest {
            expr: "sum(x)".into(),
            start: 1,
            step: 2,
            n: 3,
            query_start: 4,
            query_end: 5,
            node_label: "node".into(),
            mode: 1,
            timeout_ms: 6,
        };
        assert_eq!(PromqlRequest::decode(&p.encode()).unwrap(), p);
    }
}
