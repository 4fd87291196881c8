//! A harness driving [`Raid5`] over in-memory members: member IOs complete in submission
//! order (or are held to build concurrency), reads are checked against what was written
//! (the data oracle of these tests), and member content can be inspected for parity.

use crate::arena::{Arena, Buffer, PageId, PageList};
use crate::block::{DeviceInfo, IoStatus, Op, SECTOR_SIZE};
use crate::content::{encode_content, SectorContent, SectorStamp};
use crate::raid5::cache::StripeCache;
use crate::raid5::{Raid5, Raid5Config, Raid5IoTag, Raid5Request};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// One member sector as a member holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    Content(SectorContent),
    Bytes(Vec<u8>),
}

impl Slot {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Slot::Bytes(b) => b.clone(),
            Slot::Content(c) => {
                let mut out = vec![0u8; SECTOR_SIZE];
                encode_content(*c, &mut out);
                out
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct MemberIo {
    pub tag: Raid5IoTag,
    pub member: usize,
    pub op: Op,
    pub sector: u64,
    pub sectors: u32,
    pub buffer: Buffer,
}

#[derive(Debug)]
struct BioRecord {
    op: Op,
    sector: u64,
    sectors: u64,
    pages: PageList,
    write_id: u64,
    /// A read's acceptable contents per sector (from its first): the value when it was
    /// submitted and each overlapping write in flight during the read. Empty for writes.
    allowed: Vec<Vec<SectorContent>>,
}

pub struct Harness {
    pub raid: Raid5,
    pub arena: Arena,
    pub now_ns: u64,
    members: Vec<BTreeMap<u64, Slot>>,
    pub in_flight: VecDeque<MemberIo>,
    /// Member IOs issued: (member, op, sector).
    pub log: Vec<(usize, Op, u64)>,
    /// Member writes sent with FUA: (member, member sector).
    pub fua_writes: Vec<(usize, u64)>,
    /// Bad member sectors: reads covering them fail until they are written.
    pub bad_sectors: BTreeSet<(usize, u64)>,
    /// Members whose every IO fails.
    pub dead_members: BTreeSet<usize>,
    bios: BTreeMap<u64, BioRecord>,
    pub done: BTreeMap<u64, IoStatus>,
    /// The oracle: the last completed write of each logical sector.
    pub expected: BTreeMap<u64, SectorContent>,
    /// Logical sectors whose content is unknown (a failed write, the write hole).
    pub unknown: BTreeSet<u64>,
    /// Reads that returned an overlapping write's data before that write completed.
    pub new_data_seen_early: BTreeSet<u64>,
    next_id: u64,
    pub data_errors: Vec<String>,
    /// The stripe cache as the last incremental check left it: every head not marked since
    /// must still be as here.
    cache_checked: StripeCache,
}

pub fn members(n: usize, sectors: u64) -> Vec<DeviceInfo> {
    vec![DeviceInfo::new(sectors, 512); n]
}

impl Harness {
    pub fn new(n: usize, member_sectors: u64, config: Raid5Config) -> Harness {
        let mut arena = Arena::new(config.stripe_cache_size * n as u32 + 4096);
        let mut raid = Raid5::new(&config, &members(n, member_sectors), &mut arena).unwrap();
        raid.check_invariants_incremental().unwrap();
        let cache_checked = raid.cache.clone();
        Harness {
            raid,
            arena,
            now_ns: 0,
            members: vec![BTreeMap::new(); n],
            in_flight: VecDeque::new(),
            log: Vec::new(),
            fua_writes: Vec::new(),
            bad_sectors: BTreeSet::new(),
            dead_members: BTreeSet::new(),
            bios: BTreeMap::new(),
            done: BTreeMap::new(),
            expected: BTreeMap::new(),
            unknown: BTreeSet::new(),
            new_data_seen_early: BTreeSet::new(),
            next_id: 1,
            data_errors: Vec::new(),
            cache_checked,
        }
    }

    pub fn config(chunk_sectors: u64) -> Raid5Config {
        Raid5Config {
            stripe_cache_size: 32,
            ..Raid5Config::new(chunk_sectors)
        }
    }

    fn drain_requests(&mut self) {
        while let Some(request) = self.raid.poll_request() {
            match request {
                Raid5Request::MemberIo {
                    tag,
                    member,
                    op,
                    sector,
                    sectors,
                    // The harness's members have no volatile cache: every write is durable,
                    // and the FUA flag is only recorded.
                    fua,
                    buffer,
                } => {
                    self.log.push((member, op, sector));
                    if fua {
                        self.fua_writes.push((member, sector));
                    }
                    self.arena.begin_flight(&buffer, u64::from(sectors));
                    self.in_flight.push_back(MemberIo {
                        tag,
                        member,
                        op,
                        sector,
                        sectors,
                        buffer,
                    });
                }
                Raid5Request::BioDone { id, status } => self.bio_done(id, status),
                Raid5Request::ContentsUnknown { sector, sectors } => {
                    self.unknown.extend(sector..sector + sectors);
                }
            }
        }
        self.raid
            .cache
            .assert_unmarked_unchanged(&self.cache_checked);
        self.raid.check_invariants_incremental().unwrap();
        self.cache_checked = self.raid.cache.clone();
        self.raid.check_invariants().unwrap();
        self.arena.check_invariants().unwrap();
    }

    fn bio_done(&mut self, id: u64, status: IoStatus) {
        let bio = self.bios.remove(&id).expect("BioDone for a live bio");
        assert!(
            self.done.insert(id, status).is_none(),
            "bio {id} done twice"
        );
        let buffer = Buffer::from_pages(bio.pages.clone());
        match (bio.op, status.is_ok()) {
            (Op::Write, true) => {
                for s in bio.sector..bio.sector + bio.sectors {
                    self.expected.insert(s, stamp(s, bio.write_id));
                    self.unknown.remove(&s);
                }
            }
            (Op::Write, false) => {
                for s in bio.sector..bio.sector + bio.sectors {
                    self.unknown.insert(s);
                }
            }
            (Op::Read, true) => {
                let mut contents = Vec::new();
                self.arena.read_sectors(&buffer, bio.sectors, &mut contents);
                for (i, content) in contents.into_iter().enumerate() {
                    let s = bio.sector + i as u64;
                    if self.unknown.contains(&s) {
                        continue;
                    }
                    let allowed = &bio.allowed[i];
                    if !allowed.contains(&content) {
                        self.data_errors.push(format!(
                            "bio {id}: sector {s} read {content:?}, expected one of {allowed:?}"
                        ));
                    } else if let SectorContent::Stamp(stamp) = content {
                        if self.bios.contains_key(&stamp.write_id) {
                            self.new_data_seen_early.insert(id);
                        }
                    }
                }
            }
            _ => {}
        }
        self.arena.release_all(&bio.pages);
    }

    /// Completes the oldest member IO.
    pub fn complete_one(&mut self) -> bool {
        let Some(io) = self.in_flight.pop_front() else {
            return false;
        };
        self.arena.end_flight(&io.buffer, u64::from(io.sectors));
        let failed = self.dead_members.contains(&io.member)
            || (io.op == Op::Read
                && (io.sector..io.sector + u64::from(io.sectors))
                    .any(|s| self.bad_sectors.contains(&(io.member, s))));
        let status = if failed {
            IoStatus::IoError
        } else {
            self.carry_out(&io);
            IoStatus::Ok
        };
        self.now_ns += 1_000;
        self.raid
            .complete_member_io(self.now_ns, &mut self.arena, io.tag, status);
        self.drain_requests();
        true
    }

    fn carry_out(&mut self, io: &MemberIo) {
        let store = &mut self.members[io.member];
        let slots: Vec<(PageId, usize)> = io.buffer.sector_slots(u64::from(io.sectors)).collect();
        for (i, (page, index)) in slots.into_iter().enumerate() {
            let sector = io.sector + i as u64;
            match io.op {
                Op::Write => {
                    let slot = match self.arena.mode(page) {
                        crate::arena::PageMode::Sectors => {
                            Slot::Content(self.arena.io_sector(page, index))
                        }
                        crate::arena::PageMode::Bytes => {
                            Slot::Bytes(self.arena.io_sector_bytes(page, index).to_vec())
                        }
                    };
                    store.insert(sector, slot);
                    self.bad_sectors.remove(&(io.member, sector));
                }
                Op::Read => match store.get(&sector) {
                    None => self.arena.io_set_sector(page, index, SectorContent::Zero),
                    Some(Slot::Content(c)) => self.arena.io_set_sector(page, index, *c),
                    Some(Slot::Bytes(b)) => self.arena.io_set_sector_bytes(page, index, b),
                },
                Op::Flush | Op::Discard => {}
            }
        }
    }

    /// Completes the oldest member IO or, with none in flight, runs the machine's next
    /// deadline; false if there is neither.
    pub fn step(&mut self) -> bool {
        if self.complete_one() {
            return true;
        }
        match self.raid.poll_deadline() {
            Some(deadline) => {
                self.now_ns = self.now_ns.max(deadline);
                self.raid.tick(self.now_ns, &mut self.arena);
                self.drain_requests();
                true
            }
            None => false,
        }
    }

    /// Runs until nothing is in flight and the machine needs no tick.
    pub fn settle(&mut self) {
        for _ in 0..1_000_000 {
            if !self.step() {
                return;
            }
        }
        panic!("harness did not settle");
    }

    fn submit(&mut self, op: Op, sector: u64, sectors: u64, sync: bool, fua: bool) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let pages = self
            .arena
            .alloc(sectors.div_ceil(8) as usize)
            .expect("harness arena has room");
        let buffer = Buffer::from_pages(pages.clone());
        let mut allowed = Vec::new();
        if op == Op::Write {
            let contents: Vec<SectorContent> =
                (sector..sector + sectors).map(|s| stamp(s, id)).collect();
            self.arena.write_sectors(&buffer, &contents);
            // Reads in flight over these sectors may now see this write's data.
            for read in self.bios.values_mut().filter(|b| b.op == Op::Read) {
                let from = sector.max(read.sector);
                let to = (sector + sectors).min(read.sector + read.sectors);
                for s in from..to {
                    read.allowed[(s - read.sector) as usize].push(stamp(s, id));
                }
            }
        } else if op == Op::Read {
            allowed = (sector..sector + sectors)
                .map(|s| {
                    let mut values = vec![self
                        .expected
                        .get(&s)
                        .copied()
                        .unwrap_or(SectorContent::Zero)];
                    values.extend(
                        self.bios
                            .values()
                            .filter(|b| {
                                b.op == Op::Write && (b.sector..b.sector + b.sectors).contains(&s)
                            })
                            .map(|b| stamp(s, b.write_id)),
                    );
                    values
                })
                .collect();
        }
        self.bios.insert(
            id,
            BioRecord {
                op,
                sector,
                sectors,
                pages,
                write_id: id,
                allowed,
            },
        );
        self.raid.make_request(
            self.now_ns,
            &mut self.arena,
            id,
            op,
            sector,
            sectors,
            buffer,
            sync,
            fua,
        );
        self.drain_requests();
        id
    }

    /// Submits a write (data stamped with its id); returns the id.
    pub fn write(&mut self, sector: u64, sectors: u64) -> u64 {
        self.submit(Op::Write, sector, sectors, false, false)
    }

    /// A write with FUA (REQ_FUA).
    pub fn write_fua(&mut self, sector: u64, sectors: u64) -> u64 {
        self.submit(Op::Write, sector, sectors, false, true)
    }

    pub fn write_sync(&mut self, sector: u64, sectors: u64) -> u64 {
        self.submit(Op::Write, sector, sectors, true, false)
    }

    pub fn read(&mut self, sector: u64, sectors: u64) -> u64 {
        self.submit(Op::Read, sector, sectors, false, false)
    }

    pub fn flush(&mut self) -> u64 {
        self.submit(Op::Flush, 0, 0, false, false)
    }

    /// Reads the whole array and settles; every read is checked.
    pub fn verify_all(&mut self, bio_sectors: u64) {
        let size = self.raid.geometry().array_sectors();
        let mut sector = 0;
        while sector < size {
            let len = bio_sectors.min(size - sector);
            self.read(sector, len);
            sector += len;
        }
        self.settle();
        self.assert_clean();
    }

    pub fn assert_clean(&self) {
        assert!(
            self.data_errors.is_empty(),
            "{} data errors, first: {:?}",
            self.data_errors.len(),
            &self.data_errors[..self.data_errors.len().min(4)]
        );
        assert!(self.bios.is_empty(), "bios left: {:?}", self.bios.keys());
        assert!(self.raid.is_idle());
    }

    /// Member IOs logged since `from`: (reads, writes).
    pub fn io_counts(&self, from: usize) -> (usize, usize) {
        let reads = self.log[from..].iter().filter(|e| e.1 == Op::Read).count();
        let writes = self.log[from..].iter().filter(|e| e.1 == Op::Write).count();
        (reads, writes)
    }

    /// True if every stripe unit of every row has parity equal to the XOR of its data, as
    /// the members hold them.
    pub fn parity_consistent(&self) -> Result<(), String> {
        let geometry = *self.raid.geometry();
        for sector in 0..geometry.member_sectors() {
            let mut acc = vec![0u8; SECTOR_SIZE];
            for member in &self.members {
                let bytes = member
                    .get(&sector)
                    .map_or(vec![0u8; SECTOR_SIZE], Slot::bytes);
                for (a, b) in acc.iter_mut().zip(bytes) {
                    *a ^= b;
                }
            }
            if acc.iter().any(|&b| b != 0) {
                return Err(format!("member sector {sector}: parity does not match"));
            }
        }
        Ok(())
    }

    /// What member `member` holds at `sector`.
    pub fn member_slot(&self, member: usize, sector: u64) -> Option<&Slot> {
        self.members[member].get(&sector)
    }
}

pub fn stamp(sector: u64, write_id: u64) -> SectorContent {
    SectorContent::Stamp(SectorStamp { sector, write_id })
}
