//! One file per endpoint group.

pub mod aggregate;
pub mod cluster;
pub mod prom;
pub mod prom_admin;
pub mod prom_agent;
pub mod prom_meta;
pub mod promql;
pub mod query;
pub mod query_stream;
pub mod remote_read;
pub mod status;
pub mod subscribe;
pub mod write;
