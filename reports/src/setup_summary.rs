//! "What was simulated": the lines at the top of a comparison page that say what the runs
//! were, read from their configurations (input and its requests, target, devices, cache
//! geometry and mode, policy, pacing, seed, dmsim version).
//!
//! Owns only the reading of those fields; a field no run has is left out, and a field whose
//! value differs between runs lists every value in run order. It deliberately knows nothing
//! of how the CLI builds a configuration beyond the field names it reads.

use serde_json::Value;

use crate::run_report::{stat, RunReport};

/// `(what, value)` rows describing `runs`, in reading order.
pub(crate) fn setup_rows(runs: &[RunReport]) -> Vec<(&'static str, String)> {
    let mut rows = Vec::new();
    let mut add = |name: &'static str, value: Option<String>| {
        if let Some(value) = value {
            rows.push((name, value));
        }
    };
    add("input", shared(runs, |run| text(&run.config["trace"])));
    add(
        "requests per run",
        shared(runs, |run| Some(count(run.requests))),
    );
    add(
        "target",
        shared(runs, |run| {
            text(&run.config["target"]).or_else(|| {
                run.config
                    .get("flashcache")
                    .map(|_| "flashcache".to_string())
            })
        }),
    );
    add(
        "cache device (SSD)",
        shared(runs, |run| text(&run.config["ssd"])),
    );
    add("disk (HDD)", shared(runs, |run| text(&run.config["hdd"])));
    add("cache geometry", shared(runs, cache_geometry));
    add("mode", shared(runs, |run| text(&run.config["mode"])));
    add("policy", shared(runs, |run| text(&run.config["policy"])));
    add(
        "dirty_thresh_pct",
        shared(runs, |run| {
            text(&run.config["flashcache"]["tunables"]["dirty_thresh_pct"])
        }),
    );
    add(
        "workload",
        shared(runs, |run| text(&run.config["workload"])),
    );
    add("pacing", shared(runs, |run| text(&run.config["pacing"])));
    add("seed", shared(runs, |run| text(&run.config["seed"])));
    add(
        "tie perturbation seed",
        shared(runs, |run| text(&run.config["perturb_ties_seed"])),
    );
    add(
        "deviations from flashcache",
        shared(runs, |run| match &run.config["deviations"] {
            Value::Array(items) if items.is_empty() => Some("none".to_string()),
            other => text(other),
        }),
    );
    add(
        "platform",
        shared(runs, |run| text(&run.config["platform"])),
    );
    add(
        "dmsim version",
        shared(runs, |run| text(&run.config["dmsim_version"])),
    );
    rows
}

/// The value every run has, or each distinct value in run order ("a | b (differs)"); `None`
/// when no run has one.
fn shared(runs: &[RunReport], value: impl Fn(&RunReport) -> Option<String>) -> Option<String> {
    let mut distinct: Vec<String> = Vec::new();
    let mut missing = false;
    for run in runs {
        match value(run) {
            Some(v) if !distinct.contains(&v) => distinct.push(v),
            Some(_) => {}
            None => missing = true,
        }
    }
    match distinct.len() {
        0 => None,
        1 if !missing => distinct.pop(),
        _ => {
            if missing {
                distinct.push("(none)".to_string());
            }
            Some(format!("{} (differs between runs)", distinct.join(" | ")))
        }
    }
}

/// A JSON value as a person reads it: strings bare, objects as `key=value` pairs.
fn text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Object(map) => Some(
            map.iter()
                .filter_map(|(k, v)| text(v).map(|v| format!("{k}={v}")))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        Value::Array(items) => Some(items.iter().filter_map(text).collect::<Vec<_>>().join(", ")),
        other => Some(other.to_string()),
    }
}

