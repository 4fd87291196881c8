//! libCacheSim's trace formats, so its users can bring their traces: two binary layouts
//! (`vscsi1`/`vscsi2`, `oracle-general`) and two text ones (`libcachesim-csv`, `plain-text`).
//! libCacheSim reads them as object requests (an id and a size); here each becomes a block
//! request, with these documented conversions:
//!
//! - **vscsi** (CloudPhysics VMware vSCSI traces): fixed-size little-endian records, version 1
//!   (32 bytes: `sn u32, len u32, nSG u32, cmd u16, ver u16, lbn u64, ts u64`) or version 2
//!   (40 bytes: `cmd u16, ver u16, sn u32, len u32, nSG u32, lbn u64, ts u64, rt u64`); the
//!   version is the high byte of `ver` (libCacheSim's own test). `lbn` is the first 512-byte
//!   sector, `len` bytes (rounded up to whole sectors, counted), `ts` microseconds, `cmd` the
//!   SCSI opcode: READ(6/10/12/16) read, WRITE(6/10/12/16) write, SYNCHRONIZE CACHE flush,
//!   UNMAP discard, anything else "other" (no bio; replay skips and counts it). `rt` is not
//!   used (its unit is not documented).
//! - **oracle-general** (24-byte records: `clock_time u32` seconds, `obj_id u64`,
//!   `obj_size u32` bytes, `next_access_vtime i64`): every request is a read of object
//!   `obj_id`, object k being the k-th 4 KiB block of the volume (sector 8k), `obj_size` bytes
//!   long; a zero size is "other" (libCacheSim can ignore such requests too).
//! - **libcachesim-csv**: comma-separated with a header line naming the columns, as
//!   libCacheSim's bundled `cloudPhysicsIO.csv` (`version,time,op,size,lbn`). Recognised
//!   names (any case): the address — `lbn`, `lba` or `sector` (512-byte sectors), `offset`
//!   (bytes), or `obj_id`, `object`, `id`, `key`, `block` (4 KiB objects, as oracle-general);
//!   `time`, `timestamp`, `ts` or `clock_time` in microseconds (the vscsi unit; absent: 0);
//!   `op`, `cmd`, `opcode` or `type`: a SCSI opcode number (decimal or `0x` hex) or
//!   `read`/`write`/`r`/`w`/`get`/`set` (absent: read); `size`, `obj_size`, `len` or
//!   `length` in bytes (absent: 4 KiB). Other columns are ignored.
//! - **plain-text**: one object id per line (libCacheSim's plain text trace): a read of the
//!   4 KiB block it names. There are no times (all 0): replay it closed loop.
//!
//! Every record is [`DeviceKey::Number`] 0: these formats name no device.

use super::fields::{parse_u64, split_separated, trim, FieldError};
use super::format::Format;
use super::parser::{LineParser, ParseState, Parsed};
use super::record::{DeviceKey, TraceOp, TraceRecord, SECTOR_BYTES};

/// An object of the object-id formats is one 4 KiB block.
pub const OBJECT_BYTES: u64 = 4096;
const OBJECT_SECTORS: u64 = OBJECT_BYTES / SECTOR_BYTES;
const NS_PER_US: u64 = 1_000;
const NS_PER_S: u64 = 1_000_000_000;

/// Record sizes of the binary layouts.
pub(crate) const VSCSI1_RECORD_BYTES: usize = 32;
pub(crate) const VSCSI2_RECORD_BYTES: usize = 40;
pub(crate) const ORACLE_GENERAL_RECORD_BYTES: usize = 24;

/// Records a binary detection looks at (at most; fewer when the file is shorter).
const DETECTION_RECORDS: usize = 256;

fn u16_at(record: &[u8], offset: usize) -> u16 {
    u16::from_le_bytes(record[offset..offset + 2].try_into().expect("2 bytes"))
}

fn u32_at(record: &[u8], offset: usize) -> u32 {
    u32::from_le_bytes(record[offset..offset + 4].try_into().expect("4 bytes"))
}

fn u64_at(record: &[u8], offset: usize) -> u64 {
    u64::from_le_bytes(record[offset..offset + 8].try_into().expect("8 bytes"))
}

