//! What the benchmark measures: every case, in the order it runs, and the ratios it reports.

use bytes::Bytes;
use hyper::Method;
use hyper::header::HeaderMap;

use crate::reference;

/// Sample data both services load with `SEED_SAMPLE_DATA=true`: customers
/// `65f0000000000000000000NN` and invoices `66f0000000000000000000NN`, NN = 01..0c.
pub const SAMPLE_COUNT: usize = 12;

pub fn sample_customer_id(n: usize) -> String {
    format!("65f{:021x}", n + 1)
}

pub fn sample_invoice_id(n: usize) -> String {
    format!("66f{:021x}", n + 1)
}

/// Whose route a case loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    CustomerService,
    InvoiceService,
    Reference,
}

/// One route under load.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: &'static str,
    pub label: &'static str,
    pub server: Server,
    pub method: Method,
    pub urls: Vec<String>,
    pub bodies: Vec<Bytes>,
    /// Each body may be sent only once (it creates something unique).
    pub unique_bodies: bool,
    /// Each URL should be asked only once (its first answer is what is measured).
    pub unique_urls: bool,
}

/// A service case read as a fraction of a reference case.
#[derive(Debug, Clone, Copy)]
pub struct Ratio {
    pub case: &'static str,
    pub reference: &'static str,
    /// The least the ratio must be, when it is a target (`None`: reported only).
    pub target: Option<f64>,
}

pub const RATIOS: &[Ratio] = &[
    Ratio {
        case: "invoice_cache_hit",
        reference: "reference_redis_get",
        target: Some(0.8),
    },
    Ratio {
        case: "customer_read",
        reference: "reference_mongo_find_one",
        target: Some(0.9),
    },
    Ratio {
        case: "customer_create",
        reference: "reference_mongo_insert_one",
        target: Some(0.9),
    },
    Ratio {
        case: "invoice_create",
        reference: "reference_mongo_find_insert",
        target: Some(0.85),
    },
    Ratio {
        case: "invoice_create",
        reference: "reference_mongo_insert_one",
        target: None,
    },
    Ratio {
        case: "invoice_cache_hit",
        reference: "reference_static",
        target: None,
    },
    Ratio {
        case: "invoice_pdf_cached",
        reference: "invoice_cache_hit",
        target: None,
    },
];

/// The base URLs of the three servers.
#[derive(Debug, Clone)]
pub struct Servers {
    pub customer: String,
    pub invoice: String,
    pub reference: String,
    /// `Authorization` for the services' API key; empty when they run open.
    pub auth: HeaderMap,
}

/// Every case, in the order it runs: reads before writes (writes grow the collections the
/// reads search), each reference next to the service case it is compared with, and the
/// documents last (their large answers would raise the memory peaks of the cases after them).
/// `customer_bodies`: unique `POST /customers` bodies (each email once), also sent to the
/// reference insert. `cold_pdfs`: PDF URLs of invoices nobody has asked a document of yet.
pub fn all(servers: &Servers, customer_bodies: &[Bytes], cold_pdfs: &[String]) -> Vec<Case> {
    let customer = servers.customer.trim_end_matches('/');
    let invoice = servers.invoice.trim_end_matches('/');
    let reference = servers.reference.trim_end_matches('/');
    let each_sample = |f: &dyn Fn(usize) -> String| (0..SAMPLE_COUNT).map(f).collect::<Vec<_>>();
    let invoice_bodies = (0..SAMPLE_COUNT).map(|n| invoice_body(&sample_customer_id(n)));
    let reference_invoice_bodies =
        (0..reference::MONGO_IDS).map(|n| invoice_body(&reference::mongo_id(n)));
    vec![
        Case::get(
            "reference_static",
            "ref: static cache-hit bytes",
            Server::Reference,
            vec![format!("{reference}/static")],
        ),
        Case::get(
            "reference_redis_get",
            "ref: one Redis GET",
            Server::Reference,
            (0..reference::REDIS_KEYS)
                .map(|n| format!("{reference}/redis/{}", reference::redis_key(n)))
                .collect(),
        ),
        Case::get(
            "invoice_cache_hit",
            "GET /invoices/{id} (cache hit)",
            Server::InvoiceService,
            each_sample(&|n| format!("{invoice}/invoices/{}", sample_invoice_id(n))),
        ),
        Case::get(
            "reference_mongo_find_one",
            "ref: one MongoDB find_one",
            Server::Reference,
            (0..reference::MONGO_IDS)
                .map(|n| format!("{reference}/mongo/{}", reference::mongo_id(n)))
                .collect(),
        ),
        Case::get(
            "customer_read",
            "GET /customers/{id}",
            Server::CustomerService,
            each_sample(&|n| format!("{customer}/customers/{}", sample_customer_id(n))),
        ),
        Case::get(
            "invoice_list",
            "GET /invoices?customer_id=",
            Server::InvoiceService,
            each_sample(&|n| format!("{invoice}/invoices?customer_id={}", sample_customer_id(n))),
        ),
        Case::post(
            "reference_mongo_insert_one",
            "ref: one MongoDB insert_one",
            Server::Reference,
            format!("{reference}/mongo"),
            Bodies::Unique(customer_bodies.to_vec()),
        ),
        Case::post(
            "customer_create",
            "POST /customers",
            Server::CustomerService,
            format!("{customer}/customers"),
            Bodies::Unique(customer_bodies.to_vec()),
        ),
        Case::post(
            "reference_mongo_find_insert",
            "ref: MongoDB find_one + insert_one",
            Server::Reference,
            format!("{reference}/mongo/invoice"),
            Bodies::Reusable(reference_invoice_bodies.collect()),
        ),
        Case::post(
            "invoice_create",
            "POST /invoices",
            Server::InvoiceService,
            format!("{invoice}/invoices"),
            Bodies::Reusable(invoice_bodies.collect()),
        ),
        Case::get(
            "invoice_pdf_cached",
            "GET /invoices/{id}/pdf (cached document)",
            Server::InvoiceService,
            each_sample(&|n| format!("{invoice}/invoices/{}/pdf", sample_invoice_id(n))),
        ),
        Case {
            unique_urls: true,
            ..Case::get(
                "invoice_pdf_cold",
                "GET /invoices/{id}/pdf (cold render)",
                Server::InvoiceService,
                cold_pdfs.to_vec(),
            )
        },
    ]
}

