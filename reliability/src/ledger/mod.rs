//! The consistency check run after every fault: what the clients were told against what
//! the stores hold, and what the API reads back. One function per invariant:
//!
//! - every acknowledged write is present (creates by id and tag, the last acknowledged patch
//!   of each invoice, the number of each acknowledged finalize): `invariants::acknowledged_present`;
//! - nothing the client was told failed is present (a create answered 4xx/5xx or refused,
//!   a patch answered 4xx/5xx, a finalize answered 4xx/5xx): `invariants::failed_absent`;
//! - no create was made twice (per tag, and per `Idempotency-Key`), and no number was
//!   acknowledged for two invoices: `invariants::no_duplicates`;
//! - invoice numbers are unique and gapless, `INV-000001` up to the highest, each once:
//!   `invariants::numbers_gapless`;
//! - every invoice the run touched reads back (through the cache) as the store holds it:
//!   [`check_reads`];
//! - no event without its change, no change without its event: each record's events in the
//!   log are 1..=its version, each once: [`check_event_log`].
//!
//! This file collects what the clients were told ([`Ledger`], sorted by kind of write) and
//! what the check found ([`Consistency`]); `store` reads the stores.

mod events;
mod invariants;
mod reads;
mod store;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use self::store::Stored;
use crate::outcome::{Op, Outcome};
pub use events::{EventLog, check_event_log, read_event_log, read_records};
pub use reads::check_reads;
pub use store::{StoreView, StoredCustomer, StoredInvoice, read_store};

/// Problems listed per kind, at most this many each (the counts stay exact).
const LISTED: usize = 10;

/// Everything the clients were told so far, the setup included.
#[derive(Debug, Default)]
pub struct Ledger {
    outcomes: Vec<Outcome>,
}

impl Ledger {
    pub fn add(&mut self, outcomes: impl IntoIterator<Item = Outcome>) {
        self.outcomes.extend(outcomes);
        self.outcomes.sort_by_key(|o| (o.sent_ms, o.seq));
    }

    pub fn outcomes(&self) -> &[Outcome] {
        &self.outcomes
    }
}

/// What the check found.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Consistency {
    /// Acknowledged writes compared with the store.
    pub acknowledged_checked: u64,
    pub failed_checked: u64,
    pub missing: u64,
    pub failed_but_present: u64,
    pub duplicates: u64,
    /// Numbered invoices in the store, and how many numbers are missing or repeated.
    pub numbered: u64,
    pub number_problems: u64,
    /// Invoices read back through the API, and how many differ from the store.
    pub reads_checked: u64,
    pub reads_from_cache: u64,
    pub stale_reads: u64,
    /// Records and deleted objects whose events were compared with their versions, the
    /// events, and how many objects' events do not match their changes.
    pub event_objects_checked: u64,
    pub events_checked: u64,
    pub event_problems: u64,
    /// The first problems of each kind, to tell what went wrong.
    pub examples: Vec<String>,
}

impl Consistency {
    pub fn passed(&self) -> bool {
        self.missing == 0
            && self.failed_but_present == 0
            && self.duplicates == 0
            && self.number_problems == 0
            && self.stale_reads == 0
            && self.event_problems == 0
    }

    fn note(&mut self, problem: String) {
        if self.examples.len() < 4 * LISTED {
            self.examples.push(problem);
        }
    }

    /// One line for the table.
    pub fn summary(&self) -> String {
        format!(
            "{} acked / {} failed checked; missing {}, failed-present {}, dup {}, number gaps {} (of {}); stale reads {} of {}; {}",
            self.acknowledged_checked,
            self.failed_checked,
            self.missing,
            self.failed_but_present,
            self.duplicates,
            self.number_problems,
            self.numbered,
            self.stale_reads,
            self.reads_checked,
            self.events_summary()
        )
    }

    /// The event-log part of [`Consistency::summary`].
    pub fn events_summary(&self) -> String {
        format!(
            "events of {} objects ({} events): {} not matching their changes",
            self.event_objects_checked, self.events_checked, self.event_problems
        )
    }
}

