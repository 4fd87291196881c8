//! Parameters of the SSD model: plain serde groups a preset fills and a scenario overrides by
//! dotted path (`flash.page_read_ns`, `write_buffer.enabled`). This module owns their meaning,
//! units and validation; it does not derive geometry (see `geometry.rs`) or build the model.

use crate::ModelError;
use serde::{Deserialize, Serialize};

/// Everything that defines one simulated SSD.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsdParams {
    pub geometry: GeometryParams,
    pub flash: FlashParams,
    pub ftl: FtlParams,
    pub mapping_cache: MappingCacheParams,
    pub write_buffer: WriteBufferParams,
    pub host: HostParams,
    pub stalls: StallParams,
}

/// The flash array: channels × chips (ways) per channel × dies per chip × planes per die,
/// each plane holding `blocks_per_plane` erase blocks of `pages_per_block` pages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeometryParams {
    /// Independent flash buses.
    pub channels: u32,
    /// Chips (ways) sharing one channel.
    pub chips_per_channel: u32,
    /// Dies per chip: the unit that runs one array operation at a time.
    pub dies_per_chip: u32,
    /// Planes per die: each has its own blocks, free list and GC.
    pub planes_per_die: u32,
    /// Erase blocks per plane (at least 8).
    pub blocks_per_plane: u32,
    /// Pages per erase block.
    pub pages_per_block: u32,
    /// Flash page size in bytes (the program and read unit of the array).
    pub page_bytes: u32,
}

/// Flash array and channel timing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlashParams {
    /// Array read time (tR) of one page.
    pub page_read_ns: u64,
    /// Array program time (tPROG) of one page.
    pub page_program_ns: u64,
    /// Block erase time (tBERS).
    pub block_erase_ns: u64,
    /// Data rate of one flash channel in MB/s (10^6 bytes per second); shared by all chips on
    /// the channel.
    pub channel_mb_per_s: u32,
    /// Channel time of the command and address cycles of a page read.
    pub read_command_ns: u64,
    /// Channel time of the command and address cycles of a page program (data excluded).
    pub program_command_ns: u64,
    /// Channel time of the command and address cycles of a block erase.
    pub erase_command_ns: u64,
    /// Dies of one chip take operations independently (ONFI multi-LUN operation). When
    /// false a chip takes an operation only when all its dies are idle and is busy until it
    /// ends, as MQSim's flash controller treats a chip.
    pub die_interleaving: bool,
    /// Without die interleaving: a chip starting an operation also starts one ready
    /// operation of the same kind on each other die (a multi-die command, as MQSim's
    /// transaction scheduler builds when it finds several dies' work queued), and stays
    /// busy until the last ends. Ignored with die interleaving.
    pub multi_die_commands: bool,
    /// A die starting a host read or program also starts one ready op of the same kind on
    /// each of its other planes when that op's page sits at the same page offset in its block
    /// (an ONFI multi-plane command: one array time for all planes, transfers one after
    /// another on the channel). False: every op occupies the die on its own.
    #[serde(default)]
    pub multi_plane_commands: bool,
    /// A scheduling unit starts an operation only at an instant its channel carries no
    /// transfer (MQSim's transaction scheduler issues commands only on an idle channel, and
    /// a chip that frees up while its channel is busy waits for the channel to go idle).
    /// False: the op starts at once and its bus phases take the channel's next free gap.
    #[serde(default)]
    pub start_on_idle_channel: bool,
    /// A host program carries over the channel only the sectors the host wrote into each
    /// unit (MQSim sizes a flash write transaction by the sectors of its host request, so a
    /// 3 KiB write moves 3 KiB). False: whole mapping units cross the channel, the
    /// controller filling the rest of a partly written unit.
    #[serde(default)]
    pub program_transfers_written_sectors: bool,
}

