//! Carrying out the flashcache state machine's requests with the engine's services, and
//! reporting their completions back.
//!
//! Owns: the translation of flashcache's small IO vocabulary into services calls — a
//! `DmIo` becomes a classic `dm_io()` (asynchronous, or synchronous for the bulk metadata
//! IO of create/load/store) or, with a deadline (option `ssd_timeout`), a timed `dm_io()`
//! that cancels on timeout; a `KcopydCopy` becomes one `dm_kcopyd_copy()` with flags 0 — and
//! the memory each needs: a bio's pages as they are; metadata bytes copied into reserved
//! arena pages before a write and out of them after a read; for a timed SSD read, a bounce
//! buffer of reserved pages, copied into the bio only if the read succeeded (a cancelled
//! read may still be running as a zombie, and must never write into a bio that was re-read
//! from the disk or completed).
//!
//! Deliberately not here: bio pieces and the target's life (the parent module).

use super::{FlashcacheTarget, LifeStage};
use crate::arena::{copy_pages, Buffer, PageList};
use crate::block::{DeviceId, Op, PAGE_SIZE, SECTORS_PER_PAGE};
use crate::bounded::{LoopBound, ITEMS_PER_CALL_MAX};
use crate::flashcache as fc;
use crate::services::dm_io::{DmIoError, DmIoRegion, DmIoRequest, RegionState, TimedControl};
use crate::services::kcopyd::KcopydFlags;
use crate::services::{Caller, ServiceEvent, Services};
use crate::slab::SlabKey;
use smallvec::SmallVec;

/// Where a dm_io's memory comes from.
#[derive(Debug)]
pub(super) enum Memory {
    /// A flashcache bio's pages (or no memory, for a flush or discard).
    Direct,
    /// Reserved pages carrying a metadata buffer's bytes.
    Meta {
        id: fc::MetaBufferId,
        pages: PageList,
        read: bool,
    },
    /// Reserved pages a timed SSD read lands in, copied into `target` on success.
    Bounce {
        pages: PageList,
        target: Buffer,
        sectors: u64,
    },
}

/// A request in flight in the services.
#[derive(Debug)]
pub(super) enum Outstanding {
    /// `zombies_ended`: zombie IOs of this (timed) request that already ended.
    DmIo {
        tag: fc::CacheIoTag,
        memory: Memory,
        zombies_ended: u32,
    },
    Kcopyd {
        tag: fc::CacheIoTag,
    },
    /// A timed request returned with `zombies` of its device IOs still running: the
    /// services' cookie stays ours until they end, then the state machine hears of it.
    Zombies {
        tag: fc::CacheIoTag,
        zombies: u32,
    },
}

impl FlashcacheTarget {
    fn device(&self, device: fc::Device) -> DeviceId {
        match device {
            fc::Device::Ssd => self.ssd,
            fc::Device::Disk => self.disk,
        }
    }

    fn region(&self, region: &fc::Region) -> DmIoRegion {
        DmIoRegion {
            device: self.device(region.device),
            sector: region.sector,
            sectors: region.sectors,
        }
    }

    /// The bytes of a metadata buffer of whichever stage owns it.
    fn meta_bytes(&self, id: fc::MetaBufferId) -> Option<&[u8]> {
        match &self.stage {
            LifeStage::SettingUp(setup) => setup.meta_buffer(id),
            LifeStage::Running(fc) => fc.meta_buffer(id),
            LifeStage::Failed(_) => None,
        }
    }

    fn meta_bytes_mut(&mut self, id: fc::MetaBufferId) -> Option<&mut [u8]> {
        match &mut self.stage {
            LifeStage::SettingUp(setup) => setup.meta_buffer_mut(id),
            LifeStage::Running(fc) => fc.meta_buffer_mut(id),
            LifeStage::Failed(_) => None,
        }
    }

    /// Pages the request's memory needs from the reserve (0: it uses the bio's own).
    fn reserved_pages_needed(&self, io: &fc::CacheDmIo) -> usize {
        match io.buffer {
            fc::CacheBuffer::Meta(id) => self
                .meta_bytes(id)
                .map_or(0, |b| b.len().div_ceil(PAGE_SIZE)),
            fc::CacheBuffer::Bio(_) if io.op == fc::IoOp::Read && io.timeout_ns.is_some() => {
                let sectors = io.regions.as_slice()[0].sectors;
                sectors.div_ceil(SECTORS_PER_PAGE) as usize
            }
            fc::CacheBuffer::Bio(_) | fc::CacheBuffer::None => 0,
        }
    }

