//! MQSim's own sample trace, `tpcc-small.trace` (6,999 requests over 136.5 ms, 63 % reads,
//! mostly 8 KiB at addresses not 8 KiB aligned), replayed open loop on `ssd-mqsim-default`
//! the way MQSim runs a trace flow at 50 % initial occupancy, against the mean response
//! times MQSim reports for that run: 3,458 µs with its write cache, 6,541 µs without.
//!
//! Set-up mirroring MQSim:
//! - open loop: each request is submitted at its trace time, whatever is in flight (MQSim's
//!   trace flow with a 65,535-entry queue never holds one back); response time is arrival
//!   to completion, averaged over all requests;
//! - preconditioning: MQSim maps every logical page the trace touches, each holding exactly
//!   the sectors the trace touches, on the plane static allocation gives it, and fills the
//!   rest of the 50 % with other pages (which only GC could see; no GC runs in this short
//!   trace, checked below). `precondition_extents` does the first part;
//! - mapping cache: cold for the trace. MQSim's own report of this run counts 55 hits in
//!   13,235 mapping-table lookups (5,004 of 5,007 write lookups miss) and 6,921 flash reads
//!   for mapping, about one per request: its preconditioning leaves none of the trace's
//!   entries cached, and the misses of one request (an unaligned 8 KiB request touches two
//!   logical pages of one translation page) or of requests close together share one read.
//!   Here the cache starts empty and misses join a translation-page read in flight.
//!
//! MQSim's report also gives, per transaction, reads waiting 822 µs and writes 12,853 µs
//! on average (execution 74 / 728 µs, transfer 13 / 13 µs). That report is of the run
//! with the write cache (5,007 write lookups: 5,152 page writes less the 145 its cache
//! kept), and MQSim counts a transaction's wait from the request's arrival
//! (Input_Stream_Manager_Base::Update_transaction_statistics), so a data read's wait holds
//! its mapping read too. The model's own figures (`FlashOpTimes`, printed below) agree
//! with it for that run: a read's mapping fetch plus data read take ~970 µs from arrival
//! (MQSim 822 + 74 + 13 = 909); a write from arrival through the buffer's back-pressure to
//! the end of its program ~14 ms (MQSim ~13.6 ms).
//!
//! Where we stand (deterministic): with the cache 3,374 µs (-2.4 % against MQSim, within
//! 10 %, asserted), without 5,352 µs (-18.2 %, not yet); 6,885 mapping reads with the
//! cache (MQSim 6,921). Steps so far:
//! - a program carries over the channel only the sectors its request wrote
//!   (`flash.program_transfers_written_sectors`), as MQSim sizes a write transaction: the
//!   trace's unaligned 8 KiB writes move 3 + 5 KiB, not 4 + 8 KiB of whole units. MQSim's
//!   report gives 13 µs of transfer per write transaction; this model now spends ~13 µs
//!   (was ~19): 3,661 / 5,506 -> 3,374 / 5,352 µs;
//! - a chip picks its next operation only while its channel carries no transfer
//!   (`flash.start_on_idle_channel`, MQSim's TSU issues commands on an idle channel only):
//!   3,694 / 5,498 -> 3,661 / 5,506 µs;
//! - mapping cache cold, misses joining a translation-page read in flight (was warmed with
//!   the trace's written pages, which MQSim's report contradicts: 2,411 / 4,503 µs, then
//!   3,852 / 5,556 µs cold);
//! - translation pages as MQSim lays them out: 6-byte entries, 1,365 logical pages to a
//!   translation page (was 1,024), placed along the channel-first stripe (was
//!   `tpage % dies`, which put consecutive translation pages on one chip): 3,694 / 5,498 µs;
//! - earlier: multi-plane commands (MQSim's scheduler pairs a die's queued reads or
//!   programs on its planes at the same page offset), every plane's write frontier starting
//!   on a fresh block after preconditioning (MQSim fills whole blocks, invalidating the
//!   rest, so planes pair from the first write), and the write cache's 1 MiB back-pressure
//!   counted in sectors of data, not 4 KiB units.
//!
//! What is left: MQSim completes a write transaction on flash ~13.6 ms after its arrival
//! in the cached run; with reads near 1 ms its write-through mean of 6,541 µs needs writes
//! near 15.6 ms, so MQSim's flash finishes writes no sooner without the cache than with
//! it. Here the flash path shortens without the cache (programs wait 9.3 ms instead of the
//! cached run's admission wait plus 5.6 ms), mostly because deeper queues let more
//! programs pair on a die's two planes (800 companions against 459 with the cache). What
//! keeps MQSim's flash from gaining the same is not found yet.
//!
//! Checked and ruled out for the write-through gap (figures with the cache / without):
//! - die batching: MQSim's current scheduler (TSU_Base::issue_command_to_chip) serves one
//!   die of a chip per decision and returns, so chips without die interleaving and without
//!   multi-die commands are right (with multi-die commands the model falls to ~1,600 µs);
//! - allocating a write's page when its translation completes (MQSim's order, after the
//!   mapping read) instead of when the command is accepted: 5,524 against 5,506 µs
//!   without the cache, the pairing unchanged;
//! - update reads per 8 KiB logical page, issued only after translation, as MQSim's
//!   page-level FTL does (allocate_page_in_plane_for_user_write): 142 reads instead of 116,
//!   mean -0.6 %, and a 4 KiB QD1 write on a drive preconditioned in whole pages then pays
//!   a read MQSim's 840 µs figure does not contain; not adopted;
//! - MQSim's trace preconditioning fills the rest of the 50 % with random 16-sector
//!   requests, and an inverted test (FTL::Perform_precondition, step 1-4) sets the written
//!   sectors of each trace page such a request lands on to that one sector; with page-level
//!   update reads that gives ~1,200 one-sector reads: 4,007 / 5,741 µs, the cached run out
//!   of bounds, and MQSim's 13 µs mean read transfer (a one-sector read moves 0.5 KiB)
//!   argues against that many reads in its run; not adopted;
//! - fewer multi-plane pairs (every 2nd / 3rd / 5th chance skipped) slows both runs
//!   together: 4,856 / 6,955, 4,510 / 6,263, 4,105 / 5,950 µs;
//! - the device's 512-command fetch limit: the flash is overloaded (commands in flight
//!   climb through the whole trace to a peak of ~400 at its end, then drain), so the
//!   limit is not reached; 384 / 300 / 256 would give 5,581 / 6,045 / 6,792 µs without the
//!   cache, reads stalling behind it. It would bind in MQSim only if its writes were
//!   already ~20 % slower than here;
//! - a longer tPROG slows the cached run more than the write-through one (760 µs:
//!   +7.7 % / +3.5 %): no uniform slowdown separates them;
//! - reads of data still being written through are served from DRAM here and from flash
//!   in MQSim, but the trace has one such unit;
//! - mapping reads served strictly before user reads on a chip, as MQSim's TSU keeps them
//!   in their own first queue (here the oldest ready foreground read goes first):
//!   3,615 / 5,510 µs, the write-through gap stays; not adopted;
//! - program suspension: MQSim's TSU checks it, but every branch of its chip-status switch
//!   that would suspend falls through to `return false`, so it never suspends.
//!
//! Other MQSim behaviours not modelled, which bear on the cached run only: its write cache
//! keeps a rewrite of a logical page written earlier in the same second in DRAM instead of
//! writing it back (hot/cold bloom filter; 145 of the trace's 5,152 page writes), admits a
//! waiting write to the cache one logical page at a time and lets new arrivals in ahead of
//! waiting ones (write_to_destage_buffer; here a write enters whole and in arrival order).
//! The bounds below pin what the model gives until the write-through gap is found.

