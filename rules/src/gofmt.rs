//! Numbers and `printf` as Go's `fmt` writes them, for templates and promtool output.

/// Go's `strconv.FormatFloat(v, 'g', prec, 64)` (`prec` < 0: shortest), which is also
/// what `%v` prints for a float64.
pub fn format_g(v: f64, prec: Option<usize>) -> String {
    if let Some(s) = special(v, false) {
        return s;
    }
    let (neg, digits, exp) = decimal(v, prec.map(|p| p.max(1)));
    // Go: %e is used if the exponent is < -4 or >= the precision; the shortest form
    // decides with precision 6.
    let eprec = match prec {
        Some(p) => {
            let p = p.max(1) as i32;
            if p > digits.len() as i32 && digits.len() as i32 > exp {
                digits.len() as i32
            } else {
                p
            }
        }
        None => 6,
    };
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if exp < -4 || exp >= eprec {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push_str(&exp_suffix(exp, 'e'));
    } else {
        out.push_str(&fixed(&digits, exp));
    }
    out
}

/// Go's `strconv.FormatFloat(v, 'E', -1, 64)`: `1E+03`, `9.97E+02`.
pub fn format_upper_e(v: f64) -> String {
    if let Some(s) = special(v, false) {
        return s;
    }
    let (neg, digits, exp) = decimal(v, None);
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    out.push_str(&digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    out.push_str(&exp_suffix(exp, 'E'));
    out
}

fn special(v: f64, _plus: bool) -> Option<String> {
    if v.is_nan() {
        Some("NaN".into())
    } else if v == f64::INFINITY {
        Some("+Inf".into())
    } else if v == f64::NEG_INFINITY {
        Some("-Inf".into())
    } else {
        None
    }
}

fn exp_suffix(exp: i32, e: char) -> String {
    format!(
        "{e}{}{:02}",
        if exp < 0 { '-' } else { '+' },
        exp.unsigned_abs()
    )
}

/// Sign, significant digits (no trailing zeros except a lone "0") and decimal exponent
/// of `v`, shortest or rounded to `prec` significant digits.
fn decimal(v: f64, prec: Option<usize>) -> (bool, String, i32) {
    let s = match prec {
        None => format!("{:e}", v.abs()),
        Some(p) => format!("{:.*e}", p - 1, v.abs()),
    };
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    while digits.len() > 1 && digits.ends_with('0') {
        digits.pop();
    }
    (v.is_sign_negative() && v != 0.0, digits, exp)
}

/// Digits placed around the decimal point for exponent `exp`.
fn fixed(digits: &str, exp: i32) -> String {
    let point = exp + 1;
    if point <= 0 {
        format!("0.{}{digits}", "0".repeat((-point) as usize))
    } else if point as usize >= digits.len() {
        format!("{digits}{}", "0".repeat(point as usize - digits.len()))
    } else {
        format!(
            "{}.{}",
            &digits[..point as usize],
            &digits[point as usize..]
        )
    }
}

/// A value `printf` can format.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// A string.
    Str(String),
    /// A float64.
    Float(f64),
    /// An int.
    Int(i64),
    /// A bool.
    Bool(bool),
}

impl Arg {
    fn type_name(&self) -> &'static str {
        match self {
            Arg::Str(_) => "string",
            Arg::Float(_) => "float64",
            Arg::Int(_) => "int",
            Arg::Bool(_) => "bool",
        }
    }

    /// As `%v` prints it.
    pub fn to_v(&self) -> String {
        match self {
            Arg::Str(s) => s.clone(),
            Arg::Float(f) => format_g(*f, None),
            Arg::Int(i) => i.to_string(),
            Arg::Bool(b) => b.to_string(),
        }
    }
}

#[derive(Default, Clone, Copy)]
struct Flags {
    minus: bool,
    plus: bool,
    zero: bool,
    space: bool,
    sharp: bool,
}

fn pad(s: String, width: Option<usize>, f: Flags, numeric: bool) -> String {
    let Some(w) = width else { return s };
    let n = s.chars().count();
    if n >= w {
        return s;
    }
    let fill = w - n;
    if f.minus {
        format!("{s}{}", " ".repeat(fill))
    } else if f.zero && numeric {
        let (sign, rest) = match s.strip_prefix(['-', '+']) {
            Some(r) => (&s[..1], r),
            None => ("", s.as_str()),
        };
        format!("{sign}{}{rest}", "0".repeat(fill))
    } else {
        format!("{}{s}", " ".repeat(fill))
    }
}

fn sign(s: String, neg: bool, f: Flags) -> String {
    if neg || s.starts_with('-') {
        s
    } else if f.plus {
        format!("+{s}")
    } else if f.space {
        format!(" {s}")
    } else {
        s
    }
}

