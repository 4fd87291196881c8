//! A comparison split across machines: which grid cells a shard runs, the partial result it
//! writes (`shard.json`), and the merge that turns every shard back into the one
//! [`CompareReport`] an unsharded run would have written.
//!
//! The assignment is round-robin and documented as a contract: cell `k` of the grid (0-based,
//! in grid order) belongs to shard `k mod N + 1`. Round-robin rather than contiguous ranges
//! because neighbouring cells differ in one axis value (say, cache size), so costs spread
//! evenly over the shards.
//!
//! A shard file names its grid by a hash over everything that decides the runs' results (the
//! CLI computes it from the grid's resolved configuration and the input's bytes), the shard
//! count, and every cell's label, so that [`merge_shards`] can refuse shards of different
//! grids and name the missing cells — and the shards to re-run — when one is absent.
//!
//! The merged report is built from the same [`RunReport`]s, parsed back exactly (serde_json's
//! float round trip), so its files are byte-identical to the unsharded run's.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::compare::{CompareReport, GridAxis};
use crate::error::ReportError;
use crate::output::OutputBatch;
use crate::run_report::{to_pretty_json, RunReport};

/// File name of a shard's partial result inside its output directory.
pub const SHARD_FILE_NAME: &str = "shard.json";
/// The `format` field of every shard file this version writes and reads.
pub const SHARD_FORMAT: &str = "dmsim-compare-shard/1";
/// Most shards one comparison may be split into (a job array larger than this is a mistake).
pub const SHARD_COUNT_MAX: u32 = 100_000;

/// Shard `index` of `count` (both 1-based in text, `I/N`, as Slurm's and Kubernetes' array
/// indices are turned into).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardId {
    /// 1..=count.
    pub index: u32,
    /// 1..=[`SHARD_COUNT_MAX`].
    pub count: u32,
}

impl ShardId {
    /// The whole grid as one shard.
    pub const WHOLE: ShardId = ShardId { index: 1, count: 1 };

    /// Parses `I/N` with 1 ≤ I ≤ N ≤ [`SHARD_COUNT_MAX`]; the error says what is wrong.
    pub fn parse(text: &str) -> Result<ShardId, String> {
        let (index, count) = text
            .split_once('/')
            .ok_or_else(|| format!("'{text}': expected I/N, e.g. 2/4 (shard 2 of 4)"))?;
        let number = |part: &str, what: &str| -> Result<u32, String> {
            part.trim()
                .parse::<u32>()
                .map_err(|_| format!("'{text}': {what} '{part}' is not a whole number"))
        };
        let shard = ShardId {
            index: number(index, "shard index")?,
            count: number(count, "shard count")?,
        };
        shard
            .check()
            .map_err(|problem| format!("'{text}': {problem}"))?;
        Ok(shard)
    }

    /// Checks 1 ≤ index ≤ count ≤ [`SHARD_COUNT_MAX`]; the error says which bound is broken.
    pub fn check(self) -> Result<(), String> {
        let ShardId { index, count } = self;
        if count == 0 || count > SHARD_COUNT_MAX {
            return Err(format!("shard count must be 1..={SHARD_COUNT_MAX}"));
        }
        if index == 0 || index > count {
            return Err(format!(
                "shard index must be 1..={count} (shards are numbered from 1)"
            ));
        }
        Ok(())
    }

    /// Whether cell `cell_index` (0-based, grid order) belongs to this shard.
    pub fn owns(self, cell_index: usize) -> bool {
        self.shard_of(cell_index) == self.index
    }

    /// The shard (1-based) that cell `cell_index` belongs to when the grid is split in
    /// `self.count` shards.
    pub fn shard_of(self, cell_index: usize) -> u32 {
        debug_assert!(self.count >= 1);
        (cell_index % self.count as usize) as u32 + 1
    }
}

impl fmt::Display for ShardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// One cell's result inside a shard.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardCell {
    /// The cell's 0-based position in the grid.
    pub index: usize,
    /// The cell's run.
    pub run: RunReport,
}

/// What one shard of a comparison writes: enough to check it against its sibling shards and
/// to rebuild the whole comparison.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompareShard {
    /// Always [`SHARD_FORMAT`].
    pub format: String,
    /// Identity of the whole grid (16 hex digits); equal in every shard of one comparison.
    pub grid_hash: String,
    /// Which shard this is.
    pub shard: ShardId,
    /// The comparison's title.
    pub title: String,
    /// The comparison's axes.
    pub axes: Vec<GridAxis>,
    /// Label of every cell of the whole grid, in grid order (not only this shard's).
    pub cell_labels: Vec<String>,
    /// This shard's cells, in grid order.
    pub cells: Vec<ShardCell>,
}

