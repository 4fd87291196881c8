//! The trace formats this crate reads, their names, and auto-detection from a file's first
//! lines.
//!
//! Detection tries every format's own parser on a sample of the first lines (after
//! decompression) and picks the one that parses the most records before its first error
//! (ties go to the earlier format in [`Format::ALL`]). fio iologs are recognised by their
//! mandatory first line. Detection does not look at the file name; compression is chosen by
//! extension elsewhere ([`super::source`]).

use serde::{Deserialize, Serialize};

use super::alibaba::AlibabaParser;
use super::blkparse::BlkparseParser;
use super::disksim::{DiskSimParser, MqsimParser};
use super::fields::{excerpt, looks_binary, trim};
use super::fio::{FioParser, FioVersion};
use super::libcachesim::{
    oracle_general_matches, LibCacheSimCsvParser, OracleGeneralParser, PlainTextParser,
    VscsiParser, VscsiVersion, ORACLE_GENERAL_RECORD_BYTES, VSCSI1_RECORD_BYTES,
    VSCSI2_RECORD_BYTES,
};
use super::msr::MsrParser;
use super::parser::{LineParser, ParseState, Parsed};
use super::spc::SpcParser;
use super::systor::SystorParser;
use super::tencent::TencentParser;

/// A block-trace format. Names (`FromStr`, `Display`, serde): msr, systor, tencent, alibaba,
/// spc, disksim, mqsim, blkparse, fio-v2, fio-v3, and libCacheSim's vscsi1, vscsi2,
/// oracle-general, libcachesim-csv, plain-text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// MSR Cambridge CSV ([`super::msr`]).
    Msr,
    /// SYSTOR'17 CSV ([`super::systor`]).
    Systor,
    /// Tencent CBS CSV ([`super::tencent`]).
    Tencent,
    /// Alibaba block traces CSV ([`super::alibaba`]).
    Alibaba,
    /// SPC / UMass CSV ([`super::spc`]).
    Spc,
    /// DiskSim ASCII, milliseconds ([`super::disksim`]).
    Disksim,
    /// MQSim ASCII, nanoseconds ([`super::disksim`]).
    Mqsim,
    /// blkparse default text output, queue events ([`super::blkparse`]).
    Blkparse,
    /// fio iolog version 2 ([`super::fio`]).
    FioV2,
    /// fio iolog version 3 ([`super::fio`]).
    FioV3,
    /// CloudPhysics vSCSI binary, 32-byte records ([`super::libcachesim`]).
    Vscsi1,
    /// CloudPhysics vSCSI binary, 40-byte records ([`super::libcachesim`]).
    Vscsi2,
    /// libCacheSim oracleGeneral binary, 24-byte records ([`super::libcachesim`]).
    OracleGeneral,
    /// libCacheSim CSV with a header naming the columns ([`super::libcachesim`]).
    #[serde(rename = "libcachesim-csv")]
    LibCacheSimCsv,
    /// One object id per line ([`super::libcachesim`]).
    PlainText,
}

/// A format name that is not one of [`Format::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown trace format `{0}` (expected one of: msr, systor, tencent, alibaba, spc, disksim, mqsim, blkparse, fio-v2, fio-v3, vscsi1, vscsi2, oracle-general, libcachesim-csv, plain-text)")]
pub struct UnknownFormatName(pub String);

/// Lines sampled for detection.
pub(crate) const DETECTION_SAMPLE_LINES: usize = 64;

impl Format {
    /// Every format.
    pub const ALL: [Format; 15] = [
        Format::FioV2,
        Format::FioV3,
        Format::Msr,
        Format::Systor,
        Format::Alibaba,
        Format::Tencent,
        Format::Spc,
        Format::Blkparse,
        Format::Mqsim,
        Format::Disksim,
        Format::LibCacheSimCsv,
        Format::PlainText,
        Format::Vscsi2,
        Format::Vscsi1,
        Format::OracleGeneral,
    ];

    /// The text formats, in detection tie-break order.
    const TEXT: [Format; 12] = [
        Format::FioV2,
        Format::FioV3,
        Format::Msr,
        Format::Systor,
        Format::Alibaba,
        Format::Tencent,
        Format::Spc,
        Format::Blkparse,
        Format::Mqsim,
        Format::Disksim,
        Format::LibCacheSimCsv,
        Format::PlainText,
    ];

    /// The binary formats, in detection order (vscsi2 first, as libCacheSim tests it).
    const BINARY: [Format; 3] = [Format::Vscsi2, Format::Vscsi1, Format::OracleGeneral];

    /// The record size of a binary format (`None` for the line-based text formats).
    pub fn record_bytes(self) -> Option<usize> {
        match self {
            Format::Vscsi1 => Some(VSCSI1_RECORD_BYTES),
            Format::Vscsi2 => Some(VSCSI2_RECORD_BYTES),
            Format::OracleGeneral => Some(ORACLE_GENERAL_RECORD_BYTES),
            _ => None,
        }
    }