/// The block operation of a SCSI command opcode.
fn scsi_op(opcode: u64) -> TraceOp {
    match opcode {
        0x08 | 0x28 | 0xa8 | 0x88 => TraceOp::Read,
        0x0a | 0x2a | 0xaa | 0x8a => TraceOp::Write,
        0x35 | 0x91 => TraceOp::Flush,
        0x42 => TraceOp::Discard,
        _ => TraceOp::Other,
    }
}

/// A vscsi record's layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VscsiVersion {
    V1,
    V2,
}

impl VscsiVersion {
    fn record_bytes(self) -> usize {
        match self {
            VscsiVersion::V1 => VSCSI1_RECORD_BYTES,
            VscsiVersion::V2 => VSCSI2_RECORD_BYTES,
        }
    }

    fn number(self) -> u16 {
        match self {
            VscsiVersion::V1 => 1,
            VscsiVersion::V2 => 2,
        }
    }

    /// The `ver` field of a record (its high byte is the version).
    fn ver_field(self, record: &[u8]) -> u16 {
        match self {
            VscsiVersion::V1 => u16_at(record, 14),
            VscsiVersion::V2 => u16_at(record, 2),
        }
    }

    /// True when the first records (at least two, as libCacheSim requires) carry this
    /// version; `head` is the start of the file.
    pub(crate) fn matches(self, head: &[u8]) -> bool {
        let records: Vec<&[u8]> = head
            .chunks_exact(self.record_bytes())
            .take(DETECTION_RECORDS)
            .collect();
        records.len() >= 2
            && records
                .iter()
                .all(|record| self.ver_field(record) >> 8 == self.number())
    }
}

#[derive(Debug)]
pub(crate) struct VscsiParser {
    version: VscsiVersion,
}

impl VscsiParser {
    pub(crate) fn new(version: VscsiVersion) -> Self {
        VscsiParser { version }
    }
}

impl LineParser for VscsiParser {
    #[inline]
    fn parse_line(&mut self, record: &[u8], state: &mut ParseState) -> Result<Parsed, FieldError> {
        assert_eq!(
            record.len(),
            self.version.record_bytes(),
            "whole records only"
        );
        let ver = self.version.ver_field(record);
        if ver >> 8 != self.version.number() {
            return Err(FieldError::new(
                "ver",
                format!(
                    "version {} in a vscsi{} trace (ver field {ver:#06x})",
                    ver >> 8,
                    self.version.number()
                ),
            ));
        }
        let (cmd, len, lbn, ts) = match self.version {
            VscsiVersion::V1 => (
                u16_at(record, 12),
                u32_at(record, 4),
                u64_at(record, 16),
                u64_at(record, 24),
            ),
            VscsiVersion::V2 => (
                u16_at(record, 0),
                u32_at(record, 8),
                u64_at(record, 16),
                u64_at(record, 24),
            ),
        };
        let time_ns = ts
            .checked_mul(NS_PER_US)
            .ok_or_else(|| FieldError::new("ts", format!("{ts} µs overflows 64-bit ns")))?;
        let len = u64::from(len);
        if !len.is_multiple_of(SECTOR_BYTES) {
            state.unaligned_records += 1;
        }
        let (sector, sectors) = state.sectors_checked("lbn", lbn, len.div_ceil(SECTOR_BYTES))?;
        Ok(Parsed::Record(TraceRecord {
            time_ns,
            op: scsi_op(u64::from(cmd)),
            sector,
            sectors,
            device: DeviceKey::Number(0),
            measured_latency_ns: None,
        }))
    }
}

/// The sectors of object `id` of `size_bytes` bytes (object k starts at the k-th 4 KiB block).
#[inline]
fn object_sectors(
    field: &'static str,
    id: u64,
    size_bytes: u64,
    state: &mut ParseState,
) -> Result<(u64, u64), FieldError> {
    let sector = id
        .checked_mul(OBJECT_SECTORS)
        .ok_or_else(|| FieldError::new(field, format!("object {id} lies beyond 2^64 sectors")))?;
    if !size_bytes.is_multiple_of(SECTOR_BYTES) {
        state.unaligned_records += 1;
    }
    state.sectors_checked(field, sector, size_bytes.div_ceil(SECTOR_BYTES))
}

