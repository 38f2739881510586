//! The CJK font of PDFs and PNG previews.
//!
//! **Where the font comes from.** Nothing is downloaded at build or run time,
//! and a 16–20 MB font is not kept in the repository. The font is found on the
//! machine when first needed: `MEDLEDGER_CJK_FONT` (a path, for a font shipped
//! beside the app or installed elsewhere), else the usual places of openly
//! licensed CJK fonts from Linux distributions — Noto Sans CJK (SIL Open Font
//! License; Debian's `fonts-noto-cjk`, which `make run`/`make test` install),
//! Noto Serif CJK, WenQuanYi Micro Hei / Zen Hei (Apache-2.0 / GPL with the
//! font exception). Only such fonts are looked for, so what a PDF embeds may be
//! redistributed. If none is there, [`Fonts::system`] returns the typed error
//! `font_not_found` naming the paths it tried; labels in ZPL/TSPL and ESC/POS
//! receipts need no font and keep working.
//!
//! Why not ship a font in the crate: registries do carry OFL copies (npm's
//! `@expo-google-fonts/noto-sans-sc` has TTFs, PyPI has `cvttf-notosanscjk-*`),
//! but vendoring one puts 10–17 MB of binary into every clone and every build
//! of the crate, or ties the Rust build to npm. The workstations already get
//! Debian's Noto CJK for the app's own screens, so the PDF uses that one; an
//! installer for Windows or macOS that wants to bundle a font passes its path
//! in `MEDLEDGER_CJK_FONT` or its bytes to [`Fonts::from_bytes`].
//!
//! From a collection (`.ttc`) the Simplified Chinese face ("… SC") is taken.
//! The PDF embeds only the glyphs used (krilla subsets the font).
//!
//! **Layout.** Text is laid out here, glyph by glyph with the font's advance
//! widths (no kerning or shaping, which Chinese and our Latin labels do not
//! need), so the PDF and the PNG place every glyph at the same spot and the
//! layout code can measure text exactly.

use crate::error::PrintError;
use skrifa::instance::{LocationRef, Size};
use skrifa::outline::{DrawSettings, OutlinePen};
use skrifa::raw::{FileRef, TableProvider};
use skrifa::string::StringId;
use skrifa::{FontRef, GlyphId, MetadataProvider};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Environment variable naming a font file to use instead of the system's.
pub const FONT_ENV: &str = "MEDLEDGER_CJK_FONT";

/// Openly licensed CJK fonts where Linux distributions and users put them.
pub const FONT_CANDIDATES: &[&str] = &[
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/local/share/fonts/NotoSansCJK-Regular.ttc",
    "/Library/Fonts/NotoSansCJKsc-Regular.otf",
];

/// A loaded font, shared by every PDF and PNG of the process.
pub struct Fonts {
    path: String,
    data: Arc<Vec<u8>>,
    index: u32,
    pdf: krilla::text::Font,
    /// Ascender and descender (negative), per em.
    ascent: f32,
    descent: f32,
}

impl std::fmt::Debug for Fonts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fonts").field("path", &self.path).field("index", &self.index).finish()
    }
}

/// A glyph placed on a line, in ems from the line's start.
#[derive(Debug, Clone)]
pub(crate) struct PlacedGlyph {
    pub id: u32,
    pub x: f32,
    pub advance: f32,
    pub range: std::ops::Range<usize>,
}

impl Fonts {
    /// The system's CJK font (see the module documentation), loaded once per process.
    pub fn system() -> Result<Arc<Fonts>, PrintError> {
        static LOADED: Mutex<Option<Arc<Fonts>>> = Mutex::new(None);
        let mut loaded = LOADED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(fonts) = loaded.as_ref() {
            return Ok(fonts.clone());
        }
        let fonts = Arc::new(Fonts::discover(std::env::var_os(FONT_ENV).map(PathBuf::from), FONT_CANDIDATES)?);
        *loaded = Some(fonts.clone());
        Ok(fonts)
    }

    /// The first of `explicit`, then `candidates`, that exists. An explicit
    /// path that does not exist or is no font is an error, not skipped.
    pub fn discover(explicit: Option<PathBuf>, candidates: &[&str]) -> Result<Fonts, PrintError> {
        if let Some(path) = explicit {
            return Fonts::load(&path);
        }
        for candidate in candidates {
            let path = Path::new(candidate);
            if path.is_file() {
                return Fonts::load(path);
            }
        }
        let mut searched = vec![format!("${FONT_ENV}")];
        searched.extend(candidates.iter().map(|c| c.to_string()));
        Err(PrintError::FontNotFound { searched })
    }

    /// Loads a font file (`.ttf`, `.otf`, `.ttc`) that has Chinese glyphs.
    pub fn load(path: &Path) -> Result<Fonts, PrintError> {
        let shown = path.display().to_string();
        let unreadable = |reason: String| PrintError::FontUnreadable { path: shown.clone(), reason };
        let data = std::fs::read(path).map_err(|e| unreadable(e.to_string()))?;
        Fonts::from_bytes(shown.clone(), data)
    }

