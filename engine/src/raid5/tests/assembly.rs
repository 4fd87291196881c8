//! What a bio that arrives while the array assembles (its superblocks still being read)
//! must wait for.

use super::harness::Harness;
use crate::block::Op;
use crate::raid5::superblock::METADATA_SECTORS;
use crate::raid5::Raid5Config;

/// Regression 016: the assembly's end reset the wanted bitmap to the members' one, dropping
/// the bit a held write had asked for. The write then went to the members with its chunk
/// clear on disk, so a power loss could tear it and the next resync skip it, leaving
/// stale parity that a later reconstruction returned as data.
#[test]
fn a_write_held_during_assembly_goes_out_only_once_its_bitmap_bit_is_on_the_members() {
    let chunk_sectors = 16;
    let bitmap_chunk_sectors = 64;
    let config = Raid5Config {
        superblock: true,
        bitmap_chunk_sectors: Some(bitmap_chunk_sectors),
        ..Harness::config(chunk_sectors)
    };
    let mut h = Harness::new(4, 1024 + METADATA_SECTORS, config);
    let data_member_sectors = h.raid.geometry().member_sectors();
    // Row 4 (3 data chunks of 16 sectors per row) starts bitmap chunk 1.
    let row_sectors = 3 * chunk_sectors;
    let id = h.write(4 * row_sectors, 8);
    assert_eq!(h.raid.bios_held(), 1, "held while the superblocks are read");
    let mut data_writes = 0;
    for _ in 0..10_000 {
        if h.done.contains_key(&id) {
            break;
        }
        let logged = h.log.len();
        assert!(h.step(), "the held write has IO or a deadline to wait for");
        for &(member, op, sector) in &h.log[logged..] {
            if op == Op::Write && sector < data_member_sectors {
                data_writes += 1;
                assert_eq!(
                    h.raid.array_state(),
                    Some((true, 1)),
                    "member {member} sector {sector} written before the members said dirty \
                     with the write's bitmap chunk set"
                );
            }
        }
    }
    assert_eq!(h.done.get(&id), Some(&crate::block::IoStatus::Ok));
    assert!(data_writes >= 2, "data and parity were written");
    h.settle();
    h.assert_clean();
    assert_eq!(
        h.raid.array_state(),
        Some((false, 0)),
        "marked clean once idle"
    );
}
