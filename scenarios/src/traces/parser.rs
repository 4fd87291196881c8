//! The interface between the reader and the per-format line parsers, and the state they
//! share (interned names, rounding counters).
//!
//! A parser sees one line at a time (without its line terminator) and either yields a
//! record, asks for the line to be skipped (header, comment, non-request event), or reports
//! which field is malformed. It never sees file names or line numbers: the reader adds them.

use super::fields::FieldError;
use super::record::{byte_range_to_sectors, NameId, TraceRecord};

/// What a parser made of one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Parsed {
    Record(TraceRecord),
    /// Not a request: header, comment, summary text, file management, or an event kind the
    /// format's reader deliberately ignores.
    Skip,
}

/// One format's line parser. Implementations keep only bounded state (a clock, a header
/// flag), so memory does not grow with the trace.
pub(crate) trait LineParser {
    fn parse_line(&mut self, line: &[u8], state: &mut ParseState) -> Result<Parsed, FieldError>;
}

/// Names seen in the trace (MSR host names, fio file names), in order of first appearance.
/// Bounded by the number of distinct names, not by trace length.
#[derive(Debug, Default, Clone)]
pub(crate) struct NameTable {
    names: Vec<Box<str>>,
    last: Option<u32>,
}

impl NameTable {
    pub fn intern(&mut self, field: &'static str, bytes: &[u8]) -> Result<NameId, FieldError> {
        // Most traces repeat the same name line after line: check the last one first.
        if let Some(last) = self.last {
            if self.names[last as usize].as_bytes() == bytes {
                return Ok(NameId(last));
            }
        }
        let position = match self.names.iter().position(|n| n.as_bytes() == bytes) {
            Some(position) => position,
            None => {
                let name = std::str::from_utf8(bytes)
                    .map_err(|_| FieldError::new(field, "name is not valid UTF-8"))?;
                if name.is_empty() {
                    return Err(FieldError::new(field, "empty name"));
                }
                self.names.push(name.into());
                self.names.len() - 1
            }
        };
        let id = u32::try_from(position)
            .map_err(|_| FieldError::new(field, "more than 2^32 distinct names"))?;
        self.last = Some(id);
        Ok(NameId(id))
    }

    pub fn get(&self, id: NameId) -> Option<&str> {
        self.names.get(id.0 as usize).map(|n| &**n)
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }
}

/// State shared by all parsers of one reader.
#[derive(Debug, Default, Clone)]
pub(crate) struct ParseState {
    pub names: NameTable,
    /// Records whose byte range was not sector aligned and was widened to whole sectors.
    pub unaligned_records: u64,
    /// Records whose time had digits below a nanosecond, truncated toward zero.
    pub time_truncated_records: u64,
}

impl ParseState {
    /// Converts a byte range with the crate's rule (start down, end up) and counts rounding.
    pub fn sectors_from_bytes(
        &mut self,
        offset_field: &'static str,
        offset_bytes: u64,
        length_bytes: u64,
    ) -> Result<(u64, u64), FieldError> {
        let (sector, sectors, rounded) = byte_range_to_sectors(offset_bytes, length_bytes)
            .ok_or_else(|| FieldError::new(offset_field, "offset + length overflows 64 bits"))?;
        if rounded {
            self.unaligned_records += 1;
        }
        Ok((sector, sectors))
    }

    /// Checks a sector range given in sectors does not overflow.
    #[inline]
    pub fn sectors_checked(
        &self,
        sector_field: &'static str,
        sector: u64,
        sectors: u64,
    ) -> Result<(u64, u64), FieldError> {
        sector
            .checked_add(sectors)
            .ok_or_else(|| FieldError::new(sector_field, "sector + length overflows 64 bits"))?;
        Ok((sector, sectors))
    }

    /// Parses a decimal time into integer units and counts truncation.
    pub fn decimal_time(
        &mut self,
        field: &'static str,
        bytes: &[u8],
        scale_digits: u32,
    ) -> Result<u64, FieldError> {
        let (value, truncated) = super::fields::parse_decimal_scaled(field, bytes, scale_digits)?;
        if truncated {
            self.time_truncated_records += 1;
        }
        Ok(value)
    }
}

/// True when every field equals the expected header name, ignoring ASCII case.
/// Splits a comma-separated record of exactly `N` fields: `Ok(None)` for a header line (the
/// field names, accepted only before the first record), an error naming the field count for
/// any other shape. Shared by the CSV formats (MSR, SYSTOR, Tencent, Alibaba).
pub(crate) fn csv_record<'a, const N: usize>(
    line: &'a [u8],
    header: &[&str; N],
    seen_record: bool,
) -> Result<Option<[&'a [u8]; N]>, FieldError> {
    let mut fields = [&b""[..]; N];
    let count = super::fields::split_separated(line, b',', &mut fields);
    if !seen_record && count == N && is_header(&fields, header) {
        return Ok(None);
    }
    if count != N {
        return Err(FieldError::new(
            "line",
            format!("expected {N} comma-separated fields, found {count}"),
        ));
    }
    Ok(Some(fields))
}

pub(crate) fn is_header(fields: &[&[u8]], names: &[&str]) -> bool {
    fields.len() == names.len()
        && fields
            .iter()
            .zip(names)
            .all(|(field, name)| field.eq_ignore_ascii_case(name.as_bytes()))
}
