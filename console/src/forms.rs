//! The console's forms: what the browser posts, what each sends to a service, and where the
//! service's objections go, next to the input they name or, naming none, at the top.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::api::{Customer, Invoice, Problem};

/// One labelled input as a template draws it, with the error placed next to it.
#[derive(Debug, Clone)]
pub struct Input {
    pub id: String,
    pub name: &'static str,
    pub label: String,
    pub value: String,
    /// Its `type`.
    pub kind: &'static str,
    pub autocomplete: &'static str,
    pub error: Option<String>,
}

impl Input {
    fn new(
        id: impl Into<String>,
        name: &'static str,
        label: impl Into<String>,
        value: &str,
    ) -> Self {
        Self {
            id: id.into(),
            name,
            label: label.into(),
            value: value.to_owned(),
            kind: "text",
            autocomplete: "off",
            error: None,
        }
    }

    /// A text input of a filter form (its name is its id).
    pub fn filter(id: &'static str, label: &str, value: &str, errors: &Errors) -> Self {
        Self::new(id, id, label, value).with_errors(errors)
    }

    fn kind(mut self, kind: &'static str) -> Self {
        self.kind = kind;
        self
    }

    fn autocomplete(mut self, autocomplete: &'static str) -> Self {
        self.autocomplete = autocomplete;
        self
    }

    fn with_errors(mut self, errors: &Errors) -> Self {
        self.error = errors.field(&self.id).map(str::to_owned);
        self
    }
}

/// A service's objections, placed: by the id of the input each belongs to, and the rest
/// (no field, or a field the form has no input for) for the summary at the top.
#[derive(Debug, Clone, Default)]
pub struct Errors {
    pub summary: Vec<String>,
    fields: BTreeMap<String, String>,
}

impl Errors {
    /// Places `problem`'s details with `locate`, which gives the input id of an API field
    /// name. Without details, `email_taken` belongs to the email input and
    /// `customer_not_found` to the customer id; any other sentence goes to the summary.
    pub fn place(problem: &Problem, locate: impl Fn(&str) -> Option<String>) -> Self {
        let mut errors = Self::default();
        for detail in &problem.details {
            match locate(&detail.field) {
                Some(id) => errors.add_field(id, &detail.message),
                None if detail.field.is_empty() => errors.summary.push(detail.message.clone()),
                None => errors
                    .summary
                    .push(format!("{}: {}", detail.field, detail.message)),
            }
        }
        if problem.details.is_empty() {
            let owner = match problem.code.as_str() {
                "email_taken" => locate("email"),
                "customer_not_found" => locate("customer_id"),
                _ => None,
            };
            match owner {
                Some(id) => errors.add_field(id, &problem.error),
                None => errors.summary.push(problem.error.clone()),
            }
        }
        errors
    }

    /// One sentence for the top of the form.
    pub fn saying(sentence: impl Into<String>) -> Self {
        Self {
            summary: vec![sentence.into()],
            fields: BTreeMap::new(),
        }
    }

    fn add_field(&mut self, id: String, message: &str) {
        self.fields
            .entry(id)
            .and_modify(|text| {
                text.push_str("; ");
                text.push_str(message);
            })
            .or_insert_with(|| message.to_owned());
    }

    pub fn field(&self, id: &str) -> Option<&str> {
        self.fields.get(id).map(String::as_str)
    }
}

/// A text field: `None` when left empty.
fn given(text: &str) -> Option<&str> {
    Some(text).filter(|t| !t.trim().is_empty())
}

/// An integer field as typed: a number when it is one, else the text, so that the service
/// names the field it does not take.
fn integer(text: &str) -> Value {
    let trimmed = text.trim();
    trimmed
        .parse::<i64>()
        .map_or_else(|_| Value::String(text.to_owned()), Value::from)
}

/// A tag that names no version: what a write sends when its form carries none.
pub const NO_VERSION: &str = "\"none\"";