/// Flash translation layer: mapping granularity, spare space and garbage collection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FtlParams {
    /// Mapping unit in bytes (4096 on real drives). Divides `page_bytes`; a flash page holds
    /// `page_bytes / map_unit_bytes` units. Writes smaller than a unit read-modify-write it.
    pub map_unit_bytes: u32,
    /// Fraction of physical space withheld from the host (0.07 = 7 %).
    pub overprovisioning: f64,
    /// GC starts on a plane when its free blocks fall to this fraction of its blocks.
    pub gc_threshold: f64,
    /// GC moves pages inside the die (copyback) instead of through the controller, so the
    /// moved data does not cross the channel.
    pub gc_copyback: bool,
    /// Which plane a host page goes to.
    pub allocation: Allocation,
    /// A read of never-written data maps it on the fly to a fresh page of its plane (the
    /// plane's next write-frontier page, left unprogrammed) and reads that page from flash,
    /// as MQSim's page-level FTL does (online_create_entry_for_reads). False: never-written
    /// data reads as zeros without touching flash.
    #[serde(default)]
    pub reads_map_unwritten: bool,
}

/// Plane allocation of host pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Allocation {
    /// Each new host page goes to the next plane in channel-first order: writes spread
    /// evenly whatever their addresses.
    Striped,
    /// The plane is fixed by the logical page (the page-aligned group of mapping units):
    /// group `g` lives on plane `g mod planes` counted channel first, as MQSim's static CWDP
    /// allocation places a logical page. Load follows the addresses, so random writes
    /// collide on planes the way they do in MQSim.
    Static,
}

/// The controller's cache of the logical-to-physical table (DFTL-style). When the table is
/// larger than the cache, a miss reads the entries from a translation page in flash first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingCacheParams {
    /// Cache capacity in bytes; 0 means the whole table is resident in DRAM (no misses),
    /// as on drives with 1 GB of DRAM per TB.
    pub capacity_bytes: u64,
    /// Entries fetched and cached together on a miss (a cache line).
    pub line_entries: u32,
    /// Bytes of one mapping entry in flash and in the cache; a translation page holds
    /// `geometry.page_bytes / entry_bytes` entries (rounded down).
    pub entry_bytes: u32,
}

/// Optional DRAM write cache in front of the flash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriteBufferParams {
    /// Writes are acknowledged from DRAM (unless FUA on a volatile buffer).
    pub enabled: bool,
    /// Room for host data; a write that does not fit waits for programs to free some.
    pub capacity_bytes: u64,
    /// Power-loss protected (capacitor-backed): acknowledged writes are durable, so FLUSH and
    /// FUA need not wait for the flash. Otherwise the cache is volatile.
    pub power_loss_protected: bool,
    /// DRAM data rate in MB/s, shared by host writes into the buffer, flushes out of it and
    /// reads served from it.
    pub dram_mb_per_s: u32,
    /// Fixed latency of one DRAM access (row activate and column access).
    pub dram_access_ns: u64,
    /// Programs read their data back out of the DRAM (sharing its bandwidth with host
    /// writes). False: the controller forwards host data to the flash channel as it lands in
    /// DRAM, as MQSim's write cache does for data it writes back at once, so destaging costs
    /// no DRAM time.
    pub destage_reads_dram: bool,
    /// A partly filled page still open this long after its first unit is programmed with
    /// padding, so buffered data reaches flash when writes pause; 0 keeps it until it fills
    /// or a FLUSH comes.
    pub idle_flush_ns: u64,
    /// Hot/cold separation as in MQSim's write cache: a logical page already sent to flash
    /// in the current window is kept in DRAM when written again instead of being
    /// programmed (a FLUSH or FUA still makes it durable). A window starts with the first
    /// buffered write after the previous one ended and lasts this long; 0 sends every
    /// write to flash.
    #[serde(default)]
    pub hot_rewrite_window_ns: u64,
}

/// Host interface protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HostInterface {
    /// NVMe over PCIe: deep queues, full-duplex link.
    Nvme,
    /// SATA/AHCI: NCQ, half-duplex link, FLUSH is a non-queued command.
    Sata,
}

