//! Persistence (spec 1.16, writeback only): create, load and store of the on-SSD metadata
//! with superblock states and crash recovery, as sequences of synchronous bulk dm_io.
//!
//! Owns: [`Setup`], the constructor's IO (existing-cache check, writing fresh slots,
//! loading a cache — after an unclean shutdown only DIRTY slots are trusted), and the final
//! metadata store of a remove. Bulk IO moves at most 256 KiB per request, one request at a
//! time. Does not own the byte layout (see [`super::layout`]).

use super::config::{
    CacheDeviceSizes, CacheMode, ConfigError, FlashcacheConfig, Persistence, MAX_ASSOC,
    MAX_MD_BLOCK_SIZE_SECTORS,
};
use super::geometry::{Geometry, GeometryParts};
use super::instance::{CacheInputError, Flashcache, Phase, StoreOutcome};
use super::io::{
    CacheBuffer, CacheDmIo, CacheIoTag, CacheRequest, Device, DmIoOutcome, IoOp, MetaBufferId,
    Region, RegionList,
};
use super::job::MetaBuffers;
use super::layout::{
    decode_slot, encode_slot, MdSlot, Superblock, SuperblockState, FLASHCACHE_VERSION,
    METADATA_IO_BYTES, SUPERBLOCK_PROBE_SECTORS,
};
use super::state::BlockState;
use crate::bounded::{LoopBound, ITEMS_PER_CALL_MAX};
use std::collections::VecDeque;
use thiserror::Error;

