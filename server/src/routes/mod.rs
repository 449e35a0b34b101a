//! One file per endpoint group.

pub mod aggregate;
pub mod prom;
pub mod query;
pub mod status;
pub mod write;
