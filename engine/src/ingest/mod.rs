//! Ingest formats: text that arrives over the wire or from files, turned into points.

pub mod line_protocol;
pub mod prom_text;

/// 10⁰ … 10²², each exact in an f64: the divisors of the parsers' exact fast path for
/// decimals (Clinger's: a mantissa up to 2⁵³ divided by one of these is correctly rounded).
pub(crate) const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];
