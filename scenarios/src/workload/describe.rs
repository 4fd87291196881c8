//! One line of text that says what a [`WorkloadSpec`] generates, for the headers of reports
//! and summaries ("what was simulated"). Only formatting lives here; the spec's meaning is in
//! `spec.rs`.

use std::fmt;

use super::spec::{AccessPattern, ArrivalProcess, SizeDistribution, WorkloadSpec};

impl fmt::Display for WorkloadSpec {
    /// e.g. `zipf θ=0.99 (scattered), 70 % reads, 4 KiB requests, over 32 MiB from 0,
    /// 100,000 requests, closed loop`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}, {} % reads, {} requests, over {} from {}",
            Pattern(&self.pattern),
            number(self.read_percent),
            Sizes(&self.request_size),
            bytes(self.span_bytes),
            bytes(self.span_start_bytes),
        )?;
        if self.alignment_bytes != 4096 {
            write!(f, " aligned to {}", bytes(self.alignment_bytes))?;
        }
        match self.requests {
            Some(count) => write!(f, ", {} requests", thousands(count))?,
            None => write!(f, ", unbounded")?,
        }
        match self.arrival {
            ArrivalProcess::ClosedLoop => write!(f, ", closed loop"),
            ArrivalProcess::FixedRate {
                requests_per_second,
            } => write!(f, ", {} requests/s fixed rate", number(requests_per_second)),
            ArrivalProcess::Poisson {
                requests_per_second,
            } => write!(
                f,
                ", Poisson arrivals at {} requests/s",
                number(requests_per_second)
            ),
        }
    }
}

struct Pattern<'a>(&'a AccessPattern);

impl fmt::Display for Pattern<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            AccessPattern::Uniform => write!(f, "uniform"),
            AccessPattern::Zipf { theta, scatter } => {
                write!(f, "zipf θ={}", number(*theta))?;
                if *scatter {
                    write!(f, " (scattered)")?;
                }
                Ok(())
            }
            AccessPattern::HotCold {
                hot_access_percent,
                hot_space_percent,
            } => write!(
                f,
                "hot/cold: {} % of requests to {} % of the span",
                number(*hot_access_percent),
                number(*hot_space_percent)
            ),
            AccessPattern::Sequential { streams } => write!(
                f,
                "{streams} sequential stream{}",
                if *streams == 1 { "" } else { "s" }
            ),
        }
    }
}

struct Sizes<'a>(&'a SizeDistribution);

impl fmt::Display for Sizes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            SizeDistribution::Fixed { bytes: size } => write!(f, "{}", bytes(*size)),
            SizeDistribution::Uniform {
                min_bytes,
                max_bytes,
            } => write!(f, "{}..{}", bytes(*min_bytes), bytes(*max_bytes)),
            SizeDistribution::Weighted { choices } => {
                let total: u64 = choices.iter().map(|c| u64::from(c.weight)).sum();
                for (index, choice) in choices.iter().enumerate() {
                    if index > 0 {
                        write!(f, "/")?;
                    }
                    let percent = u64::from(choice.weight) as f64 * 100.0 / total.max(1) as f64;
                    write!(f, "{} {} %", bytes(choice.bytes), number(percent))?;
                }
                Ok(())
            }
        }
    }
}

/// `bytes` in the largest binary unit that divides it exactly (`32 MiB`, `4 KiB`, `1536 B`).
fn bytes(count: u64) -> String {
    const UNITS: [(&str, u64); 4] = [
        ("TiB", 1 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
    ];
    if count == 0 {
        return "0".to_string();
    }
    for (unit, size) in UNITS {
        if count.is_multiple_of(size) {
            return format!("{} {unit}", count / size);
        }
    }
    format!("{count} B")
}

/// A float without trailing zeros: `70`, `0.99`, `12.5`.
fn number(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// `100000` as `100,000`.
fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut text = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            text.push(',');
        }
        text.push(digit);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::WeightedSize;

    fn spec(pattern: AccessPattern, request_size: SizeDistribution) -> WorkloadSpec {
        WorkloadSpec {
            span_start_bytes: 0,
            span_bytes: 32 << 20,
            alignment_bytes: 4096,
            pattern,
            read_percent: 70.0,
            request_size,
            arrival: ArrivalProcess::ClosedLoop,
            requests: Some(100_000),
            device: 0,
        }
    }

    #[test]
    fn zipf_fixed_size_closed_loop() {
        let text = spec(
            AccessPattern::Zipf {
                theta: 0.99,
                scatter: true,
            },
            SizeDistribution::Fixed { bytes: 4096 },
        )
        .to_string();
        assert_eq!(
            text,
            "zipf θ=0.99 (scattered), 70 % reads, 4 KiB requests, over 32 MiB from 0, \
             100,000 requests, closed loop"
        );
    }

    #[test]
    fn weighted_sizes_and_poisson_arrivals() {
        let mut workload = spec(
            AccessPattern::HotCold {
                hot_access_percent: 90.0,
                hot_space_percent: 10.0,
            },
            SizeDistribution::Weighted {
                choices: vec![
                    WeightedSize {
                        bytes: 4096,
                        weight: 3,
                    },
                    WeightedSize {
                        bytes: 1536,
                        weight: 1,
                    },
                ],
            },
        );
        workload.arrival = ArrivalProcess::Poisson {
            requests_per_second: 2500.0,
        };
        workload.requests = None;
        workload.alignment_bytes = 512;
        assert_eq!(
            workload.to_string(),
            "hot/cold: 90 % of requests to 10 % of the span, 70 % reads, 4 KiB 75 %/1536 B 25 % \
             requests, over 32 MiB from 0 aligned to 512 B, unbounded, Poisson arrivals at 2500 \
             requests/s"
        );
    }

    #[test]
    fn sequential_uniform_sizes() {
        let text = spec(
            AccessPattern::Sequential { streams: 1 },
            SizeDistribution::Uniform {
                min_bytes: 512,
                max_bytes: 64 << 10,
            },
        )
        .to_string();
        assert!(
            text.starts_with("1 sequential stream, 70 % reads, 512 B..64 KiB requests"),
            "{text}"
        );
    }
}
