//! Invoice documents: the PDF and the customer's hosted page, both drawn from one
//! [`view::View`] of an invoice and the seller's details.
//!
//! A document is identified by a digest of the invoice JSON it was drawn from (and of the
//! seller's details): a new state of the invoice gives a new digest, so a cached document
//! can never be an old one, and the digest is the document's `ETag`. PDFs are cached under
//! it (Redis when configured, in process otherwise); pages are cheap and drawn each time.

mod font;
mod page;
mod pdf;
mod view;

use std::sync::Arc;

use askama::Template;
use axum::body::Bytes;
use bson::oid::ObjectId;
use rand::Rng;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::cache::InvoiceCache;
use crate::domain::Invoice;

pub use font::FILES as FONT_FILES;

/// The seller's own details, printed on every document.
#[derive(Debug, Clone, Default)]
pub struct Seller {
    pub name: String,
    /// At most [`MAX_ADDRESS_LINES`].
    pub address: Vec<String>,
    pub tax_id: Option<String>,
    pub footer: Option<String>,
    pub logo: Option<Logo>,
}

/// The most address lines the documents' head has room for.
pub const MAX_ADDRESS_LINES: usize = 4;

impl Seller {
    /// Feeds everything the documents show of the seller into `digest`.
    fn digest_into(&self, digest: &mut Sha256) {
        let fields = [Some(&self.name), self.tax_id.as_ref(), self.footer.as_ref()];
        for field in fields.into_iter().chain(self.address.iter().map(Some)) {
            let field = field.map_or("", String::as_str);
            digest.update((field.len() as u64).to_le_bytes());
            digest.update(field);
        }
        if let Some(logo) = &self.logo {
            digest.update(logo.bytes.as_slice());
        }
    }
}

/// The seller's logo: a PNG or a JPEG, checked when the service starts.
#[derive(Clone)]
pub struct Logo {
    pub media_type: &'static str,
    bytes: Arc<Vec<u8>>,
}

impl Logo {
    /// `bytes` when they are a PNG or JPEG image the PDF writer reads.
    pub fn parse(bytes: Vec<u8>) -> Result<Self, String> {
        let media_type = match bytes.get(..4) {
            Some([0x89, b'P', b'N', b'G']) => "image/png",
            Some([0xFF, 0xD8, 0xFF, _]) => "image/jpeg",
            _ => return Err("is neither a PNG nor a JPEG file".to_owned()),
        };
        let logo = Self {
            media_type,
            bytes: Arc::new(bytes),
        };
        logo.image()
            .map_err(|e| format!("cannot be read as an image: {e}"))?;
        Ok(logo)
    }

    fn image(&self) -> Result<krilla::image::Image, String> {
        let data = krilla::Data::from(Arc::clone(&self.bytes));
        match self.media_type {
            "image/png" => krilla::image::Image::from_png(data, true),
            _ => krilla::image::Image::from_jpeg(data, true),
        }
    }
}

impl std::fmt::Debug for Logo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Logo({}, {} bytes)", self.media_type, self.bytes.len())
    }
}

/// A document could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("invoice document: {0}")]
pub struct DocumentError(pub String);

/// A drawn document and its `ETag` (quoted, as the header carries it).
pub struct Rendered {
    pub bytes: Bytes,
    pub etag: String,
}

/// What asking for a document gives: the document, or only its `ETag` when the asker
/// already holds that version (nothing drawn, nothing read from the cache).
pub enum Answer {
    Unchanged { etag: String },
    Document(Rendered),
}

pub struct Documents {
    seller: Arc<Seller>,
    public_url: String,
    /// Digest of everything besides the invoice that shapes a document.
    fingerprint: [u8; 32],
    logo_uri: Option<String>,
    cache: Arc<InvoiceCache>,
    /// Renders at once, at most one per core: a burst of cold renders queues here instead
    /// of taking every blocking thread.
    renders: Arc<Semaphore>,
}

/// Where the hosted page (at `/i/{id}/{token}`) loads the documents' fonts from: the
/// `/i/assets/` route of `crate::http`, relative so that a `PUBLIC_URL` with a path works.
pub const FONT_BASE: &str = "../assets/";

/// What besides the invoice and the seller shapes a document: the layout's code, the page
/// template and the fonts. A build that draws differently gets new tags, so neither a
/// cache shared between builds nor a browser keeps a document drawn the old way.
const LAYOUT: [&[u8]; 4] = [
    include_bytes!("pdf.rs"),
    include_bytes!("view.rs"),
    include_bytes!("../../templates/hosted_invoice.html"),
    include_bytes!("../domain/money.rs"),
];

