//! The part of Go's `text/template` that alert labels and annotations use, with
//! Prometheus' functions and its variables `$labels`, `$externalLabels`,
//! `$externalURL`, `$value` (and the same data as `.Labels`, `.ExternalLabels`,
//! `.ExternalURL`, `.Value`).
//!
//! Supported: text; `{{ pipeline }}` with `|`; trim markers `{{-` `-}}`; comments
//! `{{/* */}}`; `if`/`else if`/`else`/`end`; `range $k, $v := map`/`else`/`end`;
//! `with`/`else`/`end`; variables (`$x := …`, `$x = …`); string, raw-string, number and
//! boolean literals; parentheses; Go's built-ins (`and or not eq ne lt le gt ge len
//! index print printf println html js urlquery`) and Prometheus' (`humanize`,
//! `humanize1024`, `humanizeDuration`, `humanizePercentage`, `humanizeTimestamp`,
//! `toUpper`, `toLower`, `title`, `reReplaceAll`, `match`, `safeHtml`, `stripPort`,
//! `stripDomain`, `parseDuration`, `externalURL`, `pathPrefix`, `graphLink`,
//! `tableLink`). `query`, `first`, `label`, `value`, `strvalue`, `sortByLabel`, `args`,
//! `tmpl` and `toTime` parse (so every file Prometheus accepts loads) but fail when run,
//! which prints `<error expanding template: …>` as Prometheus does for a failing template.
//! Missing map keys print as empty (Prometheus' `missingkey=zero`).

mod exec;
mod funcs;
mod parse;

pub use exec::{Data, expand};
pub use funcs::url_escape;
pub use parse::{Template, parse};

/// A template that failed to parse or run, worded as Go words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template: {name}:{line}: {msg}")]
pub struct TemplateError {
    /// The template's name (`__alert_<name>`).
    pub name: String,
    /// 1-based line.
    pub line: usize,
    /// What went wrong.
    pub msg: String,
}

#[cfg(test)]
mod tests;
