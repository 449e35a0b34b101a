//! Strata's cluster: nodes register in etcd ([`membership`]), and any node answers a
//! cluster query by asking every live member (or those named) in parallel for partial
//! results over its own data ([`fanout`]), then merging them with the executor's own
//! merge ([`strata_query::partial`]).
//!
//! ```text
//!  client ─► front-end node ──(POST /internal/v1/…, binary)──► every member (itself too)
//!                 │  ◄────────── per-group partial states / series ───────┘
//!                 └─ merge (State::merge) ─► finish (fill, projections) ─► answer
//! ```
//!
//! A member that is down, slower than the deadline, or answers with an error is left
//! out and named in the answer (`partial`, `failed_nodes`); when etcd cannot be reached
//! the last known member list is used and the answer says so (`stale_membership`).
//!
//! | file | job |
//! | --- | --- |
//! | [`etcd`] | etcd's v3 API through its JSON gateway |
//! | [`membership`] | registration with a kept-alive lease; the watched member list |
//! | [`fanout`] | parallel requests with a deadline; failures collected; the merges |
//! | [`wire`] | the internal requests' binary form |
//! | [`metrics`] | counters for `/metrics` |

pub mod etcd;
pub mod fanout;
pub mod membership;
pub mod metrics;
pub mod prom;
pub mod wire;

pub use fanout::{Cluster, ClusterConfig, ClusterInfo, ClusterTls, Failed, Gathered};
pub use membership::{Member, MemberView, MembershipConfig};

/// The internal route a member answers InfluxQL partial requests on.
pub const INFLUXQL_PATH: &str = "/internal/v1/partial/influxql";
/// The internal route a member answers PromQL partial requests on.
pub const PROMQL_PATH: &str = "/internal/v1/partial/promql";
/// The content type of internal requests and answers.
pub const CONTENT_TYPE: &str = "application/vnd.strata.partial";
