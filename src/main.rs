//! `dmsim`: the command-line front end. A thin layer over the workspace crates: it parses
//! arguments, resolves them into a setup, runs it with `dmsim-testbed`, and prints or writes
//! results.

/// `println!` for command output: a closed stdout (`dmsim … | head`) ends the program quietly
/// instead of panicking; another write error is reported.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout().lock(), $($arg)*) {
            $crate::cmd::stdout_failed(e);
        }
    }};
}

/// `print!` counterpart of [`outln!`].
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = write!(std::io::stdout().lock(), $($arg)*) {
            $crate::cmd::stdout_failed(e);
        }
    }};
}

mod alloc_count;
mod cache_args;
mod cache_sizes;
mod cmd;
mod outcome;
mod parallel;
mod progress;
mod trace_cache_args;
mod trace_input;
mod unused_flags;

use dmsim_testbed::units;

#[global_allocator]
static ALLOCATOR: alloc_count::CountingAllocator = alloc_count::CountingAllocator;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Deterministic simulator and testbench for device-mapper block caching (flashcache, dm_io,
/// kcopyd) over simulated SSD/HDD models or real block devices.
#[derive(Parser)]
#[command(name = "dmsim", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Device models: list the presets, benchmark one, validate against a real drive.
    #[command(subcommand)]
    Devices(cmd::devices::DevicesCommand),
    /// Drive a target with a generated workload, every read verified by the data oracle;
    /// prints a summary and writes DIR/summary.json with --out.
    Run(Box<cmd::run::RunArgs>),
    /// Replay a block trace through a simulated flashcache (SSD over HDD), every read
    /// verified; prints a summary and writes DIR/summary.json with --out.
    Replay(Box<cmd::replay::ReplayArgs>),
    /// Count a flashcache configuration's hits over a trace, exactly and fast: replay's state
    /// machine with instant, dataless devices, one request at a time (as replay --qd 1).
    #[command(long_about = cmd::hits::LONG_ABOUT)]
    Hits(Box<cmd::hits::HitsArgs>),
    /// Compare cache modes × policies (× settings) over a trace, a workload or a scenario:
    /// writes DIR/compare.json, charts (SVG, PNG) and DIR/index.html, prints a table.
    /// Without arguments it runs the bundled default scenario into ./dmsim-report.
    Compare(Box<cmd::compare::CompareArgs>),
    /// Join the shards of a comparison run with `compare --shard I/N` into the report the
    /// unsharded run writes (byte-identical); names any missing cells and the shards to re-run.
    Merge(cmd::merge::MergeArgs),
    /// The race explorer: seeded runs with a swarm of faults, power losses and BUGGIFY,
    /// every oracle on every seed; a one-line repro and a shrunk seed file per failure.
    Explore(Box<cmd::explore::ExploreArgs>),
    /// Benchmarks of the simulator itself (speed and memory).
    #[command(subcommand)]
    Bench(cmd::bench::BenchCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Devices(c) => cmd::devices::run(c),
        Command::Run(args) => cmd::run::run(*args),
        Command::Replay(args) => cmd::replay::run(*args),
        Command::Hits(args) => cmd::hits::run(*args),
        Command::Compare(args) => cmd::compare::run(*args),
        Command::Merge(args) => cmd::merge::run(args),
        Command::Explore(args) => cmd::explore::run(*args),
        Command::Bench(c) => cmd::bench::run(c),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dmsim: error: {e}");
            ExitCode::FAILURE
        }
    }
}
