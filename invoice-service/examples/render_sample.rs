//! Writes the PDF of every sample invoice to a folder, to look at (a logo optional):
//! `cargo run -p invoice-service --example render_sample -- /tmp/invoices [logo.png]`.

use invoice_service::documents::{Logo, Seller, render_pdf};
use invoice_service::domain::Invoice;

fn main() -> anyhow::Result<()> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "invoice-pdfs".to_owned());
    std::fs::create_dir_all(&out)?;
    let seller = Seller {
        name: "Northwind Billing GmbH".into(),
        address: vec!["Hauptstraße 5".into(), "10115 Berlin, Germany".into()],
        tax_id: Some("DE123456789".into()),
        footer: Some("Thank you for your business. Payment within 30 days.".into()),
        logo: match std::env::args().nth(2) {
            Some(path) => Some(Logo::parse(std::fs::read(path)?).map_err(anyhow::Error::msg)?),
            None => None,
        },
    };
    let invoices: Vec<Invoice> = service_kit::seed::parse(invoice_service::seed::SAMPLE)?;
    for invoice in &invoices {
        let path = format!("{out}/{}.pdf", invoice.id.to_hex());
        std::fs::write(&path, render_pdf(invoice, &seller)?)?;
        println!("{path}");
    }
    Ok(())
}
