//! Byte-level field splitting and exact number parsing shared by the format parsers.
//!
//! Parsers work on raw line bytes (no UTF-8 validation, no allocation per line). Numbers are
//! parsed exactly into integers; decimal fractions are scaled to an integer unit and digits
//! beyond that unit are truncated (rounded toward zero), which the caller counts. This module
//! does not know any format.

/// A field of a line could not be parsed. The reader adds the file and line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    pub field: &'static str,
    pub problem: String,
}

impl FieldError {
    pub fn new(field: &'static str, problem: impl Into<String>) -> Self {
        FieldError {
            field,
            problem: problem.into(),
        }
    }

    pub fn unexpected(field: &'static str, expected: &str, found: &[u8]) -> Self {
        FieldError::new(
            field,
            format!("expected {expected}, found `{}`", excerpt(found)),
        )
    }

    pub fn missing(field: &'static str) -> Self {
        FieldError::new(field, "missing (line has too few fields)")
    }
}

/// Bytes shown of a line or field in a message.
pub(crate) const EXCERPT_BYTES: usize = 48;

/// A short, printable rendering of bytes from a trace for messages: at most
/// [`EXCERPT_BYTES`], non-printable bytes escaped (`\x00`, `\n`), and the full length when
/// cut, so a binary file never floods the terminal.
pub(crate) fn excerpt(bytes: &[u8]) -> String {
    let shown = &bytes[..bytes.len().min(EXCERPT_BYTES)];
    let mut text = shown.escape_ascii().to_string();
    if bytes.len() > shown.len() {
        text.push_str(&format!("… ({} bytes)", bytes.len()));
    }
    text
}

/// True when bytes look like binary data rather than text: not UTF-8, a NUL, or more than one
/// in eight bytes a control character other than tab and carriage return.
pub(crate) fn looks_binary(bytes: &[u8]) -> bool {
    let control = bytes
        .iter()
        .filter(|&&b| b < 0x20 && b != b'\t' && b != b'\r')
        .count();
    std::str::from_utf8(bytes).is_err() || bytes.contains(&0) || control * 8 > bytes.len()
}

/// Strips ASCII whitespace from both ends.
pub(crate) fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &bytes[start..end.max(start)]
}

/// Splits `line` at `separator` into `out` (each field trimmed) and returns the total number
/// of fields in the line, which may exceed `out.len()` (extra fields are not stored).
pub(crate) fn split_separated<'a>(line: &'a [u8], separator: u8, out: &mut [&'a [u8]]) -> usize {
    let mut count = 0;
    for field in line.split(|&b| b == separator) {
        if count < out.len() {
            out[count] = trim(field);
        }
        count += 1;
    }
    count
}

/// Splits `line` at runs of ASCII whitespace into `out` and returns the total number of
/// tokens, which may exceed `out.len()`.
pub(crate) fn split_whitespace<'a>(line: &'a [u8], out: &mut [&'a [u8]]) -> usize {
    let mut count = 0;
    for token in line
        .split(|b| b.is_ascii_whitespace())
        .filter(|t| !t.is_empty())
    {
        if count < out.len() {
            out[count] = token;
        }
        count += 1;
    }
    count
}

/// Parses a decimal unsigned integer (no sign, no separators).
pub(crate) fn parse_u64(field: &'static str, bytes: &[u8]) -> Result<u64, FieldError> {
    if bytes.is_empty() {
        return Err(FieldError::new(field, "empty"));
    }
    let mut value: u64 = 0;
    for &b in bytes {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            return Err(FieldError::unexpected(field, "an unsigned integer", bytes));
        }
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(digit)))
            .ok_or_else(|| FieldError::unexpected(field, "an integer below 2^64", bytes))?;
    }
    Ok(value)
}

/// Parses a decimal unsigned integer that must fit in 32 bits.
pub(crate) fn parse_u32(field: &'static str, bytes: &[u8]) -> Result<u32, FieldError> {
    let value = parse_u64(field, bytes)?;
    u32::try_from(value).map_err(|_| FieldError::unexpected(field, "an integer below 2^32", bytes))
}

/// Parses a hexadecimal unsigned integer, with or without a `0x` prefix (as C's `%x`).
pub(crate) fn parse_hex_u64(field: &'static str, bytes: &[u8]) -> Result<u64, FieldError> {
    let digits = bytes
        .strip_prefix(b"0x")
        .or_else(|| bytes.strip_prefix(b"0X"))
        .unwrap_or(bytes);
    if digits.is_empty() {
        return Err(FieldError::unexpected(
            field,
            "a hexadecimal integer",
            bytes,
        ));
    }
    let mut value: u64 = 0;
    for &b in digits {
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => {
                return Err(FieldError::unexpected(
                    field,
                    "a hexadecimal integer",
                    bytes,
                ))
            }
        };
        value = value
            .checked_mul(16)
            .and_then(|v| v.checked_add(u64::from(digit)))
            .ok_or_else(|| FieldError::unexpected(field, "an integer below 2^64", bytes))?;
    }
    Ok(value)
}

