//! Opening a trace file as a byte stream, decompressing by file extension.
//!
//! `.gz` (flate2, multi-member), `.bz2` (bzip2, multi-stream) and `.zst` (zstd) are decoded
//! while reading, with memory independent of the file's length. `.xz` is decoded with
//! lzma-rs, whose xz decoder only runs to completion into a writer: the file is decoded once
//! into an anonymous temporary file, which is then streamed — memory stays bounded, disk use
//! equals the decompressed size. Anything else is read as plain text. This module does not
//! look at the content.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
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
    let file = File::open(path)?;
    let reader: Box<dyn Read + Send> = match compression {
        Compression::None => Box::new(file),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(file))),
        Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(BufReader::new(file))),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(file)?),
        Compression::Xz => Box::new(decode_xz_to_temporary_file(file)?),
    };
    Ok(Box::new(BufReader::with_capacity(
        READ_BUFFER_BYTES,
        reader,
    )))
}

fn decode_xz_to_temporary_file(file: File) -> io::Result<File> {
    let mut input = BufReader::new(file);
    let mut output = BufWriter::new(tempfile::tempfile()?);
    lzma_rs::xz_decompress(&mut input, &mut output)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("xz: {e}")))?;
    output.flush()?;
    let mut decoded = output.into_inner().map_err(|e| e.into_error())?;
    decoded.seek(SeekFrom::Start(0))?;
    Ok(decoded)
}
