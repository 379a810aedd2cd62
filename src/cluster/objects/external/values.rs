//! The values of external-dns annotations and fields, each parsed as external-dns (or
//! the API server) spells them: DNS names, TTLs (Go durations), RFC 3339 times.

use crate::cluster::SharedStr;

/// A name of a `hostname` or `target` annotation or of a load balancer: lower-cased,
/// without a trailing dot; or why it is not usable.
pub(super) fn dns_name(raw: &str) -> Result<SharedStr, &'static str> {
    let name = raw.strip_suffix('.').unwrap_or(raw).to_ascii_lowercase();
    if name == "*" || name.starts_with("*.") {
        return Err("a wildcard is not published");
    }
    if name.len() > 253 {
        return Err("longer than 253 bytes");
    }
    if name.split('.').any(|label| label.len() > 63) {
        return Err("a label longer than 63 bytes");
    }
    if !name.split('.').all(super::super::is_dns_label) {
        return Err("not a DNS name (labels of a-z, 0-9 and '-', not starting or ending with '-')");
    }
    // No top-level domain is all digits (RFC 3696): such a name is a mistyped address.
    if name.rsplit('.').next().is_some_and(|last| last.bytes().all(|b| b.is_ascii_digit())) {
        return Err("not a DNS name: its last label is all digits, like an address");
    }
    Ok(name.into())
}

/// The largest TTL external-dns accepts (`math.MaxInt32`).
const TTL_MAX: i64 = i32::MAX as i64;

/// The `ttl` annotation's value in seconds, as external-dns reads it: a Go duration
/// (fractions of a second dropped), else a decimal integer; 1 to 2³¹−1.
pub(super) fn ttl_seconds(value: &str) -> Result<u32, String> {
    let seconds = match go_duration_nanos(value) {
        Some(nanos) => (nanos / 1_000_000_000) as i64,
        None => value
            .parse::<i64>()
            .map_err(|_| "not a duration (90s, 5m, 1h) or a number of seconds".to_owned())?,
    };
    if !(1..=TTL_MAX).contains(&seconds) {
        return Err(format!("out of range: a TTL is 1 to {TTL_MAX} seconds"));
    }
    Ok(seconds as u32)
}

/// Go's `time.ParseDuration`: `[-+]?` then one or more `<number><unit>` (a number with an
/// optional fraction, units `ns`, `us`/`µs`/`μs`, `ms`, `s`, `m`, `h`), or `0`; the
/// nanoseconds, `None` when it does not parse or overflows an `i64` as in Go.
fn go_duration_nanos(s: &str) -> Option<i128> {
    let (negative, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (whole, after) = rest.split_at(digits);
        let (fraction, after) = match after.strip_prefix('.') {
            Some(after) => {
                let n = after.bytes().take_while(u8::is_ascii_digit).count();
                after.split_at(n)
            }
            None => ("", after),
        };
        if whole.is_empty() && fraction.is_empty() {
            return None; // no digits
        }
        let unit_len = after.find(|c: char| c == '.' || c.is_ascii_digit()).unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let scale: i128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60 * 1_000_000_000,
            "h" => 3_600 * 1_000_000_000,
            _ => return None, // a missing or unknown unit
        };
        let whole: i128 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
        let mut value = whole.checked_mul(scale)?;
        // The fraction, to the nanosecond (Go keeps the same precision).
        let mut place = scale;
        for digit in fraction.bytes().take(30) {
            place /= 10;
            value += i128::from(digit - b'0') * place;
        }
        total = total.checked_add(value)?;
        if total > i128::from(i64::MAX) + i128::from(negative) {
            return None; // Go: invalid duration (overflow)
        }
        rest = after;
    }
    Some(if negative { -total } else { total })
}

/// An RFC 3339 time (`2024-05-01T12:00:00Z`, with an optional fraction and a `Z` or
/// `±hh:mm` offset) as Unix seconds.
pub(super) fn unix_seconds(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(range)?;
        (part.bytes().all(|c| c.is_ascii_digit())).then(|| part.parse().ok())?
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut at = 19;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let digits = b[at..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        at += digits;
    }
    let offset = match &s[at..] {
        "Z" | "z" => 0,
        zone if zone.len() == 6
            && matches!(zone.as_bytes()[0], b'+' | b'-')
            && zone.as_bytes()[3] == b':' =>
        {
            let minutes = num(at + 1..at + 3)? * 60 + num(at + 4..at + 6)?;
            if zone.starts_with('-') { -minutes } else { minutes }
        }
        _ => return None,
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hour * 3_600 + minute * 60 + second - offset * 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_are_seconds_or_go_durations_in_range() {
        for (value, seconds) in [
            ("60", 60),
            ("+60", 60),
            ("1m", 60),
            ("1h30m", 5400),
            ("90s", 90),
            ("1.5s", 1),
            ("1.9m", 114),
            (".5m", 30),
            ("1500ms", 1),
            ("2147483647", 2_147_483_647),
            ("596523h14m7s", 2_147_483_647),
        ] {
            assert_eq!(ttl_seconds(value), Ok(seconds), "{value}");
        }
        for value in
            ["0", "0s", "-5", "-1m", "500ms", "2147483648", "ten", "1x", "1 m", "", "1m30", ".s", "1e3"]
        {
            assert!(ttl_seconds(value).is_err(), "{value}");
        }
        assert!(ttl_seconds("0").unwrap_err().contains("out of range"));
        assert!(ttl_seconds("ten").unwrap_err().contains("not a duration"));
    }

    #[test]
    fn creation_timestamps_are_unix_seconds() {
        assert_eq!(unix_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(unix_seconds("2024-05-01T12:00:00Z"), Some(1_714_564_800));
        assert_eq!(unix_seconds("2024-05-01T12:00:00.123456Z"), Some(1_714_564_800));
        assert_eq!(unix_seconds("2024-05-01T14:00:00+02:00"), Some(1_714_564_800));
        assert_eq!(unix_seconds("2000-02-29T00:00:00Z"), Some(951_782_400));
        assert_eq!(unix_seconds("1969-12-31T23:59:59Z"), Some(-1));
        for bad in [
            "",
            "2024-05-01",
            "2024-05-01T12:00:00",
            "2024-13-01T12:00:00Z",
            "2024-05-01T12:00:00+0200",
            "yesterday",
        ] {
            assert_eq!(unix_seconds(bad), None, "{bad}");
        }
    }

    #[test]
    fn names_are_lowercased_without_their_dot_or_refused_with_why() {
        assert_eq!(dns_name("Kafka.Example.COM."), Ok("kafka.example.com".into()));
        assert_eq!(dns_name("*.example.com"), Err("a wildcard is not published"));
        assert_eq!(
            dns_name("10.0.0.300"),
            Err("not a DNS name: its last label is all digits, like an address")
        );
        assert_eq!(dns_name(&"a".repeat(64)), Err("a label longer than 63 bytes"));
    }
}
