//! The linear target (dm-linear): the volume is one device range, and every piece is
//! remapped onto it by an offset.
//!
//! Like dm-linear, it adds no limits of its own; like the block layer under it, it cuts a
//! piece into device IOs no longer than the device's `max_sectors` (discards by its discard
//! limit; a device without discard support fails discards with `NotSupported`). A failed read
//! IO's memory is zero-filled so failed reads are deterministic.
//!
//! Deliberately not here: any caching or copying.

use crate::arena::Buffer;
use crate::block::{BoundaryPieces, DeviceId, DeviceInfo, IoStatus, Op};
use crate::error::{EngineError, WaitingJob};
use crate::services::{Caller, ServiceEvent, Services};
use crate::slab::{Slab, SlabKey};
use crate::target::io::BioKey;
use crate::target::io::TargetIo;

#[derive(Debug, Clone)]
struct LinearPiece {
    bio: BioKey,
    pending: u32,
    status: IoStatus,
}

#[derive(Debug, Clone)]
struct DeviceChunk {
    piece: SlabKey,
    op: Op,
    buffer: Buffer,
    sectors: u64,
}

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct LinearTarget {
    device: DeviceId,
    offset_sectors: u64,
    info: DeviceInfo,
    pieces: Slab<LinearPiece>,
    chunks: Slab<DeviceChunk>,
    /// Scratch of the check after every input (see [`LinearTarget::check_with`]).
    chunks_per_piece: Vec<u32>,
}

impl LinearTarget {
    /// The table line (`dmsetup table`): `0 <length> linear <device> <offset>`.
    pub fn table_line(&self) -> String {
        format!(
            "0 {} linear {} {}",
            self.volume_sectors(),
            self.device,
            self.offset_sectors
        )
    }

    pub fn new(
        device: DeviceId,
        offset_sectors: u64,
        services: &Services,
    ) -> Result<LinearTarget, EngineError> {
        let devices = services.devices();
        let Some(&info) = devices.get(usize::from(device.0)) else {
            return Err(EngineError::UnknownDevice {
                device,
                devices: devices.len(),
            });
        };
        if offset_sectors >= info.capacity_sectors
            || !offset_sectors.is_multiple_of(info.block_sectors())
        {
            return Err(EngineError::BadTarget(format!(
                "linear offset {offset_sectors} is beyond {device}'s {} sectors or misaligned",
                info.capacity_sectors
            )));
        }
        Ok(LinearTarget {
            device,
            offset_sectors,
            info,
            pieces: Slab::new(),
            chunks: Slab::new(),
            chunks_per_piece: Vec::new(),
        })
    }

    pub fn volume_sectors(&self) -> u64 {
        self.info.capacity_sectors - self.offset_sectors
    }

    pub fn block_sectors(&self) -> u64 {
        self.info.block_sectors()
    }

    pub fn map(
        &mut self,
        io: TargetIo,
        services: &mut Services,
        finished: &mut Vec<(BioKey, IoStatus)>,
    ) {
        let limit = match io.op {
            Op::Discard if self.info.max_discard_sectors == 0 => {
                finished.push((io.bio, IoStatus::NotSupported));
                return;
            }
            Op::Discard => u64::from(self.info.max_discard_sectors),
            _ => u64::from(self.info.max_sectors),
        };
        let mut chunks = BoundaryPieces::new();
        if io.op == Op::Flush {
            chunks.push((0, 0));
        } else {
            let mut done = 0;
            while done < io.sectors {
                let len = limit.min(io.sectors - done);
                chunks.push((done, len));
                done += len;
            }
        }
        let piece = self.pieces.insert(LinearPiece {
            bio: io.bio,
            pending: chunks.len() as u32,
            status: IoStatus::Ok,
        });
        for (skip, len) in chunks {
            let buffer = match io.op {
                Op::Read | Op::Write => io.buffer.slice(skip, len),
                Op::Flush | Op::Discard => Buffer::empty(),
            };
            let chunk = self.chunks.insert(DeviceChunk {
                piece,
                op: io.op,
                buffer: buffer.clone(),
                sectors: len,
            });
            let sector = if io.op == Op::Flush {
                0
            } else {
                self.offset_sectors + io.sector + skip
            };
            services.submit_io(
                Caller(chunk.to_u64()),
                self.device,
                io.op,
                sector,
                u32::try_from(len).expect("chunks are bounded by u32 limits"),
                io.fua,
                io.sync,
                buffer,
            );
        }
    }

    pub fn on_event(
        &mut self,
        event: ServiceEvent,
        services: &mut Services,
        finished: &mut Vec<(BioKey, IoStatus)>,
    ) {
        let ServiceEvent::DeviceIoDone { caller, status, .. } = event else {
            unreachable!("linear uses raw device IO only, got {event:?}");
        };
        let chunk = self
            .chunks
            .remove(SlabKey::from_u64(caller.0))
            .expect("completion for a live linear chunk");
        if !status.is_ok() && chunk.op == Op::Read {
            services
                .arena_mut()
                .zero_sectors(&chunk.buffer, chunk.sectors);
        }
        let piece = self.pieces.get_mut(chunk.piece).expect("live piece");
        piece.status = piece.status.worst(status);
        piece.pending -= 1;
        if piece.pending == 0 {
            let piece = self.pieces.remove(chunk.piece).expect("live piece");
            finished.push((piece.bio, piece.status));
        }
    }

