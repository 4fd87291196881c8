//! Named SSDs with the source of their numbers. Each preset is a plain `SsdParams`; a
//! scenario may override any field by its dotted path.

use super::params::{
    Allocation, FlashParams, FtlParams, GeometryParams, HostInterface, HostParams,
    MappingCacheParams, SsdParams, StallParams, WriteBufferParams,
};
use crate::presets::PresetInfo;

/// MQSim's default device (CMU-SAFARI/MQSim: `ssdconfig.xml`, `Flash_Parameter_Set.cpp`,
/// `Host_Parameter_Set.cpp`, ONFI NV-DDR2 timing in `ONFI_Channel_NVDDR2.cpp`): NVMe,
/// 8 channels × 4 chips × 2 dies × 2 planes × 2048 blocks × 256 pages of 8 KiB (512 GiB raw),
/// MLC read 75 µs / program 750 µs / erase 3.8 ms, 333 MT/s 8-bit channels, 7 %
/// over-provisioning, GC at 5 % free blocks, 2 MiB cached mapping table (one entry per line,
/// as MQSim caches entries; a translation page covers 1,365 logical pages as MQSim's), write cache on 100 MT/s 8-bit DRAM, PCIe 4 lanes ×
/// 0.4 GB/s with 128-byte TLP payloads (1313 MB/s of payload).
/// With these MQSim reports 4 KiB random reads of 165 µs at QD1 and 291 µs at QD32, writes of
/// 840 µs at QD1 without write cache and 26 µs with it. The QD1 figures decompose as a mapping
/// fetch (tR) plus the data read (tR + 12.3 µs of channel transfer) plus ~3 µs of PCIe; the
/// write as the mapping fetch plus tPROG plus transfers. MQSim's controller issues a command
/// only to an idle chip unless it batches dies together, so the preset turns die interleaving
/// off: 32 chips, not 64 dies, serve independent requests, which gives MQSim's QD32 figure.
///
/// As MQSim's page-level FTL: a logical page (8 KiB) always lives on the plane its number
/// gives in channel-first order (static CWDP allocation), and a partly written unit is read
/// back before a write only when it holds sectors the write leaves out, a program moves
/// over the channel only the sectors its host write carries, and a read of a never-written
/// logical page maps it to the next page of its plane's write frontier and reads that page
/// (MQSim runs without preconditioning by default). As MQSim's write cache: newly written
/// data goes to flash at once, straight from the host transfer (no DRAM read-out), and at
/// most one page per plane (1 MiB, counted in sectors of data as MQSim counts its
/// back-pressure depth) may be on its way to flash before further writes wait; MQSim keeps
/// written data cached in its 256 MiB afterwards, which only reads of just-written data
/// would notice; a rewrite of a logical page it already sent to flash within the last
/// second stays in DRAM (its hot/cold bloom filter). As MQSim's scheduler, a die runs
/// queued host reads or programs on both its planes as one multi-plane command when their
/// pages share a page offset; the device fetches at most 512 commands at once.
pub fn mqsim_default() -> SsdParams {
    SsdParams {
        geometry: GeometryParams {
            channels: 8,
            chips_per_channel: 4,
            dies_per_chip: 2,
            planes_per_die: 2,
            blocks_per_plane: 2048,
            pages_per_block: 256,
            page_bytes: 8192,
        },
        flash: FlashParams {
            page_read_ns: 75_000,
            page_program_ns: 750_000,
            block_erase_ns: 3_800_000,
            channel_mb_per_s: 333,
            // ONFI NV-DDR2 command/address cycles as MQSim computes them (tCS, tWC, tWB, tRR,
            // tADL, tWPST, tWPSTH).
            read_command_ns: 290,
            program_command_ns: 361,
            erase_command_ns: 220,
            // MQSim issues a command only to an idle chip unless it batches dies together.
            die_interleaving: false,
            // MQSim's scheduler can batch dies, but with it the QD32 read figure falls to
            // 257 µs (MQSim: 291 µs): MQSim's chips overlap less than full batching does.
            multi_die_commands: false,
            // MQSim's out-of-order transaction scheduler (TSU_OutOfOrder) gathers, for the
            // die it serves, queued transactions of the same kind on the die's other planes
            // at the same page offset, and NVM_PHY_ONFI_NVDDR2 issues them as one
            // multi-plane read or program.
            multi_plane_commands: true,
            // MQSim's TSU issues a command only on an idle channel (TSU_Base: a chip that
            // frees up while its channel is busy waits for the channel-idle signal).
            start_on_idle_channel: true,
            // MQSim's write transaction carries its request's sectors (segment_user_request
            // sizes it, NVDDR2DataInTransferTime times it); its tpcc report gives 13 µs of
            // transfer per write, which 3 and 5 KiB halves of unaligned 8 KiB writes make.
            program_transfers_written_sectors: true,
        },
        ftl: FtlParams {
            map_unit_bytes: 4096,
            overprovisioning: 0.07,
            gc_threshold: 0.05,
            gc_copyback: false,
            allocation: Allocation::Static,
            // MQSim maps a never-written logical page on its first read to the next page of
            // its plane's write frontier (online_create_entry_for_reads) and reads it.
            reads_map_unwritten: true,
        },
        mapping_cache: MappingCacheParams {
            capacity_bytes: 2 * 1024 * 1024,
            line_entries: 1,
            // MQSim's translation-page entry (GTD entry) is ceil((log2(2^25 physical pages)
            // + 16 sector bits) / 8) = 6 bytes per 8 KiB logical page, 1,365 to an 8 KiB
            // translation page (Address_Mapping_Unit_Page_Level): 3 bytes per 4 KiB unit
            // gives the same 2,730 units per translation page.
            entry_bytes: 3,
        },
        write_buffer: WriteBufferParams {
            enabled: true,
            capacity_bytes: 1024 * 1024,
            power_loss_protected: false,
            // 100 MT/s × 1 byte, double data rate as MQSim's DRAM estimate counts it.
            dram_mb_per_s: 200,
            // tRCD + tCL.
            dram_access_ns: 26,
            destage_reads_dram: false,
            idle_flush_ns: 1_000_000,
            // MQSim's write cache keeps a logical page it wrote back within the last second
            // in DRAM when it is written again (its bloom filter, reset every 1 s).
            hot_rewrite_window_ns: 1_000_000_000,
        },
        host: HostParams {
            interface: HostInterface::Nvme,
            // MQSim's host keeps a 65,535-entry submission queue (IO_Queue_Depth), but the
            // device fetches a command only while fewer than Queue_Fetch_Size = 512 are in
            // flight (Input_Stream_Manager_NVMe, ssdconfig.xml); the rest wait in the queue
            // in order, their wait counted in the response time.
            queue_depth: 512,
            link_mb_per_s: 1313,
            // Doorbell write plus submission entry fetch over the same PCIe link.
            command_overhead_ns: 100,
            // Completion entry write.
            completion_overhead_ns: 50,
            firmware_cores: 1,
            firmware_command_ns: 0,
        },
        stalls: StallParams {
            probability: 0.0,
            duration_ns: 0,
        },
    }
}

