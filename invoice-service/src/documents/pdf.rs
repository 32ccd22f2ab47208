//! The invoice as an A4 PDF, drawn with krilla. Nothing in it depends on the time or on
//! chance (no creation date, the file id a hash of the content), so one invoice version
//! always gives the same bytes.

use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect, Size, Transform};
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::surface::Surface;

use super::font::Fonts;
use super::view::{Line, View};
use super::{DocumentError, Logo};

const WIDTH: f32 = 595.28;
const HEIGHT: f32 = 841.89;
const MARGIN: f32 = 50.0;
const RIGHT: f32 = WIDTH - MARGIN;
/// Where the footer's baseline sits; the body stays above it.
const FOOTER_Y: f32 = HEIGHT - 36.0;
const BODY_BOTTOM: f32 = FOOTER_Y - 28.0;

const INK: (u8, u8, u8) = (28, 32, 38);
const MUTED: (u8, u8, u8) = (96, 104, 114);
const RULE: (u8, u8, u8) = (214, 218, 224);
const WATERMARK: (u8, u8, u8) = (232, 234, 238);

const ROW_SIZE: f32 = 9.5;
const ROW_LEADING: f32 = 13.0;
const ROW_GAP: f32 = 7.0;
/// The description column ends here; quantity, unit price and amount are right-aligned.
const DESCRIPTION_WIDTH: f32 = 250.0;
const QUANTITY_RIGHT: f32 = MARGIN + DESCRIPTION_WIDTH + 50.0;
const UNIT_RIGHT: f32 = QUANTITY_RIGHT + 95.0;
/// The room of a right-aligned figure, short of the column before it.
const QUANTITY_WIDTH: f32 = 42.0;
const AMOUNT_WIDTH: f32 = 88.0;

/// Renders `view` to PDF bytes.
pub fn render(view: &View<'_>, fonts: &Fonts) -> Result<Vec<u8>, DocumentError> {
    let rows: Vec<Vec<String>> = view
        .lines
        .iter()
        .map(|line| wrap(fonts, line.description, ROW_SIZE, DESCRIPTION_WIDTH))
        .collect();
    let pages = paginate(&rows, view.totals.len());
    let mut document = Document::new();
    let mut metadata = Metadata::new()
        .title(view.title())
        .creator("billing-system".to_owned());
    if !view.seller.name.is_empty() {
        metadata = metadata.authors(vec![view.seller.name.clone()]);
    }
    document.set_metadata(metadata);
    let count = pages.len();
    for (index, range) in pages.into_iter().enumerate() {
        let settings = PageSettings::from_wh(WIDTH, HEIGHT)
            .ok_or_else(|| DocumentError("page size".into()))?;
        let mut page = document.start_page_with(settings);
        let mut surface = page.surface();
        let mut pen = Pen {
            surface: &mut surface,
            fonts,
        };
        if view.draft {
            pen.watermark("DRAFT");
        }
        let mut y = if index == 0 {
            pen.head(view);
            FIRST_TABLE_Y
        } else {
            NEXT_TABLE_Y
        };
        y = pen.table_head(y);
        for i in range.clone() {
            y = pen.row(y, &view.lines[i], &rows[i]);
        }
        if index + 1 == count {
            pen.totals(y + 10.0, view);
        }
        pen.footer(view, index + 1, count);
        surface.finish();
        page.finish();
    }
    document
        .finish()
        .map_err(|e| DocumentError(format!("PDF: {e:?}")))
}

/// Which line items go on each page: as many as fit, the totals on the last page.
fn paginate(rows: &[Vec<String>], totals: usize) -> Vec<std::ops::Range<usize>> {
    let totals_height = 20.0 + totals as f32 * 18.0;
    let mut pages = Vec::new();
    let mut start = 0;
    let mut y = FIRST_TABLE_Y + TABLE_HEAD_HEIGHT;
    for (i, row) in rows.iter().enumerate() {
        let height = row_height(row);
        if y + height > BODY_BOTTOM && i > start {
            pages.push(start..i);
            start = i;
            y = NEXT_TABLE_Y + TABLE_HEAD_HEIGHT;
        }
        y += height;
    }
    if y + totals_height > BODY_BOTTOM && start < rows.len() {
        pages.push(start..rows.len());
        start = rows.len();
    }
    pages.push(start..rows.len());
    pages
}

fn row_height(lines: &[String]) -> f32 {
    lines.len().max(1) as f32 * ROW_LEADING + ROW_GAP
}

