//! The use cases of invoice-service: every read and every change of an invoice happens
//! here. A change is a version-checked write, with its event, retried when another write
//! came first; once stored, the new state is published to the cache before anyone is
//! answered, so no later read sees the old one.

use std::sync::Arc;

use axum::body::Bytes;
use bson::oid::ObjectId;
use service_kit::conditional::Precondition;
use service_kit::events::{Event, Events, Origin};
use service_kit::store::{Attempt, insert_once, retry_lost_races};
use service_kit::{Page, StoreError};

use crate::cache::{Entry, Found, InvoiceCache, ReadThrough, Ttl};
use crate::customers::CustomerDirectory;
use crate::documents::{Answer, Documents};
use crate::domain::{Invoice, InvoiceChanges, InvoiceError, NewInvoice, Transition};
use crate::error::AppError;
pub use crate::store::InvoiceQuery;
use crate::store::{CREATED, EventOf, InvoiceStore};

/// Every event type invoice-service emits.
pub const EVENT_TYPES: &[&str] = &[
    CREATED,
    UPDATED,
    DELETED,
    "invoice.finalized",
    "invoice.paid",
    "invoice.voided",
    "invoice.marked_uncollectible",
];
const UPDATED: &str = "invoice.updated";
pub(crate) const DELETED: &str = "invoice.deleted";

/// The event type of a transition.
fn transitioned(transition: Transition) -> &'static str {
    match transition {
        Transition::Finalize => "invoice.finalized",
        Transition::Pay => "invoice.paid",
        Transition::Void => "invoice.voided",
        Transition::MarkUncollectible => "invoice.marked_uncollectible",
    }
}

/// An invoice as stored, and its JSON exactly as the cache holds and the API returns it.
pub struct Stored {
    pub invoice: Invoice,
    pub json: Bytes,
}

#[derive(Clone)]
pub struct Invoices {
    store: Arc<dyn InvoiceStore>,
    store_name: &'static str,
    cache: Arc<InvoiceCache>,
    reads: Arc<ReadThrough>,
    customers: Arc<CustomerDirectory>,
    documents: Arc<Documents>,
    ttl: Ttl,
    events: Events,
}

/// Which document of an invoice: its hosted page or its PDF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    Page,
    Pdf,
}