/// The bodies of a `POST` case.
enum Bodies {
    /// Each may be sent only once (it creates something unique).
    Unique(Vec<Bytes>),
    /// Sent in turn, as often as the load needs.
    Reusable(Vec<Bytes>),
}

impl Case {
    /// `GET` of `urls`, in turn.
    fn get(name: &'static str, label: &'static str, server: Server, urls: Vec<String>) -> Self {
        Self {
            name,
            label,
            server,
            method: Method::GET,
            urls,
            bodies: Vec::new(),
            unique_bodies: false,
            unique_urls: false,
        }
    }

    /// `POST` of `bodies` to `url`.
    fn post(
        name: &'static str,
        label: &'static str,
        server: Server,
        url: String,
        bodies: Bodies,
    ) -> Self {
        let (bodies, unique_bodies) = match bodies {
            Bodies::Unique(bodies) => (bodies, true),
            Bodies::Reusable(bodies) => (bodies, false),
        };
        Self {
            name,
            label,
            server,
            method: Method::POST,
            urls: vec![url],
            bodies,
            unique_bodies,
            unique_urls: false,
        }
    }
}

/// A `POST /invoices` body for the customer `customer_id`.
pub fn invoice_body(customer_id: &str) -> Bytes {
    Bytes::from(format!(
        r#"{{"customer_id":"{customer_id}","currency":"USD","items":[{{"description":"Benchmark subscription","quantity":2,"unit_amount":1500}},{{"description":"Benchmark support","quantity":1,"unit_amount":9900}}],"tax_rate_bps":825,"due_date":"2030-01-31","metadata":{{"source":"bench"}}}}"#
    ))
}

/// `count` customer bodies whose emails no other body of this run (tagged `run`) uses.
pub fn customer_bodies(run: &str, count: usize) -> Vec<Bytes> {
    (0..count)
        .map(|n| {
            Bytes::from(format!(
                r#"{{"name":"Bench Customer {n}","email":"bench-{run}-{n}@example.com","phone":"+1 415 555 0100","address":{{"line1":"500 Market Street","city":"San Francisco","state":"CA","postal_code":"94105","country":"US"}},"metadata":{{"source":"bench"}}}}"#
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_ids_are_the_seeded_ones() {
        assert_eq!(sample_customer_id(0), "65f000000000000000000001");
        assert_eq!(sample_invoice_id(11), "66f00000000000000000000c");
    }

    #[test]
    fn every_ratio_names_two_cases() {
        let servers = Servers {
            customer: "http://127.0.0.1:1".into(),
            invoice: "http://127.0.0.1:2".into(),
            reference: "http://127.0.0.1:3".into(),
            auth: HeaderMap::new(),
        };
        let cases = all(&servers, &customer_bodies("t", 2), &[]);
        for ratio in RATIOS {
            assert!(cases.iter().any(|c| c.name == ratio.case), "{}", ratio.case);
            assert!(
                cases.iter().any(|c| c.name == ratio.reference),
                "{}",
                ratio.reference
            );
        }
    }

    #[test]
    fn bodies_are_json_with_unique_emails() {
        let bodies = customer_bodies("run1", 3);
        let emails: Vec<String> = bodies
            .iter()
            .map(|b| {
                let v: serde_json::Value = serde_json::from_slice(b).unwrap();
                v["email"].as_str().unwrap().to_owned()
            })
            .collect();
        assert_eq!(emails.len(), 3);
        assert_ne!(emails[0], emails[1]);
        assert_ne!(emails[1], emails[2]);
    }
}