/// The hidden `version` field: the `ETag` the form was drawn from. A form without one asks
/// for a version that matches none, so the service answers `412` and the operator sees the
/// record as it is instead of writing over it blind.
pub fn version(text: &str) -> Option<&str> {
    Some(given(text).unwrap_or(NO_VERSION))
}

/// A form that only carries the version of what it acts on (delete, transitions).
#[derive(Debug, Default, Deserialize)]
pub struct VersionForm {
    #[serde(default)]
    pub version: String,
}

/// The customer form, new and edit.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CustomerForm {
    pub name: String,
    pub email: String,
    pub phone: String,
    pub line1: String,
    pub line2: String,
    pub city: String,
    pub state: String,
    pub postal_code: String,
    pub country: String,
    pub version: String,
}

impl CustomerForm {
    pub fn from_customer(customer: &Customer) -> Self {
        let address = customer.address.clone().unwrap_or_default();
        let text = |value: Option<String>| value.unwrap_or_default();
        Self {
            name: customer.name.clone(),
            email: customer.email.clone(),
            phone: text(customer.phone.clone()),
            line1: text(address.line1),
            line2: text(address.line2),
            city: text(address.city),
            state: text(address.state),
            postal_code: text(address.postal_code),
            country: text(address.country),
            version: String::new(),
        }
    }

    fn address_lines(&self) -> [(&'static str, &str); 6] {
        [
            ("line1", &self.line1),
            ("line2", &self.line2),
            ("city", &self.city),
            ("state", &self.state),
            ("postal_code", &self.postal_code),
            ("country", &self.country),
        ]
    }

    /// The address as the API takes it, `None` when every line is empty.
    fn address(&self) -> Option<Value> {
        let lines: Map<String, Value> = self
            .address_lines()
            .into_iter()
            .filter_map(|(name, text)| given(text).map(|t| (name.to_owned(), Value::from(t))))
            .collect();
        (!lines.is_empty()).then_some(Value::Object(lines))
    }

    /// `POST /customers`: what was typed, empty optional fields left out.
    pub fn create_body(&self) -> Value {
        let mut body = json!({"name": self.name, "email": self.email});
        if let Some(phone) = given(&self.phone) {
            body["phone"] = phone.into();
        }
        if let Some(address) = self.address() {
            body["address"] = address;
        }
        body
    }

    /// `PATCH /customers/{id}`: every field, emptied optional ones cleared.
    pub fn update_body(&self) -> Value {
        json!({
            "name": self.name,
            "email": self.email,
            "phone": given(&self.phone),
            "address": self.address(),
        })
    }

    /// The input of an API field: `address.city` is the city input.
    pub fn locate(field: &str) -> Option<String> {
        let name = field.strip_prefix("address.").unwrap_or(field);
        CUSTOMER_FIELDS
            .iter()
            .find(|(id, _)| *id == name)
            .map(|(id, _)| (*id).to_owned())
    }

    /// The contact inputs and the address inputs, with `errors` placed.
    pub fn inputs(&self, errors: &Errors) -> (Vec<Input>, Vec<Input>) {
        let values = [
            &self.name,
            &self.email,
            &self.phone,
            &self.line1,
            &self.line2,
            &self.city,
            &self.state,
            &self.postal_code,
            &self.country,
        ];
        let mut inputs: Vec<Input> = CUSTOMER_FIELDS
            .iter()
            .zip(values)
            .map(|((id, label), value)| {
                let input = Input::new(*id, id, *label, value);
                let input = match *id {
                    "name" => input.autocomplete("name"),
                    "email" => input.kind("email").autocomplete("email"),
                    "phone" => input.kind("tel").autocomplete("tel"),
                    "line1" => input.autocomplete("address-line1"),
                    "line2" => input.autocomplete("address-line2"),
                    "city" => input.autocomplete("address-level2"),
                    "state" => input.autocomplete("address-level1"),
                    "postal_code" => input.autocomplete("postal-code"),
                    _ => input.autocomplete("country"),
                };
                input.with_errors(errors)
            })
            .collect();
        let address = inputs.split_off(3);
        (inputs, address)
    }
}

/// The customer form's inputs: id (which is also the field name) and label.
const CUSTOMER_FIELDS: [(&str, &str); 9] = [
    ("name", "Name"),
    ("email", "Email"),
    ("phone", "Phone"),
    ("line1", "Address line 1"),
    ("line2", "Address line 2"),
    ("city", "City"),
    ("state", "State"),
    ("postal_code", "Postal code"),
    ("country", "Country"),
];

/// How many line rows a new invoice starts with.
pub const FIRST_ROWS: usize = 3;

/// The invoice form, new and edit: its lines come as repeated `description`, `quantity`
/// and `unit_amount` fields, one of each per row.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct InvoiceForm {
    pub customer_id: String,
    pub currency: String,
    pub tax_rate_bps: String,
    pub due_date: String,
    pub description: Vec<String>,
    pub quantity: Vec<String>,
    pub unit_amount: Vec<String>,
    /// `add_line` when "Add a line" was pressed.
    pub action: String,
    pub version: String,
}

