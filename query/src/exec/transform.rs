//! Transformations over a series' sequence of rows (derivative, difference, moving
//! average, cumulative sum, elapsed) and the row-wise math functions.
//!
//! Invariant: a transformation returns one cell per input row; rows it does not produce a
//! value for (the first row of a derivative, nulls, dropped negatives) are `Null`, and
//! the caller drops rows whose every projected cell is `Null`.

use crate::ast::Expr;
use crate::error::{QueryError, Token};
use crate::result::Value;

/// A function over a sequence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Transform {
    /// `unit` 0: the GROUP BY interval over aggregates, 1 s over raw values.
    Derivative {
        unit: i64,
        non_negative: bool,
    },
    Difference {
        non_negative: bool,
    },
    MovingAverage(usize),
    CumulativeSum,
    Elapsed(i64),
}

/// A function applied to each value on its own.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum MathFn {
    Abs,
    Ceil,
    Floor,
    Round,
    Sqrt,
    Ln,
    Log2,
    Log10,
    Exp,
    /// `log(x, base)`
    Log(f64),
    /// `pow(x, n)`
    Pow(f64),
}

fn duration_arg(name: &str, a: Option<&Expr>, default: i64) -> Result<i64, QueryError> {
    match a {
        None => Ok(default),
        Some(Expr::Duration(d)) if d.0 > 0 => Ok(d.0),
        Some(other) => Err(QueryError::invalid_at(
            Token::Call(name.to_owned()),
            format!("second argument to {name} must be a positive duration, got {other}"),
        )),
    }
}

fn number_arg(name: &str, a: Option<&Expr>) -> Result<f64, QueryError> {
    match a {
        Some(Expr::Integer(i)) => Ok(*i as f64),
        Some(Expr::Float(f)) => Ok(*f),
        other => Err(QueryError::invalid_at(
            Token::Call(name.to_owned()),
            format!(
                "{name}() needs a number as its second argument, got {}",
                other.map_or("nothing".to_string(), |e| e.to_string())
            ),
        )),
    }
}

impl Transform {
    pub fn from_call(name: &str, args: &[Expr]) -> Result<Option<Transform>, QueryError> {
        let lower = name.to_ascii_lowercase();
        let t = match lower.as_str() {
            "derivative" | "non_negative_derivative" => Transform::Derivative {
                unit: duration_arg(&lower, args.get(1), 0)?,
                non_negative: lower.starts_with("non_"),
            },
            "difference" | "non_negative_difference" => Transform::Difference {
                non_negative: lower.starts_with("non_"),
            },
            "moving_average" => {
                let n = match args.get(1) {
                    Some(Expr::Integer(n)) if *n > 0 => *n as usize,
                    other => {
                        return Err(QueryError::invalid_at(
                            Token::Call(lower.clone()),
                            format!(
                                "moving_average() needs a positive integer window as its second argument, got {}",
                                other.map_or("nothing".to_string(), |e| e.to_string())
                            ),
                        ));
                    }
                };
                Transform::MovingAverage(n)
            }
            "cumulative_sum" => Transform::CumulativeSum,
            "elapsed" => Transform::Elapsed(duration_arg(&lower, args.get(1), 1)?),
            _ => return Ok(None),
        };
        let max = match t {
            Transform::MovingAverage(_) => 2,
            Transform::Derivative { .. } | Transform::Elapsed(_) => 2,
            _ => 1,
        };
        if args.is_empty() || args.len() > max {
            return Err(QueryError::invalid_at(
                Token::Call(lower.clone()),
                format!(
                    "invalid number of arguments for {lower}, expected {}, got {}",
                    if max == 1 {
                        "1".into()
                    } else {
                        format!("1 to {max}")
                    },
                    args.len()
                ),
            ));
        }
        Ok(Some(t))
    }

    /// One output cell per `(time, value)` input row.
    /// Time differences are taken in i128 ([`span`]): rows may lie anywhere in the
    /// addressable range, whose width does not fit in an i64.
    /// `default_unit` is the derivative unit when the call named none.
    pub fn apply(self, rows: &[(i64, Value)], default_unit: i64) -> Vec<Value> {
        let mut out = vec![Value::Null; rows.len()];
        let mut prev: Option<(i64, &Value)> = None;
        let mut window: std::collections::VecDeque<f64> = Default::default();
        let mut acc: Option<Value> = None;
        for (i, (t, v)) in rows.iter().enumerate() {
            if matches!(v, Value::Null) {
                continue;
            }
            out[i] = match self {
                Transform::Derivative { unit, non_negative } => match prev {
                    Some((pt, pv)) if *t != pt => {
                        let unit = if unit == 0 { default_unit } else { unit };
                        // Descending rows count time forward too, as InfluxDB does.
                        let d = (num(v) - num(pv)) / (span(pt, *t).abs() as f64 / unit as f64);
                        if non_negative && d < 0.0 {
                            Value::Null
                        } else {
                            Value::Float(d)
                        }
                    }
                    _ => Value::Null,
                },
                Transform::Difference { non_negative } => match prev {
                    Some((_, pv)) => {
                        let d = match (v, pv) {
                            (Value::Integer(a), Value::Integer(b)) => {
                                Value::Integer(a.wrapping_sub(*b))
                            }
                            _ => Value::Float(num(v) - num(pv)),
                        };
                        if non_negative && num(&d) < 0.0 {
                            Value::Null
                        } else {
                            d
                        }
                    }
                    None => Value::Null,
                },
                Transform::MovingAverage(n) => {
                    window.push_back(num(v));
                    if window.len() > n {
                        window.pop_front();
                    }
                    if window.len() == n {
                        Value::Float(window.iter().sum::<f64>() / n as f64)
                    } else {
                        Value::Null
                    }
                }
                Transform::CumulativeSum => {
                    let next = match (&acc, v) {
                        (None, v) => v.clone(),
                        (Some(Value::Integer(a)), Value::Integer(b)) => {
                            Value::Integer(a.wrapping_add(*b))
                        }
                        (Some(a), b) => Value::Float(num(a) + num(b)),
                    };
                    acc = Some(next.clone());
                    next
                }
                Transform::Elapsed(unit) => match prev {
                    Some((pt, _)) => Value::Integer(
                        i64::try_from(span(pt, *t) / i128::from(unit)).unwrap_or(i64::MAX),
                    ),
                    None => Value::Null,
                },
            };
            prev = Some((*t, v));
        }
        out
    }
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

impl MathFn {
    pub fn from_call(name: &str, args: &[Expr]) -> Result<Option<MathFn>, QueryError> {
        let lower = name.to_ascii_lowercase();
        let (f, n) = match lower.as_str() {
            "abs" => (MathFn::Abs, 1),
            "ceil" => (MathFn::Ceil, 1),
            "floor" => (MathFn::Floor, 1),
            "round" => (MathFn::Round, 1),
            "sqrt" => (MathFn::Sqrt, 1),
            "ln" => (MathFn::Ln, 1),
            "log2" => (MathFn::Log2, 1),
            "log10" => (MathFn::Log10, 1),
            "exp" => (MathFn::Exp, 1),
            "log" => (MathFn::Log(number_arg("log", args.get(1))?), 2),
            "pow" => (MathFn::Pow(number_arg("pow", args.get(1))?), 2),
            _ => return Ok(None),
        };
        if args.len() != n {
            return Err(QueryError::invalid_at(
                Token::Call(lower.clone()),
                format!(
                    "invalid number of arguments for {lower}, expected {n}, got {}",
                    args.len()
                ),
            ));
        }
        Ok(Some(f))
    }

