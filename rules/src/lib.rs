//! Prometheus recording and alerting rules for Strata.
//!
//! ```text
//! rule files (file) ─► groups (group) ─► rules (rule: PromQL through strata_query,
//!   alert state, templates) ─► results written to the engine; alerts ─► notifier ─►
//!   Alertmanager /api/v2/alerts
//! ```
//!
//! | module | job |
//! | --- | --- |
//! | [`file`] | rule files, checked as `promtool check rules` checks them |
//! | [`template`] | the Go-template subset of labels and annotations |
//! | [`gofmt`] | Go's number formats and `printf` |
//! | [`rule`] | one rule's evaluation and alert state |
//! | [`group`] | a group's evaluation, staleness, `for`-state restore |
//! | [`manager`] | groups on their intervals; reload |
//! | [`notifier`] | the bounded queue and the Alertmanager client |
//! | [`api`] | `/api/v1/rules`, `/api/v1/alerts` JSON |
//! | [`unittest`] | `strata test rules`: promtool's rule unit tests |
//!
//! It uses `strata_scrape` for the configuration file and relabelling (one file holds
//! both); the scrape crate knows nothing of rules.

pub mod api;
pub mod file;
pub mod gofmt;
pub mod group;
pub mod manager;
pub mod notifier;
pub mod rule;
pub mod template;
pub mod unittest;

pub use manager::RuleManager;
pub use notifier::Notifier;
