//! The pages: what every page shares (its header, banner and notice), rendering, and the
//! error pages, drawn in one place with the visitor's own header.

pub mod customers;
pub mod events;
pub mod invoices;
pub mod sign_in;
pub mod status;
pub mod webhooks;

use askama::Template;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::Console;
use crate::api::{self, Service};
use crate::session::Session;

/// The part of the site a page belongs to, marked in the main navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Customers,
    Invoices,
    Events,
    Webhooks,
    Status,
    None,
}

/// What the layout needs from every page.
#[derive(Debug, Clone)]
pub struct Shell {
    pub title: String,
    pub section: Section,
    /// Set on signed-in pages: the sign-out form's token.
    pub csrf: Option<String>,
    pub open: bool,
    pub notice: Option<&'static str>,
    pub css: &'static str,
    pub js: &'static str,
}

impl Shell {
    pub fn new(
        title: impl Into<String>,
        section: Section,
        csrf: Option<String>,
        open: bool,
    ) -> Self {
        Self {
            title: title.into(),
            section,
            csrf,
            open,
            notice: None,
            css: crate::assets::css_href(),
            js: crate::assets::js_href(),
        }
    }

    pub fn with_notice(mut self, notice: Option<Notice>) -> Self {
        self.notice = notice.map(Notice::sentence);
        self
    }

    /// `aria-current="page"` on the link to this page's section.
    pub fn current(&self, section: &str) -> &'static str {
        let name = match self.section {
            Section::Customers => "customers",
            Section::Invoices => "invoices",
            Section::Events => "events",
            Section::Webhooks => "webhooks",
            Section::Status => "status",
            Section::None => "",
        };
        if name == section { "page" } else { "false" }
    }
}

/// What a form shows when what it edits was changed by someone else since it was drawn:
/// the thing as it is now, beside what the operator typed.
#[derive(Debug, Clone)]
pub struct Conflict {
    pub sentence: &'static str,
    pub current: Vec<(String, String)>,
}

/// One option of a select.
#[derive(Debug, Clone)]
pub struct Choice {
    pub value: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

impl Choice {
    /// The options `(value, label)`, the one whose value is `chosen` selected.
    pub fn list(options: &[(&'static str, &'static str)], chosen: &str) -> Vec<Choice> {
        options
            .iter()
            .map(|(value, label)| Choice {
                value,
                label,
                selected: *value == chosen,
            })
            .collect()
    }
}

/// The sentence shown after an action, named in the redirect's `?notice=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Notice {
    CustomerCreated,
    CustomerSaved,
    CustomerDeleted,
    InvoiceCreated,
    InvoiceSaved,
    InvoiceDeleted,
    InvoiceFinalized,
    InvoicePaid,
    InvoiceVoided,
    InvoiceMarkedUncollectible,
    EndpointDeleted,
}

impl Notice {
    pub fn sentence(self) -> &'static str {
        match self {
            Notice::CustomerCreated => "Customer created.",
            Notice::CustomerSaved => "Customer saved.",
            Notice::CustomerDeleted => "Customer deleted.",
            Notice::InvoiceCreated => "Invoice created.",
            Notice::InvoiceSaved => "Draft saved.",
            Notice::InvoiceDeleted => "Draft deleted.",
            Notice::InvoiceFinalized => "Invoice finalized.",
            Notice::InvoicePaid => "Invoice paid.",
            Notice::InvoiceVoided => "Invoice voided.",
            Notice::InvoiceMarkedUncollectible => "Invoice marked uncollectible.",
            Notice::EndpointDeleted => "Endpoint deleted.",
        }
    }

    /// Its name in `?notice=`.
    pub fn code(self) -> &'static str {
        match self {
            Notice::CustomerCreated => "customer_created",
            Notice::CustomerSaved => "customer_saved",
            Notice::CustomerDeleted => "customer_deleted",
            Notice::InvoiceCreated => "invoice_created",
            Notice::InvoiceSaved => "invoice_saved",
            Notice::InvoiceDeleted => "invoice_deleted",
            Notice::InvoiceFinalized => "invoice_finalized",
            Notice::InvoicePaid => "invoice_paid",
            Notice::InvoiceVoided => "invoice_voided",
            Notice::InvoiceMarkedUncollectible => "invoice_marked_uncollectible",
            Notice::EndpointDeleted => "endpoint_deleted",
        }
    }
}

/// `?notice=`; an unknown one is ignored.
#[derive(Debug, Default, Deserialize)]
pub struct NoticeQuery {
    #[serde(default)]
    notice: Option<String>,
}

impl NoticeQuery {
    pub fn notice(&self) -> Option<Notice> {
        let code = self.notice.as_deref()?;
        serde_json::from_value(serde_json::Value::String(code.to_owned())).ok()
    }
}

/// A 303 to `path` with `notice` to show there.
pub fn redirect_with(path: &str, notice: Notice) -> Response {
    let separator = if path.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{path}{separator}notice={}", notice.code())).into_response()
}

/// A template as an HTML answer.
pub fn render(template: &impl Template) -> Result<Response, PageError> {
    render_with(StatusCode::OK, template)
}

