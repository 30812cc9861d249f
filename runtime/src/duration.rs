//! Go's duration syntax, which Docker uses wherever a flag or file takes a time
//! (`HEALTHCHECK --interval=30s`, `--health-timeout 1m30s`, compose's `interval: 10s`),
//! read and printed as Go's `time.ParseDuration` and `Duration.String` do.

use std::time::Duration;

/// A Go duration (`300ms`, `1.5h`, `1m30s`, `0`) in nanoseconds; `None` if it is not one
/// (a sign, a number without a unit, an unknown unit).
pub fn go_duration_nanos(s: &str) -> Option<u128> {
    if s == "0" {
        return Some(0);
    }
    let mut rest = s;
    let mut total: f64 = 0.0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, after) = rest.split_at(num_len);
        if num.is_empty() || num == "." {
            return None;
        }
        let n: f64 = num.parse().ok()?;
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += n * scale;
        rest = next;
    }
    (total.is_finite() && total < 1e30).then_some(total as u128)
}

/// [`go_duration_nanos`] as a [`Duration`].
pub fn parse_go_duration(s: &str) -> Option<Duration> {
    let n = go_duration_nanos(s)?;
    let secs = u64::try_from(n / 1_000_000_000).ok()?;
    Some(Duration::new(secs, (n % 1_000_000_000) as u32))
}

/// `d` as Go prints a duration: `0s`, `250ms`, `1.5s`, `1m30s`, `2h0m0s`.
pub fn format_go_duration(d: Duration) -> String {
    let n = d.as_nanos();
    if n == 0 {
        return "0s".into();
    }
    if n < 1_000_000_000 {
        let (unit, scale) = if n < 1_000 {
            ("ns", 1)
        } else if n < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{}{unit}", decimal(n, scale));
    }
    let secs = n / 1_000_000_000;
    let (h, m) = (secs / 3600, secs % 3600 / 60);
    let s = decimal(n % 60_000_000_000, 1_000_000_000);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, m) => format!("{m}m{s}s"),
        (h, m) => format!("{h}h{m}m{s}s"),
    }
}

/// `n / scale` with the fraction's trailing zeros dropped (`scale` a power of ten).
fn decimal(n: u128, scale: u128) -> String {
    let (whole, frac) = (n / scale, n % scale);
    if frac == 0 {
        return whole.to_string();
    }
    let width = scale.ilog10() as usize;
    let digits = format!("{frac:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// A duration as the docker CLI and daemon say it (go-units' `HumanDuration`: "Less than
/// a second", "About a minute", "3 hours", "2 weeks"): whole seconds and minutes, hours
/// rounded to the nearest, days, weeks and months counted from those rounded hours, years
/// from whole hours. The STATUS of `ps` ("Up 5 minutes") and the CREATED of `images`
/// ("2 weeks ago") use it.
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    let seconds = d.as_secs();
    let minutes = seconds / 60;
    // Go's `int(d.Hours() + 0.5)`.
    let hours = (secs / 3600.0 + 0.5) as u64;
    match () {
        _ if seconds < 1 => "Less than a second".into(),
        _ if seconds == 1 => "1 second".into(),
        _ if seconds < 60 => format!("{seconds} seconds"),
        _ if minutes == 1 => "About a minute".into(),
        _ if minutes < 60 => format!("{minutes} minutes"),
        _ if hours == 1 => "About an hour".into(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        _ => format!("{} years", seconds / 3600 / 24 / 365),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_read_as_go_reads_them() {
        let d = go_duration_nanos;
        assert_eq!(d("30s"), Some(30_000_000_000));
        assert_eq!(d("1m30s"), Some(90_000_000_000));
        assert_eq!(d("1.5h"), Some(5_400_000_000_000));
        assert_eq!(d("300ms"), Some(300_000_000));
        assert_eq!(d("0"), Some(0));
        for bad in ["", "5", "s", "1x", "-1s", "1.2.3s"] {
            assert_eq!(d(bad), None, "{bad}");
        }
        assert_eq!(parse_go_duration("1.5s"), Some(Duration::from_millis(1500)));
    }

    #[test]
    fn go_durations_print_as_go_prints_them() {
        let f = |ms: u64| format_go_duration(Duration::from_millis(ms));
        assert_eq!(f(0), "0s");
        assert_eq!(f(250), "250ms");
        assert_eq!(f(1500), "1.5s");
        assert_eq!(f(30_000), "30s");
        assert_eq!(f(60_000), "1m0s");
        assert_eq!(f(90_000), "1m30s");
        assert_eq!(f(7_200_000), "2h0m0s");
        assert_eq!(format_go_duration(Duration::from_micros(1500)), "1.5ms");
        assert_eq!(format_go_duration(Duration::from_nanos(12)), "12ns");
    }

    #[test]
    fn human_durations_are_go_units_words_at_their_bounds() {
        let min = 60;
        let hour = 3600;
        let day = 24 * hour;
        for (secs, want) in [
            (0, "Less than a second"),
            (1, "1 second"),
            (59, "59 seconds"),
            (60, "About a minute"),
            (2 * min - 1, "About a minute"),
            (2 * min, "2 minutes"),
            (59 * min + 59, "59 minutes"),
            (hour, "About an hour"),
            (90 * min - 1, "About an hour"),
            // Hours round to the nearest from here on.
            (90 * min, "2 hours"),
            (47 * hour + 29 * min, "47 hours"),
            (47 * hour + 30 * min, "2 days"),
            (13 * day + 23 * hour, "13 days"),
            (14 * day, "2 weeks"),
            (59 * day, "8 weeks"),
            (60 * day, "2 months"),
            (729 * day, "24 months"),
            (730 * day, "2 years"),
            (1100 * day, "3 years"),
        ] {
            assert_eq!(human_duration(Duration::from_secs(secs)), want, "{secs} s");
        }
        assert_eq!(
            human_duration(Duration::from_millis(999)),
            "Less than a second"
        );
    }
}