/// True when `head` reads as oracle-general records: clock times never go back and every
/// `next_access_vtime` is "never" (-1 or i64::MAX) or a later record's index. Random bytes
/// fail the second test almost at once.
pub(crate) fn oracle_general_matches(head: &[u8]) -> bool {
    let records: Vec<&[u8]> = head
        .chunks_exact(ORACLE_GENERAL_RECORD_BYTES)
        .take(DETECTION_RECORDS)
        .collect();
    if records.len() < 2 {
        return false;
    }
    let mut clock_last = 0;
    records.iter().enumerate().all(|(index, record)| {
        let clock = u32_at(record, 0);
        let next = u64_at(record, 16) as i64;
        let in_order = clock >= clock_last;
        clock_last = clock;
        in_order && (next == -1 || next == i64::MAX || next > index as i64)
    })
}

#[derive(Debug, Default)]
pub(crate) struct OracleGeneralParser;

impl LineParser for OracleGeneralParser {
    #[inline]
    fn parse_line(&mut self, record: &[u8], state: &mut ParseState) -> Result<Parsed, FieldError> {
        assert_eq!(
            record.len(),
            ORACLE_GENERAL_RECORD_BYTES,
            "whole records only"
        );
        let clock_s = u64::from(u32_at(record, 0));
        let id = u64_at(record, 4);
        let size_bytes = u64::from(u32_at(record, 12));
        let (sector, sectors) = object_sectors("obj_id", id, size_bytes, state)?;
        Ok(Parsed::Record(TraceRecord {
            time_ns: clock_s * NS_PER_S,
            op: if size_bytes == 0 {
                TraceOp::Other
            } else {
                TraceOp::Read
            },
            sector,
            sectors,
            device: DeviceKey::Number(0),
            measured_latency_ns: None,
        }))
    }
}

/// The parser of a binary format, called directly instead of through `dyn LineParser`:
/// inlined, it builds the record in place. Behind a virtual call the record came back
/// through memory written in small pieces and read in large ones, a store-forwarding stall
/// that was a tenth of `dmsim hits`' time.
#[derive(Debug)]
pub(crate) enum BinaryParser {
    Vscsi(VscsiParser),
    OracleGeneral(OracleGeneralParser),
}

impl BinaryParser {
    /// The parser of `format`, if it is binary.
    pub(crate) fn new(format: Format) -> Option<BinaryParser> {
        match format {
            Format::Vscsi1 => Some(BinaryParser::Vscsi(VscsiParser::new(VscsiVersion::V1))),
            Format::Vscsi2 => Some(BinaryParser::Vscsi(VscsiParser::new(VscsiVersion::V2))),
            Format::OracleGeneral => Some(BinaryParser::OracleGeneral(OracleGeneralParser)),
            _ => None,
        }
    }

