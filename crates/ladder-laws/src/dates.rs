//! Calendar dates as decimal years, for trend fits over release dates:
//! `YYYY-MM-DD` ↦ year + (day of year − 1) / (days in that year), so 2020-01-01 is 2020.0.

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Parses an ISO date `YYYY-MM-DD` (a time part after `T` or a space is ignored) into a decimal
/// year; `None` unless year, month and day are valid.
pub fn parse_date(s: &str) -> Option<f64> {
    let date = s.split(['T', ' ']).next()?;
    let mut it = date.split('-');
    let (y, m, d) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let y: i64 = y.parse().ok()?;
    let m: u32 = m.parse().ok()?;
    let d: u32 = d.parse().ok()?;
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    let doy: u32 = (1..m).map(|k| days_in_month(y, k)).sum::<u32>() + d - 1;
    let len = if is_leap(y) { 366.0 } else { 365.0 };
    Some(y as f64 + doy as f64 / len)
}

/// The date `YYYY-MM-DD` containing decimal year `t` (inverse of [`parse_date`] up to the day).
pub fn format_date(t: f64) -> String {
    if !t.is_finite() || t.abs() > 1e6 {
        return format!("{t}");
    }
    let y = t.floor() as i64;
    let len = if is_leap(y) { 366.0 } else { 365.0 };
    let mut doy = ((t - y as f64) * len + 1e-9).floor() as u32;
    let mut m = 1;
    while m < 12 && doy >= days_in_month(y, m) {
        doy -= days_in_month(y, m);
        m += 1;
    }
    format!("{y:04}-{m:02}-{:02}", (doy + 1).min(days_in_month(y, m)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_to_decimal_years() {
        assert_eq!(parse_date("2020-01-01"), Some(2020.0));
        // 2020 is a leap year: 1 July is day 182 (0-based) of 366.
        assert!((parse_date("2020-07-01").unwrap() - (2020.0 + 182.0 / 366.0)).abs() < 1e-12);
        assert!((parse_date("2023-12-31T10:00").unwrap() - (2023.0 + 364.0 / 365.0)).abs() < 1e-12);
        for bad in [
            "2021-02-29",
            "2020-00-10",
            "2020-1-01",
            "20-01-01",
            "2020-01-01-01",
            "x",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn dates_round_trip() {
        for s in ["2019-03-04", "2020-02-29", "2024-12-31", "2000-01-01"] {
            assert_eq!(format_date(parse_date(s).unwrap()), s);
        }
    }
}