/// One line row as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Row {
    pub description: String,
    pub quantity: String,
    pub unit_amount: String,
}

impl Row {
    fn is_empty(&self) -> bool {
        [&self.description, &self.quantity, &self.unit_amount]
            .iter()
            .all(|t| t.trim().is_empty())
    }
}

impl InvoiceForm {
    /// A new invoice's form: the customer from the link, EUR, three empty rows.
    pub fn new(customer_id: Option<String>) -> Self {
        Self {
            customer_id: customer_id.unwrap_or_default(),
            currency: "EUR".to_owned(),
            description: vec![String::new(); FIRST_ROWS],
            quantity: vec![String::new(); FIRST_ROWS],
            unit_amount: vec![String::new(); FIRST_ROWS],
            ..Self::default()
        }
    }

    /// A draft's form: its lines and one empty row.
    pub fn from_invoice(invoice: &Invoice) -> Self {
        let mut form = Self {
            customer_id: invoice.customer_id.clone(),
            currency: invoice.currency.clone(),
            tax_rate_bps: invoice.tax_rate_bps.to_string(),
            due_date: invoice.due_date.clone().unwrap_or_default(),
            ..Self::default()
        };
        for item in &invoice.items {
            form.description.push(item.description.clone());
            form.quantity.push(item.quantity.to_string());
            form.unit_amount.push(item.unit_amount.to_string());
        }
        form.add_row();
        form
    }

    pub fn wants_another_row(&self) -> bool {
        self.action == "add_line"
    }

    pub fn add_row(&mut self) {
        let rows = self.rows().len();
        for column in [
            &mut self.description,
            &mut self.quantity,
            &mut self.unit_amount,
        ] {
            column.resize(rows, String::new());
            column.push(String::new());
        }
    }

    /// The rows as typed, the columns lined up (a missing cell is empty).
    pub fn rows(&self) -> Vec<Row> {
        let count = self
            .description
            .len()
            .max(self.quantity.len())
            .max(self.unit_amount.len());
        let cell = |column: &[String], i: usize| column.get(i).cloned().unwrap_or_default();
        (0..count)
            .map(|i| Row {
                description: cell(&self.description, i),
                quantity: cell(&self.quantity, i),
                unit_amount: cell(&self.unit_amount, i),
            })
            .collect()
    }

    /// The items to send, and for each the index of the row it came from (rows with every
    /// field empty are left out).
    fn items(&self) -> (Vec<Value>, Vec<usize>) {
        self.rows()
            .into_iter()
            .enumerate()
            .filter(|(_, row)| !row.is_empty())
            .map(|(i, row)| {
                let item = json!({
                    "description": row.description,
                    "quantity": integer(&row.quantity),
                    "unit_amount": integer(&row.unit_amount),
                });
                (item, i)
            })
            .unzip()
    }

