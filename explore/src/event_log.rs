//! The event log of one run as the determinism check sees it: a running hash of every input
//! and output, and the last few events kept for the failure message of a run that spins.
//!
//! Events are hashed through their derived `Hash` (every field, in declaration order), not
//! through their `Debug` text: formatting each event was a tenth of the explorer's time.
//! The hash covers at least what the text did (every field the text showed), so two runs
//! whose logs differ still differ here. The recent events are kept as values, reusing their
//! buffers, and formatted only when a failure asks for them.
//!
//! Deliberately not here: what the events mean (the oracles).

use dmsim_engine::io::{Input, Output};
use std::hash::{Hash, Hasher};

/// FNV-1a, 64 bits, over bytes; integers are mixed a whole word at a time, little-endian
/// and 64 bits wide whatever the platform (lengths are `usize`), so the hash is the same on
/// every machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fnv(pub u64);

const FNV_PRIME: u64 = 0x0100_0000_01b3;

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    pub fn add(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(FNV_PRIME);
        }
    }

    /// One 64-bit word: xor, multiply, and a rotation so high bits reach low ones too.
    fn add_word(&mut self, word: u64) {
        self.0 = (self.0 ^ word).wrapping_mul(FNV_PRIME).rotate_left(29);
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.add(bytes);
    }
    fn write_u8(&mut self, value: u8) {
        self.add_word(u64::from(value));
    }
    fn write_u16(&mut self, value: u16) {
        self.add_word(u64::from(value));
    }
    fn write_u32(&mut self, value: u32) {
        self.add_word(u64::from(value));
    }
    fn write_u64(&mut self, value: u64) {
        self.add_word(value);
    }
    fn write_u128(&mut self, value: u128) {
        self.add_word(value as u64);
        self.add_word((value >> 64) as u64);
    }
    fn write_usize(&mut self, value: usize) {
        self.add_word(value as u64);
    }
    fn write_i8(&mut self, value: i8) {
        self.add_word(value as u64);
    }
    fn write_i16(&mut self, value: i16) {
        self.add_word(value as u64);
    }
    fn write_i32(&mut self, value: i32) {
        self.add_word(value as u64);
    }
    fn write_i64(&mut self, value: i64) {
        self.add_word(value as u64);
    }
    fn write_i128(&mut self, value: i128) {
        self.write_u128(value as u128);
    }
    fn write_isize(&mut self, value: isize) {
        self.add_word(value as u64);
    }
}

/// One event of the log.
#[derive(Debug, Clone)]
enum Event {
    Input(Input),
    Output(Output),
}

/// Events [`RecentEvents::recent_events`] keeps.
const RECENT_EVENTS: usize = 6;

impl Fnv {
    /// Adds an input at `now_ns` to the event-log hash.
    pub fn add_input(&mut self, now_ns: u64, input: &Input) {
        self.write_u64(now_ns);
        self.write_u8(0);
        input.hash(self);
    }

    /// Adds an output at `now_ns` to the event-log hash.
    pub fn add_output(&mut self, now_ns: u64, output: &Output) {
        self.write_u64(now_ns);
        self.write_u8(1);
        output.hash(self);
    }
}

/// The last `RECENT_EVENTS` events of a run, for the failure message of a run that spins.
#[derive(Debug, Default)]
pub struct RecentEvents {
    /// A ring: the oldest event at `next` once full.
    recent: Vec<(u64, Event)>,
    next: usize,
}

impl RecentEvents {
    pub fn on_input(&mut self, now_ns: u64, input: &Input) {
        self.keep(now_ns, Event::Input, input, |slot| match slot {
            Event::Input(kept) => Some(kept),
            Event::Output(_) => None,
        });
    }

    pub fn on_output(&mut self, now_ns: u64, output: &Output) {
        self.keep(now_ns, Event::Output, output, |slot| match slot {
            Event::Output(kept) => Some(kept),
            Event::Input(_) => None,
        });
    }