/// Powers of ten up to 10^19 (the largest that fits in a u64).
const POW10: [u64; 20] = {
    let mut table = [1u64; 20];
    let mut i = 1;
    while i < 20 {
        table[i] = table[i - 1] * 10;
        i += 1;
    }
    table
};

/// Parses a non-negative decimal number (`123`, `123.`, `123.456`, `.5`) into integer units
/// of 10^-`scale_digits` (e.g. seconds with scale 9 gives nanoseconds). Fraction digits beyond
/// the scale are truncated; the returned flag is true when a non-zero digit was dropped.
pub(crate) fn parse_decimal_scaled(
    field: &'static str,
    bytes: &[u8],
    scale_digits: u32,
) -> Result<(u64, bool), FieldError> {
    debug_assert!(scale_digits < 20);
    let (integer_part, fraction_part) = match bytes.iter().position(|&b| b == b'.') {
        Some(dot) => (&bytes[..dot], &bytes[dot + 1..]),
        None => (bytes, &bytes[bytes.len()..]),
    };
    if integer_part.is_empty() && fraction_part.is_empty() {
        return Err(FieldError::unexpected(field, "a decimal number", bytes));
    }
    let integer = if integer_part.is_empty() {
        0
    } else {
        parse_u64(field, integer_part)
            .map_err(|_| FieldError::unexpected(field, "a non-negative decimal number", bytes))?
    };
    let mut fraction: u64 = 0;
    let mut kept_digits: u32 = 0;
    let mut truncated = false;
    for &b in fraction_part {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            return Err(FieldError::unexpected(
                field,
                "a non-negative decimal number",
                bytes,
            ));
        }
        if kept_digits < scale_digits {
            fraction = fraction * 10 + u64::from(digit);
            kept_digits += 1;
        } else if digit != 0 {
            truncated = true;
        }
    }
    fraction *= POW10[(scale_digits - kept_digits) as usize];
    let value = integer
        .checked_mul(POW10[scale_digits as usize])
        .and_then(|v| v.checked_add(fraction))
        .ok_or_else(|| FieldError::unexpected(field, "a smaller time value", bytes))?;
    Ok((value, truncated))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_seconds_convert_exactly_to_nanoseconds() {
        let parse = |s: &str| parse_decimal_scaled("t", s.as_bytes(), 9);
        assert_eq!(parse("1.5"), Ok((1_500_000_000, false)));
        assert_eq!(parse("0.000000001"), Ok((1, false)));
        assert_eq!(parse("12"), Ok((12_000_000_000, false)));
        assert_eq!(parse(".25"), Ok((250_000_000, false)));
        assert_eq!(parse("3."), Ok((3_000_000_000, false)));
        // The tenth fraction digit is below a nanosecond: truncated and reported.
        assert_eq!(parse("0.0000000019"), Ok((1, true)));
        assert_eq!(parse("0.0000000010"), Ok((1, false)));
        assert!(parse("-1.0").is_err());
        assert!(parse("1e3").is_err());
        assert!(parse(".").is_err());
        assert!(parse("").is_err());
        assert!(parse("99999999999.0").is_err());
    }

    #[test]
    fn integers_reject_garbage_and_overflow() {
        assert_eq!(parse_u64("f", b"18446744073709551615"), Ok(u64::MAX));
        assert!(parse_u64("f", b"18446744073709551616").is_err());
        assert!(parse_u64("f", b"12a").is_err());
        assert!(parse_u32("f", b"4294967296").is_err());
        assert_eq!(parse_hex_u64("f", b"0x1F"), Ok(31));
        assert_eq!(parse_hex_u64("f", b"10"), Ok(16));
        assert!(parse_hex_u64("f", b"0x").is_err());
    }

    #[test]
    fn splitting_counts_extra_fields_and_trims() {
        let mut out = [&b""[..]; 3];
        assert_eq!(split_separated(b" a , b,c,d", b',', &mut out), 4);
        assert_eq!(out, [&b"a"[..], b"b", b"c"]);
        let mut out = [&b""[..]; 2];
        assert_eq!(split_whitespace(b"  x \t y  z ", &mut out), 3);
        assert_eq!(out, [&b"x"[..], b"y"]);
        assert_eq!(trim(b"   "), b"");
    }
}
