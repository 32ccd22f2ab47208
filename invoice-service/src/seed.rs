//! The sample invoices of `data/invoices.json`, loaded into an empty store on request.

/// The sample invoices, as JSON; `service_kit::seed::parse` reads them.
pub const SAMPLE: &str = include_str!("../data/invoices.json");

#[cfg(test)]
mod tests {
    use crate::domain::{Status, compute_totals};

    #[test]
    fn the_sample_data_parses_adds_up_and_is_numbered_without_gaps() {
        let invoices = service_kit::seed::parse::<crate::domain::Invoice>(super::SAMPLE).unwrap();
        assert!(invoices.len() >= 10);
        let mut numbers: Vec<i64> = invoices
            .iter()
            .filter_map(|i| {
                i.number
                    .as_deref()
                    .and_then(crate::domain::Invoice::sequence_of)
            })
            .collect();
        numbers.sort_unstable();
        assert_eq!(numbers, (1..=numbers.len() as i64).collect::<Vec<_>>());
        for invoice in &invoices {
            let totals = compute_totals(&invoice.items, invoice.tax_rate_bps).unwrap();
            assert_eq!(
                (invoice.subtotal, invoice.tax, invoice.total),
                (totals.subtotal, totals.tax, totals.total)
            );
            assert_eq!(invoice.number.is_none(), invoice.status == Status::Draft);
        }
    }
}