/// Why a cache could not be created or loaded (flashcache's `ti->error` in brackets).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SetupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("Existing Cache Detected, use force to re-create (flashcache: Cache Create Failed)")]
    ExistingCache,
    #[error("Unknown version {version} found in superblock (flashcache: Cache reload failed)")]
    UnknownVersion { version: u32 },
    #[error("Corrupt Cache Superblock: {field} = {value:#x} (flashcache: Cache reload failed)")]
    CorruptSuperblock { field: &'static str, value: u64 },
    #[error("Corrupt metadata slot for block {index}: state {state:#x}")]
    CorruptSlot { index: u32, state: u32 },
    #[error("{what} failed at SSD sector {sector}")]
    Io { what: &'static str, sector: u64 },
}

/// Fills a freshly allocated bulk IO buffer.
type Fill<'a> = &'a dyn Fn(&mut [u8]);

/// Where a [`Setup`] is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetupStatus {
    /// Waiting for a bulk IO to complete.
    InProgress,
    /// Done: call [`Setup::finish`].
    Ready,
    Failed(SetupError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PersistStage {
    /// Create: read the md block at sector 0 to detect an existing cache.
    Probe,
    /// Load: read 8 sectors at 0.
    ReadSuperblock,
    /// Create: write all slots INVALID.
    WriteSlots,
    /// Load: read all slots.
    ReadSlots,
    /// Write the superblock marked DIRTY (in use).
    WriteSuperblock,
    Done,
}

/// The constructor of a flashcache target: validates the configuration and performs the
/// synchronous metadata IO of create or load. Writethrough/writearound need none.
#[derive(Debug)]
pub struct Setup {
    config: FlashcacheConfig,
    devices: CacheDeviceSizes,
    now_ns: u64,
    stage: PersistStage,
    out: VecDeque<CacheRequest>,
    meta: MetaBuffers,
    sequence: u32,
    in_flight: Option<(u32, MetaBufferId, u64)>,
    geometry: Option<Geometry>,
    write_only: bool,
    loaded: Vec<(u64, BlockState)>,
    clean_shutdown: bool,
    next_md_block: u32,
    failure: Option<SetupError>,
}

impl Setup {
    /// Validate `config` against the devices and start creating or loading.
    pub fn new(
        config: FlashcacheConfig,
        devices: CacheDeviceSizes,
        now_ns: u64,
    ) -> Result<Setup, ConfigError> {
        config.table.validate(&devices, &config.options)?;
        let table = &config.table;
        let reload = table.mode == CacheMode::WriteBack && table.persistence == Persistence::Reload;
        let geometry = if reload {
            None
        } else {
            Some(Geometry::for_new_cache(table, &devices)?)
        };
        let write_only = table.write_only;
        let mut setup = Setup {
            config,
            devices,
            now_ns,
            stage: PersistStage::Done,
            out: VecDeque::new(),
            meta: MetaBuffers::default(),
            sequence: 0,
            in_flight: None,
            geometry,
            write_only,
            loaded: Vec::new(),
            clean_shutdown: true,
            next_md_block: 0,
            failure: None,
        };
        if setup.config.table.mode == CacheMode::WriteBack {
            if reload {
                setup.stage = PersistStage::ReadSuperblock;
                setup.issue(IoOp::Read, 0, SUPERBLOCK_PROBE_SECTORS.into(), None);
            } else {
                setup.stage = PersistStage::Probe;
                let md_block_size = setup.config.table.effective_md_block_size_sectors();
                setup.issue(IoOp::Read, 0, md_block_size.into(), None);
            }
        }
        Ok(setup)
    }

    /// The next bulk IO to perform (there is at most one at a time).
    #[must_use]
    pub fn poll_request(&mut self) -> Option<CacheRequest> {
        self.out.pop_front()
    }

    /// Bytes to write for a request's metadata buffer.
    pub fn meta_buffer(&self, id: MetaBufferId) -> Option<&[u8]> {
        self.meta.get(id)
    }

    /// Buffer to fill with what a read returned.
    pub fn meta_buffer_mut(&mut self, id: MetaBufferId) -> Option<&mut [u8]> {
        self.meta.get_mut(id)
    }

    pub fn status(&self) -> SetupStatus {
        match (&self.failure, self.stage) {
            (Some(error), _) => SetupStatus::Failed(error.clone()),
            (None, PersistStage::Done) => SetupStatus::Ready,
            _ => SetupStatus::InProgress,
        }
    }

    /// Carries the setup out synchronously against an SSD its caller holds (the hit-counting
    /// mode, tests, the explorer's probes; the engine's target issues the same IO through
    /// dm_io instead): `read(sector, bytes)` fills whole sectors from `sector`, `write(sector,
    /// bytes)` stores them. Every IO succeeds. Then [`Setup::finish`].
    pub fn run_on(
        mut self,
        read: &mut dyn FnMut(u64, &mut [u8]),
        write: &mut dyn FnMut(u64, &[u8]),
    ) -> Result<Flashcache, SetupError> {
        let mut bound = LoopBound::new("Setup::run_on: bulk IO", ITEMS_PER_CALL_MAX);
        while let Some(request) = self.poll_request() {
            bound.round();
            let CacheRequest::DmIo(io) = request else {
                unreachable!("setup emits only bulk dm_io, got {request:?}");
            };
            assert!(io.sync, "bulk metadata IO is synchronous");
            let CacheBuffer::Meta(buffer) = io.buffer else {
                unreachable!("bulk metadata IO without a metadata buffer: {io:?}");
            };
            let region = io.regions.as_slice()[0];
            assert_eq!(region.device, Device::Ssd, "setup IO goes to the SSD");
            match io.op {
                IoOp::Read => read(region.sector, self.meta.get_mut(buffer).expect("in flight")),
                IoOp::Write => write(region.sector, self.meta.get(buffer).expect("in flight")),
                other => unreachable!("bulk metadata {other:?}"),
            }
            self.complete_dm_io(io.tag, DmIoOutcome::OK)
                .expect("the setup's own tag");
            if let SetupStatus::Failed(error) = self.status() {
                return Err(error);
            }
        }
        assert_eq!(self.status(), SetupStatus::Ready, "setup ran out of IO");
        self.finish()
    }

    /// The target, once [`SetupStatus::Ready`].
    pub fn finish(self) -> Result<Flashcache, SetupError> {
        if let Some(error) = self.failure {
            return Err(error);
        }
        assert_eq!(
            self.stage,
            PersistStage::Done,
            "Setup::finish before the setup is ready"
        );
        let geometry = self.geometry.expect("geometry known when done");
        let loaded = (!self.loaded.is_empty()).then_some(self.loaded.as_slice());
        match loaded {
            None => mark!(CacheCreated),
            Some(slots) if slots.iter().any(|(_, state)| state.is_dirty()) => {
                mark!(CacheReloadedDirtyBlocks)
            }
            Some(_) => {}
        }
        Ok(Flashcache::assemble(
            self.config,
            self.devices,
            geometry,
            self.write_only,
            loaded,
            self.now_ns,
        ))
    }

    fn issue(&mut self, op: IoOp, sector: u64, sectors: u64, fill: Option<Fill<'_>>) {
        let buffer = self.meta.alloc(sectors as usize * 512);
        if let Some(fill) = fill {
            fill(self.meta.get_mut(buffer).expect("just allocated"));
        }
        self.sequence += 1;
        self.in_flight = Some((self.sequence, buffer, sector));
        self.out.push_back(CacheRequest::DmIo(CacheDmIo {
            tag: CacheIoTag::Bulk(self.sequence),
            op,
            regions: RegionList::one(Region::new(Device::Ssd, sector, sectors)),
            buffer: CacheBuffer::Meta(buffer),
            sync: true,
            timeout_ns: None,
        }));
    }

    fn fail(&mut self, error: SetupError) {
        self.failure = Some(error);
        self.stage = PersistStage::Done;
    }

    /// A bulk IO finished.
    pub fn complete_dm_io(
        &mut self,
        tag: CacheIoTag,
        outcome: DmIoOutcome,
    ) -> Result<(), CacheInputError> {
        let Some((sequence, buffer, sector)) = self.in_flight else {
            return Err(CacheInputError::UnknownTag { tag });
        };
        if tag != CacheIoTag::Bulk(sequence) {
            return Err(CacheInputError::UnknownTag { tag });
        }
        self.in_flight = None;
        let bytes = self.meta.get(buffer).expect("in flight").to_vec();
        self.meta.free(buffer);
        if outcome.failed() {
            let what = match self.stage {
                PersistStage::Probe | PersistStage::ReadSuperblock => "reading the superblock",
                PersistStage::WriteSlots => "writing cache metadata",
                PersistStage::ReadSlots => "reading cache metadata",
                PersistStage::WriteSuperblock | PersistStage::Done => "writing the superblock",
            };
            self.fail(SetupError::Io { what, sector });
            return Ok(());
        }
        match self.stage {
            PersistStage::Probe => self.after_probe(&bytes),
            PersistStage::ReadSuperblock => self.after_superblock_read(&bytes),
            PersistStage::WriteSlots => self.write_next_slots(),
            PersistStage::ReadSlots => self.after_slots_read(&bytes),
            PersistStage::WriteSuperblock => self.stage = PersistStage::Done,
            PersistStage::Done => unreachable!("no IO after done"),
        }
        Ok(())
    }

    fn after_probe(&mut self, bytes: &[u8]) {
        let superblock = Superblock::decode(bytes);
        let force = self.config.table.persistence == Persistence::ForceCreate;
        let existing = matches!(
            superblock.state(),
            Some(SuperblockState::Dirty | SuperblockState::Clean | SuperblockState::FastClean)
        );
        if existing && !force {
            self.fail(SetupError::ExistingCache);
            return;
        }
        self.stage = PersistStage::WriteSlots;
        self.next_md_block = 0;
        self.write_next_slots();
    }

    fn md_blocks_per_chunk(geometry: &Geometry) -> u32 {
        (METADATA_IO_BYTES / (geometry.md_block_size_sectors as usize * 512)) as u32
    }

    /// Create: write the next chunk of all-INVALID slots, then the superblock.
    fn write_next_slots(&mut self) {
        let geometry = self.geometry.expect("create knows its geometry");
        if self.next_md_block >= geometry.slot_md_blocks() {
            self.write_superblock(FLASHCACHE_VERSION);
            return;
        }
        let (first, count) = self.next_chunk(&geometry);
        let slots = geometry.slots_per_md_block();
        let first_index = first * slots;
        let last_index = ((first + count) * slots).min(geometry.size_blocks);
        let fill = move |buffer: &mut [u8]| {
            for index in first_index..last_index {
                encode_slot(
                    buffer,
                    (index - first_index) as usize,
                    MdSlot::of_block(0, BlockState::INVALID),
                );
            }
        };
        self.issue(
            IoOp::Write,
            geometry.md_block_sector(first),
            u64::from(count) * u64::from(geometry.md_block_size_sectors),
            Some(&fill),
        );
    }

    fn next_chunk(&mut self, geometry: &Geometry) -> (u32, u32) {
        let first = self.next_md_block;
        let count = Self::md_blocks_per_chunk(geometry).min(geometry.slot_md_blocks() - first);
        self.next_md_block += count;
        (first, count)
    }

    fn write_superblock(&mut self, version: u32) {
        let geometry = self.geometry.expect("geometry known");
        self.stage = PersistStage::WriteSuperblock;
        let superblock = superblock_for(
            &self.config,
            &self.devices,
            &geometry,
            self.write_only,
            SuperblockState::Dirty,
            version,
        );
        let fill = move |buffer: &mut [u8]| superblock.encode(buffer);
        self.issue(
            IoOp::Write,
            0,
            u64::from(geometry.md_block_size_sectors),
            Some(&fill),
        );
    }

    fn after_superblock_read(&mut self, bytes: &[u8]) {
        let superblock = Superblock::decode(bytes);
        match self.geometry_from_superblock(&superblock) {
            Ok(geometry) => {
                self.clean_shutdown = superblock.state() != Some(SuperblockState::Dirty);
                self.geometry = Some(geometry);
                self.loaded = Vec::with_capacity(geometry.size_blocks as usize);
                self.stage = PersistStage::ReadSlots;
                self.next_md_block = 0;
                self.read_next_slots();
            }
            Err(error) => self.fail(error),
        }
    }

    /// Judge a superblock as `flashcache_writeback_load` does, and more: garbage that the
    /// kernel would trust (and crash on) is refused.
    fn geometry_from_superblock(&mut self, sb: &Superblock) -> Result<Geometry, SetupError> {
        let corrupt =
            |field: &'static str, value: u64| SetupError::CorruptSuperblock { field, value };
        let md_block_size = if sb.version == 1 {
            1
        } else if sb.version > FLASHCACHE_VERSION {
            return Err(SetupError::UnknownVersion {
                version: sb.version,
            });
        } else {
            sb.md_block_size_sectors
        };
        match sb.state() {
            Some(SuperblockState::Dirty | SuperblockState::Clean | SuperblockState::FastClean) => {}
            _ => return Err(corrupt("cache_sb_state", sb.state_raw.into())),
        }
        let disk_assoc = if sb.version < 3 {
            0
        } else {
            sb.disk_assoc_sectors
        };
        self.write_only = sb.version >= 4 && sb.write_only_cache != 0;
        if !sb.block_size_sectors.is_power_of_two() {
            return Err(corrupt("block_size", sb.block_size_sectors.into()));
        }
        if !md_block_size.is_power_of_two() || md_block_size > MAX_MD_BLOCK_SIZE_SECTORS {
            return Err(corrupt("md_block_size", md_block_size.into()));
        }
        if sb.size_blocks == 0 || sb.size_blocks >= u64::from(u32::MAX) {
            return Err(corrupt("size", sb.size_blocks));
        }
        if sb.assoc == 0 || !sb.size_blocks.is_multiple_of(u64::from(sb.assoc)) {
            return Err(corrupt("assoc", sb.assoc.into()));
        }
        if disk_assoc != 0 && !disk_assoc.is_power_of_two() {
            return Err(corrupt("disk_assoc", disk_assoc.into()));
        }
        let size_blocks = sb.size_blocks as u32;
        let slots = md_block_size * 512 / super::config::MD_SLOT_BYTES;
        let md_blocks = size_blocks / slots + 2;
        let needed = u64::from(md_blocks) * u64::from(md_block_size)
            + u64::from(size_blocks) * u64::from(sb.block_size_sectors);
        if needed > self.devices.ssd_sectors {
            return Err(corrupt("size", sb.size_blocks));
        }
        Ok(Geometry::new(GeometryParts {
            block_size_sectors: sb.block_size_sectors,
            assoc: sb.assoc,
            size_blocks,
            disk_assoc_sectors: disk_assoc,
            on_ssd_version: sb.version,
            md_block_size_sectors: md_block_size,
            md_blocks,
            fully_associative: sb.assoc > MAX_ASSOC || !sb.assoc.is_power_of_two(),
        }))
    }

    fn read_next_slots(&mut self) {
        let geometry = self.geometry.expect("load knows its geometry by now");
        if self.next_md_block >= geometry.slot_md_blocks() {
            self.write_superblock(geometry.on_ssd_version);
            return;
        }
        let (first, count) = self.next_chunk(&geometry);
        self.issue(
            IoOp::Read,
            geometry.md_block_sector(first),
            u64::from(count) * u64::from(geometry.md_block_size_sectors),
            None,
        );
    }

    /// Load a chunk of slots: after an unclean shutdown only DIRTY slots are kept.
    fn after_slots_read(&mut self, bytes: &[u8]) {
        let geometry = self.geometry.expect("load knows its geometry");
        let first_index = self.loaded.len() as u32;
        let slots_in_chunk = (bytes.len() / super::layout::SLOT_BYTES) as u32;
        let last_index = (first_index + slots_in_chunk).min(geometry.size_blocks);
        for index in first_index..last_index {
            let slot = decode_slot(bytes, (index - first_index) as usize);
            let trusted =
                self.clean_shutdown || slot.state & u32::from(BlockState::DIRTY.bits()) != 0;
            if !trusted {
                self.loaded.push((0, BlockState::INVALID));
                continue;
            }
            match BlockState::from_slot(slot.state) {
                Some(state) => self.loaded.push((slot.dbn, state)),
                None => {
                    self.fail(SetupError::CorruptSlot {
                        index,
                        state: slot.state,
                    });
                    return;
                }
            }
        }
        self.read_next_slots();
    }
}

/// The superblock describing this cache in state `state`.
fn superblock_for(
    config: &FlashcacheConfig,
    devices: &CacheDeviceSizes,
    geometry: &Geometry,
    write_only: bool,
    state: SuperblockState,
    version: u32,
) -> Superblock {
    Superblock {
        size_blocks: u64::from(geometry.size_blocks),
        block_size_sectors: geometry.block_size_sectors,
        assoc: geometry.assoc,
        state_raw: state.raw(),
        cache_devname: config.table.vdev_name.clone(),
        cache_devsize_sectors: devices.ssd_sectors,
        disk_devname: config.table.disk_dev.clone(),
        disk_devsize_sectors: devices.disk_sectors,
        version,
        md_block_size_sectors: geometry.md_block_size_sectors,
        disk_assoc_sectors: geometry.disk_assoc_sectors,
        write_only_cache: u32::from(write_only),
    }
}

impl StoreProgress {
    /// The store step in flight holds a metadata buffer.
    pub(crate) fn holds_buffer(&self) -> bool {
        self.in_flight.is_some()
    }
}

/// Progress of `flashcache_writeback_md_store` at the end of a remove.
#[derive(Debug, Clone)]
pub(crate) struct StoreProgress {
    next_md_block: u32,
    write_errors: u32,
    sequence: u32,
    in_flight: Option<(u32, MetaBufferId)>,
    superblock_issued: bool,
    dirty_blocks: u64,
    valid_blocks: u64,
    superblock_state: SuperblockState,
}

impl Flashcache {
    /// Start writing every slot from memory, then the superblock last.
    pub(crate) fn start_store(&mut self) {
        let mut dirty_blocks = 0;
        let mut valid_blocks = 0;
        for index in 0..self.blocks.geometry.size_blocks {
            let state = self.blocks.state(index);
            valid_blocks += u64::from(state.is_valid());
            dirty_blocks += u64::from(state.is_dirty());
        }
        self.phase = Phase::Storing;
        self.store = Some(StoreProgress {
            next_md_block: 0,
            write_errors: 0,
            sequence: 0,
            in_flight: None,
            superblock_issued: false,
            dirty_blocks,
            valid_blocks,
            superblock_state: SuperblockState::Dirty,
        });
        self.issue_next_store_step();
    }

    fn issue_next_store_step(&mut self) {
        let geometry = self.blocks.geometry;
        let mut store = self.store.take().expect("store in progress");
        let (sector, sectors, buffer) = if store.next_md_block < geometry.slot_md_blocks() {
            let per_chunk =
                (METADATA_IO_BYTES / (geometry.md_block_size_sectors as usize * 512)) as u32;
            let first = store.next_md_block;
            let count = per_chunk.min(geometry.slot_md_blocks() - first);
            store.next_md_block += count;
            // Past the slots' metadata blocks lies cached data: never write over it.
            assert!(
                count > 0 && store.next_md_block <= geometry.slot_md_blocks(),
                "the metadata store's write of {count} blocks from {first} runs past the {} \
                 metadata blocks",
                geometry.slot_md_blocks()
            );
            let slots = geometry.slots_per_md_block();
            let first_index = first * slots;
            let last_index = ((first + count) * slots).min(geometry.size_blocks);
            let sectors = u64::from(count) * u64::from(geometry.md_block_size_sectors);
            let buffer = self.meta.alloc(sectors as usize * 512);
            let bytes = self.meta.get_mut(buffer).expect("just allocated");
            for index in first_index..last_index {
                let block = self.blocks.block(index);
                encode_slot(
                    bytes,
                    (index - first_index) as usize,
                    MdSlot::of_block(block.dbn, block.state),
                );
            }
            (geometry.md_block_sector(first), sectors, buffer)
        } else if !store.superblock_issued {
            store.superblock_issued = true;
            store.superblock_state = if store.write_errors > 0 {
                SuperblockState::Unstable
            } else if store.dirty_blocks == 0 {
                SuperblockState::Clean
            } else {
                SuperblockState::FastClean
            };
            let superblock = superblock_for(
                &self.config,
                &self.devices,
                &geometry,
                self.write_only,
                store.superblock_state,
                geometry.on_ssd_version,
            );
            let sectors = u64::from(geometry.md_block_size_sectors);
            let buffer = self.meta.alloc(sectors as usize * 512);
            superblock.encode(self.meta.get_mut(buffer).expect("just allocated"));
            (0, sectors, buffer)
        } else {
            self.phase = Phase::Stopped(Some(StoreOutcome {
                superblock_state: store.superblock_state,
                write_errors: store.write_errors,
                dirty_blocks: store.dirty_blocks,
                valid_blocks: store.valid_blocks,
            }));
            return;
        };
        store.sequence += 1;
        store.in_flight = Some((store.sequence, buffer));
        self.out.push_back(CacheRequest::DmIo(CacheDmIo {
            tag: CacheIoTag::Bulk(store.sequence),
            op: IoOp::Write,
            regions: RegionList::one(Region::new(Device::Ssd, sector, sectors)),
            buffer: CacheBuffer::Meta(buffer),
            sync: true,
            timeout_ns: None,
        }));
        self.store = Some(store);
    }

    /// Completion of a store step.
    pub(crate) fn bulk_complete(
        &mut self,
        sequence: u32,
        outcome: DmIoOutcome,
        tag: CacheIoTag,
    ) -> Result<(), CacheInputError> {
        let in_flight = self.store.as_ref().and_then(|store| store.in_flight);
        let Some((expected, buffer)) = in_flight else {
            return Err(CacheInputError::UnknownTag { tag });
        };
        if expected != sequence {
            return Err(CacheInputError::UnknownTag { tag });
        }
        self.meta.free(buffer);
        let store = self.store.as_mut().expect("store in progress");
        store.in_flight = None;
        if outcome.failed() {
            store.write_errors += 1;
        }
        self.issue_next_store_step();
        Ok(())
    }
}
