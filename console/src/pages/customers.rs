//! Customers: the searchable list, one customer with its invoices, and the new and edit
//! forms.

use askama::Template;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use serde::Deserialize;

use super::invoices::InvoiceRow;
use super::{
    Conflict, Notice, NoticeQuery, PageError, Section, Shell, id, query, redirect_with, render,
    render_with,
};
use crate::api::{self, Customer, CustomerQuery, InvoiceQuery, Versioned};
use crate::format;
use crate::forms::{CustomerForm, Errors, Input, VersionForm, version};
use crate::session::SignedIn;

/// `?search=&after=`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    search: String,
    after: String,
}

pub struct CustomerRow {
    pub href: String,
    pub name: String,
    pub email: String,
    pub phone: String,
    pub created: String,
}

impl CustomerRow {
    fn of(customer: &Customer) -> Self {
        Self {
            href: format!("/customers/{}", customer.id),
            name: customer.name.clone(),
            email: customer.email.clone(),
            phone: customer.phone.clone().unwrap_or_default(),
            created: format::time(&customer.created_at),
        }
    }
}

/// The table the search updates in place.
pub struct CustomerTable {
    pub rows: Vec<CustomerRow>,
    pub next_href: Option<String>,
    pub error: Option<String>,
    pub searched: bool,
}

#[derive(Template)]
#[template(path = "customers/list.html")]
struct CustomersPage {
    shell: Shell,
    search: String,
    table: CustomerTable,
}

#[derive(Template)]
#[template(path = "customers/table.html")]
struct CustomersFragment {
    table: CustomerTable,
}

/// Whether htmx asked for the fragment it swaps in (and not a whole page to restore).
fn wants_fragment(headers: &HeaderMap) -> bool {
    headers.contains_key("hx-request") && !headers.contains_key("hx-history-restore-request")
}

/// `GET /customers`: text with `@` searches by email, other text by name prefix.
pub async fn list_customers(
    signed_in: SignedIn,
    headers: HeaderMap,
    Query(list): Query<ListQuery>,
    Query(notice): Query<NoticeQuery>,
) -> Result<Response, PageError> {
    let search = list.search.trim().to_owned();
    let by_email = search.contains('@');
    let filter = CustomerQuery {
        email: (by_email).then(|| search.clone()),
        name_prefix: (!by_email && !search.is_empty()).then(|| search.clone()),
        after: Some(list.after.trim().to_owned()).filter(|a| !a.is_empty()),
    };
    let table = match signed_in.api.customers(&filter).await {
        Ok(page) => CustomerTable {
            rows: page.data.iter().map(CustomerRow::of).collect(),
            next_href: page.next_cursor.filter(|_| page.has_more).map(|after| {
                format!(
                    "/customers{}",
                    query(&[("search", &search), ("after", &after)])
                )
            }),
            error: None,
            searched: !search.is_empty(),
        },
        Err(api::Error::Rejected(problem)) => CustomerTable {
            rows: Vec::new(),
            next_href: None,
            error: Some(problem.error),
            searched: true,
        },
        Err(error) => return Err(error.into()),
    };
    if wants_fragment(&headers) {
        return render(&CustomersFragment { table });
    }
    let page = CustomersPage {
        shell: signed_in
            .shell("Customers", Section::Customers)
            .with_notice(notice.notice()),
        search,
        table,
    };
    render(&page)
}

/// What a stale edit shows: the customer as it is now.
fn conflict(customer: &Customer) -> Conflict {
    Conflict {
        sentence: "This customer was changed by someone else since this form was opened. Its \
                   current values are below; press \u{201c}Save changes\u{201d} again to replace \
                   them with yours.",
        current: details(customer)
            .into_iter()
            .map(|(label, value)| (label.to_owned(), value))
            .collect(),
    }
}

/// A customer's fields as label and text.
fn details(customer: &Customer) -> Vec<(&'static str, String)> {
    let address = customer.address.clone().unwrap_or_default();
    let address: Vec<String> = [
        address.line1,
        address.line2,
        address.city,
        address.state,
        address.postal_code,
        address.country,
    ]
    .into_iter()
    .flatten()
    .filter(|line| !line.is_empty())
    .collect();
    vec![
        ("Name", customer.name.clone()),
        ("Email", customer.email.clone()),
        ("Phone", customer.phone.clone().unwrap_or_default()),
        ("Address", address.join(", ")),
    ]
}

#[derive(Template)]
#[template(path = "customers/form.html")]
struct CustomerFormPage {
    shell: Shell,
    csrf: String,
    action: String,
    button: &'static str,
    contact: Vec<Input>,
    address: Vec<Input>,
    summary: Vec<String>,
    version: Option<String>,
    conflict: Option<Conflict>,
    cancel_href: String,
}

impl CustomerFormPage {
    fn new(signed_in: &SignedIn, form: &CustomerForm, errors: &Errors) -> Self {
        let (contact, address) = form.inputs(errors);
        Self {
            shell: signed_in.shell("New customer", Section::Customers),
            csrf: signed_in.csrf.clone(),
            action: "/customers/new".to_owned(),
            button: "Create customer",
            contact,
            address,
            summary: errors.summary.clone(),
            version: None,
            conflict: None,
            cancel_href: "/customers".to_owned(),
        }
    }

    fn edit(signed_in: &SignedIn, id: &api::Id, form: &CustomerForm, errors: &Errors) -> Self {
        Self {
            shell: signed_in.shell("Edit customer", Section::Customers),
            action: format!("/customers/{id}/edit"),
            button: "Save changes",
            version: Some(form.version.clone()),
            cancel_href: format!("/customers/{id}"),
            ..Self::new(signed_in, form, errors)
        }
    }
}