impl Invoices {
    /// The use cases on `store` (whose name `/ready` and 503s give), read through `reads`.
    pub fn new(
        (store, store_name): (Arc<dyn InvoiceStore>, &'static str),
        cache: Arc<InvoiceCache>,
        reads: Arc<ReadThrough>,
        customers: Arc<CustomerDirectory>,
        documents: Arc<Documents>,
        (ttl, events): (Ttl, Events),
    ) -> Self {
        Self {
            store,
            store_name,
            cache,
            reads,
            customers,
            documents,
            ttl,
            events,
        }
    }

    pub fn events(&self) -> &Events {
        &self.events
    }

    /// Whether the store answers, and the cache.
    pub async fn ping(&self) -> (Result<(), StoreError>, bool) {
        tokio::join!(self.store.ping(), self.cache.ping())
    }

    /// The names of the store and the cache, as `/ready` gives them.
    pub fn dependency_names(&self) -> (&'static str, &'static str) {
        (self.store_name, self.cache.name())
    }

    pub fn reads(&self) -> &ReadThrough {
        &self.reads
    }

    /// Creates a draft for the customer as customer-service knows it now. `reserved_id` is
    /// the id an `Idempotency-Key` reserved: a retry whose first attempt got as far as
    /// storing it answers with that invoice.
    pub async fn create(
        &self,
        new: NewInvoice,
        reserved_id: Option<ObjectId>,
        origin: &Origin,
    ) -> Result<Stored, AppError> {
        let request_id = origin.request_id.as_deref();
        let customer = self.customers.lookup(new.customer_id(), request_id).await?;
        let invoice = new.into_draft(customer, reserved_id, service_kit::time::now());
        let id = invoice.id;
        let event = Event::new(CREATED, origin, id, invoice.version, &invoice, None)?;
        let stored = insert_once(
            reserved_id.is_some(),
            || self.store.insert(&invoice, &event),
            || self.store.get(id),
        )
        .await?;
        self.events.written();
        let invoice = stored.unwrap_or(invoice);
        let json = to_json(&invoice)?;
        Ok(Stored { invoice, json })
    }

    /// The invoice's JSON through the cache; `None` when there is no such invoice.
    pub async fn read(&self, id: ObjectId) -> Result<Option<Found>, AppError> {
        Ok(self.reads.read(id).await?)
    }

    /// The invoice's PDF, drawn from its current state (read through the cache, so never
    /// an older one); only its tag when `held` says the asker has that version.
    pub async fn pdf(&self, id: ObjectId, held: impl Fn(&str) -> bool) -> Result<Answer, AppError> {
        let found = self.read(id).await?.ok_or(AppError::NotFound)?;
        Ok(self.documents.pdf(id, &found.invoice, held).await?)
    }

    /// The customer's page or PDF behind a hosted link; `None` unless `token` is the
    /// invoice's own, so a wrong link learns nothing, not even whether the invoice exists.
    pub async fn hosted(
        &self,
        id: ObjectId,
        token: &str,
        document: DocumentKind,
        held: impl Fn(&str) -> bool,
    ) -> Result<Option<Answer>, AppError> {
        // Only a well-formed token is worth a read of the invoice.
        if !crate::documents::is_hosted_token(token) {
            return Ok(None);
        }
        let Some(found) = self.read(id).await? else {
            return Ok(None);
        };
        let invoice = crate::documents::parse(&found.invoice)?;
        let Some(expected) = invoice.hosted_token() else {
            return Ok(None);
        };
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            expected.as_bytes(),
            token.as_bytes(),
        )) {
            return Ok(None);
        }
        Ok(Some(match document {
            DocumentKind::Pdf => self.documents.pdf(id, &found.invoice, held).await?,
            DocumentKind::Page => {
                self.documents
                    .page(&invoice, &found.invoice, &format!("{token}/pdf"), held)?
            }
        }))
    }

    /// One page of invoices, in id order.
    pub async fn list(&self, query: InvoiceQuery) -> Result<Page<Invoice>, AppError> {
        let invoices = self.store.list(&query).await?;
        Ok(Page::from_overfetch(invoices, query.limit, |i| i.id))
    }

    /// Edits a draft at a version `precondition` admits.
    pub async fn edit(
        &self,
        id: ObjectId,
        changes: &InvoiceChanges,
        precondition: &Precondition,
        origin: &Origin,
    ) -> Result<Stored, AppError> {
        self.write(
            (id, precondition),
            |current| current.edited(changes),
            (UPDATED, origin),
            false,
        )
        .await
    }

    /// Moves an invoice at a version `precondition` admits along its lifecycle; finalize
    /// gives it its number.
    pub async fn transition(
        &self,
        id: ObjectId,
        transition: Transition,
        precondition: &Precondition,
        origin: &Origin,
    ) -> Result<Stored, AppError> {
        let now = service_kit::time::now();
        let finalize = transition == Transition::Finalize;
        let hosted = finalize.then(|| self.documents.new_hosted_url(id));
        self.write(
            (id, precondition),
            |current| {
                let mut next = current.transitioned(transition, now)?;
                if let Some(url) = &hosted {
                    next.hosted_invoice_url = Some(url.clone());
                }
                Ok(next)
            },
            (transitioned(transition), origin),
            finalize,
        )
        .await
    }

    /// Deletes a draft at a version `precondition` admits, leaving a versioned tombstone in
    /// the cache.
    pub async fn delete(
        &self,
        id: ObjectId,
        precondition: &Precondition,
        origin: &Origin,
    ) -> Result<(), AppError> {
        retry_lost_races(|| async {
            let current = self.current(id).await?;
            precondition.check(current.version)?;
            current.check_deletable()?;
            let event = Event::new(DELETED, origin, id, current.version + 1, &current, None)?;
            if !self.store.delete(&current, &event).await? {
                return Ok::<_, AppError>(Attempt::Lost);
            }
            self.events.written();
            let tombstone = Entry {
                version: current.version + 1,
                payload: Bytes::new(),
                ttl: self.ttl.jittered(),
            };
            self.cache.publish(id, tombstone).await;
            Ok(Attempt::Won(()))
        })
        .await?
        .ok_or(AppError::Contended)
    }

    async fn current(&self, id: ObjectId) -> Result<Invoice, AppError> {
        self.store.get(id).await?.ok_or(AppError::NotFound)
    }

    /// Read, check the precondition, change, and store only if nobody wrote in between;
    /// then publish.
    async fn write(
        &self,
        (id, precondition): (ObjectId, &Precondition),
        change: impl Fn(&Invoice) -> Result<Invoice, InvoiceError>,
        (kind, origin): (&'static str, &Origin),
        numbered: bool,
    ) -> Result<Stored, AppError> {
        retry_lost_races(|| async {
            let current = self.current(id).await?;
            precondition.check(current.version)?;
            let next = change(&current)?;
            let stored = if numbered {
                let (before, origin) = (current.clone(), origin.clone());
                let event_of: EventOf = Arc::new(move |next: &Invoice| {
                    Event::new(kind, &origin, next.id, next.version, next, Some(&before))
                });
                self.store.finalize(&current, next, event_of).await?
            } else {
                let event = Event::new(kind, origin, id, next.version, &next, Some(&current))?;
                self.store
                    .replace(&current, &next, &event)
                    .await?
                    .then_some(next)
            };
            let Some(invoice) = stored else {
                return Ok::<_, AppError>(Attempt::Lost);
            };
            self.events.written();
            let json = to_json(&invoice)?;
            let entry = Entry {
                version: invoice.version,
                payload: json.clone(),
                ttl: self.ttl.jittered(),
            };
            self.cache.publish(id, entry).await;
            Ok(Attempt::Won(Stored { invoice, json }))
        })
        .await?
        .ok_or(AppError::Contended)
    }
}

fn to_json(invoice: &Invoice) -> Result<Bytes, AppError> {
    serde_json::to_vec(invoice)
        .map(Bytes::from)
        .map_err(|e| AppError::Store(StoreError::Internal(format!("invoice JSON: {e}"))))
}