/// Go's `fmt.Sprintf` for the verbs templates use: `%v %s %q %d %f %F %e %E %g %G %x %X
/// %o %b %t %%`, with flags `-+0 #`, width and precision. A wrong type prints as Go
/// does (`%!d(string=x)`), a missing argument as `%!d(MISSING)`, extra ones as
/// `%!(EXTRA type=value)`.
pub fn sprintf(format: &str, args: &[Arg]) -> String {
    let mut out = String::new();
    let mut next = 0usize;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut f = Flags::default();
        while let Some(&c) = chars.peek() {
            match c {
                '-' => f.minus = true,
                '+' => f.plus = true,
                '0' => f.zero = true,
                ' ' => f.space = true,
                '#' => f.sharp = true,
                _ => break,
            }
            chars.next();
        }
        let mut width = None;
        while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
            width = Some(width.unwrap_or(0) * 10 + d as usize);
            chars.next();
        }
        let mut precision = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut p = 0usize;
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                p = p * 10 + d as usize;
                chars.next();
            }
            precision = Some(p);
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        next += 1;
        let bad = || format!("%!{verb}({}={})", arg.type_name(), arg.to_v());
        let s = match (verb, arg) {
            ('v', a) => {
                let s = match a {
                    Arg::Float(v) => sign(format_g(*v, precision), *v < 0.0, f),
                    Arg::Int(i) => sign(i.to_string(), *i < 0, f),
                    other => other.to_v(),
                };
                pad(s, width, f, !matches!(a, Arg::Str(_)))
            }
            ('s', Arg::Str(s)) => {
                let s = match precision {
                    Some(p) => s.chars().take(p).collect(),
                    None => s.clone(),
                };
                pad(s, width, f, false)
            }
            ('q', Arg::Str(s)) => pad(strata_query::promql::ast::quote(s), width, f, false),
            ('t', Arg::Bool(b)) => pad(b.to_string(), width, f, false),
            ('d', Arg::Int(i)) => pad(sign(i.to_string(), *i < 0, f), width, f, true),
            ('x' | 'X' | 'o' | 'b', Arg::Int(i)) => {
                let mag = i.unsigned_abs();
                let body = match verb {
                    'x' => format!("{mag:x}"),
                    'X' => format!("{mag:X}"),
                    'o' => format!("{mag:o}"),
                    _ => format!("{mag:b}"),
                };
                let body = if f.sharp && verb == 'x' {
                    format!("0x{body}")
                } else if f.sharp && verb == 'X' {
                    format!("0X{body}")
                } else {
                    body
                };
                let s = if *i < 0 { format!("-{body}") } else { body };
                pad(sign(s, *i < 0, f), width, f, true)
            }
            ('x' | 'X', Arg::Str(s)) => {
                let h: String = s.bytes().map(|b| format!("{b:02x}")).collect();
                pad(
                    if verb == 'X' { h.to_uppercase() } else { h },
                    width,
                    f,
                    false,
                )
            }
            ('f' | 'F' | 'e' | 'E' | 'g' | 'G', Arg::Float(v)) => {
                let v = *v;
                if let Some(s) = special(v, false) {
                    pad(s, width, Flags { zero: false, ..f }, false)
                } else {
                    let s = match verb {
                        'f' | 'F' => format!("{:.*}", precision.unwrap_or(6), v),
                        'e' | 'E' => {
                            let r = format!("{:.*e}", precision.unwrap_or(6), v);
                            let (m, e) = r.split_once('e').unwrap_or((&r, "0"));
                            let s = format!("{m}{}", exp_suffix(e.parse().unwrap_or(0), 'e'));
                            if verb == 'E' { s.to_uppercase() } else { s }
                        }
                        _ => {
                            let s = format_g(v, precision);
                            if verb == 'G' { s.to_uppercase() } else { s }
                        }
                    };
                    pad(sign(s, v < 0.0, f), width, f, true)
                }
            }
            _ => bad(),
        };
        out.push_str(&s);
    }
    if next < args.len() {
        out.push_str("%!(EXTRA ");
        let extra: Vec<String> = args[next..]
            .iter()
            .map(|a| format!("{}={}", a.type_name(), a.to_v()))
            .collect();
        out.push_str(&extra.join(", "));
        out.push(')');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v_prints_as_go() {
        // Checked against Prometheus 2.42 templates (promtool test rules).
        assert_eq!(format_g(1_234_567.0, None), "1.234567e+06");
        assert_eq!(format_g(1e21, None), "1e+21");
        assert_eq!(format_g(1.5, None), "1.5");
        assert_eq!(format_g(1e8, None), "1e+08");
        assert_eq!(format_g(3.0, None), "3");
        assert_eq!(format_g(0.0001, None), "0.0001");
        assert_eq!(format_g(0.00001, None), "1e-05");
        assert_eq!(format_g(123456.0, None), "123456");
        assert_eq!(format_g(1234.5, Some(4)), "1234");
        assert_eq!(format_g(12.345, Some(4)), "12.35");
        assert_eq!(format_g(1.5e8, Some(4)), "1.5e+08");
        assert_eq!(format_upper_e(1000.0), "1E+03");
        assert_eq!(format_upper_e(997.0), "9.97E+02");
        assert_eq!(format_upper_e(0.0), "0E+00");
    }

    #[test]
    fn printf_as_go() {
        let f = Arg::Float(1_234_567.0);
        assert_eq!(sprintf("%.2f", std::slice::from_ref(&f)), "1234567.00");
        assert_eq!(sprintf("%d", &[Arg::Int(3)]), "3");
        assert_eq!(
            sprintf("%s-%v", &[Arg::Str("j".into()), f.clone()]),
            "j-1.234567e+06"
        );
        assert_eq!(
            sprintf("%5.1f|%-4s|%x", &[f, Arg::Str("ab".into()), Arg::Int(255)]),
            "1234567.0|ab  |ff"
        );
        assert_eq!(sprintf("%d", &[Arg::Str("x".into())]), "%!d(string=x)");
        assert_eq!(sprintf("%d %d", &[Arg::Int(1)]), "1 %!d(MISSING)");
        assert_eq!(
            sprintf("%d", &[Arg::Int(1), Arg::Int(2)]),
            "1%!(EXTRA int=2)"
        );
        assert_eq!(sprintf("%05.1f%%", &[Arg::Float(2.25)]), "002.2%");
        assert_eq!(sprintf("%q", &[Arg::Str("a\"b".into())]), "\"a\\\"b\"");
        assert_eq!(sprintf("%.3g", &[Arg::Float(0.0001234)]), "0.000123");
    }
}
