//! Where a logical sector of the array lives: md's `raid5_compute_sector` and its inverse
//! (`compute_blocknr`), for the four layouts.
//!
//! A *row* is one chunk-high stripe across all members; a *stripe head* covers one 4 KiB
//! stripe unit at the same member sector on every member. Owns only arithmetic; validates the
//! shape once at construction so the mapping functions can assert instead of fail.

use super::config::{Layout, Raid5ConfigError, CHUNK_SECTORS_MIN, MEMBERS_MAX, MEMBERS_MIN};
use crate::block::{DeviceInfo, SECTORS_PER_PAGE};

/// Sectors of one stripe unit (md's `STRIPE_SECTORS`).
pub const STRIPE_SECTORS: u64 = SECTORS_PER_PAGE;

/// The validated shape of an array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    members: usize,
    chunk_sectors: u64,
    layout: Layout,
    /// Usable sectors per member: whole chunks only.
    member_sectors: u64,
}

/// Where one logical sector lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// The member holding the data.
    pub data_member: usize,
    /// The member holding this row's parity.
    pub parity_member: usize,
    /// The sector on `data_member`.
    pub member_sector: u64,
}

impl Geometry {
    /// Validates the shape of an array over `members` (role order).
    pub fn new(
        members: &[DeviceInfo],
        chunk_sectors: u64,
        layout: Layout,
    ) -> Result<Geometry, Raid5ConfigError> {
        Geometry::reserving(members, chunk_sectors, layout, 0)
    }

    /// [`Geometry::new`] with the last `reserved_sectors` of every member kept out of the
    /// data area (the superblock and bitmap, see `metadata`).
    pub fn reserving(
        members: &[DeviceInfo],
        chunk_sectors: u64,
        layout: Layout,
        reserved_sectors: u64,
    ) -> Result<Geometry, Raid5ConfigError> {
        if !(MEMBERS_MIN..=MEMBERS_MAX).contains(&members.len()) {
            return Err(Raid5ConfigError::MemberCount {
                members: members.len(),
            });
        }
        if !chunk_sectors.is_power_of_two() || chunk_sectors < CHUNK_SECTORS_MIN {
            return Err(Raid5ConfigError::Chunk { chunk_sectors });
        }
        let first_sectors = members[0].capacity_sectors;
        for (member, info) in members.iter().enumerate() {
            if info.capacity_sectors != first_sectors {
                return Err(Raid5ConfigError::UnequalMembers {
                    member,
                    sectors: info.capacity_sectors,
                    first_sectors,
                });
            }
            if info.logical_block_size as u64 > STRIPE_SECTORS * 512 {
                return Err(Raid5ConfigError::MemberBlock {
                    member,
                    block_bytes: info.logical_block_size,
                });
            }
        }
        let member_sectors =
            first_sectors.saturating_sub(reserved_sectors) / chunk_sectors * chunk_sectors;
        if member_sectors == 0 {
            return Err(Raid5ConfigError::MembersTooSmall {
                member_sectors: first_sectors,
                chunk_sectors,
            });
        }
        Ok(Geometry {
            members: members.len(),
            chunk_sectors,
            layout,
            member_sectors,
        })
    }

    pub fn members(&self) -> usize {
        self.members
    }

    pub fn data_members(&self) -> usize {
        self.members - 1
    }

