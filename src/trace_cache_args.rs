//! The flags `replay` and `hits` share: which trace, how it is read, and the cache it runs
//! through (mode, policy, geometry, devices, `--set`). Flattened into both commands so the
//! two spell, document and resolve them the same way.

use crate::cache_args::{CacheArgs, ModeArg, PolicyArg};
use crate::trace_input::TraceArgs;
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct TraceCacheArgs {
    /// The trace file (.gz, .bz2, .xz, .zst are decompressed by extension).
    pub trace: PathBuf,
    #[command(flatten)]
    pub input: TraceArgs,
    /// Cache mode [default: writeback].
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
    /// Replacement policy [default: fifo].
    #[arg(long, value_enum)]
    pub policy: Option<PolicyArg>,
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Override a parameter, KEY=VALUE (repeatable): `ssd.KEY`/`hdd.KEY` device model
    /// parameters, `table.KEY` table-line fields, otherwise a flashcache tunable or option.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
}

impl TraceCacheArgs {
    /// `--mode`, or flashcache's default mode.
    pub fn mode(&self) -> ModeArg {
        self.mode.unwrap_or(ModeArg::Writeback)
    }

    /// `--policy`, or flashcache's default policy.
    pub fn policy(&self) -> PolicyArg {
        self.policy.unwrap_or(PolicyArg::Fifo)
    }

    /// Whether the user sized the cache (`--cache-size` or `--cache-blocks`).
    pub fn cache_size_given(&self) -> bool {
        self.cache.cache_size.is_some() || self.cache.cache_blocks.is_some()
    }
}
