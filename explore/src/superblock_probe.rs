//! flashcache's superblock read back (spec 1.16): the seed's cache, as writeback, is created
//! on an in-memory image of the SSD's metadata, loaded from it as written, then loaded
//! with one superblock field at a time made wrong. Each load is taken or refused as the
//! spec's rules, written again here, say, and a refusal names the field.
//!
//! Why: no run ever gives the engine a damaged superblock (every reload reads what the
//! engine wrote), so its judgement of one (the version, the state, the sizes and whether
//! they fit the SSD) ran only on good input. Runs on its own image: the seed's devices and
//! oracles are not involved.

use crate::spec::{SeedSpec, TargetChoice};
use dmsim_engine::flashcache::layout::{
    Superblock, FLASHCACHE_VERSION, SB_STATE_UNSTABLE, SUPERBLOCK_BYTES,
};
use dmsim_engine::flashcache::{
    CacheDeviceSizes, CacheMode, FlashcacheConfig, Persistence, Setup, SetupError,
};
use std::cell::RefCell;
use std::collections::BTreeMap;

/// The SSD's metadata as written: sector to bytes (unwritten sectors read as zeroes).
type Image = BTreeMap<u64, [u8; 512]>;

/// Bytes of one metadata slot (spec 1.3).
const SLOT_BYTES: u64 = 16;

/// Creates, reloads and probes the seed's flashcache as writeback (see the module). A
/// configuration writeback cannot take (a cache of the writethrough seeds' shape may not
/// fit one) is not probed.
pub fn check(spec: &SeedSpec, devices: CacheDeviceSizes) -> Result<(), String> {
    let TargetChoice::Flashcache(drawn) = &spec.target else {
        return Ok(());
    };
    let mut config = (**drawn).clone();
    config.table.mode = CacheMode::WriteBack;
    config.table.persistence = Persistence::Create;
    let mut image = Image::new();
    let Ok(created) = run(&config, devices, &mut image) else {
        return Ok(());
    };
    config.table.persistence = Persistence::Reload;
    let good = superblock(&image);
    let loaded = run(&config, devices, &mut image.clone())
        .map_err(|e| format!("the superblock the cache wrote does not load: {e}"))?;
    if loaded != created {
        return Err(format!(
            "the cache created as {created:?} loads as {loaded:?}"
        ));
    }
    for (what, bad, expected) in variants(&good, &created, devices.ssd_sectors) {
        let mut damaged = image.clone();
        let mut bytes = [0u8; SUPERBLOCK_BYTES];
        bytes.copy_from_slice(&sector_bytes(&image, 0)[..SUPERBLOCK_BYTES]);
        bad.encode(&mut bytes);
        damaged.entry(0).or_insert([0; 512])[..SUPERBLOCK_BYTES].copy_from_slice(&bytes);
        let verdict = run(&config, devices, &mut damaged).map(|_| ());
        if verdict != expected {
            return Err(format!(
                "a superblock with {what}: loading it gave {verdict:?}, expected {expected:?}"
            ));
        }
    }
    Ok(())
}

/// The shape a created cache has (what its superblock says).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Created {
    size_blocks: u64,
    assoc: u32,
    block_sectors: u32,
    md_block_sectors: u32,
}

