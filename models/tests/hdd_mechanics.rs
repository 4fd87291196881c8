//! Seek curves (first-ten table, HPL equation beyond, monotonic), and rotation as a
//! function of virtual time: a request's rotational latency follows from when it arrives.

use dmsim_models::hdd::{hdd_15k, hdd_7200, hdd_hp_c2247a, HddModel, HddParams};
use dmsim_models::{ModelCompletion, ModelOp, ModelRequest, TimingModel};
use rand_chacha::rand_core::{RngCore, SeedableRng};

fn model(p: &HddParams) -> HddModel {
    HddModel::new(
        p.clone(),
        Box::new(rand_chacha::ChaCha8Rng::seed_from_u64(1)),
    )
    .unwrap()
}

/// Service time of one request submitted at `at_ns` to `m`.
fn service_ns(m: &mut HddModel, at_ns: u64, op: ModelOp, sector: u64, sectors: u32) -> u64 {
    let mut out: Vec<ModelCompletion> = Vec::new();
    m.advance(at_ns, &mut out);
    m.submit(
        at_ns,
        ModelRequest {
            tag: 99,
            op,
            sector,
            sectors,
            fua: false,
        },
    );
    loop {
        let t = m.next_event_ns().expect("pending request");
        out.clear();
        m.advance(t, &mut out);
        if let Some(c) = out.iter().find(|c| c.tag == 99) {
            return c.done_ns - at_ns;
        }
    }
}

#[test]
fn hp_seek_curve_uses_the_first_ten_then_the_hpl_equation() {
    let m = model(&hdd_hp_c2247a());
    let s = m.seek_curve();
    assert_eq!(s.seek_ns(0), 0);
    let ten = [2.89, 3.68, 3.81, 3.98, 4.27, 4.65, 4.52, 4.65, 4.82, 4.99];
    for (d, ms) in ten.iter().enumerate() {
        assert_eq!(s.seek_ns(d as u32 + 1), (ms * 1e6_f64).round() as u64);
    }
    let hpl_short = |d: f64| (3.81e6 + 0.33e6 * d.sqrt()).round() as u64;
    let hpl_long = |d: f64| (7.75e6 + 0.0059e6 * d).round() as u64;
    assert_eq!(s.seek_ns(11), hpl_short(11.0));
    assert_eq!(s.seek_ns(299), hpl_short(299.0));
    assert_eq!(s.seek_ns(300), hpl_long(300.0));
    assert_eq!(s.seek_ns(2050), hpl_long(2050.0));
    // Beyond the explicit table the curve never decreases.
    for d in 11..2050 {
        assert!(
            s.seek_ns(d + 1) >= s.seek_ns(d),
            "seek({}) < seek({d})",
            d + 1
        );
    }
}

#[test]
fn modern_seek_curves_are_monotonic_and_match_their_datasheet_shape() {
    for (p, full_ms) in [(hdd_7200(), 15.0), (hdd_15k(), 6.0)] {
        let m = model(&p);
        let cylinders = m.layout().cylinders();
        let s = m.seek_curve();
        for d in 1..cylinders - 1 {
            assert!(s.seek_ns(d + 1) >= s.seek_ns(d));
        }
        let full = s.seek_ns(cylinders - 1) as f64 / 1e6;
        assert!(full < full_ms, "full stroke {full} ms");
        assert!(s.seek_ns(1) < 1_000_000, "single-cylinder seek under 1 ms");
    }
}

#[test]
fn mean_random_seek_of_the_7200_preset_is_8_to_9_ms() {
    let m = model(&hdd_7200());
    let l = m.layout();
    let s = m.seek_curve();
    let cap = m.capacity_sectors();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let n = 20_000;
    let total: u64 = (0..n)
        .map(|_| {
            let a = l.cylinder_of(rng.next_u64() % cap);
            let b = l.cylinder_of(rng.next_u64() % cap);
            s.seek_ns(a.abs_diff(b))
        })
        .sum();
    let mean_ms = total as f64 / n as f64 / 1e6;
    assert!(
        (8.0..9.0).contains(&mean_ms),
        "mean random seek {mean_ms} ms"
    );
    let third = s.seek_ns(l.cylinders() / 3) as f64 / 1e6;
    assert!(
        (8.0..9.0).contains(&third),
        "one-third-stroke seek {third} ms"
    );
}

