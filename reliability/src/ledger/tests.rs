use super::*;
use crate::outcome::Failure;

fn told(op: Op, target: Option<&str>, value: &str, status: Option<u16>) -> Outcome {
    Outcome {
        target: target.map(str::to_owned),
        value: Some(value.to_owned()),
        latency_ms: 1.0,
        corrected_ms: 1.0,
        status,
        failure: status.is_none().then_some(Failure::Timeout),
        ..Outcome::sent(op, 0, 0, 0)
    }
}

/// A create of `op` tagged `value`, answered 201 with `id`.
fn created(op: Op, value: &str, id: &str) -> Outcome {
    Outcome {
        created_id: Some(id.to_owned()),
        ..told(op, None, value, Some(201))
    }
}

fn invoice(id: &str, tags: &[(&str, &str)], number: Option<&str>) -> StoredInvoice {
    StoredInvoice {
        id: id.to_owned(),
        number: number.map(str::to_owned),
        status: if number.is_some() { "open" } else { "draft" }.to_owned(),
        metadata: tags
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        updated_ms: 0,
    }
}

/// A store of these invoices and no customer.
fn holding(invoices: Vec<StoredInvoice>) -> StoreView {
    StoreView {
        invoices,
        ..StoreView::default()
    }
}

fn ledger(outcomes: Vec<Outcome>) -> Ledger {
    let mut ledger = Ledger::default();
    for (seq, mut outcome) in outcomes.into_iter().enumerate() {
        outcome.sent_ms = seq as u64;
        ledger.add([outcome]);
    }
    ledger
}

#[test]
fn the_last_acknowledged_patch_must_be_what_the_store_holds() {
    let writes = vec![
        told(Op::Patch, Some("a"), "w1", Some(200)),
        told(Op::Patch, Some("a"), "w2", Some(200)),
        told(Op::Patch, Some("a"), "w3", Some(409)),
    ];
    let good = holding(vec![invoice("a", &[("rw", "w2")], None)]);
    assert!(check_store(&ledger(writes.clone()), &good).passed());
    let lost = holding(vec![invoice("a", &[("rw", "w1")], None)]);
    assert_eq!(check_store(&ledger(writes.clone()), &lost).missing, 1);
    let failed_present = holding(vec![invoice("a", &[("rw", "w3")], None)]);
    assert_eq!(
        check_store(&ledger(writes), &failed_present).failed_but_present,
        1
    );
}

#[test]
fn a_patch_without_an_answer_may_or_may_not_be_there() {
    let writes = vec![
        told(Op::Patch, Some("a"), "w1", Some(200)),
        told(Op::Patch, Some("a"), "w2", None),
    ];
    for held in ["w1", "w2"] {
        let store = holding(vec![invoice("a", &[("rw", held)], None)]);
        assert!(check_store(&ledger(writes.clone()), &store).passed());
    }
}

#[test]
fn creates_must_be_there_once_if_acknowledged_and_absent_if_failed() {
    let refused = told(Op::CreateInvoice, None, "c2", Some(422));
    let outcomes = vec![created(Op::CreateInvoice, "c1", "x"), refused];
    let good = holding(vec![invoice("x", &[("rk", "c1")], None)]);
    assert!(check_store(&ledger(outcomes.clone()), &good).passed());
    let bad = holding(vec![
        invoice("y", &[("rk", "c1")], None),
        invoice("z", &[("rk", "c2")], None),
        invoice("w", &[("rk", "c2")], None),
    ]);
    let report = check_store(&ledger(outcomes), &bad);
    assert_eq!(report.missing, 1);
    assert_eq!(report.failed_but_present, 1);
    assert_eq!(report.duplicates, 1);
}

#[test]
fn a_key_retried_until_acknowledged_is_created_once() {
    let first = told(Op::IdempotentInvoice, None, "k1", Some(503));
    let outcomes = vec![first, created(Op::IdempotentInvoice, "k1", "x")];
    let once = holding(vec![invoice("x", &[("ik", "k1")], None)]);
    assert!(check_store(&ledger(outcomes.clone()), &once).passed());
    let twice = holding(vec![
        invoice("x", &[("ik", "k1")], None),
        invoice("y", &[("ik", "k1")], None),
    ]);
    assert_eq!(check_store(&ledger(outcomes), &twice).duplicates, 1);
}

#[test]
fn numbers_must_run_from_one_without_gaps_or_repeats() {
    let store = |numbers: &[&str]| {
        holding(
            numbers
                .iter()
                .enumerate()
                .map(|(i, n)| invoice(&i.to_string(), &[], Some(n)))
                .collect(),
        )
    };
    let empty = Ledger::default();
    assert!(check_store(&empty, &store(&["INV-000002", "INV-000001"])).passed());
    assert_eq!(
        check_store(&empty, &store(&["INV-000001", "INV-000003"])).number_problems,
        1
    );
    assert_eq!(
        check_store(&empty, &store(&["INV-000001", "INV-000001"])).number_problems,
        1
    );
}

#[test]
fn an_acknowledged_finalize_must_keep_its_number() {
    let mut finalized = told(Op::Finalize, Some("a"), "", Some(200));
    finalized.value = None;
    finalized.number = Some("INV-000001".into());
    let good = holding(vec![invoice("a", &[], Some("INV-000001"))]);
    assert!(check_store(&ledger(vec![finalized.clone()]), &good).passed());
    let bad = holding(vec![invoice("a", &[], None)]);
    assert_eq!(check_store(&ledger(vec![finalized]), &bad).missing, 1);
}

#[test]
fn examples_follow_the_ledger_whichever_invariant_found_them() {
    let outcomes = vec![
        created(Op::IdempotentInvoice, "k1", "x"),
        created(Op::IdempotentInvoice, "k1", "z"),
        created(Op::CreateInvoice, "c1", "x"),
    ];
    let store = holding(vec![invoice("y", &[("ik", "k1")], None)]);
    let report = check_store(&ledger(outcomes), &store);
    assert_eq!(
        report.examples,
        [
            "acknowledged CreateInvoice c1 (id Some(\"x\")) is not in the store",
            "key k1: 1 in the store, answered with 2 different ids",
            "key k1: acknowledged id x is not in the store",
        ]
    );
}

#[test]
fn a_503_may_or_may_not_be_there_but_a_refusal_is_not() {
    let writes = vec![
        told(Op::Patch, Some("a"), "w1", Some(200)),
        told(Op::Patch, Some("a"), "w2", Some(503)),
    ];
    for held in ["w1", "w2"] {
        let store = holding(vec![invoice("a", &[("rw", held)], None)]);
        assert!(
            check_store(&ledger(writes.clone()), &store).passed(),
            "{held}"
        );
    }
    let refused = vec![
        told(Op::Patch, Some("a"), "w1", Some(200)),
        told(Op::Patch, Some("a"), "w2", Some(422)),
    ];
    let store = holding(vec![invoice("a", &[("rw", "w2")], None)]);
    assert_eq!(check_store(&ledger(refused), &store).failed_but_present, 1);
}