impl CompareShard {
    /// A checked shard: the cells are exactly the ones `shard` owns among `cell_labels`.
    pub fn new(
        grid_hash: String,
        shard: ShardId,
        title: String,
        axes: Vec<GridAxis>,
        cell_labels: Vec<String>,
        cells: Vec<ShardCell>,
    ) -> Result<CompareShard, ReportError> {
        let result = CompareShard {
            format: SHARD_FORMAT.to_string(),
            grid_hash,
            shard,
            title,
            axes,
            cell_labels,
            cells,
        };
        result.validate("compare shard")?;
        Ok(result)
    }

    /// Checks the format tag, the shard id, and that `cells` are exactly this shard's cells of
    /// the grid, in order, each run labelled as the grid says.
    pub fn validate(&self, context: &str) -> Result<(), ReportError> {
        if self.format != SHARD_FORMAT {
            return Err(ReportError::invalid(
                context,
                "format",
                format!(
                    "'{}' is not a shard file of this dmsim (expected '{SHARD_FORMAT}')",
                    self.format
                ),
            ));
        }
        if let Err(problem) = self.shard.check() {
            return Err(ReportError::invalid(
                context,
                "shard",
                format!("{} is not a valid shard id: {problem}", self.shard),
            ));
        }
        if self.cell_labels.is_empty() {
            return Err(ReportError::invalid(
                context,
                "cell_labels",
                "the grid has no cells",
            ));
        }
        let owned: Vec<usize> = (0..self.cell_labels.len())
            .filter(|&k| self.shard.owns(k))
            .collect();
        let held: Vec<usize> = self.cells.iter().map(|c| c.index).collect();
        if owned != held {
            return Err(ReportError::invalid(
                context,
                "cells",
                format!(
                    "shard {} of a {}-cell grid must hold cells {owned:?}, holds {held:?}",
                    self.shard,
                    self.cell_labels.len()
                ),
            ));
        }
        for (position, cell) in self.cells.iter().enumerate() {
            let expected = &self.cell_labels[cell.index];
            if &cell.run.label != expected {
                return Err(ReportError::invalid(
                    context,
                    format!("cells[{position}].run.label"),
                    format!("'{}' where the grid has '{expected}'", cell.run.label),
                ));
            }
            cell.run
                .validate(&format!("{context}: cells[{position}].run"))?;
        }
        Ok(())
    }

    /// Writes `DIR/shard.json` atomically (nothing is left behind on error).
    pub fn write(&self, dir: &Path) -> Result<PathBuf, ReportError> {
        self.validate("compare shard")?;
        let mut batch = OutputBatch::begin(dir)?;
        batch.stage_bytes(SHARD_FILE_NAME, to_pretty_json(self).as_bytes())?;
        let mut written = batch.commit()?;
        Ok(written.remove(0))
    }

    /// Reads and checks `DIR/shard.json`.
    pub fn read(dir: &Path) -> Result<CompareShard, ReportError> {
        let path = dir.join(SHARD_FILE_NAME);
        let text = std::fs::read_to_string(&path)
            .map_err(|source| ReportError::io(&path, "read shard result", source))?;
        let shard: CompareShard =
            serde_json::from_str(&text).map_err(|source| ReportError::Json {
                path: path.clone(),
                what: SHARD_FILE_NAME,
                source,
            })?;
        shard.validate(&path.display().to_string())?;
        Ok(shard)
    }
}

/// Identity of a comparison grid: FNV-1a (64 bit) over the given parts, each prefixed by its
/// length so that no two different part lists hash alike by concatenation. Not a defence
/// against forgery; a check that shards were run with the same inputs and options.
#[derive(Clone, Debug)]
pub struct GridHasher {
    state: u64,
}

impl Default for GridHasher {
    fn default() -> Self {
        GridHasher {
            state: 0xcbf2_9ce4_8422_2325,
        }
    }
}

impl GridHasher {
    /// Adds one part.
    pub fn part(&mut self, bytes: &[u8]) -> &mut Self {
        self.bytes(&(bytes.len() as u64).to_le_bytes());
        self.bytes(bytes)
    }

    /// Adds raw bytes (for streaming a large part; call [`GridHasher::part`] with its length
    /// first if parts must stay distinguishable).
    pub fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        for &byte in bytes {
            self.state ^= u64::from(byte);
            self.state = self.state.wrapping_mul(0x0100_0000_01b3);
        }
        self
    }

    /// The hash as 16 lowercase hex digits.
    pub fn finish_hex(&self) -> String {
        format!("{:016x}", self.state)
    }
}