    /// A font from bytes already in memory (`name` is only shown in errors).
    pub fn from_bytes(name: String, data: Vec<u8>) -> Result<Fonts, PrintError> {
        let unreadable = |reason: &str| PrintError::FontUnreadable { path: name.clone(), reason: reason.to_string() };
        let file = FileRef::new(&data).map_err(|_| unreadable("not an OpenType font or collection"))?;
        let faces: Vec<FontRef> = file.fonts().filter_map(Result::ok).collect();
        if faces.is_empty() {
            return Err(unreadable("no font in the file"));
        }
        let family = |face: &FontRef| {
            face.localized_strings(StringId::FAMILY_NAME).english_or_first().map(|s| s.to_string()).unwrap_or_default()
        };
        let index = faces.iter().position(|face| family(face).split_whitespace().any(|w| w == "SC")).unwrap_or(0);
        let face = &faces[index];
        let charmap = face.charmap();
        if charmap.map('中').is_none() || charmap.map('A').is_none() {
            return Err(unreadable("the font has no Chinese glyphs"));
        }
        let metrics = face.metrics(Size::unscaled(), LocationRef::default());
        let upem = f32::from(metrics.units_per_em.max(1));
        // The typographic ascender and descender bound a CJK font's em box (0.88 / −0.12 for
        // Noto): text is placed by them, the way a printer places a character cell.
        let (ascent, descent) = match face.os2() {
            Ok(os2) if os2.s_typo_ascender() > 0 => {
                (f32::from(os2.s_typo_ascender()) / upem, f32::from(os2.s_typo_descender()) / upem)
            }
            _ => (metrics.ascent / upem, metrics.descent / upem),
        };
        let data = Arc::new(data);
        let pdf = krilla::text::Font::new(data.clone().into(), index as u32)
            .ok_or_else(|| unreadable("the PDF writer cannot use this font"))?;
        Ok(Fonts { path: name, data, index: index as u32, pdf, ascent, descent })
    }

    /// Where the font came from.
    pub fn path(&self) -> &str {
        &self.path
    }

    fn face(&self) -> FontRef<'_> {
        FontRef::from_index(&self.data, self.index).expect("checked when loaded")
    }

    pub(crate) fn pdf_font(&self) -> &krilla::text::Font {
        &self.pdf
    }

    /// Where the baseline sits below the top of a line of `size`, centring
    /// the font's em box (typographic ascender to descender) in the line.
    pub(crate) fn baseline(&self, size: f32) -> f32 {
        let em_box = self.ascent - self.descent;
        (1.0 - em_box).max(0.0) / 2.0 * size + self.ascent * size
    }

    /// The glyphs of one line of text, with advances in ems.
    pub(crate) fn layout(&self, text: &str) -> (Vec<PlacedGlyph>, f32) {
        let face = self.face();
        let charmap = face.charmap();
        let metrics = face.glyph_metrics(Size::new(1.0), LocationRef::default());
        let mut glyphs = Vec::with_capacity(text.len());
        let mut x = 0.0;
        for (at, ch) in text.char_indices() {
            let id = charmap.map(ch).unwrap_or(GlyphId::NOTDEF);
            let advance = metrics.advance_width(id).unwrap_or(0.5);
            glyphs.push(PlacedGlyph { id: id.to_u32(), x, advance, range: at..at + ch.len_utf8() });
            x += advance;
        }
        (glyphs, x)
    }

    /// Width of `text` in ems.
    pub(crate) fn width(&self, text: &str) -> f32 {
        self.layout(text).1
    }

    /// Draws glyph outlines into `pen`, scaled to `size` per em, with the
    /// baseline's start at `(x, baseline)` and y growing downwards.
    pub(crate) fn outline(&self, text: &str, size: f32, x: f32, baseline: f32, pen: &mut dyn DownPen) {
        let face = self.face();
        let outlines = face.outline_glyphs();
        let (glyphs, _) = self.layout(text);
        for glyph in glyphs {
            if let Some(outline) = outlines.get(GlyphId::new(glyph.id)) {
                let mut flip = Flip { pen, dx: x + glyph.x * size, baseline };
                let settings = DrawSettings::unhinted(Size::new(size), LocationRef::default());
                // A glyph that fails to draw is left blank rather than failing the label.
                let _ = outline.draw(settings, &mut flip);
            }
        }
    }
}

/// Receives outlines in page coordinates (y down).
pub(crate) trait DownPen {
    fn move_to(&mut self, x: f32, y: f32);
    fn line_to(&mut self, x: f32, y: f32);
    fn quad_to(&mut self, x1: f32, y1: f32, x: f32, y: f32);
    fn cubic_to(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, x: f32, y: f32);
    fn close(&mut self);
}

/// Turns font units (y up) into page coordinates (y down).
struct Flip<'a> {
    pen: &'a mut dyn DownPen,
    dx: f32,
    baseline: f32,
}

impl OutlinePen for Flip<'_> {
    fn move_to(&mut self, x: f32, y: f32) {
        self.pen.move_to(self.dx + x, self.baseline - y);
    }
    fn line_to(&mut self, x: f32, y: f32) {
        self.pen.line_to(self.dx + x, self.baseline - y);
    }
    fn quad_to(&mut self, cx0: f32, cy0: f32, x: f32, y: f32) {
        self.pen.quad_to(self.dx + cx0, self.baseline - cy0, self.dx + x, self.baseline - y);
    }
    fn curve_to(&mut self, cx0: f32, cy0: f32, cx1: f32, cy1: f32, x: f32, y: f32) {
        self.pen.cubic_to(
            self.dx + cx0,
            self.baseline - cy0,
            self.dx + cx1,
            self.baseline - cy1,
            self.dx + x,
            self.baseline - y,
        );
    }
    fn close(&mut self) {
        self.pen.close();
    }
}