/// A modern datacenter NVMe drive, PCIe 4.0 ×4, 1.92 TB class, TLC with power-loss protected
/// write cache. Targets the public figures of drives such as Samsung PM9A3 and Micron 7450
/// PRO: 4 KiB random read ≈ 80–90 µs at QD1 and several hundred thousand to ~1 M IOPS at
/// depth, writes ≈ 10–20 µs into the protected buffer. Flash timing typical of 96–176-layer
/// TLC (tR ≈ 70 µs, tPROG ≈ 0.8 ms, tBERS ≈ 3.5 ms, ONFI 4.x 1200 MT/s); 128 dies; the full
/// mapping table in DRAM; controller overheads chosen to land on the figures above.
pub fn nvme_datacenter() -> SsdParams {
    SsdParams {
        geometry: GeometryParams {
            channels: 8,
            chips_per_channel: 4,
            dies_per_chip: 4,
            planes_per_die: 4,
            blocks_per_plane: 256,
            pages_per_block: 1024,
            page_bytes: 16384,
        },
        flash: FlashParams {
            page_read_ns: 70_000,
            page_program_ns: 800_000,
            block_erase_ns: 3_500_000,
            channel_mb_per_s: 1200,
            read_command_ns: 200,
            program_command_ns: 250,
            erase_command_ns: 200,
            die_interleaving: true,
            multi_die_commands: false,
            multi_plane_commands: false,
            start_on_idle_channel: false,
            program_transfers_written_sectors: false,
        },
        ftl: FtlParams {
            map_unit_bytes: 4096,
            overprovisioning: 0.12,
            gc_threshold: 0.02,
            gc_copyback: false,
            allocation: Allocation::Striped,
            reads_map_unwritten: false,
        },
        mapping_cache: MappingCacheParams {
            capacity_bytes: 0,
            line_entries: 16,
            entry_bytes: 4,
        },
        write_buffer: WriteBufferParams {
            enabled: true,
            capacity_bytes: 64 * 1024 * 1024,
            power_loss_protected: true,
            dram_mb_per_s: 12_800,
            dram_access_ns: 50,
            destage_reads_dram: true,
            idle_flush_ns: 1_000_000,
            hot_rewrite_window_ns: 0,
        },
        host: HostParams {
            interface: HostInterface::Nvme,
            queue_depth: 4096,
            link_mb_per_s: 7000,
            command_overhead_ns: 3_000,
            completion_overhead_ns: 2_000,
            firmware_cores: 4,
            firmware_command_ns: 5_000,
        },
        stalls: StallParams {
            probability: 0.0,
            duration_ns: 0,
        },
    }
}

