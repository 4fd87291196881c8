//! Opening a trace file as a byte stream, decompressing by file extension.
//!
//! `.gz` (flate2, multi-member), `.bz2` (bzip2, multi-stream), `.xz` (lzma-rust2, pure Rust,
//! multi-stream) and `.zst` (zstd) are decoded while reading, with memory independent of the
//! file's length and nothing written to disk. Anything else is read as plain text. This
//! module does not look at the content.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

/// Read buffer size: large enough that per-call overhead vanishes against parsing.
const READ_BUFFER_BYTES: usize = 256 * 1024;

/// How a trace file is compressed, chosen by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Bzip2,
    Xz,
    Zstd,
}

impl Compression {
    /// The compression format's name, `None` for plain text.
    pub fn name(self) -> Option<&'static str> {
        match self {
            Compression::None => None,
            Compression::Gzip => Some("gzip"),
            Compression::Bzip2 => Some("bzip2"),
            Compression::Xz => Some("xz"),
            Compression::Zstd => Some("zstd"),
        }
    }

    /// `.gz`, `.bz2`, `.xz`, `.zst` (any case); anything else is uncompressed.
    pub fn from_path(path: &Path) -> Compression {
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("gz") => Compression::Gzip,
            Some("bz2") => Compression::Bzip2,
            Some("xz") => Compression::Xz,
            Some("zst") => Compression::Zstd,
            _ => Compression::None,
        }
    }
}

/// Opens `path` and returns a buffered reader over its decompressed bytes.
pub(crate) fn open_decompressed(
    path: &Path,
    compression: Compression,
) -> io::Result<Box<dyn BufRead + Send>> {
    decompress(Box::new(File::open(path)?), compression)
}

/// A buffered reader over the decompressed bytes of `input` (for [`super::TraceReader::from_buf_read`]
/// on bytes that are not a file, e.g. in tests and fuzzing).
pub fn decompress(
    input: Box<dyn Read + Send>,
    compression: Compression,
) -> io::Result<Box<dyn BufRead + Send>> {
    let reader: Box<dyn Read + Send> = match compression {
        Compression::None => input,
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(input))),
        Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(BufReader::new(input))),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(input)?),
        Compression::Xz => Box::new(lzma_rust2::XzReader::new(BufReader::new(input), true)),
    };
    Ok(Box::new(BufReader::with_capacity(
        READ_BUFFER_BYTES,
        reader,
    )))
}
