//! Invoices: the filtered list, one invoice with its lifecycle buttons and PDF, and the new
//! and edit-draft forms with their line rows.

use askama::Template;
use axum::extract::{Path, Query};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::Form;
use serde::Deserialize;

use super::{
    Choice, Conflict, Notice, NoticeQuery, PageError, Section, Shell, id, query, redirect_with,
    render, render_with,
};
use crate::api::{self, Invoice, InvoiceQuery, Transition};
use crate::format;
use crate::forms::{Errors, Input, InvoiceForm, VersionForm, version};
use crate::session::SignedIn;

/// One invoice in a table.
pub struct InvoiceRow {
    pub href: String,
    pub number: String,
    pub customer: String,
    pub customer_href: String,
    pub status: String,
    pub total: String,
    pub due: String,
}

impl InvoiceRow {
    pub fn of(invoice: &Invoice) -> Self {
        Self {
            href: format!("/invoices/{}", invoice.id),
            number: invoice.number.clone().unwrap_or_else(|| "Draft".to_owned()),
            customer: invoice.customer_name.clone(),
            customer_href: format!("/customers/{}", invoice.customer_id),
            status: invoice.status.clone(),
            total: format::money(&invoice.currency, invoice.total),
            due: invoice.due_date.clone().unwrap_or_default(),
        }
    }
}

/// The status filter's options.
const STATUSES: [(&str, &str); 6] = [
    ("", "Any"),
    ("draft", "draft"),
    ("open", "open"),
    ("paid", "paid"),
    ("void", "void"),
    ("uncollectible", "uncollectible"),
];

/// `?status=&customer_id=&after=`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    status: String,
    customer_id: String,
    after: String,
}

#[derive(Template)]
#[template(path = "invoices/list.html")]
struct InvoicesPage {
    shell: Shell,
    statuses: Vec<Choice>,
    customer_id: Input,
    summary: Vec<String>,
    rows: Vec<InvoiceRow>,
    next_href: Option<String>,
    new_href: String,
}

/// `GET /invoices`.
pub async fn list_invoices(
    signed_in: SignedIn,
    Query(list): Query<ListQuery>,
    Query(notice): Query<NoticeQuery>,
) -> Result<Response, PageError> {
    let given = |text: &str| Some(text.trim().to_owned()).filter(|t| !t.is_empty());
    let filter = InvoiceQuery {
        status: given(&list.status),
        customer_id: given(&list.customer_id),
        after: given(&list.after),
        limit: None,
    };
    let (rows, next_href, errors) = match signed_in.api.invoices(&filter).await {
        Ok(page) => {
            let next = page.next_cursor.filter(|_| page.has_more).map(|after| {
                let pairs = [
                    ("status", list.status.trim()),
                    ("customer_id", list.customer_id.trim()),
                    ("after", after.as_str()),
                ];
                format!("/invoices{}", query(&pairs))
            });
            (
                page.data.iter().map(InvoiceRow::of).collect(),
                next,
                Errors::default(),
            )
        }
        Err(api::Error::Rejected(problem)) => {
            let locate = |field: &str| (field == "customer_id").then(|| field.to_owned());
            (Vec::new(), None, Errors::place(&problem, locate))
        }
        Err(error) => return Err(error.into()),
    };
    let customer_id = list.customer_id.trim().to_owned();
    let page = InvoicesPage {
        shell: signed_in
            .shell("Invoices", Section::Invoices)
            .with_notice(notice.notice()),
        statuses: Choice::list(&STATUSES, list.status.trim()),
        customer_id: Input::filter("customer_id", "Customer ID", &customer_id, &errors),
        summary: errors.summary.clone(),
        rows,
        next_href,
        new_href: format!("/invoices/new{}", query(&[("customer_id", &customer_id)])),
    };
    render(&page)
}

/// A lifecycle button: a POST form to `/invoices/{id}/{action}`.
pub struct Action {
    pub path: String,
    pub label: &'static str,
    /// Drawn as a warning (delete, void).
    pub danger: bool,
}

