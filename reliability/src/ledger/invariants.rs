//! The invariants the store must keep, one function each. Every function walks
//! [`Writes`] in the same order and records what it finds in [`Findings`].
//!
//! A write whose answer was lost (timeout, reset) may or may not have happened: no
//! invariant counts it either way.

use std::collections::{BTreeMap, BTreeSet};

use super::store::Stored;
use super::{At, Findings, StoreView, Writes};
use crate::outcome::{Outcome, Told};

/// Every acknowledged write is in the store: each create by its id and tag, each keyed
/// create by the id it was answered with, the last acknowledged patch of each invoice (or
/// a later one whose answer was lost), the number of each acknowledged finalize.
pub(super) fn acknowledged_present(writes: &Writes, stored: &Stored, found: &mut Findings) {
    for (i, &(create, tag)) in writes.creates.iter().enumerate() {
        if create.told() == Told::Acknowledged {
            found.report.acknowledged_checked += 1;
            if !stored.holds_create(create, tag) {
                found.missing(
                    At::Create(i),
                    format!(
                        "acknowledged {:?} {tag} (id {:?}) is not in the store",
                        create.op, create.created_id
                    ),
                );
            }
        }
    }
    for (k, (&(op, key), attempts)) in writes.keyed.iter().enumerate() {
        if let Some(id) = acknowledged_ids(attempts).first() {
            found.report.acknowledged_checked += 1;
            if !stored.created(op, key).iter().any(|s| s == id) {
                found.missing(
                    At::Key(k),
                    format!("key {key}: acknowledged id {id} is not in the store"),
                );
            }
        }
    }
    for (p, (target, patches)) in writes.patches.iter().enumerate() {
        let history = PatchHistory::of(patches);
        if history.last_acknowledged.is_some() {
            found.report.acknowledged_checked += 1;
        }
        let held = stored.patched(target);
        if !history.is_refused(held) && !history.allowed.contains(&held) {
            found.missing(
                At::Patch(p),
                format!(
                    "invoice {target}: holds {held:?}, the last acknowledged patch is {:?}",
                    history.last_acknowledged
                ),
            );
        }
    }
    for (f, (target, attempts)) in writes.finalizes.iter().enumerate() {
        let invoice = stored.invoice(target);
        for (a, attempt) in attempts.iter().enumerate() {
            if attempt.told() == Told::Acknowledged {
                found.report.acknowledged_checked += 1;
                let number = attempt.number.as_deref().unwrap_or_default();
                if invoice.and_then(|s| s.number.as_deref()) != Some(number) {
                    found.missing(
                        At::Finalize(f, a),
                        format!(
                            "invoice {target}: finalize acknowledged {number}, store has {:?}",
                            invoice.map(|s| s.number.clone())
                        ),
                    );
                }
            }
        }
    }
}

/// Nothing the client was told failed (4xx/5xx, or no connection) is in the store: no
/// failed create, no keyed create whose every attempt failed, no refused patch, and no
/// number for an invoice whose every finalize failed.
pub(super) fn failed_absent(writes: &Writes, stored: &Stored, found: &mut Findings) {
    for (i, &(create, tag)) in writes.creates.iter().enumerate() {
        if create.told() == Told::Failed {
            found.report.failed_checked += 1;
            if !stored.created(create.op, tag).is_empty() {
                found.failed_but_present(
                    At::Create(i),
                    format!(
                        "{:?} {tag} was answered {:?} {:?} but is in the store",
                        create.op, create.status, create.failure
                    ),
                );
            }
        }
    }
    for (k, (&(op, key), attempts)) in writes.keyed.iter().enumerate() {
        let all_failed = attempts.iter().all(|a| a.told() == Told::Failed);
        if acknowledged_ids(attempts).is_empty() && all_failed {
            found.report.failed_checked += 1;
            if !stored.created(op, key).is_empty() {
                let last = attempts.last();
                found.failed_but_present(
                    At::Key(k),
                    format!(
                        "key {key}: every attempt failed (last {:?} {:?}) but it is in the store",
                        last.and_then(|a| a.status),
                        last.and_then(|a| a.code.clone())
                    ),
                );
            }
        }
    }
    for (p, (target, patches)) in writes.patches.iter().enumerate() {
        let history = PatchHistory::of(patches);
        found.report.failed_checked += history.refused.len() as u64;
        let held = stored.patched(target);
        if history.is_refused(held) {
            found.failed_but_present(
                At::Patch(p),
                format!("invoice {target}: holds patch {held:?}, which was answered as failed"),
            );
        }
    }
    for (f, (target, attempts)) in writes.finalizes.iter().enumerate() {
        let invoice = stored.invoice(target);
        let acknowledged_once = attempts.iter().any(|a| a.is_success());
        for (a, attempt) in attempts.iter().enumerate() {
            if attempt.told() == Told::Failed {
                found.report.failed_checked += 1;
                if !acknowledged_once && invoice.is_some_and(|s| s.number.is_some()) {
                    found.failed_but_present(
                        At::Finalize(f, a),
                        format!(
                            "invoice {target}: finalize answered {:?} but it has a number",
                            attempt.status
                        ),
                    );
                }
            }
        }
    }
}