/// Host interface and controller front end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostParams {
    /// NVMe or SATA (AHCI) protocol behaviour.
    pub interface: HostInterface,
    /// Commands the device accepts at once (NVMe queue entries, SATA NCQ tags); more wait
    /// on the host side in arrival order.
    pub queue_depth: u32,
    /// Payload data rate of the link in MB/s, per direction for NVMe, shared for SATA.
    pub link_mb_per_s: u32,
    /// From arrival to the command being fetched and decoded (doorbell, SQE fetch, FIS).
    pub command_overhead_ns: u64,
    /// From the last data to the host seeing the completion (CQE, interrupt, SDB FIS).
    pub completion_overhead_ns: u64,
    /// Controller cores processing commands in parallel.
    pub firmware_cores: u32,
    /// Core time spent on each command (FTL lookup, scheduling); 0 for none.
    pub firmware_command_ns: u64,
}

/// Rare controller freezes (firmware housekeeping), drawn from the device's own stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StallParams {
    /// Probability per command that the controller freezes when it arrives; 0 disables.
    pub probability: f64,
    /// How long a freeze holds back command processing.
    pub duration_ns: u64,
}

fn invalid(key: &str, reason: impl Into<String>) -> ModelError {
    ModelError::InvalidParameter {
        key: key.to_string(),
        reason: reason.into(),
    }
}

fn positive(key: &str, value: u64) -> Result<(), ModelError> {
    if value == 0 {
        return Err(invalid(key, "must be positive"));
    }
    Ok(())
}

