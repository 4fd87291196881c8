//! Helpers shared by the platform tests: fixtures, IO construction, waiting for completions.
#![allow(dead_code)] // each test file uses a different subset

use dmsim_engine::arena::{Arena, Buffer};
use dmsim_engine::block::{DeviceId, Op};
use dmsim_engine::content::{SectorContent, SectorStamp};
use dmsim_engine::io::{Completion, DeviceIo, IoTag};
use dmsim_real::testing::{FixtureOptions, LoopDevice, Medium};
use dmsim_real::{BackendChoice, OpenOptions, PlatformOptions, RealDevice, RealPlatform};

pub const MIB: u64 = 1 << 20;

pub fn stamp(sector: u64, write_id: u64) -> SectorContent {
    SectorContent::Stamp(SectorStamp { sector, write_id })
}

pub fn options(backend: BackendChoice) -> PlatformOptions {
    PlatformOptions {
        backend,
        ..PlatformOptions::default()
    }
}

pub fn open_writable(path: &std::path::Path, range: Option<(u64, u64)>) -> RealDevice {
    RealDevice::open(
        path,
        OpenOptions {
            allow_write: true,
            range,
        },
    )
    .expect("open fixture")
}

pub struct Tags(pub u32);

impl Tags {
    pub fn next(&mut self) -> IoTag {
        self.0 += 1;
        IoTag {
            slot: self.0,
            generation: 7,
        }
    }
}

pub fn io(tag: IoTag, op: Op, sector: u64, sectors: u32, buffer: Buffer) -> DeviceIo {
    DeviceIo {
        tag,
        device: DeviceId(0),
        op,
        sector,
        sectors,
        fua: false,
        sync: true,
        buffer,
    }
}

/// Waits until `count` completions arrived (or panics after 10 s of real time).
pub fn collect(platform: &mut RealPlatform, arena: &mut Arena, count: usize) -> Vec<Completion> {
    let mut completions = Vec::new();
    let give_up_ns = platform.now_ns() + 10_000_000_000;
    while completions.len() < count {
        let deadline = platform.now_ns() + 100_000_000;
        platform.wait_for(Some(deadline), arena, &mut completions);
        assert!(
            platform.now_ns() < give_up_ns,
            "only {} of {count} completions",
            completions.len()
        );
    }
    completions
}

pub fn fixture(size_bytes: u64, medium: Medium) -> LoopDevice {
    LoopDevice::for_tests(FixtureOptions::new(size_bytes, medium)).expect("fixture")
}