    /// The binary format `head` (the start of a file) is in, if any reads it.
    pub(crate) fn detect_binary(head: &[u8]) -> Option<Format> {
        Format::BINARY.into_iter().find(|format| match format {
            Format::Vscsi2 => VscsiVersion::V2.matches(head),
            Format::Vscsi1 => VscsiVersion::V1.matches(head),
            Format::OracleGeneral => oracle_general_matches(head),
            _ => unreachable!("binary formats only"),
        })
    }

    /// The format's name as accepted by `FromStr`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Msr => "msr",
            Format::Systor => "systor",
            Format::Tencent => "tencent",
            Format::Alibaba => "alibaba",
            Format::Spc => "spc",
            Format::Disksim => "disksim",
            Format::Mqsim => "mqsim",
            Format::Blkparse => "blkparse",
            Format::FioV2 => "fio-v2",
            Format::FioV3 => "fio-v3",
            Format::Vscsi1 => "vscsi1",
            Format::Vscsi2 => "vscsi2",
            Format::OracleGeneral => "oracle-general",
            Format::LibCacheSimCsv => "libcachesim-csv",
            Format::PlainText => "plain-text",
        }
    }

    pub(crate) fn new_parser(self) -> Box<dyn LineParser + Send> {
        match self {
            Format::Msr => Box::<MsrParser>::default(),
            Format::Systor => Box::<SystorParser>::default(),
            Format::Tencent => Box::<TencentParser>::default(),
            Format::Alibaba => Box::<AlibabaParser>::default(),
            Format::Spc => Box::new(SpcParser),
            Format::Disksim => Box::new(DiskSimParser),
            Format::Mqsim => Box::new(MqsimParser),
            Format::Blkparse => Box::new(BlkparseParser),
            Format::FioV2 => Box::new(FioParser::new(FioVersion::V2)),
            Format::FioV3 => Box::new(FioParser::new(FioVersion::V3)),
            Format::Vscsi1 => Box::new(VscsiParser::new(VscsiVersion::V1)),
            Format::Vscsi2 => Box::new(VscsiParser::new(VscsiVersion::V2)),
            Format::OracleGeneral => Box::new(OracleGeneralParser),
            Format::LibCacheSimCsv => Box::<LibCacheSimCsvParser>::default(),
            Format::PlainText => Box::new(PlainTextParser),
        }
    }

    /// Picks the format of a trace from its first non-blank lines (at most
    /// [`DETECTION_SAMPLE_LINES`] are looked at). `Err` explains why none fits.
    pub(crate) fn detect<L: AsRef<[u8]>>(sample: &[L]) -> Result<Format, String> {
        let Some(first) = sample.first() else {
            return Err("the trace has no lines".to_string());
        };
        match trim(first.as_ref()) {
            b"fio version 2 iolog" => return Ok(Format::FioV2),
            b"fio version 3 iolog" => return Ok(Format::FioV3),
            _ => {}
        }
        let mut best: Option<(Format, usize)> = None;
        for format in Format::TEXT {
            let mut parser = format.new_parser();
            let mut state = ParseState::default();
            let mut records = 0;
            for line in sample {
                match parser.parse_line(line.as_ref(), &mut state) {
                    Ok(Parsed::Record(_)) => records += 1,
                    Ok(Parsed::Skip) => {}
                    Err(_) => break,
                }
            }
            if records > 0 && best.is_none_or(|(_, best_records)| records > best_records) {
                best = Some((format, records));
            }
        }
        best.map(|(format, _)| format).ok_or_else(|| {
            let first = first.as_ref();
            if looks_binary(first) {
                format!(
                    "the file looks binary, not a text trace (it starts `{}`), and its first \
                     records are none of the binary formats (vscsi1, vscsi2, oracle-general); \
                     a compressed trace needs its extension (.gz, .bz2, .xz, .zst)",
                    excerpt(first)
                )
            } else {
                format!("no known format parses the first line `{}`", excerpt(first))
            }
        })
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Format {
    type Err = UnknownFormatName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase();
        Format::ALL
            .into_iter()
            .find(|format| format.name() == wanted)
            .ok_or_else(|| UnknownFormatName(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_from_str_and_serde() {
        for format in Format::ALL {
            assert_eq!(format.name().parse::<Format>(), Ok(format));
            let json = serde_json::to_string(&format).unwrap();
            assert_eq!(json, format!("\"{}\"", format.name()));
        }
        let binary = Format::ALL.iter().filter(|f| f.record_bytes().is_some());
        assert_eq!(binary.count(), Format::BINARY.len());
        assert_eq!(Format::TEXT.len() + Format::BINARY.len(), Format::ALL.len());
    }

    #[test]
    fn integer_times_tie_and_go_to_mqsim() {
        assert_eq!(
            Format::detect(&["0 0 100 8 1", "10 0 200 8 0"]),
            Ok(Format::Mqsim)
        );
        assert_eq!(
            Format::detect(&["0.5 0 100 8 1", "10 0 200 8 0"]),
            Ok(Format::Disksim)
        );
        assert!(Format::detect::<&str>(&[]).is_err());
    }
}
