//! The sample invoices of `data/invoices.json`, loaded into an empty store on request.

use crate::documents::Documents;
use crate::domain::{Invoice, Status};

/// The sample invoices, as JSON; `service_kit::seed::parse` reads them.
pub const SAMPLE: &str = include_str!("../data/invoices.json");

/// The sample invoices, each finalized one with a hosted link of this deployment.
pub fn sample(documents: &Documents) -> anyhow::Result<Vec<Invoice>> {
    let mut invoices: Vec<Invoice> = service_kit::seed::parse(SAMPLE)?;
    for invoice in &mut invoices {
        if invoice.status != Status::Draft && invoice.hosted_invoice_url.is_none() {
            invoice.hosted_invoice_url = Some(documents.new_hosted_url(invoice.id));
        }
    }
    Ok(invoices)
}

#[cfg(test)]
mod tests {
    use crate::documents::{Seller, render_pdf};
    use crate::domain::{Status, compute_totals};

    #[test]
    fn every_sample_invoice_renders() {
        let invoices = service_kit::seed::parse::<crate::domain::Invoice>(super::SAMPLE).unwrap();
        for invoice in &invoices {
            let pdf = render_pdf(invoice, &Seller::default()).unwrap();
            assert!(pdf.starts_with(b"%PDF-"));
        }
    }

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