    /// `POST /invoices`, and the rows its items came from.
    pub fn create_body(&self) -> (Value, Vec<usize>) {
        let (items, rows) = self.items();
        let mut body = json!({
            "customer_id": self.customer_id.trim(),
            "currency": self.currency,
            "items": items,
        });
        if let Some(rate) = given(&self.tax_rate_bps) {
            body["tax_rate_bps"] = integer(rate);
        }
        if let Some(date) = given(&self.due_date) {
            body["due_date"] = date.trim().into();
        }
        (body, rows)
    }

    /// `PATCH /invoices/{id}`: the lines, tax rate and due date (emptied ones cleared).
    pub fn update_body(&self) -> (Value, Vec<usize>) {
        let (items, rows) = self.items();
        let body = json!({
            "items": items,
            "tax_rate_bps": given(&self.tax_rate_bps).map(integer),
            "due_date": given(&self.due_date).map(str::trim),
        });
        (body, rows)
    }

    /// The input of an API field: `items[1].quantity` is the quantity of the row the second
    /// item came from.
    pub fn locate(field: &str, rows: &[usize]) -> Option<String> {
        if let Some(rest) = field.strip_prefix("items[") {
            let (index, column) = rest.split_once("].")?;
            let row = rows.get(index.parse::<usize>().ok()?)?;
            return ["description", "quantity", "unit_amount"]
                .contains(&column)
                .then(|| row_id(*row, column));
        }
        ["customer_id", "currency", "tax_rate_bps", "due_date"]
            .contains(&field)
            .then(|| field.to_owned())
    }

    /// The inputs above the lines: all four on a new invoice; the tax rate and due date on a
    /// draft being edited (its customer and currency are fixed).
    pub fn head_inputs(&self, editing: bool, errors: &Errors) -> Vec<Input> {
        let mut inputs = Vec::new();
        if !editing {
            inputs.push(Input::new(
                "customer_id",
                "customer_id",
                "Customer ID",
                &self.customer_id,
            ));
            inputs.push(Input::new(
                "currency",
                "currency",
                "Currency",
                &self.currency,
            ));
        }
        inputs.push(
            Input::new(
                "tax_rate_bps",
                "tax_rate_bps",
                "Tax rate (basis points)",
                &self.tax_rate_bps,
            )
            .kind("number"),
        );
        inputs.push(Input::new("due_date", "due_date", "Due date", &self.due_date).kind("date"));
        inputs.into_iter().map(|i| i.with_errors(errors)).collect()
    }

    /// Each row's three inputs, labelled "Line N …".
    pub fn row_inputs(&self, errors: &Errors) -> Vec<[Input; 3]> {
        self.rows()
            .iter()
            .enumerate()
            .map(|(i, row)| {
                let n = i + 1;
                [
                    Input::new(
                        row_id(i, "description"),
                        "description",
                        format!("Line {n} description"),
                        &row.description,
                    ),
                    Input::new(
                        row_id(i, "quantity"),
                        "quantity",
                        format!("Line {n} quantity"),
                        &row.quantity,
                    )
                    .kind("number"),
                    Input::new(
                        row_id(i, "unit_amount"),
                        "unit_amount",
                        format!("Line {n} unit amount (minor units)"),
                        &row.unit_amount,
                    )
                    .kind("number"),
                ]
                .map(|input| input.with_errors(errors))
            })
            .collect()
    }
}

/// The id of row `index`'s (0-based) input for `column`.
fn row_id(index: usize, column: &str) -> String {
    format!("line-{}-{column}", index + 1)
}

/// The webhooks page's new endpoint form.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct EndpointForm {
    pub service: String,
    pub url: String,
    pub enabled_events: String,
}

impl EndpointForm {
    /// `POST /webhook_endpoints`: the comma-separated types, or every type (`*`) when empty.
    pub fn body(&self) -> Value {
        let mut events: Vec<&str> = self
            .enabled_events
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .collect();
        if events.is_empty() {
            events.push("*");
        }
        json!({"url": self.url.trim(), "enabled_events": events})
    }

