//! Seek curve and repositioning time: how long the actuator takes to move the heads from
//! one track to another, including head switch and write settle.
//!
//! Owns the curve forms (HPL equation with optional first-ten table, measured table with
//! interpolation, constant). It does not know where LBNs are (see `layout`) nor how long
//! the platter takes to bring a sector round (see `rotation`).

use super::params::{SeekParams, SeekPoint};

/// Distances whose seek times are tabulated when the curve is built (8 KiB): SPTF estimates
/// a seek for every queued command at every dispatch, most of them short (issue 11).
const TABULATED_DISTANCES: u32 = 1024;

/// Seek time as a function of distance in cylinders.
#[derive(Debug, Clone)]
pub struct SeekCurve {
    form: Form,
    /// `seek_ns` of the distances below `TABULATED_DISTANCES`, computed from `form`.
    near_ns: Box<[u64]>,
}

#[derive(Debug, Clone)]
enum Form {
    Hpl {
        boundary: u32,
        short_base_ns: f64,
        short_sqrt_ns: f64,
        long_base_ns: f64,
        long_per_cylinder_ns: f64,
        single_ns: Option<u64>,
        first_ten_ns: Option<[u64; 10]>,
    },
    Table(Vec<SeekPoint>),
    Constant(u64),
}

impl SeekCurve {
    /// Build from validated parameters (see `HddParams::validate`).
    pub fn new(p: &SeekParams) -> SeekCurve {
        let form = match p {
            SeekParams::Hpl {
                boundary_cylinders,
                short_base_ns,
                short_sqrt_ns,
                long_base_ns,
                long_per_cylinder_ns,
                single_cylinder_ns,
                first_ten_ns,
            } => Form::Hpl {
                boundary: *boundary_cylinders,
                short_base_ns: *short_base_ns,
                short_sqrt_ns: *short_sqrt_ns,
                long_base_ns: *long_base_ns,
                long_per_cylinder_ns: *long_per_cylinder_ns,
                single_ns: *single_cylinder_ns,
                first_ten_ns: first_ten_ns.as_ref().map(|v| {
                    let mut a = [0u64; 10];
                    a.copy_from_slice(&v[..10]);
                    a
                }),
            },
            SeekParams::Table { points } => Form::Table(points.clone()),
            SeekParams::Constant { seek_ns } => Form::Constant(*seek_ns),
        };
        let near_ns = (0..TABULATED_DISTANCES)
            .map(|distance| form.seek_ns(distance))
            .collect();
        SeekCurve { form, near_ns }
    }

    /// Time of a seek over `distance` cylinders (0 for no movement).
    #[inline]
    pub fn seek_ns(&self, distance: u32) -> u64 {
        match self.near_ns.get(distance as usize) {
            Some(&ns) => ns,
            None => self.form.seek_ns(distance),
        }
    }
}

impl Form {
    fn seek_ns(&self, distance: u32) -> u64 {
        if distance == 0 {
            return 0;
        }
        match self {
            Form::Hpl {
                boundary,
                short_base_ns,
                short_sqrt_ns,
                long_base_ns,
                long_per_cylinder_ns,
                single_ns,
                first_ten_ns,
            } => {
                if let Some(ten) = first_ten_ns {
                    if distance <= 10 {
                        return ten[distance as usize - 1];
                    }
                } else if let (1, Some(one)) = (distance, single_ns) {
                    return *one;
                }
                let d = f64::from(distance);
                let ns = if distance < *boundary {
                    short_base_ns + short_sqrt_ns * d.sqrt()
                } else {
                    long_base_ns + long_per_cylinder_ns * d
                };
                ns.round() as u64
            }
            Form::Table(points) => interpolate(points, distance),
            Form::Constant(ns) => *ns,
        }
    }
}