    /// Starts a `Request::DmIo`, or queues it until reserved pages are free.
    pub(super) fn start_dm_io(&mut self, io: fc::CacheDmIo, services: &mut Services) {
        let needed = self.reserved_pages_needed(&io);
        let pages = if needed == 0 {
            PageList::new()
        } else if !self.pool_waiting.is_empty() {
            self.pool_waiting.push_back(io);
            return;
        } else {
            match self.pool.take(needed, services.arena_mut()) {
                Some(pages) => pages,
                None => {
                    self.pool_waiting.push_back(io);
                    return;
                }
            }
        };
        self.submit_dm_io(io, pages, services);
    }

    /// Retries requests waiting for reserved pages, in order; true if any started.
    pub(super) fn start_pool_waiting(&mut self, services: &mut Services) -> bool {
        let mut progress = false;
        let mut bound = LoopBound::new(
            "flashcache adapter: requests waiting for pages",
            ITEMS_PER_CALL_MAX,
        );
        while let Some(io) = self.pool_waiting.front() {
            bound.round();
            let needed = self.reserved_pages_needed(io);
            let Some(pages) = self.pool.take(needed, services.arena_mut()) else {
                break;
            };
            let io = self.pool_waiting.pop_front().expect("front exists");
            self.submit_dm_io(io, pages, services);
            progress = true;
        }
        progress
    }

    fn submit_dm_io(&mut self, io: fc::CacheDmIo, pages: PageList, services: &mut Services) {
        let op = match io.op {
            fc::IoOp::Read => Op::Read,
            fc::IoOp::Write => Op::Write,
            fc::IoOp::Flush => Op::Flush,
            fc::IoOp::Discard => Op::Discard,
        };
        let regions: SmallVec<[DmIoRegion; 2]> = io
            .regions
            .as_slice()
            .iter()
            .map(|r| self.region(r))
            .collect();
        let (buffer, memory) = match io.buffer {
            fc::CacheBuffer::None => (Buffer::empty(), Memory::Direct),
            fc::CacheBuffer::Meta(id) => {
                let buffer = Buffer::from_pages(copy_pages(&pages));
                if op == Op::Write {
                    let bytes = self.meta_bytes(id).expect("a live metadata buffer");
                    let arena = services.arena_mut();
                    for (page, chunk) in pages.iter().zip(bytes.chunks(PAGE_SIZE)) {
                        arena.bytes_mut(*page)[..chunk.len()].copy_from_slice(chunk);
                    }
                }
                let read = op == Op::Read;
                (buffer, Memory::Meta { id, pages, read })
            }
            fc::CacheBuffer::Bio(bio) => {
                let Some(part) = self.fc_bios.get(SlabKey::from_u64(bio.0)) else {
                    self.anomaly(format!(
                        "flashcache IO {:?} names unknown bio {bio:?}",
                        io.tag
                    ));
                    let key = self.outstanding.insert(Outstanding::DmIo {
                        tag: io.tag,
                        memory: Memory::Direct,
                        zombies_ended: 0,
                    });
                    self.refused.push_back(key);
                    return;
                };
                if pages.is_empty() {
                    (part.buffer.clone(), Memory::Direct)
                } else {
                    let sectors = regions[0].sectors;
                    let memory = Memory::Bounce {
                        pages: copy_pages(&pages),
                        target: part.buffer.clone(),
                        sectors,
                    };
                    (Buffer::from_pages(pages), memory)
                }
            }
        };
        let key = self.outstanding.insert(Outstanding::DmIo {
            tag: io.tag,
            memory,
            zombies_ended: 0,
        });
        let caller = Caller(key.to_u64());
        let request = DmIoRequest {
            op,
            fua: false,
            sync: io.sync,
            buffer,
            // Only classic async IO notifies; timed IO reports through its own completion.
            notify: io.timeout_ns.is_none() && !io.sync,
        };
        let result = match io.timeout_ns {
            None => services.dm_io(self.dm_io_client, caller, request, &regions),
            Some(timeout_ns) => {
                let timeout_ns = if services.buggify(crate::BuggifySite::ShrinkSsdTimeout) {
                    (timeout_ns / 1000).max(1_000)
                } else {
                    timeout_ns
                };
                let control = TimedControl {
                    timeout_ns: Some(timeout_ns),
                    cancel_on_timeout: true,
                };
                services.dm_io_timed(self.dm_io_client, caller, request, control, &regions)
            }
        };
        if let Err(error) = result {
            self.anomaly(format!("dm_io refused flashcache IO {:?}: {error}", io.tag));
            // An async classic read with several regions is also notified at once.
            let notified = matches!(error, DmIoError::ReadNeedsOneRegion { .. })
                && io.timeout_ns.is_none()
                && !io.sync;
            if !notified {
                self.refused.push_back(key);
            }
        }
    }

