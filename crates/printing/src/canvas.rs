//! Two drawing surfaces for one layout: a PDF page (krilla) and a raster
//! (tiny-skia, written as PNG). Layout code draws black rectangles and lines
//! of text in its own units (printer dots for labels, points for A4); each
//! surface scales them. Barcodes are only ever rectangles, so a PDF viewer
//! or a printer's rasteriser gets exact modules.

use crate::error::PrintError;
use crate::font::{DownPen, Fonts};
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::paint::Fill;
use krilla::text::{GlyphId, KrillaGlyph};

/// What layouts draw on.
pub(crate) trait Canvas {
    /// A filled black rectangle.
    fn rect(&mut self, x: f32, y: f32, width: f32, height: f32);
    /// One line of text; `top` is the top of its line box, `size` the em size.
    fn text(&mut self, x: f32, top: f32, size: f32, text: &str);
}

/// Draws on a krilla surface; one layout unit is `scale` points.
pub(crate) struct PdfCanvas<'s, 'a> {
    pub surface: &'s mut krilla::surface::Surface<'a>,
    pub fonts: &'s Fonts,
    pub scale: f32,
    /// Rectangles are gathered into one path per page and filled once.
    pub bars: PathBuilder,
}

impl<'s, 'a> PdfCanvas<'s, 'a> {
    pub fn new(surface: &'s mut krilla::surface::Surface<'a>, fonts: &'s Fonts, scale: f32) -> Self {
        PdfCanvas { surface, fonts, scale, bars: PathBuilder::new() }
    }

    /// Fills the gathered rectangles.
    pub fn finish(self) {
        if let Some(path) = self.bars.finish() {
            self.surface.set_fill(Some(Fill::default()));
            self.surface.draw_path(&path);
        }
    }
}

impl Canvas for PdfCanvas<'_, '_> {
    fn rect(&mut self, x: f32, y: f32, width: f32, height: f32) {
        let s = self.scale;
        if let Some(rect) = Rect::from_xywh(x * s, y * s, width * s, height * s) {
            self.bars.push_rect(rect);
        }
    }

    fn text(&mut self, x: f32, top: f32, size: f32, text: &str) {
        if text.is_empty() {
            return;
        }
        let s = self.scale;
        let (placed, _) = self.fonts.layout(text);
        let glyphs: Vec<KrillaGlyph> = placed
            .into_iter()
            .map(|g| KrillaGlyph::new(GlyphId::new(g.id), g.advance, 0.0, 0.0, 0.0, g.range, None))
            .collect();
        let baseline = (top + self.fonts.baseline(size)) * s;
        self.surface.set_fill(Some(Fill::default()));
        self.surface.draw_glyphs(
            Point::from_xy(x * s, baseline),
            &glyphs,
            self.fonts.pdf_font().clone(),
            text,
            size * s,
            false,
        );
    }
}

/// Draws on a white raster; one layout unit is one pixel.
pub(crate) struct PngCanvas<'f> {
    pub pixmap: tiny_skia::Pixmap,
    pub fonts: &'f Fonts,
}

impl<'f> PngCanvas<'f> {
    pub fn new(width: u32, height: u32, fonts: &'f Fonts) -> Result<Self, PrintError> {
        let mut pixmap = tiny_skia::Pixmap::new(width.max(1), height.max(1))
            .ok_or(PrintError::RenderFailed { output: "PNG", reason: format!("bad size {width}×{height}") })?;
        pixmap.fill(tiny_skia::Color::WHITE);
        Ok(PngCanvas { pixmap, fonts })
    }

    pub fn encode(self) -> Result<Vec<u8>, PrintError> {
        self.pixmap.encode_png().map_err(|e| PrintError::RenderFailed { output: "PNG", reason: e.to_string() })
    }
}

fn black(anti_alias: bool) -> tiny_skia::Paint<'static> {
    let mut paint = tiny_skia::Paint::default();
    paint.set_color(tiny_skia::Color::BLACK);
    paint.anti_alias = anti_alias;
    paint
}

impl Canvas for PngCanvas<'_> {
    fn rect(&mut self, x: f32, y: f32, width: f32, height: f32) {
        if let Some(rect) = tiny_skia::Rect::from_xywh(x, y, width, height) {
            // Modules sit on whole pixels: no anti-aliasing, crisp edges for decoders.
            self.pixmap.fill_rect(rect, &black(false), tiny_skia::Transform::identity(), None);
        }
    }

    fn text(&mut self, x: f32, top: f32, size: f32, text: &str) {
        let mut pen = SkiaPen(tiny_skia::PathBuilder::new());
        let baseline = top + self.fonts.baseline(size);
        self.fonts.outline(text, size, x, baseline, &mut pen);
        if let Some(path) = pen.0.finish() {
            self.pixmap.fill_path(
                &path,
                &black(true),
                tiny_skia::FillRule::Winding,
                tiny_skia::Transform::identity(),
                None,
            );
        }
    }
}

struct SkiaPen(tiny_skia::PathBuilder);

impl DownPen for SkiaPen {
    fn move_to(&mut self, x: f32, y: f32) {
        self.0.move_to(x, y);
    }
    fn line_to(&mut self, x: f32, y: f32) {
        self.0.line_to(x, y);
    }
    fn quad_to(&mut self, x1: f32, y1: f32, x: f32, y: f32) {
        self.0.quad_to(x1, y1, x, y);
    }
    fn cubic_to(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, x: f32, y: f32) {
        self.0.cubic_to(x1, y1, x2, y2, x, y);
    }
    fn close(&mut self) {
        self.0.close();
    }
}
