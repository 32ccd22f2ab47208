//! The mix of tracked requests, and the repeatable choice of which kind each slot sends.

use serde::{Deserialize, Serialize};

use crate::outcome::Op;

/// Relative weights of each kind of tracked request.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Mix {
    #[serde(default)]
    pub patch: u32,
    #[serde(default)]
    pub create_invoice: u32,
    #[serde(default)]
    pub finalize: u32,
    #[serde(default)]
    pub create_customer: u32,
    #[serde(default)]
    pub read_invoice: u32,
    #[serde(default)]
    pub read_customer: u32,
    #[serde(default)]
    pub list_invoices: u32,
}

impl Mix {
    /// One entry per unit of weight.
    pub(super) fn table(&self) -> Vec<Op> {
        let mut table = Vec::new();
        for (op, weight) in [
            (Op::Patch, self.patch),
            (Op::CreateInvoice, self.create_invoice),
            (Op::Finalize, self.finalize),
            (Op::CreateCustomer, self.create_customer),
            (Op::ReadInvoice, self.read_invoice),
            (Op::ReadCustomer, self.read_customer),
            (Op::ListInvoices, self.list_invoices),
        ] {
            table.extend(std::iter::repeat_n(op, weight as usize));
        }
        table
    }
}

/// A well-spread, repeatable choice for slot `seq` (splitmix64).
pub(super) fn spread(seq: u64) -> u64 {
    let mut z = seq.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub(super) fn pick<T>(items: &[T], seq: u64) -> Option<&T> {
    if items.is_empty() {
        return None;
    }
    let index = usize::try_from(seq % items.len() as u64).unwrap_or(0);
    items.get(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_table_has_one_entry_per_unit_of_weight() {
        let mix = Mix {
            patch: 3,
            create_invoice: 1,
            ..Mix::default()
        };
        let table = mix.table();
        assert_eq!(table.len(), 4);
        assert_eq!(table.iter().filter(|&&op| op == Op::Patch).count(), 3);
    }

    #[test]
    fn spread_slots_cover_the_mix_evenly() {
        let mut counts = [0u32; 10];
        for seq in 0..10_000 {
            counts[usize::try_from(spread(seq) % 10).unwrap()] += 1;
        }
        assert!(
            counts.iter().all(|&c| (900..1100).contains(&c)),
            "{counts:?}"
        );
    }
}
