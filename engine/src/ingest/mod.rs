//! Ingest formats: text that arrives over the wire or from files, turned into points.

pub mod line_protocol;
pub mod prom_text;

/// 10⁰ … 10²², each exact in an f64.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// The decimal `±mantissa / 10^fraction` (written with `digits` mantissa digits, no
/// exponent) by Clinger's fast path, the first one the standard parser tries too: a
/// mantissa and a power of ten both exact in an f64 give the correctly rounded quotient.
/// `None` when they are not both exact (the caller then uses the standard parser);
/// `mantissa` may have wrapped when `digits` > 19.
#[inline]
pub(crate) fn exact_decimal(
    mantissa: u64,
    digits: usize,
    fraction: usize,
    negative: bool,
) -> Option<f64> {
    if digits > 19 || mantissa > 1 << 53 {
        return None;
    }
    let v = mantissa as f64 / *POW10.get(fraction)?;
    Some(if negative { -v } else { v })
}

/// `part` (a slice of `batch`) as text, taken from `whole` (all of `batch`, checked as
/// text once) without checking it again; `None` when `part` is not within `batch` or its
/// ends are not character boundaries (never for a line: it is cut at ASCII bytes).
#[inline]
pub(crate) fn text_within<'a>(batch: &[u8], whole: &'a str, part: &[u8]) -> Option<&'a str> {
    let at = (part.as_ptr() as usize).checked_sub(batch.as_ptr() as usize)?;
    whole.get(at..at.checked_add(part.len())?)
}

/// Up to 19 ASCII decimal digits (at most 10¹⁹ - 1: no overflow) as their value; `None`
/// if any byte is not a digit. Eight digits at a time where it can.
#[inline]
pub(crate) fn short_digits(d: &[u8]) -> Option<u64> {
    debug_assert!(d.len() <= 19);
    let (head, tail) = d.split_at(d.len() % 8);
    let mut v: u64 = 0;
    for &c in head {
        let x = c.wrapping_sub(b'0');
        if x > 9 {
            return None;
        }
        v = v * 10 + u64::from(x);
    }
    for chunk in tail.chunks_exact(8) {
        v = v * 100_000_000 + eight_digits(chunk)?;
    }
    Some(v)
}

/// Eight ASCII decimal digits (most significant first) as their value, in a few word
/// operations; `None` if any byte is not a digit.
#[inline]
pub(crate) fn eight_digits(chunk: &[u8]) -> Option<u64> {
    let bytes: [u8; 8] = chunk.try_into().ok()?;
    let x = u64::from_le_bytes(bytes).wrapping_sub(0x3030_3030_3030_3030);
    // A byte below '0' borrows into a high nibble; one above '9' carries into it with +6.
    // The lowest bad byte always shows (borrows only move upwards).
    if (x | x.wrapping_add(0x0606_0606_0606_0606)) & 0xF0F0_F0F0_F0F0_F0F0 != 0 {
        return None;
    }
    let x = (x.wrapping_mul(10) + (x >> 8)) & 0x00FF_00FF_00FF_00FF;
    let x = (x.wrapping_mul(100) + (x >> 16)) & 0x0000_FFFF_0000_FFFF;
    Some((x.wrapping_mul(10_000) + (x >> 32)) & 0xFFFF_FFFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eight_digits_reads_and_refuses() {
        assert_eq!(eight_digits(b"00000000"), Some(0));
        assert_eq!(eight_digits(b"12345678"), Some(12_345_678));
        assert_eq!(eight_digits(b"99999999"), Some(99_999_999));
        for bad in [
            b"1234567/",
            b"1234567:",
            b"/2345678",
            b":2345678",
            b"1234 678",
            b"\xff2345678",
        ] {
            assert_eq!(
                eight_digits(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn text_within_slices_the_checked_batch() {
        let batch = "a é\nbc";
        let b = batch.as_bytes();
        assert_eq!(text_within(b, batch, &b[5..]), Some("bc"));
        assert_eq!(text_within(b, batch, &b[..4]), Some("a é"));
        assert_eq!(text_within(b, batch, &b[3..4]), None, "inside a character");
        assert_eq!(text_within(b, batch, b"elsewhere"), None);
    }

    #[test]
    fn short_digits_reads_up_to_nineteen() {
        for d in [
            "0",
            "7",
            "1234567",
            "12345678",
            "123456789",
            "1795329235375",
            "9999999999999999999",
        ] {
            assert_eq!(short_digits(d.as_bytes()), d.parse().ok(), "{d}");
        }
        assert_eq!(short_digits(b""), Some(0));
        for bad in ["12a", "1234567x9", "123456789012345/7", "-1"] {
            assert_eq!(short_digits(bad.as_bytes()), None, "{bad}");
        }
    }
}