impl SsdParams {
    /// Check every field on its own and the combinations the model relies on (sizes that
    /// divide, address spaces that fit u32 tables, spare space that keeps GC possible).
    pub fn validate(&self) -> Result<(), ModelError> {
        let g = &self.geometry;
        positive("geometry.channels", g.channels.into())?;
        positive("geometry.chips_per_channel", g.chips_per_channel.into())?;
        positive("geometry.dies_per_chip", g.dies_per_chip.into())?;
        positive("geometry.planes_per_die", g.planes_per_die.into())?;
        positive("geometry.blocks_per_plane", g.blocks_per_plane.into())?;
        positive("geometry.pages_per_block", g.pages_per_block.into())?;
        positive("geometry.page_bytes", g.page_bytes.into())?;
        if g.blocks_per_plane < 8 {
            return Err(invalid(
                "geometry.blocks_per_plane",
                "must be at least 8 (GC needs free blocks to work with)",
            ));
        }

        let f = &self.flash;
        positive("flash.page_read_ns", f.page_read_ns)?;
        positive("flash.page_program_ns", f.page_program_ns)?;
        positive("flash.block_erase_ns", f.block_erase_ns)?;
        positive("flash.channel_mb_per_s", f.channel_mb_per_s.into())?;
        if f.multi_plane_commands && g.planes_per_die > 64 {
            return Err(invalid(
                "geometry.planes_per_die",
                "at most 64 with flash.multi_plane_commands",
            ));
        }
        if !f.die_interleaving && f.multi_die_commands && g.dies_per_chip > 64 {
            return Err(invalid(
                "geometry.dies_per_chip",
                "at most 64 with flash.multi_die_commands",
            ));
        }

        let t = &self.ftl;
        let unit = t.map_unit_bytes;
        if unit < 512 || !unit.is_multiple_of(512) {
            return Err(invalid(
                "ftl.map_unit_bytes",
                format!("{unit} is not a positive multiple of 512"),
            ));
        }
        if !g.page_bytes.is_multiple_of(unit) {
            return Err(invalid(
                "ftl.map_unit_bytes",
                format!(
                    "{unit} does not divide geometry.page_bytes {}",
                    g.page_bytes
                ),
            ));
        }
        if g.page_bytes / unit > 64 {
            return Err(invalid(
                "ftl.map_unit_bytes",
                format!(
                    "a page of {} bytes would hold more than 64 units",
                    g.page_bytes
                ),
            ));
        }
        let slots_per_block = u64::from(g.pages_per_block) * u64::from(g.page_bytes / unit);
        if slots_per_block > u64::from(u16::MAX) {
            return Err(invalid(
                "geometry.pages_per_block",
                format!("{slots_per_block} mapping units per block exceed 65535"),
            ));
        }
        let planes = u64::from(g.channels)
            * u64::from(g.chips_per_channel)
            * u64::from(g.dies_per_chip)
            * u64::from(g.planes_per_die);
        let slots = planes * u64::from(g.blocks_per_plane) * slots_per_block;
        if slots >= u64::from(u32::MAX) {
            return Err(invalid(
                "geometry",
                format!(
                    "{slots} mapping units exceed the u32 tables (max {})",
                    u32::MAX - 1
                ),
            ));
        }
        if !(t.overprovisioning > 0.0 && t.overprovisioning < 0.9) {
            return Err(invalid(
                "ftl.overprovisioning",
                format!("{} is outside (0, 0.9)", t.overprovisioning),
            ));
        }
        if !(t.gc_threshold > 0.0 && t.gc_threshold < 0.5) {
            return Err(invalid(
                "ftl.gc_threshold",
                format!("{} is outside (0, 0.5)", t.gc_threshold),
            ));
        }
        let spare_blocks = (f64::from(g.blocks_per_plane) * t.overprovisioning).floor() as u64;
        let needed = gc_threshold_blocks(g.blocks_per_plane, t.gc_threshold) as u64 + 3;
        if spare_blocks < needed {
            return Err(invalid(
                "ftl.overprovisioning",
                format!(
                    "{} leaves {spare_blocks} spare blocks per plane; GC at ftl.gc_threshold {} \
                     needs at least {needed}",
                    t.overprovisioning, t.gc_threshold
                ),
            ));
        }

        let m = &self.mapping_cache;
        positive("mapping_cache.line_entries", m.line_entries.into())?;
        positive("mapping_cache.entry_bytes", m.entry_bytes.into())?;
        if m.capacity_bytes != 0 {
            let line_bytes = u64::from(m.line_entries) * u64::from(m.entry_bytes);
            if m.capacity_bytes < line_bytes {
                return Err(invalid(
                    "mapping_cache.capacity_bytes",
                    format!(
                        "{} is smaller than one line ({line_bytes} bytes)",
                        m.capacity_bytes
                    ),
                ));
            }
            if m.entry_bytes > g.page_bytes {
                return Err(invalid(
                    "mapping_cache.entry_bytes",
                    format!("{} is larger than geometry.page_bytes", m.entry_bytes),
                ));
            }
        }

        let b = &self.write_buffer;
        if b.enabled {
            positive("write_buffer.dram_mb_per_s", b.dram_mb_per_s.into())?;
            let min = 2 * u64::from(g.page_bytes);
            if b.capacity_bytes < min {
                return Err(invalid(
                    "write_buffer.capacity_bytes",
                    format!("{} is less than two flash pages ({min})", b.capacity_bytes),
                ));
            }
        }

        let h = &self.host;
        positive("host.queue_depth", h.queue_depth.into())?;
        positive("host.link_mb_per_s", h.link_mb_per_s.into())?;
        positive("host.firmware_cores", h.firmware_cores.into())?;
        if h.firmware_cores > 64 {
            return Err(invalid("host.firmware_cores", "at most 64"));
        }

        let s = &self.stalls;
        if !(0.0..=1.0).contains(&s.probability) {
            return Err(invalid(
                "stalls.probability",
                format!("{} is outside [0, 1]", s.probability),
            ));
        }
        Ok(())
    }
}

/// Free blocks per plane at or below which GC runs (at least 2).
pub(crate) fn gc_threshold_blocks(blocks_per_plane: u32, gc_threshold: f64) -> u32 {
    ((f64::from(blocks_per_plane) * gc_threshold).ceil() as u32).max(2)
}