    /// Puts `value` in the ring, over the oldest event; an old event of the same kind lends
    /// its buffers (`clone_from`), so a long run allocates nothing here once warm.
    fn keep<T: Clone>(
        &mut self,
        now_ns: u64,
        wrap: fn(T) -> Event,
        value: &T,
        same_kind: fn(&mut Event) -> Option<&mut T>,
    ) {
        if self.recent.len() < RECENT_EVENTS {
            self.recent.push((now_ns, wrap(value.clone())));
            return;
        }
        let slot = &mut self.recent[self.next];
        self.next = (self.next + 1) % RECENT_EVENTS;
        slot.0 = now_ns;
        match same_kind(&mut slot.1) {
            Some(kept) => kept.clone_from(value),
            None => slot.1 = wrap(value.clone()),
        }
    }

    /// The last few events (oldest first), each as `time_ns event`.
    pub fn recent_events(&self) -> Vec<String> {
        let (newer, older) = self.recent.split_at(self.next);
        older
            .iter()
            .chain(newer)
            .map(|(now_ns, event)| match event {
                Event::Input(input) => format!("{now_ns} {input:?}"),
                Event::Output(output) => format!("{now_ns} {output:?}"),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dmsim_engine::block::{IoStatus, Op};
    use dmsim_engine::content::SectorContent;
    use dmsim_engine::io::{Bio, BioDone, BioFlags, BioId, Completion, IoTag, SectorData};

    fn bio(id: u64, data: usize) -> Input {
        Input::Bio(Bio {
            id: BioId(id),
            op: Op::Write,
            sector: 8 * id,
            sectors: data as u32,
            flags: BioFlags::default(),
            data: SectorData::from_elem(SectorContent::Zero, data),
        })
    }

    #[test]
    fn the_hash_follows_every_field_and_the_time() {
        let hash_of = |events: &[(u64, Input)]| {
            let mut hash = Fnv::default();
            for (now_ns, input) in events {
                hash.add_input(*now_ns, input);
            }
            hash.0
        };
        let base = hash_of(&[(5, bio(1, 2))]);
        assert_eq!(base, hash_of(&[(5, bio(1, 2))]));
        assert_ne!(base, hash_of(&[(6, bio(1, 2))]), "time");
        assert_ne!(base, hash_of(&[(5, bio(2, 2))]), "bio id and sector");
        assert_ne!(base, hash_of(&[(5, bio(1, 3))]), "data length");
        let completion = |status| {
            Input::Completion(Completion {
                tag: IoTag {
                    slot: 1,
                    generation: 1,
                },
                status,
            })
        };
        assert_ne!(
            hash_of(&[(5, completion(IoStatus::Ok))]),
            hash_of(&[(5, completion(IoStatus::IoError))]),
            "status"
        );
        assert_ne!(
            hash_of(&[(5, bio(1, 2)), (5, Input::Tick)]),
            hash_of(&[(5, Input::Tick), (5, bio(1, 2))]),
            "order"
        );
        // The word mixing reaches the low bits from the high ones.
        let mut high = Fnv::default();
        high.write_u64(1 << 63);
        let mut low = Fnv::default();
        low.write_u64(0);
        assert_ne!(high.0 & 0xffff_ffff, low.0 & 0xffff_ffff);
    }

    #[test]
    fn recent_events_are_the_last_six_oldest_first_as_debug_text() {
        let mut log = RecentEvents::default();
        for id in 0..9 {
            log.on_input(id, &bio(id, id as usize % 3));
            let done = Output::BioDone(BioDone {
                id: BioId(id),
                status: IoStatus::Ok,
                data: SectorData::new(),
            });
            log.on_output(id, &done);
        }
        let recent = log.recent_events();
        assert_eq!(recent.len(), RECENT_EVENTS);
        assert_eq!(recent[0], format!("6 {:?}", bio(6, 0)));
        assert!(recent[5].starts_with("8 BioDone(BioDone { id: BioId(8)"));
        let mut short = RecentEvents::default();
        short.on_input(3, &Input::Tick);
        assert_eq!(short.recent_events(), vec!["3 Tick".to_string()]);
    }
}