    pub fn is_idle(&self) -> bool {
        self.pieces.is_empty() && self.chunks.is_empty()
    }

    pub fn waiting_report(&self, out: &mut Vec<WaitingJob>) {
        for (key, piece) in self.pieces.iter() {
            out.push(WaitingJob {
                component: "linear",
                description: format!(
                    "piece {} waits for {} device IO(s) on {}",
                    key.to_u64(),
                    piece.pending,
                    self.device
                ),
            });
        }
    }

    pub fn check_invariants(&self) -> Result<(), String> {
        self.check_with(&mut Vec::new())
    }

    /// [`LinearTarget::check_invariants`] for a check after every input: the same check,
    /// with its per-piece counts in a kept allocation.
    pub fn check_invariants_incremental(&mut self) -> Result<(), String> {
        let mut chunks_per_piece = std::mem::take(&mut self.chunks_per_piece);
        let checked = self.check_with(&mut chunks_per_piece);
        self.chunks_per_piece = chunks_per_piece;
        checked
    }

    /// Every live piece's pending count against its live chunks, and no chunk of a finished
    /// piece. `chunks_per_piece` is scratch: chunks counted by their piece's slab slot (no
    /// map: this runs after every input).
    fn check_with(&self, chunks_per_piece: &mut Vec<u32>) -> Result<(), String> {
        self.pieces.check()?;
        self.chunks.check()?;
        chunks_per_piece.clear();
        chunks_per_piece.resize(self.pieces.slots(), 0);
        let mut chunks_of_finished_pieces = 0usize;
        for (_, chunk) in self.chunks.iter() {
            if self.pieces.get(chunk.piece).is_some() {
                chunks_per_piece[chunk.piece.index as usize] += 1;
            } else {
                chunks_of_finished_pieces += 1;
            }
        }
        for (key, piece) in self.pieces.iter() {
            let chunks = chunks_per_piece[key.index as usize];
            if chunks != piece.pending || chunks == 0 {
                return Err(format!(
                    "linear piece {}: {} chunks live, {} pending",
                    key.to_u64(),
                    chunks,
                    piece.pending
                ));
            }
        }
        if chunks_of_finished_pieces > 0 {
            return Err("linear: device chunks of a finished piece remain".to_string());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    // Named through `crate::`: the module graph test reads `super::` as the parent folder.
    use crate::arena::Buffer;
    use crate::block::{DeviceId, DeviceInfo, IoStatus, Op};
    use crate::services::Services;
    use crate::slab::SlabKey;
    use crate::target::io::BioKey;
    use crate::target::linear::{DeviceChunk, LinearPiece, LinearTarget};
    use crate::EngineConfig;

    /// A linear target with one piece split into two device chunks and one piece of one
    /// chunk, as `map` leaves them, and its keys.
    fn target() -> (LinearTarget, [SlabKey; 2]) {
        let config = EngineConfig {
            arena_pages: 64,
            plugging: None,
            ..EngineConfig::default()
        };
        let services = Services::new(&config, vec![DeviceInfo::new(1 << 20, 512)]).unwrap();
        let mut target = LinearTarget::new(DeviceId(0), 0, &services).unwrap();
        let mut pieces = [SlabKey::from_u64(0); 2];
        for (index, chunks) in [2u32, 1].into_iter().enumerate() {
            let piece = target.pieces.insert(LinearPiece {
                bio: BioKey(SlabKey::from_u64(0)),
                pending: chunks,
                status: IoStatus::Ok,
            });
            for _ in 0..chunks {
                target.chunks.insert(DeviceChunk {
                    piece,
                    op: Op::Read,
                    buffer: Buffer::empty(),
                    sectors: 8,
                });
            }
            pieces[index] = piece;
        }
        target.check_invariants().unwrap();
        target.check_invariants_incremental().unwrap();
        (target, pieces)
    }

    #[test]
    fn a_piece_pending_more_chunks_than_live_is_named() {
        let (mut target, [first, _]) = target();
        target.pieces.get_mut(first).unwrap().pending = 3;
        let error = format!("linear piece {}: 2 chunks live, 3 pending", first.to_u64());
        assert_eq!(target.check_invariants().unwrap_err(), error);
        assert_eq!(target.check_invariants_incremental().unwrap_err(), error);
    }

    #[test]
    fn a_live_piece_without_chunks_is_named() {
        let (mut target, [_, second]) = target();
        let chunk = target
            .chunks
            .iter()
            .find(|(_, chunk)| chunk.piece == second)
            .map(|(key, _)| key)
            .unwrap();
        target.chunks.remove(chunk);
        target.pieces.get_mut(second).unwrap().pending = 0;
        assert_eq!(
            target.check_invariants().unwrap_err(),
            format!("linear piece {}: 0 chunks live, 0 pending", second.to_u64())
        );
    }

    #[test]
    fn a_chunk_of_a_finished_piece_is_named() {
        let (mut target, [_, second]) = target();
        target.pieces.remove(second);
        assert_eq!(
            target.check_invariants().unwrap_err(),
            "linear: device chunks of a finished piece remain"
        );
    }
}