    /// One whole record, as the format's [`LineParser`] parses it.
    #[inline]
    pub(crate) fn parse(
        &mut self,
        record: &[u8],
        state: &mut ParseState,
    ) -> Result<Parsed, FieldError> {
        match self {
            BinaryParser::Vscsi(parser) => parser.parse_line(record, state),
            BinaryParser::OracleGeneral(parser) => parser.parse_line(record, state),
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct PlainTextParser;

impl LineParser for PlainTextParser {
    fn parse_line(&mut self, line: &[u8], state: &mut ParseState) -> Result<Parsed, FieldError> {
        let id = parse_u64("object id", trim(line))?;
        let (sector, sectors) = object_sectors("object id", id, OBJECT_BYTES, state)?;
        Ok(Parsed::Record(TraceRecord {
            time_ns: 0,
            op: TraceOp::Read,
            sector,
            sectors,
            device: DeviceKey::Number(0),
            measured_latency_ns: None,
        }))
    }
}

/// How the address column counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AddressUnit {
    Sectors,
    Bytes,
    Objects,
}

/// Where each used column is, learnt from the header.
#[derive(Debug, Clone, Copy)]
struct Columns {
    count: usize,
    address: (usize, AddressUnit, &'static str),
    time: Option<usize>,
    op: Option<usize>,
    size: Option<usize>,
}

/// Most columns a libcachesim-csv line may have.
const CSV_COLUMNS_MAX: usize = 32;

impl Columns {
    fn from_header(fields: &[&[u8]]) -> Result<Columns, FieldError> {
        let named = |names: &[&str]| {
            fields.iter().position(|field| {
                let field = trim(field);
                names
                    .iter()
                    .any(|name| field.eq_ignore_ascii_case(name.as_bytes()))
            })
        };
        let address = [
            (&["lbn", "lba", "sector"][..], AddressUnit::Sectors, "lbn"),
            (&["offset"][..], AddressUnit::Bytes, "offset"),
            (
                &["obj_id", "object", "id", "key", "block"][..],
                AddressUnit::Objects,
                "obj_id",
            ),
        ]
        .into_iter()
        .find_map(|(names, unit, field)| named(names).map(|at| (at, unit, field)))
        .ok_or_else(|| {
            FieldError::new(
                "header",
                "a libcachesim-csv header names an address column (lbn, lba, sector, offset, \
                 obj_id, object, id, key or block)",
            )
        })?;
        Ok(Columns {
            count: fields.len(),
            address,
            time: named(&["time", "timestamp", "ts", "clock_time"]),
            op: named(&["op", "cmd", "opcode", "type"]),
            size: named(&["size", "obj_size", "len", "length"]),
        })
    }
}

/// A number in decimal or `0x` hex.
fn parse_number(field: &'static str, bytes: &[u8]) -> Result<u64, FieldError> {
    let bytes = trim(bytes);
    match bytes
        .strip_prefix(b"0x")
        .or_else(|| bytes.strip_prefix(b"0X"))
    {
        Some(hex) => super::fields::parse_hex_u64(field, hex),
        None => parse_u64(field, bytes),
    }
}

fn csv_op(bytes: &[u8]) -> Result<TraceOp, FieldError> {
    let word = trim(bytes);
    for (names, op) in [
        (&["read", "r", "get"][..], TraceOp::Read),
        (&["write", "w", "set"][..], TraceOp::Write),
    ] {
        if names
            .iter()
            .any(|name| word.eq_ignore_ascii_case(name.as_bytes()))
        {
            return Ok(op);
        }
    }
    match parse_number("op", word) {
        Ok(opcode) => Ok(scsi_op(opcode)),
        Err(_) => Err(FieldError::unexpected(
            "op",
            "a SCSI opcode or read/write/get/set",
            bytes,
        )),
    }
}

#[derive(Debug, Default)]
pub(crate) struct LibCacheSimCsvParser {
    columns: Option<Columns>,
}

impl LineParser for LibCacheSimCsvParser {
    fn parse_line(&mut self, line: &[u8], state: &mut ParseState) -> Result<Parsed, FieldError> {
        let mut fields = [&b""[..]; CSV_COLUMNS_MAX];
        let count = split_separated(line, b',', &mut fields);
        if count > CSV_COLUMNS_MAX {
            return Err(FieldError::new(
                "line",
                format!("more than {CSV_COLUMNS_MAX} comma-separated fields"),
            ));
        }
        let fields = &fields[..count];
        let Some(columns) = self.columns else {
            self.columns = Some(Columns::from_header(fields)?);
            return Ok(Parsed::Skip);
        };
        if count != columns.count {
            return Err(FieldError::new(
                "line",
                format!(
                    "expected {} comma-separated fields as the header has, found {count}",
                    columns.count
                ),
            ));
        }
        let time_ns = match columns.time {
            None => 0,
            Some(at) => {
                let us = parse_u64("time", trim(fields[at]))?;
                us.checked_mul(NS_PER_US).ok_or_else(|| {
                    FieldError::new("time", format!("{us} µs overflows 64-bit ns"))
                })?
            }
        };
        let op = match columns.op {
            None => TraceOp::Read,
            Some(at) => csv_op(fields[at])?,
        };
        let size_bytes = match columns.size {
            None => OBJECT_BYTES,
            Some(at) => parse_u64("size", trim(fields[at]))?,
        };
        let (at, unit, field) = columns.address;
        let address = parse_number(field, fields[at])?;
        let (sector, sectors) = match unit {
            AddressUnit::Sectors => {
                if !size_bytes.is_multiple_of(SECTOR_BYTES) {
                    state.unaligned_records += 1;
                }
                state.sectors_checked(field, address, size_bytes.div_ceil(SECTOR_BYTES))?
            }
            AddressUnit::Bytes => state.sectors_from_bytes(field, address, size_bytes)?,
            AddressUnit::Objects => object_sectors(field, address, size_bytes, state)?,
        };
        Ok(Parsed::Record(TraceRecord {
            time_ns,
            op,
            sector,
            sectors,
            device: DeviceKey::Number(0),
            measured_latency_ns: None,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vscsi2(cmd: u16, len: u32, lbn: u64, ts_us: u64) -> Vec<u8> {
        let mut record = Vec::new();
        record.extend(cmd.to_le_bytes());
        record.extend(0x0200u16.to_le_bytes());
        record.extend(7u32.to_le_bytes()); // sn
        record.extend(len.to_le_bytes());
        record.extend(1u32.to_le_bytes()); // nSG
        record.extend(lbn.to_le_bytes());
        record.extend(ts_us.to_le_bytes());
        record.extend(99u64.to_le_bytes()); // rt
        record
    }

    fn parse(parser: &mut dyn LineParser, line: &[u8]) -> Result<Parsed, FieldError> {
        parser.parse_line(line, &mut ParseState::default())
    }

    #[test]
    fn a_vscsi2_record_converts_exactly() {
        let record = vscsi2(0x2a, 8192, 1000, 1_500);
        assert_eq!(record.len(), VSCSI2_RECORD_BYTES);
        let Parsed::Record(r) = parse(&mut VscsiParser::new(VscsiVersion::V2), &record).unwrap()
        else {
            panic!("a record")
        };
        assert_eq!(
            (r.op, r.sector, r.sectors, r.time_ns),
            (TraceOp::Write, 1000, 16, 1_500_000)
        );
        let mut head = record.clone();
        head.extend(vscsi2(0x28, 512, 0, 2_000));
        assert!(VscsiVersion::V2.matches(&head));
        assert!(!VscsiVersion::V1.matches(&head));
        // One record is not enough to tell (libCacheSim looks at two).
        assert!(!VscsiVersion::V2.matches(&record));
    }

    #[test]
    fn scsi_opcodes_map_to_block_operations() {
        assert_eq!(scsi_op(0x28), TraceOp::Read);
        assert_eq!(scsi_op(0x88), TraceOp::Read);
        assert_eq!(scsi_op(0x2a), TraceOp::Write);
        assert_eq!(scsi_op(0x35), TraceOp::Flush);
        assert_eq!(scsi_op(0x42), TraceOp::Discard);
        assert_eq!(scsi_op(0x12), TraceOp::Other); // INQUIRY
    }

    #[test]
    fn oracle_general_detection_rejects_impossible_next_access_times() {
        let record = |clock: u32, id: u64, next: i64| {
            let mut r = Vec::new();
            r.extend(clock.to_le_bytes());
            r.extend(id.to_le_bytes());
            r.extend(4096u32.to_le_bytes());
            r.extend(next.to_le_bytes());
            r
        };
        let good = [record(1, 5, 1), record(1, 6, -1), record(2, 5, i64::MAX)].concat();
        assert!(oracle_general_matches(&good));
        // Record 1 says its object is next accessed at record 0: impossible.
        let bad = [record(1, 5, -1), record(1, 6, 0)].concat();
        assert!(!oracle_general_matches(&bad));
        let backwards = [record(5, 5, -1), record(4, 6, -1)].concat();
        assert!(!oracle_general_matches(&backwards));
    }

    #[test]
    fn the_csv_header_names_the_columns_and_units() {
        let mut parser = LibCacheSimCsvParser::default();
        assert_eq!(
            parse(&mut parser, b"version,time,op,size,lbn").unwrap(),
            Parsed::Skip
        );
        let Parsed::Record(r) = parse(&mut parser, b"2,1500,42,4096,80").unwrap() else {
            panic!("a record")
        };
        assert_eq!(
            (r.op, r.sector, r.sectors, r.time_ns),
            (TraceOp::Write, 80, 8, 1_500_000)
        );
        let error = parse(&mut parser, b"2,1500,42,4096").unwrap_err();
        assert_eq!(error.field, "line");
        let error = parse(&mut LibCacheSimCsvParser::default(), b"a,b,c").unwrap_err();
        assert_eq!(error.field, "header");
    }

    #[test]
    fn plain_text_ids_are_4k_blocks() {
        let Parsed::Record(r) = parse(&mut PlainTextParser, b" 3 ").unwrap() else {
            panic!("a record")
        };
        assert_eq!((r.op, r.sector, r.sectors), (TraceOp::Read, 24, 8));
        assert_eq!(
            parse(&mut PlainTextParser, b"3,4").unwrap_err().field,
            "object id"
        );
    }
}
