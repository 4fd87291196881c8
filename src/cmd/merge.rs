//! `dmsim merge`: join the shards of a comparison (`dmsim compare --shard I/N`) into the report
//! the unsharded run writes — compare.json, charts and index.html, byte for byte. Refuses
//! shards of different grids, a shard given twice, and a grid with cells missing (naming them
//! and the shards to re-run).

use super::CliResult;
use clap::Args;
use dmsim_reports::{merge_shards, INDEX_FILE_NAME};
use std::path::PathBuf;

#[derive(Args)]
pub struct MergeArgs {
    /// The shards' output directories (each holds a shard.json written by
    /// `dmsim compare --shard I/N --out DIR`), in any order.
    #[arg(required = true, value_name = "SHARD_DIR")]
    pub shards: Vec<PathBuf>,
    /// Folder for the merged report (created; files in it are replaced).
    #[arg(long, default_value = "dmsim-report")]
    pub out: PathBuf,
}

pub fn run(args: MergeArgs) -> CliResult {
    let report = merge_shards(&args.shards)?;
    report.write(&args.out)?;
    out!("{}", report.to_markdown());
    outln!(
        "merged {} shard(s), {} runs; report: {}",
        args.shards.len(),
        report.runs.len(),
        args.out.join(INDEX_FILE_NAME).display()
    );
    Ok(())
}