pub fn render_with(status: StatusCode, template: &impl Template) -> Result<Response, PageError> {
    match template.render() {
        Ok(html) => Ok((status, Html(html)).into_response()),
        Err(error) => {
            tracing::error!(%error, "page not rendered");
            Err(PageError::Internal)
        }
    }
}

/// Why a page cannot be shown as asked.
#[derive(Debug, Clone)]
pub enum PageError {
    /// Not signed in, or the key was refused: to the sign-in page.
    SignIn,
    NotFound,
    /// A POST whose CSRF token is missing or wrong.
    FormRefused,
    /// A service cannot be reached, or answered that it could not do it.
    Unavailable {
        service: Service,
        url: Option<String>,
        sentence: Option<String>,
    },
    /// A service refused the request, for this reason (a bad filter in a URL, say).
    Refused(String),
    Internal,
}

impl PageError {
    fn status(&self) -> StatusCode {
        match self {
            PageError::SignIn => StatusCode::SEE_OTHER,
            PageError::NotFound => StatusCode::NOT_FOUND,
            PageError::FormRefused => StatusCode::FORBIDDEN,
            PageError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            PageError::Refused(_) => StatusCode::BAD_REQUEST,
            PageError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The page's heading and its sentences.
    fn words(&self) -> (&'static str, Vec<String>) {
        match self {
            PageError::SignIn => ("Sign in", Vec::new()),
            PageError::NotFound => (
                "Not found",
                vec!["There is nothing at this address.".to_owned()],
            ),
            PageError::FormRefused => (
                "Form refused",
                vec![
                    "This form did not come from this console or has expired. Reload the page \
                     and try again."
                        .to_owned(),
                ],
            ),
            PageError::Unavailable {
                service,
                url,
                sentence,
            } => {
                let mut words = vec![match url {
                    Some(url) => format!("{} cannot be reached at {url}.", service.name()),
                    None => format!("{} could not do this.", service.name()),
                }];
                words.extend(sentence.clone());
                words.push("Try again shortly.".to_owned());
                ("Service unavailable", words)
            }
            PageError::Refused(sentence) => ("Request refused", vec![sentence.clone()]),
            PageError::Internal => (
                "Something went wrong",
                vec![
                    "The console could not show this page. Try again; if it keeps happening, \
                     the console's log says why."
                        .to_owned(),
                ],
            ),
        }
    }
}

impl From<api::Error> for PageError {
    fn from(error: api::Error) -> Self {
        match error {
            api::Error::Unreachable { service, url } => PageError::Unavailable {
                service,
                url: Some(url),
                sentence: None,
            },
            api::Error::Unauthorized => PageError::SignIn,
            api::Error::NotFound => PageError::NotFound,
            api::Error::Stale { .. } => PageError::Refused(
                "This was changed by someone else meanwhile. Reload the page and try again."
                    .to_owned(),
            ),
            api::Error::Rejected(problem) => PageError::Refused(problem.error),
            api::Error::Failed { service, problem } => PageError::Unavailable {
                service,
                url: None,
                sentence: Some(problem.error),
            },
        }
    }
}

/// Marks an answer whose page [`draw_error_pages`] draws.
#[derive(Clone)]
struct ErrorPage(PageError);

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        if let PageError::SignIn = self {
            return Redirect::to("/sign-in").into_response();
        }
        let mut response = self.status().into_response();
        if let PageError::Unavailable { .. } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        }
        response.extensions_mut().insert(ErrorPage(self));
        response
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorTemplate {
    shell: Shell,
    heading: &'static str,
    sentences: Vec<String>,
}

/// Draws the page of every [`PageError`], with the header of the visitor's session.
pub async fn draw_error_pages(
    State(console): State<Console>,
    request: Request,
    next: Next,
) -> Response {
    let session =
        Session::from_headers(request.headers(), &console.key).filter(Session::is_signed_in);
    let response = next.run(request).await;
    let Some(ErrorPage(error)) = response.extensions().get::<ErrorPage>().cloned() else {
        return response;
    };
    let (heading, sentences) = error.words();
    let shell = Shell::new(
        heading,
        Section::None,
        session.as_ref().map(|s| s.csrf.clone()),
        session.as_ref().is_some_and(|s| s.open),
    );
    let page = ErrorTemplate {
        shell,
        heading,
        sentences,
    };
    let (mut parts, _) = response.into_parts();
    let html = page.render().unwrap_or_else(|_| heading.to_owned());
    parts.headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(html))
}

/// Any path no route has.
pub async fn not_found() -> PageError {
    PageError::NotFound
}

/// A 24-hex id from the URL, or the not-found page (nothing is asked of a service).
pub fn id(raw: &str) -> Result<api::Id, PageError> {
    api::Id::parse(raw).ok_or(PageError::NotFound)
}

/// A query string built from its pairs, empty values left out: `?search=a%40b&after=…`.
pub fn query(pairs: &[(&str, &str)]) -> String {
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        serializer.append_pair(name, value);
    }
    let query = serializer.finish();
    if query.is_empty() {
        query
    } else {
        format!("?{query}")
    }
}