    /// Starts a `Request::KcopydCopy`: one copy, flags 0, on the target's client.
    pub(super) fn start_kcopyd(&mut self, copy: fc::KcopydRequest, services: &mut Services) {
        let key = self
            .outstanding
            .insert(Outstanding::Kcopyd { tag: copy.tag });
        let from = self.region(&copy.from);
        let to = self.region(&copy.to);
        let result = services.kcopyd_copy(
            self.kcopyd_client,
            from,
            &[to],
            KcopydFlags::default(),
            Caller(key.to_u64()),
        );
        if let Err(error) = result {
            self.anomaly(format!(
                "kcopyd refused flashcache copy {:?}: {error}",
                copy.tag
            ));
            self.refused.push_back(key);
        }
    }

    /// Completes refused requests as failed; true if there were any.
    pub(super) fn fail_refused(&mut self, services: &mut Services) -> bool {
        let mut progress = false;
        let mut bound = LoopBound::new("flashcache adapter: refused requests", ITEMS_PER_CALL_MAX);
        while let Some(key) = self.refused.pop_front() {
            bound.round();
            progress = true;
            match self.outstanding.remove(key) {
                Some(Outstanding::DmIo { tag, memory, .. }) => {
                    self.release_memory(memory, false, services);
                    self.deliver_dm_io(tag, fc::DmIoOutcome::FAILED, services);
                }
                Some(Outstanding::Kcopyd { tag }) => self.deliver_kcopyd(tag, true, 1, services),
                Some(Outstanding::Zombies { .. }) | None => {
                    unreachable!("refused requests stay outstanding until failed")
                }
            }
        }
        progress
    }

    /// A services notification for one of our requests.
    pub(super) fn handle_event(&mut self, event: ServiceEvent, services: &mut Services) {
        let key = SlabKey::from_u64(event.caller().0);
        match event {
            ServiceEvent::DmIoDone { error_bits, .. } => {
                self.dm_io_finished(key, error_bits, 0, services)
            }
            ServiceEvent::DmIoTimedDone {
                states, zombies, ..
            } => {
                let error_bits = states
                    .iter()
                    .enumerate()
                    .filter(|(_, state)| **state != RegionState::Ok)
                    .fold(0u64, |bits, (index, _)| bits | 1 << index);
                self.dm_io_finished(key, error_bits, zombies, services)
            }
            ServiceEvent::DmIoZombieEnded { .. } => self.zombie_ended(key, services),
            ServiceEvent::DmIoLateWrite { .. } => {
                // dm_io already told the platform the range's content is unknown; the
                // block was treated as failed (and invalidated) when its IO timed out.
                self.late_writes += 1;
            }
            ServiceEvent::DmIoRegion { .. } => {
                self.anomaly("a region notice nobody asked for".to_string());
            }
            ServiceEvent::KcopydDone {
                read_err,
                write_err,
                ..
            } => match self.outstanding.remove(key) {
                Some(Outstanding::Kcopyd { tag }) => {
                    self.deliver_kcopyd(tag, read_err, u64::from(write_err), services)
                }
                other => self.anomaly(format!("kcopyd completion for {other:?}")),
            },
            ServiceEvent::DeviceIoDone { .. } => {
                self.anomaly("a raw device IO completion (flashcache uses none)".to_string());
            }
        }
    }

    /// A request returned; `zombies` of its device IOs were cancelled while running.
    fn dm_io_finished(
        &mut self,
        key: SlabKey,
        error_bits: u64,
        zombies: u32,
        services: &mut Services,
    ) {
        let zombies_ended = match self.outstanding.get(key) {
            Some(Outstanding::DmIo { zombies_ended, .. }) => *zombies_ended,
            _ => {
                self.anomaly(format!(
                    "dm_io completion for unknown request {}",
                    key.to_u64()
                ));
                return;
            }
        };
        let running = zombies.saturating_sub(zombies_ended);
        if zombies < zombies_ended {
            self.anomaly(format!(
                "dm_io request {} reported {zombies} zombies, {zombies_ended} ended",
                key.to_u64()
            ));
        }
        let entry = if running > 0 {
            // The entry stays (same key): the services' cookie keeps naming this request.
            let slot = self.outstanding.get_mut(key).expect("checked above");
            let tag = match slot {
                Outstanding::DmIo { tag, .. } => *tag,
                _ => unreachable!("checked above"),
            };
            std::mem::replace(
                slot,
                Outstanding::Zombies {
                    tag,
                    zombies: running,
                },
            )
        } else {
            self.outstanding.remove(key).expect("checked above")
        };
        let Outstanding::DmIo { tag, memory, .. } = entry else {
            unreachable!("checked above");
        };
        let outcome = fc::DmIoOutcome {
            error_bits,
            zombie_io: running > 0,
        };
        self.release_memory(memory, !outcome.failed(), services);
        self.deliver_dm_io(tag, outcome, services);
    }