/// No create is in the store twice (per tag, and per `Idempotency-Key`, which must also
/// have been answered with one id), and no number was acknowledged for two invoices.
pub(super) fn no_duplicates(writes: &Writes, stored: &Stored, found: &mut Findings) {
    for (j, &(op, tag)) in writes.create_tags.iter().enumerate() {
        let ids = stored.created(op, tag);
        if ids.len() > 1 {
            found.duplicate(
                At::CreateTag(j),
                format!("{op:?} {tag} is in the store {} times", ids.len()),
            );
        }
    }
    for (k, (&(op, key), attempts)) in writes.keyed.iter().enumerate() {
        let ids = stored.created(op, key);
        let answered = acknowledged_ids(attempts);
        if ids.len() > 1 || answered.len() > 1 {
            found.duplicate(
                At::Key(k),
                format!(
                    "key {key}: {} in the store, answered with {} different ids",
                    ids.len(),
                    answered.len()
                ),
            );
        }
    }
    let mut numbers: BTreeMap<&str, &str> = BTreeMap::new();
    for (f, (target, attempts)) in writes.finalizes.iter().enumerate() {
        for (a, attempt) in attempts.iter().enumerate() {
            if attempt.told() == Told::Acknowledged {
                let number = attempt.number.as_deref().unwrap_or_default();
                if let Some(other) = numbers.insert(number, target) {
                    found.duplicate(
                        At::Finalize(f, a),
                        format!("number {number} was acknowledged for {other} and {target}"),
                    );
                }
            }
        }
    }
}

/// The store's invoice numbers are well-formed and run `INV-000001` up to the highest,
/// each exactly once.
pub(super) fn numbers_gapless(store: &StoreView, found: &mut Findings) {
    let mut sequences: Vec<i64> = Vec::new();
    for invoice in &store.invoices {
        if let Some(number) = &invoice.number {
            match number
                .strip_prefix("INV-")
                .and_then(|n| n.parse::<i64>().ok())
            {
                Some(n) => sequences.push(n),
                None => found.number_problems(
                    1,
                    format!("invoice {}: malformed number {number}", invoice.id),
                ),
            }
        }
    }
    sequences.sort_unstable();
    found.report.numbered = sequences.len() as u64;
    let mut expected = 1;
    for n in sequences {
        if n == expected {
            expected += 1;
        } else if n < expected {
            found.number_problems(1, format!("number INV-{n:06} is given twice"));
        } else {
            found.number_problems(
                u64::try_from(n - expected).unwrap_or(1),
                format!("numbers INV-{expected:06}..INV-{:06} are missing", n - 1),
            );
            expected = n + 1;
        }
    }
}

/// The ids a keyed create was answered with (more than one is a duplicate).
fn acknowledged_ids<'a>(attempts: &[&'a Outcome]) -> BTreeSet<&'a str> {
    attempts
        .iter()
        .filter(|a| a.is_success())
        .filter_map(|a| a.created_id.as_deref())
        .collect()
}

/// What the patches of one invoice, in the order they were sent, let it hold.
struct PatchHistory<'a> {
    /// The last acknowledged value (`None`: the state before any patch), and every later
    /// one whose answer was lost.
    allowed: Vec<Option<&'a str>>,
    /// Values answered as failed.
    refused: BTreeSet<&'a str>,
    last_acknowledged: Option<&'a str>,
}

impl<'a> PatchHistory<'a> {
    fn of(patches: &[&'a Outcome]) -> Self {
        let mut history = Self {
            allowed: vec![None],
            refused: BTreeSet::new(),
            last_acknowledged: None,
        };
        for patch in patches {
            let value = patch.value.as_deref();
            match patch.told() {
                Told::Acknowledged => {
                    history.allowed = vec![value];
                    history.last_acknowledged = value;
                }
                Told::Unknown => history.allowed.push(value),
                Told::Failed => {
                    if let Some(value) = value {
                        history.refused.insert(value);
                    }
                }
            }
        }
        history
    }

    /// Whether `held` is a value answered as failed.
    fn is_refused(&self, held: Option<&str>) -> bool {
        held.is_some_and(|s| self.refused.contains(s))
    }
}
