//! Totals in integer minor units. Every step is checked: an overflow is a client error,
//! never a wrapped number. Within the request limits (100 items of at most 10^6 × 10^10,
//! tax at most 100%) the totals stay below 2 × 10^18 and always fit; the tax's
//! intermediate product is taken in 128 bits so that it does not overflow first.

use super::currency::Currency;
use super::line_item::LineItem;

/// What an invoice adds up to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub subtotal: i64,
    pub tax: i64,
    pub total: i64,
}

/// Sums the line amounts and applies `tax_rate_bps` (basis points) rounded half up.
/// `None` when a figure does not fit in 64 bits.
pub fn compute_totals(items: &[LineItem], tax_rate_bps: u32) -> Option<Totals> {
    let subtotal = items
        .iter()
        .try_fold(0i64, |sum, item| sum.checked_add(item.amount))?;
    // i64 × u32 always fits in i128; only the result must fit in i64.
    let tax = (i128::from(subtotal) * i128::from(tax_rate_bps) + 5_000) / 10_000;
    let tax = i64::try_from(tax).ok()?;
    let total = subtotal.checked_add(tax)?;
    Some(Totals {
        subtotal,
        tax,
        total,
    })
}

/// An amount in minor units as a person reads it: the currency's own number of decimals,
/// thousands grouped, its symbol or else its code: `$14,500.00`, `¥1,234`, `KWD 1.250`.
/// Integer arithmetic only.
pub fn format_money(minor: i64, currency: &Currency) -> String {
    let exponent = currency.exponent();
    let digits = minor.unsigned_abs().to_string();
    let split = digits.len().saturating_sub(exponent as usize);
    let (units, fraction) = digits.split_at(split);
    let units = if units.is_empty() { "0" } else { units };
    let mut text = String::with_capacity(digits.len() + 12);
    if minor < 0 {
        text.push('-');
    }
    match currency.symbol() {
        Some(symbol) => text.push_str(symbol),
        None => {
            text.push_str(currency.as_str());
            text.push('\u{a0}');
        }
    }
    for (i, digit) in units.chars().enumerate() {
        if i > 0 && (units.len() - i) % 3 == 0 {
            text.push(',');
        }
        text.push(digit);
    }
    if exponent > 0 {
        text.push('.');
        for _ in fraction.len()..exponent as usize {
            text.push('0');
        }
        text.push_str(fraction);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(minor: i64, code: &str) -> String {
        format_money(minor, &Currency::parse(code).unwrap())
    }

    #[test]
    fn money_is_formatted_by_the_currencys_exponent() {
        assert_eq!(money(1_450_000, "USD"), "$14,500.00");
        assert_eq!(money(5, "USD"), "$0.05");
        assert_eq!(money(0, "EUR"), "€0.00");
        assert_eq!(money(1_234_567, "JPY"), "¥1,234,567");
        assert_eq!(money(1_250, "KWD"), "KWD\u{a0}1.250");
        assert_eq!(money(7, "KWD"), "KWD\u{a0}0.007");
        assert_eq!(money(-199_900, "CAD"), "-CAD\u{a0}1,999.00");
        assert_eq!(money(i64::MIN, "USD"), "-$92,233,720,368,547,758.08");
    }

    fn item(quantity: u32, unit_amount: i64) -> LineItem {
        LineItem {
            description: "x".into(),
            quantity,
            unit_amount,
            amount: i64::from(quantity) * unit_amount,
        }
    }

    #[test]
    fn tax_rounds_half_up() {
        // 43500 × 8.5% = 3697.5 → 3698; 64300 × 5.5% = 3536.5 → 3537; 101 × 1bp = 0.0101 → 0.
        assert_eq!(compute_totals(&[item(1, 43_500)], 850).unwrap().tax, 3_698);
        assert_eq!(compute_totals(&[item(1, 64_300)], 550).unwrap().tax, 3_537);
        assert_eq!(compute_totals(&[item(1, 101)], 1).unwrap().tax, 0);
        assert_eq!(compute_totals(&[item(1, 5_000)], 1).unwrap().tax, 1);
        assert_eq!(compute_totals(&[item(1, 4_999)], 1).unwrap().tax, 0);
    }

    #[test]
    fn totals_add_up() {
        let totals = compute_totals(&[item(3, 1_999), item(2, 500)], 2_000).unwrap();
        assert_eq!(totals.subtotal, 6_997);
        assert_eq!(totals.tax, 1_399);
        assert_eq!(totals.total, 8_396);
        assert_eq!(compute_totals(&[item(1, 0)], 10_000).unwrap().total, 0);
    }

    #[test]
    fn the_largest_invoice_the_limits_allow_fits() {
        let items = vec![item(1_000_000, 10_000_000_000); 100];
        let totals = compute_totals(&items, 10_000).unwrap();
        assert_eq!(totals.subtotal, 1_000_000_000_000_000_000);
        assert_eq!(totals.tax, 1_000_000_000_000_000_000);
        assert_eq!(totals.total, 2_000_000_000_000_000_000);
        let totals = compute_totals(&items, 9_000).unwrap();
        assert_eq!(totals.tax, 900_000_000_000_000_000);
    }

    #[test]
    fn overflow_is_none() {
        let mut huge = item(1, 0);
        huge.amount = i64::MAX / 2 + 1;
        assert!(compute_totals(&[huge.clone(), huge.clone()], 0).is_none());
        assert!(compute_totals(&[huge], 10_000).is_none());
    }
}
