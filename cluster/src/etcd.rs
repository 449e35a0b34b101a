//! A small client for etcd's v3 API through its JSON gateway (`POST /v3/...`, etcd 3.4's
//! path): leases (grant, keep-alive, revoke), put, range and watch over a key prefix.
//!
//! Why the gateway and not a gRPC client crate: the gateway is part of every etcd 3.x
//! server, speaks the same v3 API (the same leases, revisions and watch events) as JSON
//! over plain HTTP, and reqwest is already Strata's HTTP client; a gRPC client would add
//! tonic, prost code generation and `protoc` to the build and CI for the five calls
//! membership needs. Keys and values are base64 in the JSON, 64-bit integers are strings.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use std::time::Duration;

/// What went wrong talking to etcd.
#[derive(Debug, thiserror::Error)]
pub enum EtcdError {
    /// No endpoint answered.
    #[error("etcd at {endpoint}: {source}")]
    Http {
        /// The endpoint tried.
        endpoint: String,
        /// The transport error.
        source: reqwest::Error,
    },
    /// The cluster settings cannot be used (a TLS file that does not read).
    #[error("cluster settings: {what}")]
    Settings {
        /// What is wrong, naming the file or flag.
        what: String,
    },
    /// An endpoint answered with an error status or a body that is not the v3 API's.
    #[error("etcd at {endpoint}: {what}")]
    Api {
        /// The endpoint.
        endpoint: String,
        /// What was wrong.
        what: String,
    },
}

/// One change under a watched prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEvent {
    /// A key was created or changed.
    Put {
        /// The key.
        key: String,
        /// Its new value.
        value: Vec<u8>,
    },
    /// A key was deleted (or its lease expired).
    Delete {
        /// The key.
        key: String,
    },
}

/// A client for a list of etcd endpoints; each call tries them in order.
#[derive(Debug, Clone)]
pub struct Etcd {
    endpoints: Vec<String>,
    http: reqwest::Client,
}