#[derive(Template)]
#[template(path = "invoices/show.html")]
struct InvoicePage {
    shell: Shell,
    csrf: String,
    heading: String,
    invoice: Invoice,
    customer_href: String,
    lines: Vec<Line>,
    totals: Vec<(&'static str, String)>,
    version: String,
    actions: Vec<Action>,
    edit_href: Option<String>,
    pdf_href: String,
    alert: Option<String>,
}

/// One line as the invoice page shows it.
pub struct Line {
    pub description: String,
    pub quantity: i64,
    pub unit_amount: String,
    pub amount: String,
}

fn heading(invoice: &Invoice) -> String {
    match &invoice.number {
        Some(number) => format!("Invoice {number}"),
        None => "Draft invoice".to_owned(),
    }
}

/// The buttons its status allows.
fn actions(invoice: &Invoice) -> Vec<Action> {
    let path = |action: &str| format!("/invoices/{}/{action}", invoice.id);
    let button = |action: &str, label, danger| Action {
        path: path(action),
        label,
        danger,
    };
    match invoice.status.as_str() {
        "draft" => vec![
            button("finalize", "Finalize", false),
            button("delete", "Delete draft", true),
        ],
        "open" => vec![
            button("pay", "Pay", false),
            button("void", "Void", true),
            button("mark_uncollectible", "Mark uncollectible", false),
        ],
        "uncollectible" => vec![button("pay", "Pay", false), button("void", "Void", true)],
        _ => Vec::new(),
    }
}

/// The invoice page, with `alert` at the top when an action on it was refused.
async fn invoice_page(
    signed_in: &SignedIn,
    id: &api::Id,
    notice: Option<Notice>,
    alert: Option<String>,
) -> Result<InvoicePage, PageError> {
    let current = signed_in.api.invoice(id).await?;
    let invoice = current.value;
    let money = |minor| format::money(&invoice.currency, minor);
    let lines = invoice
        .items
        .iter()
        .map(|item| Line {
            description: item.description.clone(),
            quantity: item.quantity,
            unit_amount: money(item.unit_amount),
            amount: money(item.amount),
        })
        .collect();
    let totals = vec![
        ("Subtotal", money(invoice.subtotal)),
        (
            "Tax",
            format!(
                "{} ({})",
                money(invoice.tax),
                format::rate(invoice.tax_rate_bps)
            ),
        ),
        ("Total", money(invoice.total)),
        ("Amount paid", money(invoice.amount_paid)),
        ("Amount due", money(invoice.amount_due)),
    ];
    let heading = heading(&invoice);
    Ok(InvoicePage {
        shell: signed_in
            .shell(heading.clone(), Section::Invoices)
            .with_notice(notice),
        csrf: signed_in.csrf.clone(),
        heading,
        customer_href: format!("/customers/{}", invoice.customer_id),
        lines,
        totals,
        version: current.version.unwrap_or_default(),
        actions: actions(&invoice),
        edit_href: (invoice.status == "draft").then(|| format!("/invoices/{}/edit", invoice.id)),
        pdf_href: format!("/invoices/{}/pdf", invoice.id),
        alert,
        invoice,
    })
}

/// `GET /invoices/{id}`.
pub async fn show_invoice(
    signed_in: SignedIn,
    Path(raw): Path<String>,
    Query(notice): Query<NoticeQuery>,
) -> Result<Response, PageError> {
    let id = id(&raw)?;
    render(&invoice_page(&signed_in, &id, notice.notice(), None).await?)
}

/// The invoice page again, with the service's sentence for a refused action.
async fn refused(
    signed_in: &SignedIn,
    id: &api::Id,
    error: api::Error,
) -> Result<Response, PageError> {
    let (status, sentence) = match error {
        api::Error::Stale { problem, .. } => (StatusCode::PRECONDITION_FAILED, problem.error),
        api::Error::Rejected(problem) => (StatusCode::CONFLICT, problem.error),
        error => return Err(error.into()),
    };
    render_with(
        status,
        &invoice_page(signed_in, id, None, Some(sentence)).await?,
    )
}

/// `POST /invoices/{id}/{finalize|pay|void|mark_uncollectible}`, with `If-Match`.
pub async fn transition_invoice(
    signed_in: SignedIn,
    Path((raw, action)): Path<(String, String)>,
    Form(form): Form<VersionForm>,
) -> Result<Response, PageError> {
    let id = id(&raw)?;
    let transition = Transition::from_action(&action).ok_or(PageError::NotFound)?;
    match signed_in
        .api
        .transition(&id, transition, version(&form.version))
        .await
    {
        Ok(_) => {
            let notice = match transition {
                Transition::Finalize => Notice::InvoiceFinalized,
                Transition::Pay => Notice::InvoicePaid,
                Transition::Void => Notice::InvoiceVoided,
                Transition::MarkUncollectible => Notice::InvoiceMarkedUncollectible,
            };
            Ok(redirect_with(&format!("/invoices/{id}"), notice))
        }
        Err(error) => refused(&signed_in, &id, error).await,
    }
}

/// `POST /invoices/{id}/delete`: drafts only, with `If-Match`.
pub async fn delete_invoice(
    signed_in: SignedIn,
    Path(raw): Path<String>,
    Form(form): Form<VersionForm>,
) -> Result<Response, PageError> {
    let id = id(&raw)?;
    match signed_in
        .api
        .delete_invoice(&id, version(&form.version))
        .await
    {
        Ok(()) => Ok(redirect_with("/invoices", Notice::InvoiceDeleted)),
        Err(error) => refused(&signed_in, &id, error).await,
    }
}

/// `GET /invoices/{id}/pdf`: the service's PDF, fetched with the operator's key.
pub async fn invoice_pdf(
    signed_in: SignedIn,
    Path(raw): Path<String>,
) -> Result<Response, PageError> {
    let id = id(&raw)?;
    let pdf = signed_in.api.invoice_pdf(&id).await?;
    let disposition = format!("inline; filename=\"invoice-{id}.pdf\"");
    let headers = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/pdf"),
        ),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        ),
        (
            header::CONTENT_DISPOSITION,
            HeaderValue::from_str(&disposition).map_err(|_| PageError::Internal)?,
        ),
    ];
    Ok((headers, pdf).into_response())
}