/// One field at a time made wrong, each with what the load must do (spec 1.16, and the
/// engine's Decision to refuse garbage the kernel would trust).
fn variants(
    good: &Superblock,
    created: &Created,
    ssd_sectors: u64,
) -> Vec<(String, Superblock, Result<(), SetupError>)> {
    let corrupt =
        |field: &'static str, value: u64| Err(SetupError::CorruptSuperblock { field, value });
    let with = |f: &dyn Fn(&mut Superblock)| {
        let mut sb = good.clone();
        f(&mut sb);
        sb
    };
    let mut out = vec![
        (
            "a version from the future".to_string(),
            with(&|sb| sb.version = FLASHCACHE_VERSION + 1),
            Err(SetupError::UnknownVersion {
                version: FLASHCACHE_VERSION + 1,
            }),
        ),
        (
            "state UNSTABLE (a store whose metadata write failed)".to_string(),
            with(&|sb| sb.state_raw = SB_STATE_UNSTABLE),
            corrupt("cache_sb_state", SB_STATE_UNSTABLE.into()),
        ),
        (
            "a state that is no state".to_string(),
            with(&|sb| sb.state_raw = 0x1234_5678),
            corrupt("cache_sb_state", 0x1234_5678),
        ),
        (
            "a block size that is no power of two".to_string(),
            with(&|sb| sb.block_size_sectors = created.block_sectors * 3),
            corrupt("block_size", u64::from(created.block_sectors) * 3),
        ),
        (
            "a metadata block size that is no power of two".to_string(),
            with(&|sb| sb.md_block_size_sectors = 3),
            corrupt("md_block_size", 3),
        ),
        (
            "no blocks".to_string(),
            with(&|sb| sb.size_blocks = 0),
            corrupt("size", 0),
        ),
        (
            "no ways".to_string(),
            with(&|sb| sb.assoc = 0),
            corrupt("assoc", 0),
        ),
        (
            "a disk associativity that is no power of two".to_string(),
            with(&|sb| sb.disk_assoc_sectors = 3 * 256),
            corrupt("disk_assoc", 3 * 256),
        ),
    ];
    let uneven_assoc = created.assoc + 1;
    if !created.size_blocks.is_multiple_of(u64::from(uneven_assoc)) {
        out.push((
            "ways that do not divide the blocks".to_string(),
            with(&|sb| sb.assoc = uneven_assoc),
            corrupt("assoc", uneven_assoc.into()),
        ));
    }
    // The smallest cache of whole sets that no longer fits the SSD with its metadata
    // (spec 1.3: `size/slots + 2` metadata blocks before the data): one set more than the
    // largest that does. Its data alone often still fits, so the metadata must be counted.
    let block_sectors = u64::from(created.block_sectors);
    let assoc = u64::from(created.assoc);
    let md_sectors = u64::from(created.md_block_sectors);
    let slots = md_sectors * 512 / SLOT_BYTES;
    let needed = |size: u64| (size / slots + 2) * md_sectors + size * block_sectors;
    let mut fits = ssd_sectors / block_sectors / assoc * assoc;
    while fits > 0 && needed(fits) > ssd_sectors {
        fits -= assoc;
    }
    let too_big = fits + assoc;
    if too_big < u64::from(u32::MAX) {
        out.push((
            format!("{too_big} blocks, one set more than the SSD holds with their metadata"),
            with(&|sb| sb.size_blocks = too_big),
            corrupt("size", too_big),
        ));
    }
    out
}

/// Carries out a setup's bulk IO on `image`; the created or loaded cache's shape.
fn run(
    config: &FlashcacheConfig,
    devices: CacheDeviceSizes,
    image: &mut Image,
) -> Result<Created, SetupError> {
    // Both callbacks reach the image, one at a time.
    let image = RefCell::new(image);
    let cache = Setup::new(config.clone(), devices, 0)
        .map_err(SetupError::Config)?
        .run_on(
            &mut |sector, bytes| {
                for (i, chunk) in bytes.chunks_mut(512).enumerate() {
                    chunk.copy_from_slice(&sector_bytes(&image.borrow(), sector + i as u64));
                }
            },
            &mut |sector, bytes| {
                for (i, chunk) in bytes.chunks(512).enumerate() {
                    let mut bytes = [0u8; 512];
                    bytes.copy_from_slice(chunk);
                    image.borrow_mut().insert(sector + i as u64, bytes);
                }
            },
        )?;
    let geometry = cache.geometry();
    Ok(Created {
        size_blocks: u64::from(geometry.size_blocks),
        assoc: geometry.assoc,
        block_sectors: geometry.block_size_sectors,
        md_block_sectors: geometry.md_block_size_sectors,
    })
}

fn sector_bytes(image: &Image, sector: u64) -> [u8; 512] {
    image.get(&sector).copied().unwrap_or([0; 512])
}

fn superblock(image: &Image) -> Superblock {
    Superblock::decode(&sector_bytes(image, 0))
}