    pub fn apply(self, v: &Value) -> Value {
        let x = match v {
            Value::Integer(i) => match self {
                MathFn::Abs => return Value::Integer(i.wrapping_abs()),
                MathFn::Ceil | MathFn::Floor | MathFn::Round => return Value::Integer(*i),
                _ => *i as f64,
            },
            Value::Unsigned(u) => match self {
                MathFn::Abs | MathFn::Ceil | MathFn::Floor | MathFn::Round => {
                    return Value::Unsigned(*u);
                }
                _ => *u as f64,
            },
            Value::Float(f) => *f,
            _ => return Value::Null,
        };
        let y = match self {
            MathFn::Abs => x.abs(),
            MathFn::Ceil => x.ceil(),
            MathFn::Floor => x.floor(),
            MathFn::Round => x.round(),
            MathFn::Sqrt => x.sqrt(),
            MathFn::Ln => x.ln(),
            MathFn::Log2 => x.log2(),
            MathFn::Log10 => x.log10(),
            MathFn::Exp => x.exp(),
            MathFn::Log(b) => x.log(b),
            MathFn::Pow(n) => x.powf(n),
        };
        // NaN and infinities (sqrt(-1), ln(0)) are nulls, as in InfluxDB.
        if y.is_finite() {
            Value::Float(y)
        } else {
            Value::Null
        }
    }
}

/// `to - from` without overflow.
fn span(from: i64, to: i64) -> i128 {
    i128::from(to) - i128::from(from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(v: &[Option<i64>]) -> Vec<(i64, Value)> {
        v.iter()
            .enumerate()
            .map(|(i, x)| {
                (
                    i as i64 * 1_000_000_000,
                    x.map_or(Value::Null, Value::Integer),
                )
            })
            .collect()
    }

    #[test]
    fn sequence_functions() {
        let r = rows(&[Some(1), Some(4), None, Some(2), Some(10)]);
        let d = Transform::Derivative {
            unit: 1_000_000_000,
            non_negative: false,
        }
        .apply(&r, 1_000_000_000);
        assert_eq!(
            d,
            vec![
                Value::Null,
                Value::Float(3.0),
                Value::Null,
                Value::Float(-1.0),
                Value::Float(8.0)
            ]
        );
        let d = Transform::Derivative {
            unit: 1_000_000_000,
            non_negative: true,
        }
        .apply(&r, 1_000_000_000);
        assert_eq!(d[3], Value::Null);
        let diff = Transform::Difference {
            non_negative: false,
        }
        .apply(&r, 1_000_000_000);
        assert_eq!(diff[1], Value::Integer(3));
        assert_eq!(diff[3], Value::Integer(-2));
        let ma = Transform::MovingAverage(2).apply(&r, 1_000_000_000);
        assert_eq!(
            ma,
            vec![
                Value::Null,
                Value::Float(2.5),
                Value::Null,
                Value::Float(3.0),
                Value::Float(6.0)
            ]
        );
        let cs = Transform::CumulativeSum.apply(&r, 1_000_000_000);
        assert_eq!(cs[4], Value::Integer(17));
        let el = Transform::Elapsed(1_000_000_000).apply(&r, 1_000_000_000);
        assert_eq!(el[3], Value::Integer(2));
    }

    #[test]
    fn math_keeps_integers_where_it_can() {
        assert_eq!(MathFn::Abs.apply(&Value::Integer(-3)), Value::Integer(3));
        assert_eq!(MathFn::Sqrt.apply(&Value::Integer(16)), Value::Float(4.0));
        assert_eq!(
            MathFn::Log(2.0).apply(&Value::Float(8.0)),
            Value::Float(3.0)
        );
        assert_eq!(MathFn::Round.apply(&Value::Float(2.5)), Value::Float(3.0));
        assert_eq!(MathFn::Abs.apply(&Value::String("x".into())), Value::Null);
    }
}
