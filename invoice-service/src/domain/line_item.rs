use serde::{Deserialize, Serialize};
use service_kit::FieldError;

pub const MAX_ITEMS: usize = 100;
pub const MAX_DESCRIPTION_CHARS: usize = 500;
pub const MAX_QUANTITY: u32 = 1_000_000;
pub const MAX_UNIT_AMOUNT: i64 = 10_000_000_000;

/// One line of an invoice. `amount` = `quantity` × `unit_amount`, in minor units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineItem {
    pub description: String,
    pub quantity: u32,
    pub unit_amount: i64,
    pub amount: i64,
}

/// A line item as given.
#[derive(Debug, Clone)]
pub struct LineItemFields {
    pub description: String,
    pub quantity: i64,
    pub unit_amount: i64,
}

/// The line items, or the fields at fault added to `errors`.
pub(super) fn parse_items(raw: &[LineItemFields], errors: &mut Vec<FieldError>) -> Vec<LineItem> {
    if raw.is_empty() || raw.len() > MAX_ITEMS {
        errors.push(FieldError::new("items", "must hold 1 to 100 line items"));
        return Vec::new();
    }
    let mut items = Vec::with_capacity(raw.len());
    for (i, item) in raw.iter().enumerate() {
        let chars = item.description.chars().count();
        if item.description.trim().is_empty() || chars > MAX_DESCRIPTION_CHARS {
            errors.push(FieldError::new(
                format!("items[{i}].description"),
                "must be 1 to 500 characters",
            ));
        }
        let quantity = u32::try_from(item.quantity)
            .ok()
            .filter(|q| (1..=MAX_QUANTITY).contains(q));
        if quantity.is_none() {
            errors.push(FieldError::new(
                format!("items[{i}].quantity"),
                "must be an integer from 1 to 1000000",
            ));
        }
        if !(0..=MAX_UNIT_AMOUNT).contains(&item.unit_amount) {
            errors.push(FieldError::new(
                format!("items[{i}].unit_amount"),
                "must be an integer amount in minor units from 0 to 10000000000",
            ));
        }
        if let Some(quantity) = quantity {
            // Both factors are bounded above, so the product fits.
            let amount = i64::from(quantity).saturating_mul(item.unit_amount);
            items.push(LineItem {
                description: item.description.clone(),
                quantity,
                unit_amount: item.unit_amount,
                amount,
            });
        }
    }
    items
}
