//! The newest events of both services.

use askama::Template;
use axum::response::Response;

use super::{PageError, Section, Shell, render};
use crate::api::{self, Event, Service};
use crate::format;
use crate::session::SignedIn;

/// How many events of each service the page shows.
const SHOWN: usize = 50;
/// The most pages of 100 read from one service to find its newest events (the lists are
/// oldest first).
const MAX_PAGES: usize = 50;

pub struct EventRow {
    pub time: String,
    pub kind: String,
    pub object: String,
    pub object_href: Option<String>,
    pub service: &'static str,
    /// For sorting, newest first.
    at: Option<chrono::DateTime<chrono::FixedOffset>>,
}

#[derive(Template)]
#[template(path = "events.html")]
struct EventsPage {
    shell: Shell,
    rows: Vec<EventRow>,
    notes: Vec<String>,
}

/// `GET /events`.
pub async fn list_events(signed_in: SignedIn) -> Result<Response, PageError> {
    let (customers, invoices) = futures::join!(
        newest(&signed_in.api, Service::Customers),
        newest(&signed_in.api, Service::Invoices),
    );
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    for (service, found) in [
        (Service::Customers, customers?),
        (Service::Invoices, invoices?),
    ] {
        let (events, complete) = found;
        if !complete {
            notes.push(format!(
                "{} has more events than the console reads at once; these are not its newest.",
                service.name()
            ));
        }
        rows.extend(events.into_iter().map(|event| row(service, event)));
    }
    rows.sort_by_key(|row| std::cmp::Reverse(row.at));
    let page = EventsPage {
        shell: signed_in.shell("Events", Section::Events),
        rows,
        notes,
    };
    render(&page)
}

fn row(service: Service, event: Event) -> EventRow {
    let object_href = match service {
        Service::Customers if !event.kind.ends_with(".deleted") => Some("customers"),
        Service::Invoices if !event.kind.ends_with(".deleted") => Some("invoices"),
        _ => None,
    }
    .filter(|_| api::Id::parse(&event.object_id).is_some())
    .map(|kind| format!("/{kind}/{}", event.object_id));
    EventRow {
        time: format::time(&event.created_at),
        kind: event.kind,
        object: event.object_id,
        object_href,
        service: service.name(),
        at: chrono::DateTime::parse_from_rfc3339(&event.created_at).ok(),
    }
}

/// The last [`SHOWN`] events of `service`, walking its pages to the end (at most
/// [`MAX_PAGES`]); and whether the end was reached.
async fn newest(api: &api::Caller, service: Service) -> Result<(Vec<Event>, bool), PageError> {
    let mut kept: Vec<Event> = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let page = api.events(service, after.as_deref()).await?;
        kept.extend(page.data);
        if kept.len() > SHOWN {
            kept.drain(..kept.len() - SHOWN);
        }
        match page.next_cursor.filter(|_| page.has_more) {
            Some(cursor) => after = Some(cursor),
            None => return Ok((kept, true)),
        }
    }
    Ok((kept, false))
}