/// `1234567` → `1,234,567`.
fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `256 blocks × 4 KiB = 1 MiB, 512-way (…sets)` from the table line and the cache's size.
fn cache_geometry(run: &RunReport) -> Option<String> {
    let table = run.config.get("flashcache")?.get("table")?;
    let block_sectors = match table["block_size_sectors"].as_u64() {
        Some(0) | None => 8,
        Some(n) => n,
    };
    let block_bytes = block_sectors * 512;
    let mut parts = Vec::new();
    if let Some(blocks) = run.stat(stat::SIZE_BLOCKS) {
        parts.push(format!(
            "{} blocks × {} = {}",
            count(blocks),
            bytes(block_bytes),
            bytes(blocks.saturating_mul(block_bytes))
        ));
    } else {
        parts.push(format!("{} blocks", bytes(block_bytes)));
    }
    if let Some(ways) = associativity(&table["assoc"]) {
        parts.push(format!("{ways}-way sets"));
    }
    if let Some(sectors) = table["disk_assoc_sectors"].as_u64().filter(|&s| s > 0) {
        parts.push(format!("disk associativity {}", bytes(sectors * 512)));
    }
    if table["write_only"].as_bool() == Some(true) {
        parts.push("write-only".to_string());
    }
    Some(parts.join(", "))
}

/// The ways of a set from the table line's `assoc` (a number, or an object holding one;
/// 0 means flashcache's default, 512).
fn associativity(value: &Value) -> Option<u64> {
    let ways = match value {
        Value::Number(n) => n.as_u64()?,
        Value::Object(map) => map.values().find_map(Value::as_u64)?,
        _ => return None,
    };
    Some(if ways == 0 { 512 } else { ways })
}

/// Bytes in binary units: `4 KiB`, `1 GiB`, `1.5 MiB`.
fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value.fract() == 0.0 {
        format!("{value} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(config: Value, size_blocks: Option<u64>) -> RunReport {
        let mut run = RunReport {
            label: "r".to_string(),
            config,
            requests: 1_000,
            ..RunReport::default()
        };
        if let Some(blocks) = size_blocks {
            run.stats.insert(stat::SIZE_BLOCKS.to_string(), blocks);
        }
        run
    }

    #[test]
    fn shared_values_once_and_differing_values_each() {
        let config = |mode: &str| {
            json!({
                "trace": "msr.csv", "mode": mode, "ssd": "ssd-sata", "hdd": "hdd-7200",
                "pacing": {"qd": 32}, "seed": 1, "dmsim_version": "0.1.0",
                "flashcache": {"table": {"block_size_sectors": 8, "assoc": 512,
                    "disk_assoc_sectors": 0, "write_only": false},
                    "tunables": {"dirty_thresh_pct": 20}},
                "deviations": [],
            })
        };
        let runs = [
            run(config("writeback"), Some(256)),
            run(config("writethrough"), Some(256)),
        ];
        let rows = setup_rows(&runs);
        let get = |name: &str| {
            rows.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("input"), Some("msr.csv"));
        assert_eq!(get("requests per run"), Some("1,000"));
        assert_eq!(get("target"), Some("flashcache"));
        assert_eq!(
            get("mode"),
            Some("writeback | writethrough (differs between runs)")
        );
        assert_eq!(
            get("cache geometry"),
            Some("256 blocks × 4 KiB = 1 MiB, 512-way sets")
        );
        assert_eq!(get("pacing"), Some("qd=32"));
        assert_eq!(get("seed"), Some("1"));
        assert_eq!(get("dirty_thresh_pct"), Some("20"));
        assert_eq!(get("deviations from flashcache"), Some("none"));
        assert_eq!(get("dmsim version"), Some("0.1.0"));
        assert_eq!(get("workload"), None);
    }

    #[test]
    fn words() {
        assert_eq!(bytes(4096), "4 KiB");
        assert_eq!(bytes(1536 * 1024), "1.5 MiB");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(associativity(&json!(0)), Some(512));
        assert_eq!(associativity(&json!({"ways": 256})), Some(256));
    }
}
