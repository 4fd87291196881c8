//! Derived geometry and address arithmetic: counts of dies, planes, blocks, pages and mapping
//! units ("slots"), the global numbering of each, and the stripe order in which the allocator
//! visits planes. Pure arithmetic on validated parameters; no state.
//!
//! Numbering: plane `p` belongs to die `p / planes_per_die`; die `d` to channel
//! `d / (chips_per_channel * dies_per_chip)`. Block `b` lies in plane `b / blocks_per_plane`,
//! page `q` in block `q / pages_per_block`, slot `s` in page `s / slots_per_page`.

use super::params::SsdParams;

/// Counts and index arithmetic of one SSD (all global indices fit u32 by validation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub channels: u32,
    pub chips_per_channel: u32,
    pub dies_per_chip: u32,
    pub planes_per_die: u32,
    pub blocks_per_plane: u32,
    pub pages_per_block: u32,
    pub page_bytes: u32,
    pub unit_bytes: u32,
    pub unit_sectors: u32,
    pub slots_per_page: u32,
    pub slots_per_block: u32,
    pub dies: u32,
    pub planes: u32,
    pub blocks: u32,
    pub pages: u32,
    pub slots: u32,
    /// Mapping units exported to the host.
    pub logical_units: u32,
}

impl Geometry {
    /// Derive from parameters that passed `SsdParams::validate`.
    pub fn new(params: &SsdParams) -> Geometry {
        let g = &params.geometry;
        let unit_bytes = params.ftl.map_unit_bytes;
        let slots_per_page = g.page_bytes / unit_bytes;
        let dies = g.channels * g.chips_per_channel * g.dies_per_chip;
        let planes = dies * g.planes_per_die;
        let blocks = planes * g.blocks_per_plane;
        let pages = blocks * g.pages_per_block;
        let slots = pages * slots_per_page;
        let logical_units = (f64::from(slots) * (1.0 - params.ftl.overprovisioning)).floor() as u32;
        Geometry {
            channels: g.channels,
            chips_per_channel: g.chips_per_channel,
            dies_per_chip: g.dies_per_chip,
            planes_per_die: g.planes_per_die,
            blocks_per_plane: g.blocks_per_plane,
            pages_per_block: g.pages_per_block,
            page_bytes: g.page_bytes,
            unit_bytes,
            unit_sectors: unit_bytes / 512,
            slots_per_page,
            slots_per_block: slots_per_page * g.pages_per_block,
            dies,
            planes,
            blocks,
            pages,
            slots,
            logical_units,
        }
    }

    pub fn capacity_sectors(&self) -> u64 {
        u64::from(self.logical_units) * u64::from(self.unit_sectors)
    }

    pub fn die_of_plane(&self, plane: u32) -> u32 {
        plane / self.planes_per_die
    }

    pub fn channel_of_die(&self, die: u32) -> u32 {
        die / (self.chips_per_channel * self.dies_per_chip)
    }

    pub fn plane_of_block(&self, block: u32) -> u32 {
        block / self.blocks_per_plane
    }

    pub fn block_of_page(&self, page: u32) -> u32 {
        page / self.pages_per_block
    }

    pub fn page_of_slot(&self, slot: u32) -> u32 {
        slot / self.slots_per_page
    }

    pub fn block_of_slot(&self, slot: u32) -> u32 {
        slot / self.slots_per_block
    }

    pub fn plane_of_page(&self, page: u32) -> u32 {
        self.plane_of_block(self.block_of_page(page))
    }

    pub fn die_of_page(&self, page: u32) -> u32 {
        self.die_of_plane(self.plane_of_block(self.block_of_page(page)))
    }

    pub fn die_of_block(&self, block: u32) -> u32 {
        self.die_of_plane(self.plane_of_block(block))
    }

    /// The plane visited at position `seq` of the allocation stripe: channel varies fastest,
    /// then chip (way), then die, then plane (MQSim's CWDP order), so consecutive pages land
    /// on different channels.
    pub fn stripe_plane(&self, seq: u32) -> u32 {
        let seq = seq % self.planes;
        let channel = seq % self.channels;
        let rest = seq / self.channels;
        let chip = rest % self.chips_per_channel;
        let rest = rest / self.chips_per_channel;
        let die_in_chip = rest % self.dies_per_chip;
        let plane_in_die = rest / self.dies_per_chip;
        let die = (channel * self.chips_per_channel + chip) * self.dies_per_chip + die_in_chip;
        die * self.planes_per_die + plane_in_die
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssd::presets;

    #[test]
    fn stripe_visits_every_plane_once_channel_first() {
        let params = presets::mqsim_default();
        let geo = Geometry::new(&params);
        let mut seen = vec![false; geo.planes as usize];
        for seq in 0..geo.planes {
            let plane = geo.stripe_plane(seq);
            assert!(!seen[plane as usize], "plane {plane} visited twice");
            seen[plane as usize] = true;
            let channel = geo.channel_of_die(geo.die_of_plane(plane));
            assert_eq!(channel, seq % geo.channels, "seq {seq}");
        }
    }

    #[test]
    fn mqsim_default_counts() {
        let geo = Geometry::new(&presets::mqsim_default());
        assert_eq!(geo.dies, 64);
        assert_eq!(geo.planes, 128);
        assert_eq!(geo.slots_per_page, 2);
        assert_eq!(geo.slots, 128 * 2048 * 256 * 2);
        assert!(geo.logical_units < geo.slots);
    }
}
