//! Both services' webhook endpoints: the list, a new endpoint (its secret shown once), and
//! deleting one.

use askama::Template;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::Form;

use super::{
    Choice, Notice, NoticeQuery, PageError, Section, Shell, id, redirect_with, render, render_with,
};
use crate::api::{self, Endpoint, Service};
use crate::forms::{EndpointForm, Errors, Input};
use crate::session::SignedIn;

pub struct EndpointRow {
    pub service: &'static str,
    pub url: String,
    pub events: String,
    pub state: String,
    pub delete_path: String,
}

/// An endpoint just made, with the secret it signs with.
pub struct Created {
    pub service: &'static str,
    pub url: String,
    pub secret: String,
}

#[derive(Template)]
#[template(path = "webhooks.html")]
struct WebhooksPage {
    shell: Shell,
    csrf: String,
    rows: Vec<EndpointRow>,
    services: Vec<Choice>,
    inputs: Vec<Input>,
    summary: Vec<String>,
    created: Option<Created>,
}

fn row(service: Service, endpoint: Endpoint) -> EndpointRow {
    let state = match endpoint
        .disabled_reason
        .filter(|_| endpoint.status == "disabled")
    {
        Some(reason) => format!("disabled ({reason})"),
        None => endpoint.status.clone(),
    };
    EndpointRow {
        service: service.name(),
        delete_path: format!("/webhooks/{}/{}/delete", service.name(), endpoint.id),
        url: endpoint.url,
        events: endpoint.enabled_events.join(", "),
        state,
    }
}

/// The page: both services' endpoints, and the form as `form` and `errors` leave it.
async fn page(
    signed_in: &SignedIn,
    notice: Option<Notice>,
    form: &EndpointForm,
    errors: &Errors,
    created: Option<Created>,
) -> Result<WebhooksPage, PageError> {
    let (customers, invoices) = futures::join!(
        signed_in.api.endpoints(Service::Customers),
        signed_in.api.endpoints(Service::Invoices),
    );
    let mut rows = Vec::new();
    let mut summary = errors.summary.clone();
    for (service, listed) in [
        (Service::Customers, customers),
        (Service::Invoices, invoices),
    ] {
        match listed {
            Ok(listed) => rows.extend(listed.data.into_iter().map(|e| row(service, e))),
            // A new endpoint's secret is shown only on this page, so it is shown whatever
            // else fails.
            Err(error) if created.is_some() => summary.push(format!(
                "The endpoints of {} could not be listed ({error}); reload the page later.",
                service.name()
            )),
            Err(error) => return Err(error.into()),
        }
    }
    Ok(WebhooksPage {
        shell: signed_in
            .shell("Webhook endpoints", Section::Webhooks)
            .with_notice(notice),
        csrf: signed_in.csrf.clone(),
        rows,
        services: Choice::list(&Service::ALL.map(|s| (s.name(), s.name())), &form.service),
        inputs: form.inputs(errors),
        summary,
        created,
    })
}

/// `GET /webhooks`.
pub async fn list_endpoints(
    signed_in: SignedIn,
    Query(notice): Query<NoticeQuery>,
) -> Result<Response, PageError> {
    render(
        &page(
            &signed_in,
            notice.notice(),
            &EndpointForm::default(),
            &Errors::default(),
            None,
        )
        .await?,
    )
}

/// `POST /webhooks`: the answer is the page itself, not a redirect, as it is the one place
/// the new secret is shown.
pub async fn create_endpoint(
    signed_in: SignedIn,
    Form(form): Form<EndpointForm>,
) -> Result<Response, PageError> {
    let Some(service) = Service::from_name(&form.service) else {
        let errors = Errors::saying("Choose the service whose events the endpoint receives.");
        let page = page(&signed_in, None, &form, &errors, None).await?;
        return render_with(StatusCode::UNPROCESSABLE_ENTITY, &page);
    };
    match signed_in.api.create_endpoint(service, &form.body()).await {
        Ok(endpoint) => {
            let created = endpoint.secret.map(|secret| Created {
                service: service.name(),
                url: endpoint.url,
                secret,
            });
            let page = page(
                &signed_in,
                None,
                &EndpointForm::default(),
                &Errors::default(),
                created,
            )
            .await?;
            render_with(StatusCode::CREATED, &page)
        }
        Err(api::Error::Rejected(problem)) => {
            let errors = Errors::place(&problem, EndpointForm::locate);
            let page = page(&signed_in, None, &form, &errors, None).await?;
            render_with(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(error) => Err(error.into()),
    }
}

/// `POST /webhooks/{service}/{id}/delete`.
pub async fn delete_endpoint(
    signed_in: SignedIn,
    Path((service, raw)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let service = Service::from_name(&service).ok_or(PageError::NotFound)?;
    let id = id(&raw)?;
    match signed_in.api.delete_endpoint(service, &id).await {
        Ok(()) | Err(api::Error::NotFound) => {
            Ok(redirect_with("/webhooks", Notice::EndpointDeleted))
        }
        Err(error) => Err(error.into()),
    }
}
