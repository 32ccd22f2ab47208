//! The sample invoices of `data/invoices.json`, loaded into an empty store on request.

use std::sync::Arc;

use crate::domain::Invoice;
use crate::store::InvoiceStore;

const SAMPLE: &str = include_str!("../data/invoices.json");

pub fn sample_invoices() -> anyhow::Result<Vec<Invoice>> {
    let mut invoices: Vec<Invoice> = serde_json::from_str(SAMPLE)?;
    for invoice in &mut invoices {
        invoice.version = 1;
    }
    Ok(invoices)
}

/// Loads the sample invoices into an empty store, in the background.
pub fn in_background(store: Arc<dyn InvoiceStore>) -> anyhow::Result<()> {
    let invoices = Arc::new(sample_invoices()?);
    service_kit::seed::in_background("invoices", move || {
        let (store, invoices) = (store.clone(), invoices.clone());
        async move { store.seed(&invoices).await }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::domain::{Status, compute_totals};

    #[test]
    fn the_sample_data_parses_adds_up_and_is_numbered_without_gaps() {
        let invoices = super::sample_invoices().unwrap();
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