/// A typical SATA SSD, 500 GB class, TLC, volatile DRAM write cache. Targets the data-sheet
/// figures of drives such as Samsung 860 EVO and Crucial MX500: up to ~98 K / 90 K random
/// read / write IOPS at QD32, ~10 K / 40 K at QD1, 550 / 520 MB/s sequential (the SATA
/// 6 Gb/s link, ~560 MB/s of payload after 8b/10b and framing, caps it). AHCI with NCQ depth
/// 32; FLUSH CACHE is non-queued. 64-layer TLC timing (tR ≈ 60 µs, tPROG ≈ 0.8 ms), 4
/// channels at 533 MT/s, 32 dies; full mapping table in DRAM; one controller core whose per
/// command time caps IOPS near the data-sheet QD32 figure.
pub fn sata() -> SsdParams {
    SsdParams {
        geometry: GeometryParams {
            channels: 4,
            chips_per_channel: 4,
            dies_per_chip: 2,
            planes_per_die: 2,
            blocks_per_plane: 512,
            pages_per_block: 1024,
            page_bytes: 16384,
        },
        flash: FlashParams {
            page_read_ns: 60_000,
            page_program_ns: 800_000,
            block_erase_ns: 3_500_000,
            channel_mb_per_s: 533,
            read_command_ns: 250,
            program_command_ns: 300,
            erase_command_ns: 250,
            die_interleaving: true,
            multi_die_commands: false,
            multi_plane_commands: false,
            start_on_idle_channel: false,
            program_transfers_written_sectors: false,
        },
        ftl: FtlParams {
            map_unit_bytes: 4096,
            overprovisioning: 0.09,
            gc_threshold: 0.02,
            gc_copyback: false,
            allocation: Allocation::Striped,
            reads_map_unwritten: false,
        },
        mapping_cache: MappingCacheParams {
            capacity_bytes: 0,
            line_entries: 16,
            entry_bytes: 4,
        },
        write_buffer: WriteBufferParams {
            enabled: true,
            capacity_bytes: 32 * 1024 * 1024,
            power_loss_protected: false,
            dram_mb_per_s: 3_200,
            dram_access_ns: 50,
            destage_reads_dram: true,
            idle_flush_ns: 1_000_000,
            hot_rewrite_window_ns: 0,
        },
        host: HostParams {
            interface: HostInterface::Sata,
            queue_depth: 32,
            link_mb_per_s: 560,
            command_overhead_ns: 6_000,
            completion_overhead_ns: 4_000,
            firmware_cores: 1,
            firmware_command_ns: 9_500,
        },
        stalls: StallParams {
            probability: 0.0,
            duration_ns: 0,
        },
    }
}

/// The SSD presets, in the order `dmsim devices list` shows them.
pub fn presets() -> Vec<(PresetInfo, SsdParams)> {
    vec![
        (
            PresetInfo {
                name: "ssd-sata",
                summary: "SATA SSD, 500 GB TLC, AHCI NCQ 32, ~550 MB/s, volatile write cache",
                source: "data sheets of Samsung 860 EVO / Crucial MX500 class drives (QD1/QD32 \
                         IOPS, sequential MB/s); SATA 6 Gb/s link; 64-layer TLC timing",
            },
            sata(),
        ),
        (
            PresetInfo {
                name: "ssd-nvme",
                summary: "datacenter NVMe, PCIe 4.0 x4, 1.92 TB TLC, power-loss protected cache",
                source: "data sheets of Samsung PM9A3 / Micron 7450 PRO class drives (~85 us QD1 \
                         read, ~1M IOPS, 10-20 us protected writes); 96-176-layer TLC timing, \
                         ONFI 4.x 1200 MT/s",
            },
            nvme_datacenter(),
        ),
        (
            PresetInfo {
                name: "ssd-mqsim-default",
                summary: "MQSim's default NVMe MLC device, for side-by-side checks with MQSim",
                source: "CMU-SAFARI/MQSim ssdconfig.xml and Flash/Host/Device parameter defaults \
                         (MQSim, FAST 2018)",
            },
            mqsim_default(),
        ),
    ]
}
