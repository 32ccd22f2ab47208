//! What an invoice document shows, as text: the one source of both the PDF and the hosted
//! page, so the two can never disagree.

use chrono::{DateTime, NaiveDate, Utc};

use super::Seller;
use crate::domain::{Invoice, Status, format_money};

/// An invoice ready to be laid out.
pub struct View<'a> {
    pub seller: &'a Seller,
    /// `INV-000001`, or `Draft` before finalize.
    pub number: String,
    pub status: &'static str,
    pub draft: bool,
    pub currency: &'a str,
    /// `("Issued", "2 March 2025")` (`Created` for a draft), `("Due", …)`, `("Paid", …)`, …
    pub dates: Vec<(&'static str, String)>,
    pub customer_name: &'a str,
    pub customer_email: &'a str,
    pub lines: Vec<Line<'a>>,
    pub totals: Vec<Total>,
}

pub struct Line<'a> {
    pub description: &'a str,
    pub quantity: String,
    pub unit_amount: String,
    pub amount: String,
}

pub struct Total {
    pub label: String,
    pub amount: String,
    /// The total and the amount due stand out.
    pub strong: bool,
}

impl<'a> View<'a> {
    pub fn of(invoice: &'a Invoice, seller: &'a Seller) -> Self {
        let money = |minor| format_money(minor, &invoice.currency);
        let mut dates = vec![match invoice.finalized_at {
            Some(finalized) => ("Issued", long_date(finalized)),
            None => ("Created", long_date(invoice.created_at)),
        }];
        if let Some(due) = invoice.due_date {
            dates.push(("Due", day(due)));
        }
        if let Some(paid) = invoice.paid_at {
            dates.push(("Paid", long_date(paid)));
        }
        if let Some(voided) = invoice.voided_at {
            dates.push(("Voided", long_date(voided)));
        }
        let lines = invoice
            .items
            .iter()
            .map(|item| Line {
                description: &item.description,
                quantity: item.quantity.to_string(),
                unit_amount: money(item.unit_amount),
                amount: money(item.amount),
            })
            .collect();
        let totals = vec![
            Total::new("Subtotal", money(invoice.subtotal), false),
            Total::new(
                &format!("Tax ({})", percent(invoice.tax_rate_bps)),
                money(invoice.tax),
                false,
            ),
            Total::new("Total", money(invoice.total), true),
            Total::new("Amount paid", money(invoice.amount_paid), false),
            Total::new("Amount due", money(invoice.amount_due), true),
        ];
        Self {
            seller,
            number: invoice.number.clone().unwrap_or_else(|| "Draft".to_owned()),
            status: status_label(invoice.status),
            draft: invoice.status == Status::Draft,
            currency: invoice.currency.as_str(),
            dates,
            customer_name: &invoice.customer_name,
            customer_email: &invoice.customer_email,
            lines,
            totals,
        }
    }

    /// `Invoice INV-000001`, or `Draft invoice`.
    pub fn title(&self) -> String {
        if self.draft {
            "Draft invoice".to_owned()
        } else {
            format!("Invoice {}", self.number)
        }
    }
}

impl Total {
    fn new(label: &str, amount: String, strong: bool) -> Self {
        Self {
            label: label.to_owned(),
            amount,
            strong,
        }
    }
}

pub fn status_label(status: Status) -> &'static str {
    match status {
        Status::Draft => "Draft",
        Status::Open => "Open",
        Status::Paid => "Paid",
        Status::Void => "Void",
        Status::Uncollectible => "Uncollectible",
    }
}

fn long_date(at: DateTime<Utc>) -> String {
    day(at.date_naive())
}

fn day(date: NaiveDate) -> String {
    date.format("%-d %B %Y").to_string()
}

/// Basis points as a percentage without trailing zeros: 850 → `8.5%`, 2000 → `20%`.
fn percent(bps: u32) -> String {
    let (whole, fraction) = (bps / 100, bps % 100);
    match fraction {
        0 => format!("{whole}%"),
        f if f % 10 == 0 => format!("{whole}.{}%", f / 10),
        f => format!("{whole}.{f:02}%"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tax_rates_read_as_percentages() {
        assert_eq!(percent(0), "0%");
        assert_eq!(percent(850), "8.5%");
        assert_eq!(percent(2_000), "20%");
        assert_eq!(percent(1), "0.01%");
        assert_eq!(percent(10_000), "100%");
    }

    #[test]
    fn dates_are_written_out() {
        let date = NaiveDate::from_ymd_opt(2025, 3, 2).unwrap();
        assert_eq!(day(date), "2 March 2025");
    }
}
