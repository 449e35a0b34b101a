//! The function table of Prometheus 2.42: each function's argument types and result type,
//! used by the parser's type checks. Evaluation is in `eval::call`.

use super::ast::ValueType;
use ValueType::{Matrix as M, Scalar as S, String as Str, Vector as V};

/// A PromQL function's signature.
#[derive(Debug, PartialEq)]
pub struct Function {
    /// Its name (case-sensitive, as in Prometheus).
    pub name: &'static str,
    /// Argument types in order.
    pub args: &'static [ValueType],
    /// 0: exactly `args`; 1: the last argument may be left out; -1: the last argument
    /// may repeat any number of times (and may be left out).
    pub variadic: i8,
    /// Result type.
    pub ret: ValueType,
}

macro_rules! f {
    ($name:literal, [$($a:expr),*], $var:expr, $ret:expr) => {
        Function { name: $name, args: &[$($a),*], variadic: $var, ret: $ret }
    };
}

/// Every function, sorted by name.
pub static FUNCTIONS: &[Function] = &[
    f!("abs", [V], 0, V),
    f!("absent", [V], 0, V),
    f!("absent_over_time", [M], 0, V),
    f!("acos", [V], 0, V),
    f!("acosh", [V], 0, V),
    f!("asin", [V], 0, V),
    f!("asinh", [V], 0, V),
    f!("atan", [V], 0, V),
    f!("atanh", [V], 0, V),
    f!("avg_over_time", [M], 0, V),
    f!("ceil", [V], 0, V),
    f!("changes", [M], 0, V),
    f!("clamp", [V, S, S], 0, V),
    f!("clamp_max", [V, S], 0, V),
    f!("clamp_min", [V, S], 0, V),
    f!("cos", [V], 0, V),
    f!("cosh", [V], 0, V),
    f!("count_over_time", [M], 0, V),
    f!("day_of_month", [V], 1, V),
    f!("day_of_week", [V], 1, V),
    f!("day_of_year", [V], 1, V),
    f!("days_in_month", [V], 1, V),
    f!("deg", [V], 0, V),
    f!("delta", [M], 0, V),
    f!("deriv", [M], 0, V),
    f!("exp", [V], 0, V),
    f!("floor", [V], 0, V),
    f!("histogram_count", [V], 0, V),
    f!("histogram_fraction", [S, S, V], 0, V),
    f!("histogram_quantile", [S, V], 0, V),
    f!("histogram_sum", [V], 0, V),
    f!("holt_winters", [M, S, S], 0, V),
    f!("hour", [V], 1, V),
    f!("idelta", [M], 0, V),
    f!("increase", [M], 0, V),
    f!("irate", [M], 0, V),
    f!("label_join", [V, Str, Str, Str], -1, V),
    f!("label_replace", [V, Str, Str, Str, Str], 0, V),
    f!("last_over_time", [M], 0, V),
    f!("ln", [V], 0, V),
    f!("log10", [V], 0, V),
    f!("log2", [V], 0, V),
    f!("max_over_time", [M], 0, V),
    f!("min_over_time", [M], 0, V),
    f!("minute", [V], 1, V),
    f!("month", [V], 1, V),
    f!("pi", [], 0, S),
    f!("predict_linear", [M, S], 0, V),
    f!("present_over_time", [M], 0, V),
    f!("quantile_over_time", [S, M], 0, V),
    f!("rad", [V], 0, V),
    f!("rate", [M], 0, V),
    f!("resets", [M], 0, V),
    f!("round", [V, S], 1, V),
    f!("scalar", [V], 0, S),
    f!("sgn", [V], 0, V),
    f!("sin", [V], 0, V),
    f!("sinh", [V], 0, V),
    f!("sort", [V], 0, V),
    f!("sort_desc", [V], 0, V),
    f!("sqrt", [V], 0, V),
    f!("stddev_over_time", [M], 0, V),
    f!("stdvar_over_time", [M], 0, V),
    f!("sum_over_time", [M], 0, V),
    f!("tan", [V], 0, V),
    f!("tanh", [V], 0, V),
    f!("time", [], 0, S),
    f!("timestamp", [V], 0, V),
    f!("vector", [S], 0, V),
    f!("year", [V], 1, V),
];

/// The function called `name`, if there is one.
pub fn lookup(name: &str) -> Option<&'static Function> {
    FUNCTIONS
        .binary_search_by(|f| f.name.cmp(name))
        .ok()
        .map(|i| &FUNCTIONS[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_complete() {
        assert!(FUNCTIONS.windows(2).all(|w| w[0].name < w[1].name));
        assert_eq!(FUNCTIONS.len(), 70);
        assert_eq!(lookup("rate").unwrap().args, &[M]);
        assert!(lookup("Rate").is_none());
    }
}