#[test]
fn rotation_is_a_function_of_virtual_time() {
    let p = hdd_7200();
    let period = model(&p).spindle().period_ns();
    assert_eq!(period, 8_333_333);
    // A one-sector read on the first track: no seek, only overheads and latency.
    let at = |t: u64| service_ns(&mut model(&p), t, ModelOp::Read, 100, 1);
    let base = at(1_000_000);
    // A turn is 8,333,333.3 ns: whole-ns arrival times agree to the nanosecond.
    assert!(
        at(1_000_000 + period).abs_diff(base) <= 1,
        "same angle a turn later"
    );
    assert!(at(1_000_000 + 3 * period).abs_diff(base) <= 1);
    // Across one revolution the latency takes every value in [min, min + period).
    let samples: Vec<u64> = (0..200)
        .map(|i| at(50_000_000 + i * period / 200))
        .collect();
    let min = *samples.iter().min().unwrap();
    let max = *samples.iter().max().unwrap();
    let spread = (max - min) as f64 / period as f64;
    assert!(
        spread > 0.97 && spread < 1.0,
        "latency spread {spread} turns"
    );
    // Mean rotational latency is half a turn: 4.17 ms at 7200 rpm.
    let mean_latency_ms =
        samples.iter().map(|s| (s - min) as f64).sum::<f64>() / samples.len() as f64 / 1e6;
    assert!(
        (mean_latency_ms - 4.17).abs() < 0.1,
        "mean rotational latency {mean_latency_ms} ms"
    );
    // Sliding the platters' phase by a quarter turn shifts the latency by a quarter turn.
    let mut shifted = p.clone();
    shifted.mechanics.rotation_phase = 0.25;
    let s0 = at(60_000_000);
    let s1 = service_ns(&mut model(&shifted), 60_000_000, ModelOp::Read, 100, 1);
    let diff = (s0 as i64 - s1 as i64).rem_euclid(period as i64) as f64 / period as f64;
    assert!(
        (diff - 0.25).abs() < 0.01 || (diff - 0.75).abs() < 0.01,
        "phase shift moved latency by {diff} turns"
    );
}

#[test]
fn head_switch_and_write_settle_show_in_service_time() {
    // HP C2247A: reading one sector on another surface of the current cylinder costs at
    // least the head switch; a write there also pays the settle.
    let p = hdd_hp_c2247a();
    let m0 = model(&p);
    let l = m0.layout();
    let same = l.lbn(dmsim_models::hdd::layout::Pbn {
        cylinder: 1,
        head: 5,
        sector: 0,
    });
    let first = service_ns(&mut model(&p), 0, ModelOp::Read, same.unwrap(), 1);
    // Overheads: 0.558 miss + 0.19 reconnect + 0.17 bus + 0.057 completion, plus at least
    // 0.89 head switch (from head 0 at cylinder 0: a one-cylinder seek, 2.89 ms).
    assert!(first as f64 / 1e6 > 0.558 + 2.89, "{first}");
    // Minimum positioning of writes (0.6 ms) and settle (0.65 ms) make a write slower
    // than the same read on average over arrival times.
    let mean = |op: ModelOp| -> f64 {
        (0..50)
            .map(|i| service_ns(&mut model(&p), i * 222_222, op, 20_000, 1) as f64)
            .sum::<f64>()
            / 50.0
    };
    assert!(mean(ModelOp::Write) > mean(ModelOp::Read) + 500_000.0);
}