mod ssd_support;

use dmsim_models::ssd::{presets, SsdModel, SsdParams};
use dmsim_models::{ModelCompletion, ModelOp, ModelRequest, TimingModel};
use ssd_support::*;

const TRACE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../testdata/traces/tpcc-small.trace"
);

/// MQSim's mean response times for this run (µs).
const MQSIM_WITH_CACHE_US: f64 = 3_458.0;
const MQSIM_WITHOUT_CACHE_US: f64 = 6_541.0;

/// One trace record: DiskSim ASCII as MQSim reads it
/// (`arrival_ns device lba_sector size_sectors type`, type 0 = write).
#[derive(Debug, Clone, Copy)]
struct Record {
    arrival_ns: u64,
    sector: u64,
    sectors: u32,
    write: bool,
}

fn load_trace() -> Vec<Record> {
    let text = std::fs::read_to_string(TRACE).unwrap_or_else(|e| panic!("{TRACE}: {e}"));
    let mut records = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(fields.len(), 5, "{TRACE}:{}: expected 5 fields", index + 1);
        let number = |i: usize, name: &str| -> u64 {
            fields[i]
                .parse()
                .unwrap_or_else(|e| panic!("{TRACE}:{}: field {name}: {e}", index + 1))
        };
        let record = Record {
            arrival_ns: number(0, "arrival_ns"),
            sector: number(2, "lba_sector"),
            sectors: u32::try_from(number(3, "size_sectors")).expect("size fits u32"),
            write: number(4, "type") == 0,
        };
        if let Some(last) = records.last() {
            let last: &Record = last;
            assert!(
                record.arrival_ns >= last.arrival_ns,
                "{TRACE}:{}: arrival goes back in time",
                index + 1
            );
        }
        records.push(record);
    }
    records
}

