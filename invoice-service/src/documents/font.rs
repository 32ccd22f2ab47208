//! The documents' fonts, built into the binary (`scripts/make-invoice-font` makes both):
//! DejaVu Sans for Latin, Greek, Cyrillic and symbols, and Noto Sans CJK JP for kana and the
//! JIS level-1 kanji. Each character is set in the first font that has it. The PDF embeds
//! only the glyphs it uses; the hosted page loads the same files, so both show names the
//! same way on any machine.

use std::sync::{Arc, LazyLock};

use krilla::text::{GlyphId, KrillaGlyph};
use skrifa::instance::{LocationRef, Size};
use skrifa::{FontRef, MetadataProvider};

/// `(file, bytes, media type)` of each font, in the order characters look for a glyph.
pub static FILES: [(&str, &[u8], &str); 2] = [
    (
        "invoice-sans.ttf",
        include_bytes!("../../assets/fonts/DejaVuSans-subset.ttf"),
        "font/ttf",
    ),
    (
        "invoice-sans-cjk.otf",
        include_bytes!("../../assets/fonts/NotoSansCJKjp-Regular-subset.otf"),
        "font/otf",
    ),
];

/// One font, parsed once, with what layout needs: its glyphs and their advance widths.
pub struct Face {
    pub pdf: krilla::text::Font,
    metrics: skrifa::metrics::GlyphMetrics<'static>,
    charmap: skrifa::charmap::Charmap<'static>,
    units_per_em: f32,
}

/// The fonts in fallback order.
pub struct Fonts {
    faces: Vec<Face>,
}

static FONTS: LazyLock<Option<Fonts>> = LazyLock::new(|| {
    let faces = FILES
        .iter()
        .map(|(_, bytes, _)| Face::parse(bytes))
        .collect::<Option<Vec<_>>>()?;
    Some(Fonts { faces })
});

/// `None` only if a built-in font cannot be parsed, which a unit test rules out.
pub fn fonts() -> Option<&'static Fonts> {
    FONTS.as_ref()
}

impl Face {
    fn parse(bytes: &'static [u8]) -> Option<Self> {
        let data: Arc<dyn AsRef<[u8]> + Send + Sync> = Arc::new(bytes);
        let pdf = krilla::text::Font::new(data.into(), 0)?;
        let font = FontRef::new(bytes).ok()?;
        let units_per_em = f32::from(
            font.metrics(Size::unscaled(), LocationRef::default())
                .units_per_em,
        );
        Some(Self {
            pdf,
            metrics: font.glyph_metrics(Size::unscaled(), LocationRef::default()),
            charmap: font.charmap(),
            units_per_em,
        })
    }

    fn has(&self, c: char) -> bool {
        self.charmap.map(c).is_some()
    }

    /// `text` as glyphs, one per character, each advancing by its own width: the scripts
    /// these fonts carry need no shaping beyond that (no kerning pairs are applied).
    pub fn glyphs(&self, text: &str) -> Vec<KrillaGlyph> {
        text.char_indices()
            .map(|(at, c)| {
                let (glyph, advance) = self.glyph(c);
                KrillaGlyph::new(
                    GlyphId::new(glyph.to_u32()),
                    advance / self.units_per_em,
                    0.0,
                    0.0,
                    0.0,
                    at..at + c.len_utf8(),
                    None,
                )
            })
            .collect()
    }

    fn width(&self, text: &str, size: f32) -> f32 {
        let units: f32 = text.chars().map(|c| self.glyph(c).1).sum();
        units * size / self.units_per_em
    }

    /// The glyph `c` is drawn with and its advance in font units: what is measured is what
    /// is drawn. A character the font lacks is its empty box, and takes that room.
    fn glyph(&self, c: char) -> (skrifa::GlyphId, f32) {
        let glyph = self.charmap.map(c).unwrap_or_default();
        (glyph, self.metrics.advance_width(glyph).unwrap_or(0.0))
    }
}

impl Fonts {
    /// `text` cut into runs that one font sets; a character every font has (a space, a
    /// digit) stays in the run it is in.
    pub fn runs<'t>(&self, text: &'t str) -> Vec<(&Face, &'t str)> {
        let mut runs = Vec::new();
        let mut current = 0;
        let mut start = 0;
        for (at, c) in text.char_indices() {
            if self.faces[current].has(c) {
                continue;
            }
            let Some(other) = self.faces.iter().position(|face| face.has(c)) else {
                continue;
            };
            if at > start {
                runs.push((&self.faces[current], &text[start..at]));
            }
            current = other;
            start = at;
        }
        if start < text.len() {
            runs.push((&self.faces[current], &text[start..]));
        }
        runs
    }

    /// The width of `text` set in one line at `size` points.
    pub fn width(&self, text: &str, size: f32) -> f32 {
        self.runs(text)
            .iter()
            .map(|(face, run)| face.width(run, size))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_built_in_fonts_parse_and_cover_latin_greek_cyrillic_and_japanese() {
        let fonts = super::fonts().expect("the built-in fonts parse");
        let text = "Zoë Müller Łódź Šťastný Αθηνά Жанна ₹€£¥₩ 株式会社サンプル（年間）";
        for c in text.chars().filter(|c| !c.is_whitespace()) {
            assert!(fonts.faces.iter().any(|f| f.has(c)), "{c} is in a font");
        }
        let runs = fonts.runs("Acme 株式会社 GmbH");
        let texts: Vec<&str> = runs.iter().map(|(_, run)| *run).collect();
        assert_eq!(texts, ["Acme ", "株式会社", " GmbH"]);
        assert!(fonts.width("MMMM", 10.0) > fonts.width("iiii", 10.0));
    }
}