#[derive(Template)]
#[template(path = "invoices/form.html")]
struct InvoiceFormPage {
    shell: Shell,
    csrf: String,
    action: String,
    button: &'static str,
    /// What an edit cannot change: label, field name, value (kept in hidden fields).
    fixed: Vec<(&'static str, &'static str, String)>,
    head: Vec<Input>,
    rows: Vec<[Input; 3]>,
    summary: Vec<String>,
    version: Option<String>,
    conflict: Option<Conflict>,
    cancel_href: String,
}

impl InvoiceFormPage {
    fn new(signed_in: &SignedIn, form: &InvoiceForm, errors: &Errors) -> Self {
        Self {
            shell: signed_in.shell("New invoice", Section::Invoices),
            csrf: signed_in.csrf.clone(),
            action: "/invoices/new".to_owned(),
            button: "Create invoice",
            fixed: Vec::new(),
            head: form.head_inputs(false, errors),
            rows: form.row_inputs(errors),
            summary: errors.summary.clone(),
            version: None,
            conflict: None,
            cancel_href: "/invoices".to_owned(),
        }
    }

    fn edit(signed_in: &SignedIn, id: &api::Id, form: &InvoiceForm, errors: &Errors) -> Self {
        Self {
            shell: signed_in.shell("Edit draft", Section::Invoices),
            action: format!("/invoices/{id}/edit"),
            button: "Save draft",
            fixed: vec![
                ("Customer ID", "customer_id", form.customer_id.clone()),
                ("Currency", "currency", form.currency.clone()),
            ],
            head: form.head_inputs(true, errors),
            version: Some(form.version.clone()),
            cancel_href: format!("/invoices/{id}"),
            ..Self::new(signed_in, form, errors)
        }
    }
}

/// `?customer_id=` of the "New invoice" link.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NewQuery {
    customer_id: String,
}

/// `GET /invoices/new`.
pub async fn new_invoice(
    signed_in: SignedIn,
    Query(new): Query<NewQuery>,
) -> Result<Response, PageError> {
    let customer_id = Some(new.customer_id.trim().to_owned()).filter(|c| !c.is_empty());
    let form = InvoiceForm::new(customer_id);
    render(&InvoiceFormPage::new(&signed_in, &form, &Errors::default()))
}