/// Streams bytes into the hash (for `std::io::copy` of a large part), as [`GridHasher::bytes`].
impl std::io::Write for GridHasher {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Why shards could not be merged. Every variant names the directories involved.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// No directory was given.
    #[error("no shard directories given")]
    NoShards,
    /// A shard file could not be read or is invalid.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// Two shards belong to different comparisons.
    #[error("{dir} belongs to another comparison than {first_dir}: {what} differs ({this} vs {first}); run every shard with the same input and options")]
    Mismatch {
        /// The shard that differs.
        dir: PathBuf,
        /// The first shard given.
        first_dir: PathBuf,
        /// Which field differs.
        what: &'static str,
        /// Its value in `dir`.
        this: String,
        /// Its value in `first_dir`.
        first: String,
    },
    /// The same shard (hence the same cells) was given twice.
    #[error(
        "shard {shard} is given twice: {dir} and {other_dir}; pass each shard's directory once"
    )]
    Duplicate {
        /// The shard id.
        shard: ShardId,
        /// One directory holding it.
        dir: PathBuf,
        /// The other.
        other_dir: PathBuf,
    },
    /// Some shards are absent: their cells are listed.
    #[error("{} of {} cells missing (shards {} of {count} absent); re-run them with --shard I/{count} and merge again. Missing cells: {}", missing.len(), cell_count, shards_to_rerun.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", "), missing.iter().map(|(label, shard)| format!("{label} (shard {shard}/{count})")).collect::<Vec<_>>().join(", "))]
    Missing {
        /// Shard count of the grid.
        count: u32,
        /// Cells in the grid.
        cell_count: usize,
        /// Missing cells: label and the shard that runs it.
        missing: Vec<(String, u32)>,
        /// The shards that would complete the grid, ascending.
        shards_to_rerun: Vec<u32>,
    },
}

/// Checks that `dirs` hold all shards of one comparison, each once, and rebuilds the
/// comparison from them, runs in grid order. The result's files are byte-identical to the
/// unsharded run's.
pub fn merge_shards(dirs: &[PathBuf]) -> Result<CompareReport, MergeError> {
    let (first_dir, rest) = dirs.split_first().ok_or(MergeError::NoShards)?;
    let first = CompareShard::read(first_dir)?;
    let mut by_index: BTreeMap<u32, (PathBuf, CompareShard)> = BTreeMap::new();
    by_index.insert(first.shard.index, (first_dir.clone(), first.clone()));
    for dir in rest {
        let shard = CompareShard::read(dir)?;
        let mismatch = |what: &'static str, this: String, first: String| MergeError::Mismatch {
            dir: dir.clone(),
            first_dir: first_dir.clone(),
            what,
            this,
            first,
        };
        if shard.grid_hash != first.grid_hash {
            return Err(mismatch(
                "grid hash",
                shard.grid_hash.clone(),
                first.grid_hash.clone(),
            ));
        }
        if shard.shard.count != first.shard.count {
            return Err(mismatch(
                "shard count",
                shard.shard.count.to_string(),
                first.shard.count.to_string(),
            ));
        }
        // The hash covers these too; checked separately so a hand-edited file cannot slip in.
        if shard.title != first.title {
            return Err(mismatch("title", shard.title.clone(), first.title.clone()));
        }
        if shard.axes != first.axes || shard.cell_labels != first.cell_labels {
            return Err(mismatch(
                "grid (axes or cells)",
                format!("{} cells", shard.cell_labels.len()),
                format!("{} cells", first.cell_labels.len()),
            ));
        }
        if let Some((other_dir, _)) = by_index.get(&shard.shard.index) {
            return Err(MergeError::Duplicate {
                shard: shard.shard,
                dir: dir.clone(),
                other_dir: other_dir.clone(),
            });
        }
        by_index.insert(shard.shard.index, (dir.clone(), shard));
    }

    let count = first.shard.count;
    let cell_count = first.cell_labels.len();
    let mut runs: Vec<Option<RunReport>> = vec![None; cell_count];
    for (_, shard) in by_index.into_values() {
        for cell in shard.cells {
            // validate() proved each index is owned by its shard, and shards are distinct.
            assert!(runs[cell.index].is_none(), "cell {} twice", cell.index);
            runs[cell.index] = Some(cell.run);
        }
    }
    let missing: Vec<(String, u32)> = runs
        .iter()
        .enumerate()
        .filter(|(_, run)| run.is_none())
        .map(|(k, _)| {
            let shard = ShardId { index: 1, count }.shard_of(k);
            (first.cell_labels[k].clone(), shard)
        })
        .collect();
    if !missing.is_empty() {
        let mut shards_to_rerun: Vec<u32> = missing.iter().map(|(_, s)| *s).collect();
        shards_to_rerun.sort_unstable();
        shards_to_rerun.dedup();
        return Err(MergeError::Missing {
            count,
            cell_count,
            missing,
            shards_to_rerun,
        });
    }
    let runs = runs
        .into_iter()
        .map(|r| r.expect("checked above"))
        .collect();
    Ok(CompareReport::new(first.title, first.axes, runs)?)
}