/// A replay's outcome: mean response times in µs and the model afterwards.
struct Replay {
    mean_us: f64,
    read_mean_us: f64,
    write_mean_us: f64,
    first_arrival_ns: u64,
    model: SsdModel,
}

fn replay(params: SsdParams) -> Replay {
    let records = load_trace();
    let mut m = model(params);
    m.precondition_extents(records.iter().map(|r| (r.sector, r.sectors)));
    let mut latency_ns = vec![None; records.len()];
    let mut out: Vec<ModelCompletion> = Vec::new();
    let mut next = 0;
    let mut completed = 0;
    while completed < records.len() {
        let arrival = records.get(next).map(|r| r.arrival_ns);
        let t = match (arrival, m.next_event_ns()) {
            (Some(a), Some(e)) => a.min(e),
            (Some(a), None) => a,
            (None, Some(e)) => e,
            (None, None) => panic!("{} requests never completed", records.len() - completed),
        };
        out.clear();
        m.advance(t, &mut out);
        for c in &out {
            let slot = &mut latency_ns[c.tag as usize];
            assert!(slot.is_none(), "request {} completed twice", c.tag);
            *slot = Some(c.done_ns - records[c.tag as usize].arrival_ns);
            completed += 1;
        }
        while next < records.len() && records[next].arrival_ns == t {
            let r = records[next];
            let op = if r.write {
                ModelOp::Write
            } else {
                ModelOp::Read
            };
            let request = ModelRequest {
                tag: next as u64,
                op,
                sector: r.sector,
                sectors: r.sectors,
                fua: false,
            };
            m.submit(t, request);
            next += 1;
        }
    }
    m.check_invariants();
    let mean = |keep: &dyn Fn(&Record) -> bool| -> f64 {
        let picked: Vec<u64> = records
            .iter()
            .zip(&latency_ns)
            .filter(|(r, _)| keep(r))
            .map(|(_, l)| l.expect("every request completed"))
            .collect();
        picked.iter().sum::<u64>() as f64 / picked.len() as f64 / 1000.0
    };
    Replay {
        mean_us: mean(&|_| true),
        read_mean_us: mean(&|r| !r.write),
        write_mean_us: mean(&|r| r.write),
        first_arrival_ns: records[0].arrival_ns,
        model: m,
    }
}

/// Where the time goes: chip utilisation over the run and how often planes paired up.
fn report(r: &Replay) {
    let m = &r.model;
    let g = &m.params().geometry;
    let chips = u64::from(g.channels * g.chips_per_channel);
    let s = m.stats();
    eprintln!(
        "  run {:.1} ms, chips {:.0} % busy, programs {} ({} as extra planes), reads {} host + {} mapping + {} modify, mapping cache {} hits {} misses, buffer waits {}",
        m.now_ns() as f64 / 1e6,
        m.flash_busy_ns() as f64 / (chips * (m.now_ns() - r.first_arrival_ns)) as f64 * 100.0,
        s.flash_programs_host,
        m.multi_plane_companions(),
        s.flash_reads_host,
        s.flash_reads_mapping,
        s.flash_reads_modify,
        s.mapping_cache_hits,
        s.mapping_cache_misses,
        s.buffer_full_waits
    );
    // Per op, as MQSim reports per transaction (waiting; execution + transfer).
    let t = m.flash_op_times();
    for (name, times) in [
        ("host reads", t.host_reads),
        ("mapping reads", t.mapping_reads),
        ("modify reads", t.modify_reads),
        ("host programs", t.host_programs),
    ] {
        eprintln!(
            "  {name}: {} ops, waited {:.0} µs, served {:.0} µs",
            times.count,
            times.wait_us_mean(),
            times.service_us_mean()
        );
    }
}

