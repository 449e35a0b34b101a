//! SELECT execution.
use super::Ctx;
use crate::ast::Select;
use crate::error::QueryError;
use crate::result::Series;

pub(crate) fn run(_ctx: &Ctx<'_>, _s: &Select) -> Result<Vec<Series>, QueryError> {
    Err(QueryError::Unsupported("SELECT is being built".into()))
}