/// Where the table starts on the first page, below the tallest head (the seller's address
/// is at most four lines and the logo at most LOGO_HEIGHT), and on the pages after it.
const FIRST_TABLE_Y: f32 = 280.0;
const NEXT_TABLE_Y: f32 = MARGIN + 10.0;
const LOGO_HEIGHT: f32 = 40.0;
const LOGO_WIDTH: f32 = 160.0;
const TABLE_HEAD_HEIGHT: f32 = 24.0;

/// Greedy line breaking at spaces; a word wider than the column (or text in a script
/// without spaces) breaks between characters.
fn wrap(fonts: &Fonts, text: &str, size: f32, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let candidate = if line.is_empty() {
            word.to_owned()
        } else {
            format!("{line} {word}")
        };
        if fonts.width(&candidate, size) <= width {
            line = candidate;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        for c in word.chars() {
            line.push(c);
            if fonts.width(&line, size) > width && line.chars().count() > 1 {
                line.pop();
                lines.push(std::mem::replace(&mut line, c.to_string()));
            }
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// How a piece of text is set.
#[derive(Clone, Copy)]
struct Style {
    size: f32,
    color: (u8, u8, u8),
    bold: bool,
}

impl Style {
    const fn new(size: f32, color: (u8, u8, u8), bold: bool) -> Self {
        Self { size, color, bold }
    }
}

#[derive(Clone, Copy)]
enum Align {
    Left,
    Right,
}

struct Pen<'a, 'b> {
    surface: &'a mut Surface<'b>,
    fonts: &'a Fonts,
}

impl Pen<'_, '_> {
    fn text(&mut self, x: f32, y: f32, style: Style, text: &str, align: Align) {
        let Style { size, color, bold } = style;
        if text.is_empty() {
            return;
        }
        let x = match align {
            Align::Left => x,
            Align::Right => x - self.fonts.width(text, size),
        };
        let paint = rgb::Color::new(color.0, color.1, color.2);
        self.surface.set_fill(Some(Fill {
            paint: paint.into(),
            ..Fill::default()
        }));
        // One built-in weight: bold is the same glyphs with a thin outline of their own colour.
        self.surface.set_stroke(bold.then(|| Stroke {
            paint: paint.into(),
            width: size * 0.035,
            ..Stroke::default()
        }));
        let mut x = x;
        for (face, run) in self.fonts.runs(text) {
            self.surface.draw_glyphs(
                Point::from_xy(x, y),
                &face.glyphs(run),
                face.pdf.clone(),
                run,
                size,
                false,
            );
            x += self.fonts.width(run, size);
        }
        self.surface.set_stroke(None);
    }

    fn rule(&mut self, y: f32, color: (u8, u8, u8), thickness: f32) {
        let Some(rect) = Rect::from_xywh(MARGIN, y, RIGHT - MARGIN, thickness) else {
            return;
        };
        let mut path = PathBuilder::new();
        path.push_rect(rect);
        let Some(path) = path.finish() else { return };
        self.surface.set_stroke(None);
        self.surface.set_fill(Some(Fill {
            paint: rgb::Color::new(color.0, color.1, color.2).into(),
            ..Fill::default()
        }));
        self.surface.draw_path(&path);
    }

    fn watermark(&mut self, word: &str) {
        let size = 120.0;
        let width = self.fonts.width(word, size);
        self.surface
            .push_transform(&Transform::from_rotate_at(-35.0, WIDTH / 2.0, HEIGHT / 2.0));
        self.text(
            (WIDTH - width) / 2.0,
            HEIGHT / 2.0 + size * 0.35,
            Style::new(size, WATERMARK, true),
            word,
            Align::Left,
        );
        self.surface.pop();
    }

    /// Seller, title, number, status, dates and the customer, above FIRST_TABLE_Y.
    fn head(&mut self, view: &View<'_>) {
        let seller = view.seller;
        let mut y = MARGIN + 14.0;
        if let Some(logo) = &seller.logo {
            y += self.logo(logo) + 12.0;
        }
        self.text(
            MARGIN,
            y,
            Style::new(15.0, INK, true),
            &seller.name,
            Align::Left,
        );
        for line in &seller.address {
            y += 13.0;
            self.text(MARGIN, y, Style::new(9.0, MUTED, false), line, Align::Left);
        }
        if let Some(tax_id) = &seller.tax_id {
            y += 13.0;
            self.text(
                MARGIN,
                y,
                Style::new(9.0, MUTED, false),
                &format!("Tax ID: {tax_id}"),
                Align::Left,
            );
        }

        let mut right_y = MARGIN + 16.0;
        self.text(
            RIGHT,
            right_y,
            Style::new(20.0, INK, true),
            "INVOICE",
            Align::Right,
        );
        right_y += 20.0;
        self.text(
            RIGHT,
            right_y,
            Style::new(11.0, INK, false),
            &view.number,
            Align::Right,
        );
        right_y += 17.0;
        let status = view.status.to_uppercase();
        self.text(
            RIGHT,
            right_y,
            Style::new(10.0, status_color(view.status), true),
            &status,
            Align::Right,
        );
        for (label, date) in &view.dates {
            right_y += 14.0;
            self.text(
                RIGHT,
                right_y,
                Style::new(9.0, MUTED, false),
                &format!("{label}: {date}"),
                Align::Right,
            );
        }
        right_y += 14.0;
        self.text(
            RIGHT,
            right_y,
            Style::new(9.0, MUTED, false),
            &format!("Currency: {}", view.currency),
            Align::Right,
        );

        let mut y = y.max(right_y) + 36.0;
        self.text(
            MARGIN,
            y,
            Style::new(8.0, MUTED, true),
            "BILL TO",
            Align::Left,
        );
        y += 16.0;
        self.text(
            MARGIN,
            y,
            Style::new(11.5, INK, true),
            view.customer_name,
            Align::Left,
        );
        y += 14.0;
        self.text(
            MARGIN,
            y,
            Style::new(9.5, MUTED, false),
            view.customer_email,
            Align::Left,
        );
    }

    /// The seller's logo at the top left, at most LOGO_HEIGHT high and LOGO_WIDTH wide;
    /// answers the height it took.
    fn logo(&mut self, logo: &Logo) -> f32 {
        let Ok(image) = logo.image() else { return 0.0 };
        let (width, height) = image.size();
        let (width, height) = (width.max(1) as f32, height.max(1) as f32);
        let scale = (LOGO_HEIGHT / height).min(LOGO_WIDTH / width);
        let Some(size) = Size::from_wh(width * scale, height * scale) else {
            return 0.0;
        };
        self.surface
            .push_transform(&Transform::from_translate(MARGIN, MARGIN));
        self.surface.draw_image(image, size);
        self.surface.pop();
        size.height()
    }

    fn table_head(&mut self, y: f32) -> f32 {
        let baseline = y + 12.0;
        self.text(
            MARGIN,
            baseline,
            Style::new(8.0, MUTED, true),
            "DESCRIPTION",
            Align::Left,
        );
        self.text(
            QUANTITY_RIGHT,
            baseline,
            Style::new(8.0, MUTED, true),
            "QTY",
            Align::Right,
        );
        self.text(
            UNIT_RIGHT,
            baseline,
            Style::new(8.0, MUTED, true),
            "UNIT PRICE",
            Align::Right,
        );
        self.text(
            RIGHT,
            baseline,
            Style::new(8.0, MUTED, true),
            "AMOUNT",
            Align::Right,
        );
        self.rule(y + 18.0, RULE, 0.8);
        y + TABLE_HEAD_HEIGHT
    }

    fn row(&mut self, y: f32, line: &Line<'_>, description: &[String]) -> f32 {
        let baseline = y + ROW_LEADING;
        for (i, text) in description.iter().enumerate() {
            let line_y = baseline + i as f32 * ROW_LEADING;
            self.text(
                MARGIN,
                line_y,
                Style::new(ROW_SIZE, INK, false),
                text,
                Align::Left,
            );
        }
        let figures = [
            (QUANTITY_RIGHT, QUANTITY_WIDTH, &line.quantity),
            (UNIT_RIGHT, AMOUNT_WIDTH, &line.unit_amount),
            (RIGHT, AMOUNT_WIDTH, &line.amount),
        ];
        for (right, width, figure) in figures {
            let style = self.fitted(Style::new(ROW_SIZE, INK, false), figure, width);
            self.text(right, baseline, style, figure, Align::Right);
        }
        let next = y + row_height(description);
        self.rule(next - 2.0, RULE, 0.4);
        next
    }

    fn totals(&mut self, y: f32, view: &View<'_>) {
        let label_right = UNIT_RIGHT;
        let mut y = y + 6.0;
        for total in &view.totals {
            y += 18.0;
            let size = if total.strong { 11.0 } else { 9.5 };
            let color = if total.strong { INK } else { MUTED };
            self.text(
                label_right,
                y,
                Style::new(size, color, total.strong),
                &total.label,
                Align::Right,
            );
            let style = self.fitted(
                Style::new(size, INK, total.strong),
                &total.amount,
                AMOUNT_WIDTH,
            );
            self.text(RIGHT, y, style, &total.amount, Align::Right);
        }
    }

    /// `style`, its size lowered as far as `text` needs to fit `width`: a long amount
    /// stays in its column instead of running into the next.
    fn fitted(&self, style: Style, text: &str, width: f32) -> Style {
        let natural = self.fonts.width(text, style.size);
        if natural <= width {
            return style;
        }
        Style {
            size: style.size * width / natural,
            ..style
        }
    }

    fn footer(&mut self, view: &View<'_>, page: usize, pages: usize) {
        self.rule(FOOTER_Y - 14.0, RULE, 0.6);
        if let Some(footer) = &view.seller.footer {
            self.text(
                MARGIN,
                FOOTER_Y,
                Style::new(8.0, MUTED, false),
                footer,
                Align::Left,
            );
        }
        let folio = format!("{} · Page {page} of {pages}", view.number);
        self.text(
            RIGHT,
            FOOTER_Y,
            Style::new(8.0, MUTED, false),
            &folio,
            Align::Right,
        );
    }
}

fn status_color(status: &str) -> (u8, u8, u8) {
    match status {
        "Paid" => (22, 128, 61),
        "Open" => (29, 78, 216),
        "Uncollectible" => (180, 83, 9),
        "Void" => (185, 28, 28),
        _ => MUTED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_descriptions_wrap_and_unspaced_text_breaks_between_characters() {
        let fonts = super::super::font::fonts().unwrap();
        let lines = wrap(fonts, &"word ".repeat(60), ROW_SIZE, DESCRIPTION_WIDTH);
        assert!(lines.len() > 1);
        assert!(
            lines
                .iter()
                .all(|l| fonts.width(l, ROW_SIZE) <= DESCRIPTION_WIDTH)
        );
        let cjk = wrap(
            fonts,
            &"株式会社サンプル".repeat(8),
            ROW_SIZE,
            DESCRIPTION_WIDTH,
        );
        assert!(cjk.len() > 1);
        assert_eq!(
            wrap(fonts, "", ROW_SIZE, DESCRIPTION_WIDTH),
            vec![String::new()]
        );
    }

    #[test]
    fn the_largest_amounts_stay_in_their_columns() {
        let fonts = super::super::font::fonts().unwrap();
        let figure = "-CAD\u{a0}20,000,000,000,000,000.00";
        assert!(fonts.width(figure, 11.0) > AMOUNT_WIDTH);
        let mut document = Document::new();
        let mut page = document.start_page();
        let mut surface = page.surface();
        let pen = Pen {
            surface: &mut surface,
            fonts,
        };
        let style = pen.fitted(Style::new(11.0, INK, true), figure, AMOUNT_WIDTH);
        assert!(fonts.width(figure, style.size) <= AMOUNT_WIDTH + 0.01);
        let short = pen.fitted(Style::new(11.0, INK, true), "$1.00", AMOUNT_WIDTH);
        assert_eq!(short.size, 11.0);
        surface.finish();
        page.finish();
    }

    #[test]
    fn characters_no_font_has_still_take_room() {
        let fonts = super::super::font::fonts().unwrap();
        assert!(fonts.width("안녕하세요", ROW_SIZE) > 0.0);
        let lines = wrap(fonts, &"안녕하세요".repeat(20), ROW_SIZE, DESCRIPTION_WIDTH);
        assert!(lines.len() > 1);
    }

    #[test]
    fn many_items_take_several_pages_with_the_totals_on_the_last() {
        let rows = vec![vec!["x".to_owned()]; 100];
        let pages = paginate(&rows, 5);
        assert!(pages.len() >= 3);
        assert_eq!(pages.first().map(|r| r.start), Some(0));
        assert_eq!(pages.last().map(|r| r.end), Some(100));
        for pair in pages.windows(2) {
            assert_eq!(pair[0].end, pair[1].start);
        }
        assert_eq!(paginate(&[], 5), vec![0..0]);
    }
}