    pub fn locate(field: &str) -> Option<String> {
        let field = field.split('[').next().unwrap_or(field);
        ["url", "enabled_events"]
            .contains(&field)
            .then(|| field.to_owned())
    }

    pub fn inputs(&self, errors: &Errors) -> Vec<Input> {
        [
            Input::new("url", "url", "URL", &self.url).kind("url"),
            Input::new(
                "enabled_events",
                "enabled_events",
                "Event types",
                &self.enabled_events,
            ),
        ]
        .into_iter()
        .map(|i| i.with_errors(errors))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Detail;

    fn problem(code: &str, details: &[(&str, &str)]) -> Problem {
        Problem {
            error: "The request is not valid; see details.".to_owned(),
            code: code.to_owned(),
            details: details
                .iter()
                .map(|(field, message)| Detail {
                    field: (*field).to_owned(),
                    message: (*message).to_owned(),
                })
                .collect(),
        }
    }

    #[test]
    fn an_item_error_lands_on_the_row_the_item_came_from() {
        let form = InvoiceForm {
            description: vec!["".into(), "Hosting".into(), "Support".into()],
            quantity: vec!["".into(), "3".into(), "x".into()],
            unit_amount: vec!["".into(), "100".into(), "5".into()],
            ..InvoiceForm::default()
        };
        let (body, rows) = form.create_body();
        assert_eq!(rows, vec![1, 2]);
        assert_eq!(body["items"][0]["quantity"], 3);
        assert_eq!(body["items"][1]["quantity"], "x");
        let errors = Errors::place(
            &problem(
                "validation_failed",
                &[("items[1].quantity", "must be an integer")],
            ),
            |f| InvoiceForm::locate(f, &rows),
        );
        assert_eq!(errors.field("line-3-quantity"), Some("must be an integer"));
        assert!(errors.summary.is_empty());
    }

    #[test]
    fn errors_without_an_input_go_to_the_summary() {
        let errors = Errors::place(
            &problem(
                "validation_failed",
                &[("items", "must hold 1 to 100 items"), ("metadata", "bad")],
            ),
            |f| InvoiceForm::locate(f, &[]),
        );
        assert_eq!(errors.summary.len(), 2);
    }

    #[test]
    fn a_taken_email_belongs_to_the_email_input() {
        let mut taken = problem("email_taken", &[]);
        taken.error = "A customer with this email already exists.".to_owned();
        let errors = Errors::place(&taken, CustomerForm::locate);
        assert_eq!(
            errors.field("email"),
            Some("A customer with this email already exists.")
        );
        let errors = Errors::place(
            &problem(
                "validation_failed",
                &[("address.country", "must be ISO 3166-1 alpha-2")],
            ),
            CustomerForm::locate,
        );
        assert!(errors.field("country").is_some());
    }

    #[test]
    fn an_emptied_phone_and_address_are_cleared_on_update_and_left_out_on_create() {
        let form = CustomerForm {
            name: "Ada".into(),
            email: "ada@example.com".into(),
            ..CustomerForm::default()
        };
        assert_eq!(
            form.create_body(),
            json!({"name": "Ada", "email": "ada@example.com"})
        );
        assert_eq!(
            form.update_body(),
            json!({"name": "Ada", "email": "ada@example.com", "phone": null, "address": null})
        );
    }

    #[test]
    fn adding_a_line_keeps_every_typed_value() {
        let mut form = InvoiceForm::new(None);
        form.description[0] = "Hosting".into();
        form.add_row();
        let rows = form.rows();
        assert_eq!(rows.len(), FIRST_ROWS + 1);
        assert_eq!(rows[0].description, "Hosting");
        assert_eq!(rows[FIRST_ROWS], Row::default());
    }

    #[test]
    fn empty_event_types_mean_every_type() {
        let form = EndpointForm {
            url: " https://example.com/hook ".into(),
            ..EndpointForm::default()
        };
        assert_eq!(
            form.body(),
            json!({"url": "https://example.com/hook", "enabled_events": ["*"]})
        );
    }
}
