//! How values are written for people: money with its currency's decimals, times in UTC.

/// `EUR 1,234.50` from 123450 minor units: the currency's own number of decimals
/// (ISO 4217: JPY 0, KWD 3), thousands grouped.
pub fn money(currency: &str, minor: i64) -> String {
    let exponent = iso_currency::Currency::from_code(currency)
        .and_then(|c| c.exponent())
        .map_or(2, u32::from);
    let scale = 10u64.pow(exponent);
    let magnitude = minor.unsigned_abs();
    let (units, fraction) = (magnitude / scale, magnitude % scale);
    let sign = if minor < 0 { "-" } else { "" };
    let units = grouped(units);
    if exponent == 0 {
        format!("{currency} {sign}{units}")
    } else {
        let width = exponent as usize;
        format!("{currency} {sign}{units}.{fraction:0width$}")
    }
}

fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `2026-12-03 13:57 UTC` from an RFC 3339 time; anything else as it came.
pub fn time(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339).map_or_else(
        |_| rfc3339.to_owned(),
        |t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%d %H:%M UTC")
                .to_string()
        },
    )
}

/// `8.5 %` from 850 basis points.
pub fn rate(bps: i64) -> String {
    let (whole, rest) = (bps / 100, (bps % 100).abs());
    match rest {
        0 => format!("{whole} %"),
        r if r % 10 == 0 => format!("{whole}.{} %", r / 10),
        r => format!("{whole}.{r:02} %"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_uses_the_currency_decimals_and_groups_thousands() {
        assert_eq!(money("EUR", 123_450), "EUR 1,234.50");
        assert_eq!(money("USD", 5), "USD 0.05");
        assert_eq!(money("JPY", 330_000), "JPY 330,000");
        assert_eq!(money("KWD", 1_250), "KWD 1.250");
        assert_eq!(money("EUR", 100_000_000), "EUR 1,000,000.00");
    }

    #[test]
    fn times_are_shown_in_utc_to_the_minute() {
        assert_eq!(time("2026-12-03T13:57:09.123Z"), "2026-12-03 13:57 UTC");
        assert_eq!(time("soon"), "soon");
    }

    #[test]
    fn rates_are_percentages() {
        assert_eq!(rate(850), "8.5 %");
        assert_eq!(rate(0), "0 %");
        assert_eq!(rate(1925), "19.25 %");
    }
}