/// `POST /invoices/new`: "Add a line" draws the form again with one more row; "Create
/// invoice" sends it.
pub async fn create_invoice(
    signed_in: SignedIn,
    Form(mut form): Form<InvoiceForm>,
) -> Result<Response, PageError> {
    if form.wants_another_row() {
        form.add_row();
        return render(&InvoiceFormPage::new(&signed_in, &form, &Errors::default()));
    }
    let (body, rows) = form.create_body();
    match signed_in.api.create_invoice(&body).await {
        Ok(invoice) => Ok(redirect_with(
            &format!("/invoices/{}", invoice.id),
            Notice::InvoiceCreated,
        )),
        Err(api::Error::Rejected(problem)) => {
            let errors = Errors::place(&problem, |field| InvoiceForm::locate(field, &rows));
            let page = InvoiceFormPage::new(&signed_in, &form, &errors);
            render_with(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(error) => Err(error.into()),
    }
}

/// `GET /invoices/{id}/edit`: drafts only; another status shows the invoice and why.
pub async fn edit_invoice(
    signed_in: SignedIn,
    Path(raw): Path<String>,
) -> Result<Response, PageError> {
    let id = id(&raw)?;
    let current = signed_in.api.invoice(&id).await?;
    if current.value.status != "draft" {
        let sentence = format!(
            "Only a draft can be edited; this invoice is {}.",
            current.value.status
        );
        return render_with(
            StatusCode::CONFLICT,
            &invoice_page(&signed_in, &id, None, Some(sentence)).await?,
        );
    }
    let mut form = InvoiceForm::from_invoice(&current.value);
    form.version = current.version.unwrap_or_default();
    render(&InvoiceFormPage::edit(
        &signed_in,
        &id,
        &form,
        &Errors::default(),
    ))
}

/// What a stale draft edit shows: the draft as it is now.
fn conflict(invoice: &Invoice) -> Conflict {
    let money = |minor| format::money(&invoice.currency, minor);
    let mut current: Vec<(String, String)> = invoice
        .items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let line = format!(
                "{} × {} at {}",
                item.description,
                item.quantity,
                money(item.unit_amount)
            );
            (format!("Line {}", i + 1), line)
        })
        .collect();
    current.push((
        "Tax rate (basis points)".to_owned(),
        invoice.tax_rate_bps.to_string(),
    ));
    current.push((
        "Due date".to_owned(),
        invoice.due_date.clone().unwrap_or_default(),
    ));
    current.push(("Status".to_owned(), invoice.status.clone()));
    Conflict {
        sentence: "This invoice was changed by someone else since this form was opened. Its \
                   current values are below; press \u{201c}Save draft\u{201d} again to replace \
                   them with yours.",
        current,
    }
}

/// `POST /invoices/{id}/edit`: `PATCH` with `If-Match`; a stale version brings the form
/// back with what was typed, the current values and the current version.
pub async fn update_invoice(
    signed_in: SignedIn,
    Path(raw): Path<String>,
    Form(mut form): Form<InvoiceForm>,
) -> Result<Response, PageError> {
    let id = id(&raw)?;
    if form.wants_another_row() {
        form.add_row();
        return render(&InvoiceFormPage::edit(
            &signed_in,
            &id,
            &form,
            &Errors::default(),
        ));
    }
    let (body, rows) = form.update_body();
    match signed_in
        .api
        .update_invoice(&id, version(&form.version), &body)
        .await
    {
        Ok(_) => Ok(redirect_with(
            &format!("/invoices/{id}"),
            Notice::InvoiceSaved,
        )),
        Err(api::Error::Stale { .. }) => {
            let current = signed_in.api.invoice(&id).await?;
            form.version = current.version.clone().unwrap_or_default();
            let mut page = InvoiceFormPage::edit(&signed_in, &id, &form, &Errors::default());
            page.conflict = Some(conflict(&current.value));
            render_with(StatusCode::PRECONDITION_FAILED, &page)
        }
        Err(api::Error::Rejected(problem)) => {
            let errors = Errors::place(&problem, |field| InvoiceForm::locate(field, &rows));
            let page = InvoiceFormPage::edit(&signed_in, &id, &form, &errors);
            render_with(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(error) => Err(error.into()),
    }
}