    pub fn chunk_sectors(&self) -> u64 {
        self.chunk_sectors
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Usable sectors of each member (whole chunks).
    pub fn member_sectors(&self) -> u64 {
        self.member_sectors
    }

    /// The array's size: (N - 1) × the members' whole chunks.
    pub fn array_sectors(&self) -> u64 {
        self.member_sectors * self.data_members() as u64
    }

    /// The parity member of `row` (chunk-high stripe number).
    pub fn parity_member(&self, row: u64) -> usize {
        let n = self.members as u64;
        let parity = match self.layout {
            Layout::LeftAsymmetric | Layout::LeftSymmetric => self.data_members() as u64 - row % n,
            Layout::RightAsymmetric | Layout::RightSymmetric => row % n,
        };
        parity as usize
    }

    /// md's `raid5_compute_sector`: the location of logical `sector`.
    pub fn locate(&self, sector: u64) -> Location {
        assert!(
            sector < self.array_sectors(),
            "sector {sector} beyond the array's {} sectors",
            self.array_sectors()
        );
        let chunk = sector / self.chunk_sectors;
        let chunk_offset = sector % self.chunk_sectors;
        let data_members = self.data_members() as u64;
        let row = chunk / data_members;
        let data_index = (chunk % data_members) as usize;
        let parity_member = self.parity_member(row);
        let data_member = match self.layout {
            Layout::LeftAsymmetric | Layout::RightAsymmetric => {
                if data_index >= parity_member {
                    data_index + 1
                } else {
                    data_index
                }
            }
            Layout::LeftSymmetric | Layout::RightSymmetric => {
                (parity_member + 1 + data_index) % self.members
            }
        };
        debug_assert_ne!(data_member, parity_member);
        Location {
            data_member,
            parity_member,
            member_sector: row * self.chunk_sectors + chunk_offset,
        }
    }

    /// md's `compute_blocknr`: the logical sector stored at `member_sector` of data member
    /// `member`. Panics if `member` holds parity there.
    pub fn logical_sector(&self, member: usize, member_sector: u64) -> u64 {
        assert!(member < self.members && member_sector < self.member_sectors);
        let row = member_sector / self.chunk_sectors;
        let chunk_offset = member_sector % self.chunk_sectors;
        let parity_member = self.parity_member(row);
        assert_ne!(
            member, parity_member,
            "member {member} holds parity in row {row}"
        );
        let data_index = match self.layout {
            Layout::LeftAsymmetric | Layout::RightAsymmetric => {
                if member > parity_member {
                    member - 1
                } else {
                    member
                }
            }
            Layout::LeftSymmetric | Layout::RightSymmetric => {
                (member + self.members - parity_member - 1) % self.members
            }
        };
        (row * self.data_members() as u64 + data_index as u64) * self.chunk_sectors + chunk_offset
    }

    /// The row (chunk-high stripe) of a member sector.
    pub fn row_of(&self, member_sector: u64) -> u64 {
        member_sector / self.chunk_sectors
    }

    /// True if `sectors` from logical `sector` stay inside one chunk.
    pub fn within_chunk(&self, sector: u64, sectors: u64) -> bool {
        sectors > 0 && sector / self.chunk_sectors == (sector + sectors - 1) / self.chunk_sectors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(n: usize, sectors: u64) -> Vec<DeviceInfo> {
        vec![DeviceInfo::new(sectors, 512); n]
    }

    /// The first rows of md's layout tables (md(4), mdadm's documentation) for 4 members:
    /// `P` is parity, a number is the data chunk's index.
    fn table(layout: Layout) -> [[&'static str; 4]; 3] {
        match layout {
            Layout::LeftAsymmetric => [
                ["0", "1", "2", "P"],
                ["3", "4", "P", "5"],
                ["6", "P", "7", "8"],
            ],
            Layout::RightAsymmetric => [
                ["P", "0", "1", "2"],
                ["3", "P", "4", "5"],
                ["6", "7", "P", "8"],
            ],
            Layout::LeftSymmetric => [
                ["0", "1", "2", "P"],
                ["4", "5", "P", "3"],
                ["8", "P", "6", "7"],
            ],
            Layout::RightSymmetric => [
                ["P", "0", "1", "2"],
                ["5", "P", "3", "4"],
                ["7", "8", "P", "6"],
            ],
        }
    }

    #[test]
    fn first_three_rows_match_md_tables() {
        let chunk = 128;
        for layout in Layout::ALL {
            let geometry = Geometry::new(&members(4, 1 << 20), chunk, layout).unwrap();
            let mut seen = [
                [String::new(), String::new(), String::new(), String::new()],
                [String::new(), String::new(), String::new(), String::new()],
                [String::new(), String::new(), String::new(), String::new()],
            ];
            for data_chunk in 0..9u64 {
                let location = geometry.locate(data_chunk * chunk + 5);
                let row = (location.member_sector / chunk) as usize;
                assert_eq!(location.member_sector % chunk, 5, "{layout}");
                seen[row][location.data_member] = data_chunk.to_string();
                seen[row][location.parity_member] = "P".to_string();
            }
            assert_eq!(seen, table(layout).map(|r| r.map(String::from)), "{layout}");
        }
    }

    #[test]
    fn logical_sector_inverts_locate_for_every_layout_and_width() {
        for n in [3usize, 4, 5, 7, 16] {
            for layout in Layout::ALL {
                let geometry = Geometry::new(&members(n, 64 * 40), 16, layout).unwrap();
                for sector in (0..geometry.array_sectors()).step_by(3) {
                    let location = geometry.locate(sector);
                    assert_eq!(
                        geometry.logical_sector(location.data_member, location.member_sector),
                        sector,
                        "{n} members, {layout}"
                    );
                    assert_eq!(
                        geometry.parity_member(geometry.row_of(location.member_sector)),
                        location.parity_member
                    );
                }
            }
        }
    }

    #[test]
    fn every_member_holds_parity_once_per_n_rows() {
        let geometry = Geometry::new(&members(5, 1 << 16), 8, Layout::LeftSymmetric).unwrap();
        let mut parity_rows = [0u32; 5];
        for row in 0..5 {
            parity_rows[geometry.parity_member(row)] += 1;
        }
        assert_eq!(parity_rows, [1; 5]);
    }

    #[test]
    fn size_is_n_minus_one_whole_chunks() {
        let geometry = Geometry::new(&members(4, 1000), 64, Layout::LeftSymmetric).unwrap();
        assert_eq!(geometry.member_sectors(), 960);
        assert_eq!(geometry.array_sectors(), 3 * 960);
    }

    #[test]
    fn impossible_geometries_name_their_field() {
        let cases: Vec<(Vec<DeviceInfo>, u64, &str)> = vec![
            (
                members(2, 1 << 16),
                128,
                "members: a raid5 array needs 3..=16 members, got 2",
            ),
            (members(17, 1 << 16), 128, "got 17"),
            (
                members(4, 1 << 16),
                96,
                "chunk: 96 sectors is not a power of two",
            ),
            (members(4, 1 << 16), 4, "chunk: 4 sectors"),
            (
                {
                    let mut m = members(4, 1 << 16);
                    m[2].capacity_sectors = 1 << 15;
                    m
                },
                128,
                "members: member 2 has 32768 sectors but member 0 has 65536",
            ),
            (
                members(3, 100),
                128,
                "members: 100 sectors per member hold no whole chunk",
            ),
        ];
        for (infos, chunk, expected) in cases {
            let error = Geometry::new(&infos, chunk, Layout::LeftSymmetric).unwrap_err();
            assert!(
                error.to_string().contains(expected),
                "{error} does not contain {expected:?}"
            );
        }
    }
}