/// The first key after every key starting with `prefix` (etcd's `range_end` for a
/// prefix).
pub fn prefix_end(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

fn num(v: &Value) -> Option<i64> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

impl Etcd {
    /// A client for `endpoints` (`http://host:port`), each request bounded by `timeout`.
    pub fn new(endpoints: Vec<String>, timeout: Duration) -> Result<Etcd, EtcdError> {
        let http = reqwest::Client::builder()
            .connect_timeout(timeout)
            .build()
            .map_err(|source| EtcdError::Http {
                endpoint: endpoints.join(","),
                source,
            })?;
        Ok(Etcd {
            endpoints: endpoints
                .into_iter()
                .map(|e| e.trim_end_matches('/').to_owned())
                .collect(),
            http,
        })
    }

    fn post(&self, url: &str, body: &Value) -> reqwest::RequestBuilder {
        self.http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
    }

    /// The endpoints, as given.
    pub fn endpoints(&self) -> &[String] {
        &self.endpoints
    }

    async fn call(&self, path: &str, body: Value, timeout: Duration) -> Result<Value, EtcdError> {
        let mut last = None;
        for ep in &self.endpoints {
            let url = format!("{ep}{path}");
            let resp = match self.post(&url, &body).timeout(timeout).send().await {
                Ok(r) => r,
                Err(source) => {
                    last = Some(EtcdError::Http {
                        endpoint: ep.clone(),
                        source,
                    });
                    continue;
                }
            };
            let status = resp.status();
            let bytes = resp.bytes().await.map_err(|source| EtcdError::Http {
                endpoint: ep.clone(),
                source,
            })?;
            let v: Value = serde_json::from_slice(&bytes).map_err(|e| EtcdError::Api {
                endpoint: ep.clone(),
                what: format!("{path}: answer is not JSON ({e})"),
            })?;
            if !status.is_success() || v.get("error").is_some() {
                return Err(EtcdError::Api {
                    endpoint: ep.clone(),
                    what: format!(
                        "{path}: HTTP {status}: {}",
                        v.get("error")
                            .or_else(|| v.get("message"))
                            .map_or_else(|| v.to_string(), |e| e.to_string())
                    ),
                });
            }
            return Ok(v);
        }
        Err(last.unwrap_or_else(|| EtcdError::Api {
            endpoint: String::new(),
            what: "no etcd endpoint configured".into(),
        }))
    }

    /// Grants a lease of `ttl` seconds; returns its id.
    pub async fn grant(&self, ttl: i64, timeout: Duration) -> Result<i64, EtcdError> {
        let v = self
            .call("/v3/lease/grant", json!({ "TTL": ttl }), timeout)
            .await?;
        v.get("ID").and_then(num).ok_or_else(|| EtcdError::Api {
            endpoint: self.endpoints.join(","),
            what: format!("lease grant answered without an ID: {v}"),
        })
    }

    /// Renews lease `id`; returns its remaining TTL in seconds (0 or less: the lease is
    /// gone and must be granted again).
    pub async fn keep_alive(&self, id: i64, timeout: Duration) -> Result<i64, EtcdError> {
        // The gateway serves keep-alive as a stream; one request gets one answer line.
        let mut last = None;
        for ep in &self.endpoints {
            let url = format!("{ep}/v3/lease/keepalive");
            let mut resp = match self
                .post(&url, &json!({ "ID": id.to_string() }))
                .timeout(timeout)
                .send()
                .await
            {
                Ok(r) => r,
                Err(source) => {
                    last = Some(EtcdError::Http {
                        endpoint: ep.clone(),
                        source,
                    });
                    continue;
                }
            };
            let mut buf = Vec::new();
            while !buf.contains(&b'\n') {
                match resp.chunk().await {
                    Ok(Some(c)) => buf.extend_from_slice(&c),
                    Ok(None) => break,
                    Err(source) => {
                        return Err(EtcdError::Http {
                            endpoint: ep.clone(),
                            source,
                        });
                    }
                }
            }
            let line = buf.split(|&b| b == b'\n').next().unwrap_or(&[]);
            let v: Value = serde_json::from_slice(line).map_err(|e| EtcdError::Api {
                endpoint: ep.clone(),
                what: format!("lease keep-alive answer is not JSON ({e})"),
            })?;
            let result = v.get("result").unwrap_or(&v);
            return Ok(result.get("TTL").and_then(num).unwrap_or(0));
        }
        Err(last.unwrap_or_else(|| EtcdError::Api {
            endpoint: String::new(),
            what: "no etcd endpoint configured".into(),
        }))
    }

    /// Revokes lease `id`: every key attached to it is deleted at once.
    pub async fn revoke(&self, id: i64, timeout: Duration) -> Result<(), EtcdError> {
        self.call("/v3/lease/revoke", json!({ "ID": id.to_string() }), timeout)
            .await
            .map(|_| ())
    }

    /// Puts `key = value` attached to lease `lease`.
    pub async fn put(
        &self,
        key: &str,
        value: &[u8],
        lease: i64,
        timeout: Duration,
    ) -> Result<(), EtcdError> {
        self.call(
            "/v3/kv/put",
            json!({ "key": B64.encode(key), "value": B64.encode(value), "lease": lease.to_string() }),
            timeout,
        )
        .await
        .map(|_| ())
    }

    /// Every key under `prefix` with its value, and the store's revision.
    pub async fn range_prefix(
        &self,
        prefix: &str,
        timeout: Duration,
    ) -> Result<(Vec<(String, Vec<u8>)>, i64), EtcdError> {
        let v = self
            .call(
                "/v3/kv/range",
                json!({ "key": B64.encode(prefix), "range_end": B64.encode(prefix_end(prefix)) }),
                timeout,
            )
            .await?;
        let revision = v
            .pointer("/header/revision")
            .and_then(num)
            .unwrap_or_default();
        let mut out = Vec::new();
        for kv in v.get("kvs").and_then(Value::as_array).into_iter().flatten() {
            if let Some((k, val)) = decode_kv(kv) {
                out.push((k, val));
            }
        }
        Ok((out, revision))
    }

    /// Opens a watch on `prefix` from revision `from` and hands each event to `on_event`
    /// until the stream ends or fails (the caller then reads the prefix again and watches
    /// anew). Returns why the stream stopped.
    pub async fn watch_prefix(
        &self,
        prefix: &str,
        from: i64,
        connect_timeout: Duration,
        mut on_event: impl FnMut(WatchEvent),
    ) -> EtcdError {
        let Some(ep) = self.endpoints.first().cloned() else {
            return EtcdError::Api {
                endpoint: String::new(),
                what: "no etcd endpoint configured".into(),
            };
        };
        let body = json!({ "create_request": {
            "key": B64.encode(prefix),
            "range_end": B64.encode(prefix_end(prefix)),
            "start_revision": from.to_string(),
        }});
        let send = self.post(&format!("{ep}/v3/watch"), &body).send();
        let mut resp = match tokio::time::timeout(connect_timeout, send).await {
            Ok(Ok(r)) => r,
            Ok(Err(source)) => {
                return EtcdError::Http {
                    endpoint: ep,
                    source,
                };
            }
            Err(_) => {
                return EtcdError::Api {
                    endpoint: ep,
                    what: format!("watch not opened within {connect_timeout:?}"),
                };
            }
        };
        let mut buf: Vec<u8> = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(c)) => buf.extend_from_slice(&c),
                Ok(None) => {
                    return EtcdError::Api {
                        endpoint: ep,
                        what: "watch stream ended".into(),
                    };
                }
                Err(source) => {
                    return EtcdError::Http {
                        endpoint: ep,
                        source,
                    };
                }
            }
            while let Some(nl) = buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = buf.drain(..=nl).collect();
                let Ok(v) = serde_json::from_slice::<Value>(&line) else {
                    continue;
                };
                if let Some(err) = v.get("error") {
                    return EtcdError::Api {
                        endpoint: ep,
                        what: format!("watch: {err}"),
                    };
                }
                let result = v.get("result").unwrap_or(&v);
                if result.get("canceled").and_then(Value::as_bool) == Some(true) {
                    return EtcdError::Api {
                        endpoint: ep,
                        what: format!(
                            "watch cancelled: {}",
                            result
                                .get("cancel_reason")
                                .map_or_else(String::new, Value::to_string)
                        ),
                    };
                }
                for e in result
                    .get("events")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let Some(kv) = e.get("kv") else { continue };
                    let is_delete = e.get("type").and_then(Value::as_str) == Some("DELETE");
                    let Some((key, value)) = decode_kv(kv) else {
                        continue;
                    };
                    on_event(if is_delete {
                        WatchEvent::Delete { key }
                    } else {
                        WatchEvent::Put { key, value }
                    });
                }
            }
        }
    }
}

fn decode_kv(kv: &Value) -> Option<(String, Vec<u8>)> {
    let key = B64.decode(kv.get("key")?.as_str()?).ok()?;
    let value = match kv.get("value").and_then(Value::as_str) {
        Some(v) => B64.decode(v).ok()?,
        None => Vec::new(),
    };
    Some((String::from_utf8(key).ok()?, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_ends_cover_exactly_the_prefix() {
        assert_eq!(prefix_end("/strata/members/"), b"/strata/members0".to_vec());
        assert_eq!(prefix_end("a\u{7f}"), vec![b'a', 0x80]);
        assert_eq!(prefix_end(""), vec![0]);
    }

    #[test]
    fn key_values_decode_from_the_gateway_form() {
        let kv = json!({"key": B64.encode("/p/a"), "value": B64.encode("{}")});
        assert_eq!(decode_kv(&kv), Some(("/p/a".into(), b"{}".to_vec())));
        assert_eq!(decode_kv(&json!({"key": "%%%"})), None);
    }
}
