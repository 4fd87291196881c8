//! DiskSim's `.seek` files (measured seek curves for `Seek type = extracted`): an
//! optional `Seek distances measured: N` header, then one `distance, ms[, stddev]` point a
//! line. Owns that format only.

use super::{DiskSimError, DiskSimErrorKind};
use crate::hdd::SeekPoint;

/// Parse a DiskSim `.seek` file: an optional `Seek distances measured: N` header, then
/// `distance, milliseconds[, stddev]` lines.
pub fn parse_seek_table(file: &str, text: &str) -> Result<Vec<SeekPoint>, DiskSimError> {
    let mut points: Vec<SeekPoint> = Vec::new();
    let mut declared: Option<(usize, usize)> = None;
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let content = raw.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        if let Some(rest) = content.strip_prefix("Seek distances measured:") {
            let n = rest.trim().parse::<usize>().map_err(|_| {
                DiskSimError::new(
                    file,
                    line,
                    DiskSimErrorKind::Syntax {
                        message: format!("bad point count '{}'", rest.trim()),
                    },
                )
            })?;
            declared = Some((n, line));
            continue;
        }
        let bad =
            |message: String| DiskSimError::new(file, line, DiskSimErrorKind::Syntax { message });
        let fields: Vec<&str> = content.split(',').map(str::trim).collect();
        if fields.len() < 2 || fields.len() > 3 {
            return Err(bad(format!(
                "expected 'distance, milliseconds[, stddev]', found '{content}'"
            )));
        }
        let distance: u32 = fields[0]
            .parse()
            .map_err(|_| bad(format!("bad seek distance '{}'", fields[0])))?;
        let ms: f64 = fields[1]
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| bad(format!("bad seek time '{}'", fields[1])))?;
        if let Some(prev) = points.last() {
            if distance <= prev.distance_cylinders {
                return Err(bad(format!(
                    "distance {distance} does not increase (previous {})",
                    prev.distance_cylinders
                )));
            }
        } else if distance == 0 {
            return Err(bad("distances start at 1".into()));
        }
        points.push(SeekPoint {
            distance_cylinders: distance,
            seek_ns: (ms * 1e6).round() as u64,
        });
    }
    if let Some((n, line)) = declared {
        if n != points.len() {
            return Err(DiskSimError::new(
                file,
                line,
                DiskSimErrorKind::Syntax {
                    message: format!("header declares {n} points, file has {}", points.len()),
                },
            ));
        }
    }
    if points.len() < 2 {
        return Err(DiskSimError::new(
            file,
            0,
            DiskSimErrorKind::Syntax {
                message: "a seek curve needs at least two points".into(),
            },
        ));
    }
    Ok(points)
}
