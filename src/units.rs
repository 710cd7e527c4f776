//! Sizes and durations as people write them (`10GB`, `30d`): the same units `hf cache ls`
//! accepts, decimal like `ollama list`.

use anyhow::{Result, bail};

const BYTE_UNITS: &[(&str, u64)] = &[
    ("b", 1),
    ("k", 1_000),
    ("kb", 1_000),
    ("m", 1_000_000),
    ("mb", 1_000_000),
    ("g", 1_000_000_000),
    ("gb", 1_000_000_000),
    ("t", 1_000_000_000_000),
    ("tb", 1_000_000_000_000),
    ("p", 1_000_000_000_000_000),
    ("pb", 1_000_000_000_000_000),
    ("kib", 1 << 10),
    ("mib", 1 << 20),
    ("gib", 1 << 30),
    ("tib", 1 << 40),
];

const TIME_UNITS: &[(&str, u64)] = &[
    ("s", 1),
    ("m", 60),
    ("h", 3_600),
    ("d", 86_400),
    ("w", 7 * 86_400),
    ("mo", 30 * 86_400),
    ("y", 365 * 86_400),
];

fn parse_with_unit(value: &str, units: &[(&str, u64)], what: &str) -> Result<u64> {
    let v = value.trim();
    let digits = v
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b'.')
        .count();
    if digits == 0 {
        bail!(
            "invalid {what} {value:?}: expected a number with an optional unit, like 10GB or 30d"
        );
    }
    let number: f64 = v[..digits]
        .parse()
        .map_err(|_| anyhow::anyhow!("invalid {what} {value:?}"))?;
    let unit = v[digits..].trim().to_ascii_lowercase();
    // Beyond 2^64 an `as` conversion would quietly saturate to a meaningless value.
    let whole = |x: f64| -> Result<u64> {
        if x.is_finite() && x < u64::MAX as f64 {
            Ok(x.round() as u64)
        } else {
            bail!("{what} {value:?} is too large")
        }
    };
    if unit.is_empty() {
        return whole(number);
    }
    match units.iter().find(|(u, _)| *u == unit) {
        Some((_, mult)) => whole(number * *mult as f64),
        None => bail!(
            "unknown unit {unit:?} in {value:?}; use one of {}",
            units.iter().map(|(u, _)| *u).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// `10GB`, `1.5g`, `500MiB`, `1234` (bytes).
pub fn parse_size(value: &str) -> Result<u64> {
    parse_with_unit(value, BYTE_UNITS, "size")
}

/// `30d`, `2w`, `6mo`, `90` (seconds).
pub fn parse_duration(value: &str) -> Result<u64> {
    parse_with_unit(value, TIME_UNITS, "duration")
}

/// Decimal units, one decimal place: `4.1 GB`, like `ollama list`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KB", "MB", "GB", "TB", "PB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1000.0 && i + 1 < UNITS.len() {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}

/// `3 days ago`, `2 hours ago`, `just now`.
pub fn ago(seconds: i64) -> String {
    if seconds < 0 {
        return "in the future".into();
    }
    let s = seconds as u64;
    let (n, unit) = match s {
        0..60 => return "just now".into(),
        60..3_600 => (s / 60, "minute"),
        3_600..86_400 => (s / 3_600, "hour"),
        86_400..2_592_000 => (s / 86_400, "day"),
        2_592_000..31_536_000 => (s / 2_592_000, "month"),
        _ => (s / 31_536_000, "year"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_like_hf_cache_ls() {
        assert_eq!(parse_size("10GB").unwrap(), 10_000_000_000);
        assert_eq!(parse_size("1.5g").unwrap(), 1_500_000_000);
        assert_eq!(parse_size("512").unwrap(), 512);
        assert_eq!(parse_size("1MiB").unwrap(), 1 << 20);
        assert!(parse_size("GB").is_err());
        assert!(
            parse_size("10 parsecs")
                .unwrap_err()
                .to_string()
                .contains("unknown unit")
        );
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("30d").unwrap(), 30 * 86_400);
        assert_eq!(parse_duration("6mo").unwrap(), 180 * 86_400);
        assert_eq!(parse_duration("1h").unwrap(), 3_600);
    }

    #[test]
    fn human_sizes_are_decimal() {
        assert_eq!(human_size(999), "999 B");
        assert_eq!(human_size(4_100_000_000), "4.1 GB");
        assert_eq!(ago(3 * 86_400), "3 days ago");
    }

    #[test]
    fn a_size_beyond_what_fits_is_refused() {
        assert!(parse_size("99999999999999999999GB").is_err());
        assert!(parse_size("99999999999999999999").is_err());
        assert_eq!(parse_size("18000PB").unwrap(), 18_000_000_000_000_000_000);
    }
}