impl Documents {
    /// `public_url` is the service's address as customers reach it, for hosted links.
    pub fn new(seller: Seller, public_url: &str, cache: Arc<InvoiceCache>) -> Self {
        let mut digest = Sha256::new();
        for part in LAYOUT
            .iter()
            .chain(font::FILES.iter().map(|(_, bytes, _)| bytes))
        {
            digest.update(part);
        }
        seller.digest_into(&mut digest);
        let logo_uri = seller.logo.as_ref().map(|logo| {
            use base64::Engine;
            let data = base64::engine::general_purpose::STANDARD.encode(logo.bytes.as_slice());
            format!("data:{};base64,{data}", logo.media_type)
        });
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            seller: Arc::new(seller),
            public_url: public_url.trim_end_matches('/').to_owned(),
            fingerprint: digest.finalize().into(),
            logo_uri,
            cache,
            renders: Arc::new(Semaphore::new(cores)),
        }
    }

    /// A new hosted link for invoice `id`: its last segment [`HOSTED_TOKEN_BYTES`] random
    /// bytes, in hex.
    pub fn new_hosted_url(&self, id: ObjectId) -> String {
        let token: [u8; HOSTED_TOKEN_BYTES] = rand::rng().random();
        format!(
            "{}/i/{}/{}",
            self.public_url,
            id.to_hex(),
            hex::encode(token)
        )
    }

    /// The `ETag` of the documents drawn from this invoice JSON.
    fn etag(&self, json: &[u8]) -> String {
        let mut digest = Sha256::new();
        digest.update(self.fingerprint);
        digest.update(json);
        let digest = digest.finalize();
        format!("\"{}\"", hex::encode(&digest[..16]))
    }

    /// The invoice's PDF, from the cache when this version was drawn before; only its tag
    /// when `held` says the asker has that version.
    pub async fn pdf(
        &self,
        id: ObjectId,
        json: &Bytes,
        held: impl Fn(&str) -> bool,
    ) -> Result<Answer, DocumentError> {
        let etag = self.etag(json);
        if held(&etag) {
            return Ok(Answer::Unchanged { etag });
        }
        if let Some(bytes) = self.cache.get_document(id, &etag).await {
            metrics::counter!("document_cache_hits_total").increment(1);
            return Ok(Answer::Document(Rendered { bytes, etag }));
        }
        metrics::counter!("document_renders_total").increment(1);
        let invoice = parse(json)?;
        // Held by the render itself, so a request that gives up does not free its slot
        // while the render goes on.
        let permit = Arc::clone(&self.renders)
            .acquire_owned()
            .await
            .map_err(|e| DocumentError(e.to_string()))?;
        let seller = Arc::clone(&self.seller);
        let bytes = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            render_pdf(&invoice, &seller)
        })
        .await
        .map_err(|e| DocumentError(format!("render task: {e}")))??;
        let bytes = Bytes::from(bytes);
        self.cache.put_document(id, &etag, bytes.clone()).await;
        Ok(Answer::Document(Rendered { bytes, etag }))
    }

    /// The hosted page of `invoice` (read as `json`), linking to `pdf_href`; only its tag
    /// when `held` says the asker has that version.
    pub fn page(
        &self,
        invoice: &Invoice,
        json: &Bytes,
        pdf_href: &str,
        held: impl Fn(&str) -> bool,
    ) -> Result<Answer, DocumentError> {
        let etag = self.etag(json);
        if held(&etag) {
            return Ok(Answer::Unchanged { etag });
        }
        let view = view::View::of(invoice, &self.seller);
        let html = page::HostedPage {
            view: &view,
            pdf_href,
            font_base: FONT_BASE,
            logo: self.logo_uri.as_deref(),
        }
        .render()
        .map_err(|e| DocumentError(format!("page: {e}")))?;
        Ok(Answer::Document(Rendered {
            bytes: Bytes::from(html),
            etag,
        }))
    }
}

/// Draws the PDF of `invoice`; the same invoice and seller always give the same bytes.
pub fn render_pdf(invoice: &Invoice, seller: &Seller) -> Result<Vec<u8>, DocumentError> {
    let fonts = font::fonts().ok_or_else(|| DocumentError("the built-in fonts".into()))?;
    pdf::render(&view::View::of(invoice, seller), fonts)
}

/// The random bytes of a hosted link's token: 256 bits.
pub const HOSTED_TOKEN_BYTES: usize = 32;

/// Whether `token` has the shape of a hosted link's token (lower-case hex of
/// [`HOSTED_TOKEN_BYTES`]).
pub fn is_hosted_token(token: &str) -> bool {
    token.len() == HOSTED_TOKEN_BYTES * 2
        && token
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The invoice behind cached JSON: the document needs its fields, not just its text.
pub fn parse(json: &[u8]) -> Result<Invoice, DocumentError> {
    serde_json::from_slice(json).map_err(|e| DocumentError(format!("invoice JSON: {e}")))
}
