//! Meta statements.
use super::Ctx;
use crate::ast::Statement;
use crate::error::QueryError;
use crate::result::Series;

pub(crate) fn run(_ctx: &Ctx<'_>, _s: &Statement) -> Result<Vec<Series>, QueryError> {
    Err(QueryError::Unsupported(
        "meta statements are being built".into(),
    ))
}
