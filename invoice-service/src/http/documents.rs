//! Invoice documents over HTTP: the PDF for API clients, and the hosted page and its PDF
//! for the customer, behind a link that needs no API key.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bson::oid::ObjectId;
use service_kit::ObjectIdParam;
use service_kit::conditional::none_match_hits;

use super::dto::InvoicePdf;
use super::responses::DocumentErrors;
use crate::app::{DocumentKind, Invoices};
use crate::documents::{Answer, FONT_FILES};
use crate::error::AppError;

/// An invoice as a PDF.
///
/// Drawn from the invoice's current state; a draft is marked `DRAFT`. The same version
/// always gives the same bytes, cached and tagged with an `ETag`: `If-None-Match` with it
/// answers `304`.
#[utoipa::path(
    get,
    path = "/invoices/{id}/pdf",
    tag = "invoices",
    params(ObjectIdParam),
    responses(
        (status = 200, description = "The invoice as a PDF document.", content_type = "application/pdf", body = InvoicePdf, headers(
            ("ETag" = String, description = "Names this version of the document."),
        )),
        (status = 304, description = "The document is the one `If-None-Match` names."),
        DocumentErrors,
    ),
)]
pub async fn get_invoice_pdf(
    State(invoices): State<Invoices>,
    ObjectIdParam(id): ObjectIdParam,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let answer = invoices
        .pdf(id, |etag| none_match_hits(&headers, etag))
        .await?;
    Ok(document(answer, DocumentKind::Pdf))
}

/// `GET /i/{id}/{token}`: the hosted invoice page.
pub async fn hosted_page(
    State(invoices): State<Invoices>,
    Path((id, token)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    hosted(&invoices, &id, &token, &headers, DocumentKind::Page).await
}

/// `GET /i/{id}/{token}/pdf`: the hosted page's PDF.
pub async fn hosted_pdf(
    State(invoices): State<Invoices>,
    Path((id, token)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    hosted(&invoices, &id, &token, &headers, DocumentKind::Pdf).await
}

/// `GET /i/assets/{file}`: the documents' fonts, for the hosted page; they never change
/// within a build.
pub async fn hosted_font(Path(file): Path<String>) -> Response {
    let Some((_, bytes, media_type)) = FONT_FILES.iter().find(|(name, _, _)| *name == file) else {
        return not_found();
    };
    (
        [
            (header::CONTENT_TYPE, *media_type),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        *bytes,
    )
        .into_response()
}

/// Anything else under `/i/`.
pub async fn hosted_not_found() -> Response {
    not_found()
}

async fn hosted(
    invoices: &Invoices,
    id: &str,
    token: &str,
    headers: &HeaderMap,
    kind: DocumentKind,
) -> Result<Response, AppError> {
    let Ok(id) = ObjectId::parse_str(id) else {
        return Ok(not_found());
    };
    let held = |etag: &str| none_match_hits(headers, etag);
    let answer = match invoices.hosted(id, token, kind, held).await? {
        Some(answer) => document(answer, kind),
        None => not_found(),
    };
    Ok(answer)
}

/// The document with its validators and the headers that keep a customer's document to
/// the customer: never stored by shared caches, never indexed, no referrer carrying the link.
fn document(answer: Answer, kind: DocumentKind) -> Response {
    let (etag, mut response) = match answer {
        Answer::Unchanged { etag } => {
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::NOT_MODIFIED;
            (etag, response)
        }
        Answer::Document(rendered) => {
            let mut response = Response::new(Body::from(rendered.bytes));
            let content_type = match kind {
                DocumentKind::Page => "text/html; charset=utf-8",
                DocumentKind::Pdf => "application/pdf",
            };
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            (rendered.etag, response)
        }
    };
    let answer = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        answer.insert(header::ETAG, etag);
    }
    answer.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    answer.insert("x-robots-tag", HeaderValue::from_static("noindex"));
    answer.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    answer.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if kind == DocumentKind::Page {
        answer.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; style-src 'unsafe-inline'; font-src 'self'; img-src data:; \
                 base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            ),
        );
    }
    response
}

/// The same bare answer for a wrong token, an unknown or malformed id, a draft and any
/// other path: it tells nothing about which it was.
fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        "Not Found\n",
    )
        .into_response()
}