/// Compares the ledger with the stores (no API reads: see [`check_reads`]).
pub fn check_store(ledger: &Ledger, store: &StoreView) -> Consistency {
    let writes = Writes::of(ledger);
    let stored = Stored::of(store);
    let mut found = Findings::default();
    // Duplicates first: where one write breaks two invariants, its duplicate is listed first.
    invariants::no_duplicates(&writes, &stored, &mut found);
    invariants::acknowledged_present(&writes, &stored, &mut found);
    invariants::failed_absent(&writes, &stored, &mut found);
    invariants::numbers_gapless(store, &mut found);
    found.into_report()
}

/// What the clients were told, by the kind of write the invariants look at.
struct Writes<'a> {
    /// Creates tagged `metadata.rk` (no key), with their tag, in the order they were sent.
    creates: Vec<(&'a Outcome, &'a str)>,
    /// Each kind and tag of those, once.
    create_tags: BTreeSet<(Op, &'a str)>,
    /// Every attempt of each create with an `Idempotency-Key`, by kind and key.
    keyed: BTreeMap<(Op, &'a str), Vec<&'a Outcome>>,
    /// Patches by invoice, in the order they were sent.
    patches: BTreeMap<&'a str, Vec<&'a Outcome>>,
    /// Finalizes by invoice, in the order they were sent.
    finalizes: BTreeMap<&'a str, Vec<&'a Outcome>>,
}

impl<'a> Writes<'a> {
    fn of(ledger: &'a Ledger) -> Self {
        let mut writes = Self {
            creates: Vec::new(),
            create_tags: BTreeSet::new(),
            keyed: BTreeMap::new(),
            patches: BTreeMap::new(),
            finalizes: BTreeMap::new(),
        };
        for outcome in ledger.outcomes() {
            let target = outcome.target.as_deref();
            // A finalize writes no tag of its own; every other write carries one.
            let Some(value) = outcome.value.as_deref() else {
                if let (Op::Finalize, Some(target)) = (outcome.op, target) {
                    writes.finalizes.entry(target).or_default().push(outcome);
                }
                continue;
            };
            match outcome.op {
                Op::Patch => {
                    if let Some(target) = target {
                        writes.patches.entry(target).or_default().push(outcome);
                    }
                }
                Op::CreateInvoice | Op::CreateCustomer => {
                    writes.create_tags.insert((outcome.op, value));
                    writes.creates.push((outcome, value));
                }
                Op::IdempotentInvoice | Op::IdempotentCustomer => {
                    writes
                        .keyed
                        .entry((outcome.op, value))
                        .or_default()
                        .push(outcome);
                }
                Op::Finalize | Op::ReadInvoice | Op::ReadCustomer | Op::ListInvoices => {}
            }
        }
        writes
    }
}

/// Where a problem was found, in the order [`Writes`] lists the writes: the examples read
/// in that order whichever invariant found them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum At {
    /// The n-th of `creates`.
    Create(usize),
    /// The n-th of `create_tags`.
    CreateTag(usize),
    /// The n-th key of `keyed`.
    Key(usize),
    /// The n-th invoice of `patches`.
    Patch(usize),
    /// The invoice of `finalizes`, and the attempt.
    Finalize(usize, usize),
    /// The numbers of the store.
    Numbers,
}

/// The counts so far, and each problem with where it was found.
#[derive(Default)]
struct Findings {
    report: Consistency,
    problems: Vec<(At, String)>,
}

impl Findings {
    fn missing(&mut self, at: At, problem: String) {
        self.report.missing += 1;
        self.problems.push((at, problem));
    }

    fn failed_but_present(&mut self, at: At, problem: String) {
        self.report.failed_but_present += 1;
        self.problems.push((at, problem));
    }

    fn duplicate(&mut self, at: At, problem: String) {
        self.report.duplicates += 1;
        self.problems.push((at, problem));
    }

    fn number_problems(&mut self, count: u64, problem: String) {
        self.report.number_problems += count;
        self.problems.push((At::Numbers, problem));
    }

    fn into_report(mut self) -> Consistency {
        // A stable sort: problems found at one place keep the order they were found in.
        self.problems.sort_by_key(|(at, _)| *at);
        for (_, problem) in self.problems {
            self.report.note(problem);
        }
        self.report
    }
}