/// Linear interpolation between measured points; below the first point, between 0 and it;
/// beyond the last, extrapolated from the last two (clamped at 0).
fn interpolate(points: &[SeekPoint], distance: u32) -> u64 {
    let i = points.partition_point(|p| p.distance_cylinders < distance);
    if let Some(p) = points.get(i) {
        if p.distance_cylinders == distance {
            return p.seek_ns;
        }
    }
    let (a, b) = if i == 0 {
        (
            SeekPoint {
                distance_cylinders: 0,
                seek_ns: points[0].seek_ns,
            },
            points[0],
        )
    } else if i >= points.len() {
        (points[points.len() - 2], points[points.len() - 1])
    } else {
        (points[i - 1], points[i])
    };
    let (d0, d1) = (
        f64::from(a.distance_cylinders),
        f64::from(b.distance_cylinders),
    );
    let (t0, t1) = (a.seek_ns as f64, b.seek_ns as f64);
    let t = t0 + (f64::from(distance) - d0) * (t1 - t0) / (d1 - d0);
    t.max(0.0).round() as u64
}

/// Time to move the heads from (cylinder, head) `from` to `to`: the longer of the seek and
/// the head switch, plus the (possibly negative) write settle when writing and anything
/// moved, never below zero.
#[inline]
pub fn repositioning_ns(
    curve: &SeekCurve,
    head_switch_ns: u64,
    write_settle_ns: i64,
    from: (u32, u32),
    to: (u32, u32),
    write: bool,
) -> u64 {
    let seek = curve.seek_ns(from.0.abs_diff(to.0));
    let switch = if from.1 != to.1 { head_switch_ns } else { 0 };
    let t = seek.max(switch);
    if t > 0 && write {
        t.saturating_add_signed(write_settle_ns)
    } else {
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_interpolates_and_extrapolates() {
        let c = SeekCurve::new(&SeekParams::Table {
            points: vec![
                SeekPoint {
                    distance_cylinders: 1,
                    seek_ns: 1000,
                },
                SeekPoint {
                    distance_cylinders: 11,
                    seek_ns: 2000,
                },
                SeekPoint {
                    distance_cylinders: 21,
                    seek_ns: 2500,
                },
            ],
        });
        assert_eq!(c.seek_ns(0), 0);
        assert_eq!(c.seek_ns(1), 1000);
        assert_eq!(c.seek_ns(6), 1500);
        assert_eq!(c.seek_ns(16), 2250);
        assert_eq!(c.seek_ns(31), 3000);
    }

    #[test]
    fn tabulated_seeks_equal_computed_ones() {
        let c = SeekCurve::new(&SeekParams::Hpl {
            boundary_cylinders: 600,
            short_base_ns: 800_000.0,
            short_sqrt_ns: 33_000.0,
            long_base_ns: 1_500_000.0,
            long_per_cylinder_ns: 30.0,
            single_cylinder_ns: Some(600_000),
            first_ten_ns: None,
        });
        for distance in (0..TABULATED_DISTANCES + 8).chain([100_000]) {
            assert_eq!(c.seek_ns(distance), c.form.seek_ns(distance), "{distance}");
        }
        assert_eq!(c.seek_ns(0), 0);
        assert_eq!(c.seek_ns(1), 600_000);
    }

    #[test]
    fn repositioning_takes_the_longer_of_seek_and_switch_plus_settle_for_writes() {
        let c = SeekCurve::new(&SeekParams::Constant { seek_ns: 500 });
        assert_eq!(repositioning_ns(&c, 800, 100, (3, 0), (3, 0), true), 0);
        assert_eq!(repositioning_ns(&c, 800, 100, (3, 0), (3, 1), false), 800);
        assert_eq!(repositioning_ns(&c, 800, 100, (3, 0), (4, 1), true), 900);
        assert_eq!(repositioning_ns(&c, 200, 100, (3, 0), (4, 0), true), 600);
        // A negative settle shortens write positioning, but never below zero.
        assert_eq!(repositioning_ns(&c, 800, -300, (3, 0), (3, 1), true), 500);
        assert_eq!(repositioning_ns(&c, 800, -900, (3, 0), (3, 1), true), 0);
        assert_eq!(repositioning_ns(&c, 800, -300, (3, 0), (3, 1), false), 800);
    }
}