    /// One zombie IO of a request ended; the last one after the request returned releases
    /// what the state machine held for it.
    fn zombie_ended(&mut self, key: SlabKey, services: &mut Services) {
        match self.outstanding.get_mut(key) {
            Some(Outstanding::DmIo { zombies_ended, .. }) => *zombies_ended += 1,
            Some(Outstanding::Zombies { zombies, .. }) if *zombies > 1 => *zombies -= 1,
            Some(Outstanding::Zombies { tag, .. }) => {
                let tag = *tag;
                self.outstanding.remove(key);
                let now_ns = services.now_ns();
                // Only the running machine issues timed IO (setup and the final store are
                // untimed), and it never leaves the running stage.
                let result = match &mut self.stage {
                    LifeStage::Running(fc) => fc.zombie_ended(tag, now_ns),
                    LifeStage::SettingUp(_) | LifeStage::Failed(_) => {
                        Err(fc::CacheInputError::UnknownTag { tag })
                    }
                };
                self.note_refusal("zombie_ended", result);
            }
            other => {
                let described = format!("{other:?}");
                self.anomaly(format!(
                    "zombie end for request {}: {described}",
                    key.to_u64()
                ));
            }
        }
    }

    /// Copies what a successful read brought in, then returns reserved pages.
    fn release_memory(&mut self, memory: Memory, succeeded: bool, services: &mut Services) {
        match memory {
            Memory::Direct => {}
            Memory::Meta { id, pages, read } => {
                if read && succeeded {
                    let mut bytes = Vec::with_capacity(pages.len() * PAGE_SIZE);
                    for &page in &pages {
                        bytes.extend_from_slice(services.arena_mut().bytes(page));
                    }
                    match self.meta_bytes_mut(id) {
                        Some(buffer) => {
                            let len = buffer.len();
                            buffer.copy_from_slice(&bytes[..len]);
                        }
                        None => {
                            self.anomaly(format!("metadata buffer {id:?} vanished during its read"))
                        }
                    }
                }
                self.pool.put(pages, services.arena_mut());
            }
            Memory::Bounce {
                pages,
                target,
                sectors,
            } => {
                if succeeded {
                    let mut contents = Vec::with_capacity(sectors as usize);
                    let arena = services.arena_mut();
                    arena.read_sectors(&Buffer::from_pages(pages.clone()), sectors, &mut contents);
                    arena.write_sectors(&target, &contents);
                }
                self.pool.put(pages, services.arena_mut());
            }
        }
    }

    fn deliver_dm_io(
        &mut self,
        tag: fc::CacheIoTag,
        outcome: fc::DmIoOutcome,
        services: &mut Services,
    ) {
        let now_ns = services.now_ns();
        let result = match &mut self.stage {
            LifeStage::SettingUp(setup) => setup.complete_dm_io(tag, outcome),
            LifeStage::Running(fc) => fc.complete_dm_io(tag, outcome, now_ns),
            LifeStage::Failed(_) => Ok(()),
        };
        self.note_refusal("complete_dm_io", result);
    }

    fn deliver_kcopyd(
        &mut self,
        tag: fc::CacheIoTag,
        read_error: bool,
        write_error_bits: u64,
        services: &mut Services,
    ) {
        let now_ns = services.now_ns();
        let result = match &mut self.stage {
            LifeStage::Running(fc) => fc.complete_kcopyd(tag, read_error, write_error_bits, now_ns),
            LifeStage::SettingUp(_) | LifeStage::Failed(_) => {
                Err(fc::CacheInputError::UnknownTag { tag })
            }
        };
        self.note_refusal("complete_kcopyd", result);
    }

    /// A halted target refuses everything (expected); any other refusal is our bug.
    fn note_refusal(&mut self, what: &str, result: Result<(), fc::CacheInputError>) {
        match result {
            Ok(()) | Err(fc::CacheInputError::Halted { .. }) => {}
            Err(error) => self.anomaly(format!("{what}: {error}")),
        }
    }
}