fn without_cache() -> SsdParams {
    let mut p = presets::mqsim_default();
    p.write_buffer.enabled = false;
    p
}

fn error_percent(value: f64, target: f64) -> f64 {
    (value - target) / target * 100.0
}

#[test]
fn with_write_cache_the_mean_response_is_pinned() {
    let r = replay(presets::mqsim_default());
    report(&r);
    eprintln!(
        "with cache: mean {:.0} µs (MQSim {MQSIM_WITH_CACHE_US}, {:+.1} %), reads {:.0}, writes {:.0}",
        r.mean_us,
        error_percent(r.mean_us, MQSIM_WITH_CACHE_US),
        r.read_mean_us,
        r.write_mean_us
    );
    assert!(
        error_percent(r.mean_us, MQSIM_WITH_CACHE_US).abs() <= 10.0,
        "mean {} µs, MQSim {MQSIM_WITH_CACHE_US}",
        r.mean_us
    );
    assert!(
        (3_320.0..3_430.0).contains(&r.mean_us),
        "mean {} µs",
        r.mean_us
    );
    // Writes wait for room behind the 1 MiB of data in flight to flash (MQSim's
    // back-pressure limit); reads go ahead of programs on the dies.
    assert!(r.model.stats().buffer_full_waits > 0);
    // Programs queued on both planes of a die at the same page offset pair up.
    assert!(r.model.multi_plane_companions() > 300);
    assert!(r.read_mean_us < r.write_mean_us);
}

#[test]
fn without_write_cache_the_mean_response_is_pinned() {
    let r = replay(without_cache());
    report(&r);
    eprintln!(
        "without cache: mean {:.0} µs (MQSim {MQSIM_WITHOUT_CACHE_US}, {:+.1} %), reads {:.0}, writes {:.0}",
        r.mean_us,
        error_percent(r.mean_us, MQSIM_WITHOUT_CACHE_US),
        r.read_mean_us,
        r.write_mean_us
    );
    assert!(
        (5_270.0..5_430.0).contains(&r.mean_us),
        "mean {} µs",
        r.mean_us
    );
    assert!(r.model.multi_plane_companions() > 500);
}

#[test]
fn the_write_cache_gain_is_pinned() {
    let with = replay(presets::mqsim_default()).mean_us;
    let without = replay(without_cache()).mean_us;
    let gain = without / with;
    let mqsim_gain = MQSIM_WITHOUT_CACHE_US / MQSIM_WITH_CACHE_US;
    // MQSim's write cache gains more (1.89): not yet explained, see the header.
    assert!(
        (1.54..1.63).contains(&gain),
        "without / with = {gain:.3}, MQSim {mqsim_gain:.3}"
    );
}

#[test]
fn preconditioning_leaves_the_trace_as_mqsim_does() {
    let r = replay(without_cache());
    let s = r.model.stats();
    // The trace's pages hold the sectors it touches: only pages written by requests that
    // do not cover what others wrote need their old data read first.
    assert!(
        s.flash_reads_modify * 10 < s.host_writes,
        "{} read-modify-writes for {} writes",
        s.flash_reads_modify,
        s.host_writes
    );
    // The mapping cache starts cold: nearly every lookup misses (MQSim: 55 hits in 13,235
    // lookups), and the misses of a request, or of requests close together, share one
    // translation-page read (MQSim: 6,921 reads for 6,999 requests).
    assert!(
        s.mapping_cache_hits * 20 < s.mapping_cache_misses,
        "{} hits, {} misses",
        s.mapping_cache_hits,
        s.mapping_cache_misses
    );
    assert!(
        (6_500..7_400).contains(&s.flash_reads_mapping),
        "{} mapping reads (MQSim 6,921)",
        s.flash_reads_mapping
    );
    // Nothing here runs GC, so the rest of MQSim's 50 % fill could not matter.
    assert_eq!(s.flash_erases + s.flash_reads_gc, 0);
}

#[test]
fn multi_die_commands_give_chips_room_on_this_trace() {
    let mut p = without_cache();
    p.flash.multi_die_commands = true;
    let batched = replay(p);
    // Far below one-op-at-a-time chips: the trace sits at the saturation edge.
    assert!(
        batched.mean_us < 2_000.0,
        "mean {} µs with multi-die commands",
        batched.mean_us
    );
}
