//! The hosted invoice page: one askama template, checked when the service is compiled.

use askama::Template;

use super::view::View;

#[derive(Template)]
#[template(path = "hosted_invoice.html")]
pub struct HostedPage<'a> {
    pub view: &'a View<'a>,
    pub pdf_href: &'a str,
    /// Where `invoice-sans.ttf` and `invoice-sans-cjk.otf` are served.
    pub font_base: &'a str,
    /// The seller's logo as a `data:` URI, so the page loads nothing from elsewhere.
    pub logo: Option<&'a str>,
}