/// `GET /customers/new`.
pub async fn new_customer(signed_in: SignedIn) -> Result<Response, PageError> {
    render(&CustomerFormPage::new(
        &signed_in,
        &CustomerForm::default(),
        &Errors::default(),
    ))
}

/// `POST /customers/new`.
pub async fn create_customer(
    signed_in: SignedIn,
    Form(form): Form<CustomerForm>,
) -> Result<Response, PageError> {
    match signed_in.api.create_customer(&form.create_body()).await {
        Ok(customer) => Ok(redirect_with(
            &format!("/customers/{}", customer.id),
            Notice::CustomerCreated,
        )),
        Err(api::Error::Rejected(problem)) => {
            let errors = Errors::place(&problem, CustomerForm::locate);
            let page = CustomerFormPage::new(&signed_in, &form, &errors);
            render_with(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(error) => Err(error.into()),
    }
}

#[derive(Template)]
#[template(path = "customers/show.html")]
struct CustomerPage {
    shell: Shell,
    csrf: String,
    id: String,
    details: Vec<(&'static str, String)>,
    created: String,
    updated: String,
    version: String,
    alert: Option<String>,
    invoices: Vec<InvoiceRow>,
    more_invoices: bool,
}

/// The customer page, with `alert` at the top when an action on it was refused.
async fn customer_page(
    signed_in: &SignedIn,
    id: &api::Id,
    notice: Option<Notice>,
    alert: Option<String>,
) -> Result<CustomerPage, PageError> {
    let invoices = InvoiceQuery {
        customer_id: Some(id.to_string()),
        limit: Some(100),
        ..InvoiceQuery::default()
    };
    let (customer, invoices) = futures::join!(
        signed_in.api.customer(id),
        signed_in.api.invoices(&invoices)
    );
    let Versioned {
        value: customer,
        version,
    } = customer?;
    let invoices = invoices?;
    Ok(CustomerPage {
        shell: signed_in
            .shell(customer.name.clone(), Section::Customers)
            .with_notice(notice),
        csrf: signed_in.csrf.clone(),
        id: customer.id.clone(),
        details: details(&customer),
        created: format::time(&customer.created_at),
        updated: format::time(&customer.updated_at),
        version: version.unwrap_or_default(),
        alert,
        invoices: invoices.data.iter().map(InvoiceRow::of).collect(),
        more_invoices: invoices.has_more,
    })
}

/// `GET /customers/{id}`.
pub async fn show_customer(
    signed_in: SignedIn,
    Path(raw): Path<String>,
    Query(notice): Query<NoticeQuery>,
) -> Result<Response, PageError> {
    let id = id(&raw)?;
    render(&customer_page(&signed_in, &id, notice.notice(), None).await?)
}

/// `GET /customers/{id}/edit`: the form drawn from the customer as it is, its version kept.
pub async fn edit_customer(
    signed_in: SignedIn,
    Path(raw): Path<String>,
) -> Result<Response, PageError> {
    let id = id(&raw)?;
    let current = signed_in.api.customer(&id).await?;
    let mut form = CustomerForm::from_customer(&current.value);
    form.version = current.version.unwrap_or_default();
    render(&CustomerFormPage::edit(
        &signed_in,
        &id,
        &form,
        &Errors::default(),
    ))
}

/// `POST /customers/{id}/edit`: `PATCH` with `If-Match`. When someone else changed the
/// customer first, the form comes back with what was typed, the current values, and the
/// current version, so that saving again overwrites on purpose.
pub async fn update_customer(
    signed_in: SignedIn,
    Path(raw): Path<String>,
    Form(mut form): Form<CustomerForm>,
) -> Result<Response, PageError> {
    let id = id(&raw)?;
    let sent = signed_in
        .api
        .update_customer(&id, version(&form.version), &form.update_body())
        .await;
    match sent {
        Ok(_) => Ok(redirect_with(
            &format!("/customers/{id}"),
            Notice::CustomerSaved,
        )),
        Err(api::Error::Stale { .. }) => {
            let current = signed_in.api.customer(&id).await?;
            form.version = current.version.clone().unwrap_or_default();
            let mut page = CustomerFormPage::edit(&signed_in, &id, &form, &Errors::default());
            page.conflict = Some(conflict(&current.value));
            render_with(StatusCode::PRECONDITION_FAILED, &page)
        }
        Err(api::Error::Rejected(problem)) => {
            let errors = Errors::place(&problem, CustomerForm::locate);
            let page = CustomerFormPage::edit(&signed_in, &id, &form, &errors);
            render_with(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(error) => Err(error.into()),
    }
}

/// `POST /customers/{id}/delete`, with `If-Match`.
pub async fn delete_customer(
    signed_in: SignedIn,
    Path(raw): Path<String>,
    Form(form): Form<VersionForm>,
) -> Result<Response, PageError> {
    let id = id(&raw)?;
    let (status, sentence) = match signed_in
        .api
        .delete_customer(&id, version(&form.version))
        .await
    {
        Ok(()) => return Ok(redirect_with("/customers", Notice::CustomerDeleted)),
        Err(api::Error::NotFound) => return Ok(Redirect::to("/customers").into_response()),
        Err(api::Error::Stale { .. }) => (
            StatusCode::PRECONDITION_FAILED,
            "This customer was changed by someone else since the page was shown; check it and \
             delete it again if you still mean to."
                .to_owned(),
        ),
        Err(api::Error::Rejected(problem)) => (StatusCode::CONFLICT, problem.error),
        Err(error) => return Err(error.into()),
    };
    render_with(
        status,
        &customer_page(&signed_in, &id, None, Some(sentence)).await?,
    )
}
