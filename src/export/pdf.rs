//! A PDF book: a cover page, then one page per sentence with the image full-width and the
//! sentence below. Text is set in fonts found on the system and embedded as subsets (see
//! pdf_font and pdf_embed), so accents, Greek, Cyrillic and Chinese print as themselves; what no
//! installed font draws falls back to the standard Helvetica, and outside Windows-1252 prints
//! as '?' (the HTML export keeps it).
//!
//! No word is ever lost: lines are wrapped by the fonts' real widths (a word wider than a line
//! is broken), a long text shrinks the picture and then its own size, and text that still does
//! not fit continues on the next sheet. The page number sits in the bottom margin, below every
//! line of text.

use std::collections::BTreeSet;
use std::path::PathBuf;

use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str};

use super::pdf_embed::write_font;
use super::pdf_font::system_font_dirs;
use super::pdf_text::Fonts;
use crate::store::Book;

const PAGE_W: f32 = 420.0;
const PAGE_H: f32 = 595.0;
const MARGIN: f32 = 36.0;
const CONTENT_W: f32 = PAGE_W - 2.0 * MARGIN;
/// Line height as a multiple of the font size.
const LEADING: f32 = 1.3;
/// Space between the picture and the text below it, and below a heading.
const GAP: f32 = 18.0;
/// A picture is not shrunk below this height to make room for text; the text continues instead.
const MIN_IMAGE_H: f32 = 140.0;
const TITLE_SIZE: f32 = 26.0;
/// Sizes tried in turn for the cover's prompt and for a page's sentence: the first that fits
/// on one sheet is used, and the last continues on more sheets if even it does not. The
/// embedded fonts (DejaVu Sans) run about a tenth wider than Helvetica, so sentences end at
/// 8 pt: a 1,500-character page still fits on one sheet, as it did in Helvetica at 9 pt.
const PROMPT_SIZES: [f32; 3] = [12.0, 10.0, 9.0];
const SENTENCE_SIZES: [f32; 5] = [15.0, 13.0, 11.0, 9.0, 8.0];
const NUMBER_SIZE: f32 = 9.0;

/// A line of text: its characters, width, font size, and whether it is set in italics.
#[derive(Debug, Clone, PartialEq)]
struct Line {
    text: String,
    width: f32,
    size: f32,
    italic: bool,
}

fn lines(fonts: &Fonts, text: &str, size: f32, italic: bool) -> Vec<Line> {
    fonts
        .wrap(text, size, CONTENT_W)
        .into_iter()
        .map(|text| Line {
            width: fonts.width(&text, size),
            text,
            size,
            italic,
        })
        .collect()
}

/// What one book page (or the cover) shows, before it is laid out on sheets.
struct Source<'a> {
    heading: Vec<Line>,
    image: Option<&'a [u8]>,
    body: &'a str,
    sizes: &'a [f32],
    italic: bool,
    number: Option<usize>,
}

/// Lays out `source` with the largest of its text sizes that fits on one sheet.
fn fit(fonts: &Fonts, source: &Source, image_size: Option<(u32, u32)>) -> Vec<Sheet> {
    let mut sheets = Vec::new();
    for &size in source.sizes {
        let body = lines(fonts, source.body, size, source.italic);
        sheets = lay_out(&source.heading, image_size, &body, source.number);
        if sheets.len() == 1 {
            break;
        }
    }
    sheets
}

/// Where things go on one PDF sheet: lines at (x, baseline), the picture's rectangle.
#[derive(Debug, Clone, Default)]
struct Sheet {
    lines: Vec<(Line, f32, f32)>,
    image: Option<(usize, [f32; 4])>,
    number: Option<usize>,
}

/// Lays out a heading, an optional picture of `image_size` pixels, and body text on as many
/// sheets as the text needs. The picture shrinks (down to [`MIN_IMAGE_H`]) so that text fits
/// below it; what still does not fit continues on the next sheets.
fn lay_out(
    heading: &[Line],
    image_size: Option<(u32, u32)>,
    body: &[Line],
    number: Option<usize>,
) -> Vec<Sheet> {
    let top = PAGE_H - MARGIN;
    let bottom = MARGIN;
    let height = |ls: &[Line]| ls.iter().map(|l| l.size * LEADING).sum::<f32>();
    let mut sheet = Sheet {
        number,
        ..Sheet::default()
    };
    let mut y = top;
    for line in heading {
        sheet.lines.push((line.clone(), MARGIN, y - line.size));
        y -= line.size * LEADING;
    }
    if !heading.is_empty() {
        y -= GAP / 2.0;
    }
    if let Some((w, h)) = image_size {
        let natural_h = CONTENT_W * h.max(1) as f32 / w.max(1) as f32;
        let room = y
            - bottom
            - if body.is_empty() {
                0.0
            } else {
                GAP + height(body)
            };
        let draw_h = natural_h
            .min(room.max(MIN_IMAGE_H.min(natural_h)))
            .min(y - bottom);
        let draw_w = draw_h * w.max(1) as f32 / h.max(1) as f32;
        let x = MARGIN + (CONTENT_W - draw_w) / 2.0;
        y -= draw_h;
        sheet.image = Some((0, [x, y, draw_w, draw_h]));
        y -= GAP;
    }
    let mut sheets = Vec::new();
    for line in body {
        let line_h = line.size * LEADING;
        if y - line_h < bottom && (!sheet.lines.is_empty() || sheet.image.is_some()) {
            sheets.push(std::mem::replace(
                &mut sheet,
                Sheet {
                    number,
                    ..Sheet::default()
                },
            ));
            y = top;
        }
        sheet.lines.push((line.clone(), MARGIN, y - line.size));
        y -= line_h;
    }
    sheets.push(sheet);
    sheets
}

struct Ids {
    next: i32,
}

impl Ids {
    fn next(&mut self) -> Ref {
        self.next += 1;
        Ref::new(self.next)
    }
}

/// A picture decoded for the PDF: its pixels deflated, and its size.
fn decode(png: &[u8]) -> Result<(Vec<u8>, u32, u32), String> {
    let img = image::load_from_memory(png)
        .map_err(|e| format!("a page image cannot be read: {e}"))?
        .to_rgb8();
    let data = miniz_oxide::deflate::compress_to_vec_zlib(img.as_raw(), 6);
    Ok((data, img.width(), img.height()))
}

/// The book as PDF bytes, set in fonts found on this system.
pub fn book_pdf(book: &Book) -> Result<Vec<u8>, String> {
    book_pdf_with_fonts(book, &system_font_dirs()).map(|(bytes, _)| bytes)
}

/// Every character a book's PDF draws: its text, and the digits and '?' the PDF adds.
fn characters(book: &Book) -> BTreeSet<char> {
    [book.title.as_str(), book.prompt.as_str(), "0123456789 ?"]
        .into_iter()
        .chain(book.pages.iter().map(|p| p.sentence.as_str()))
        .flat_map(str::chars)
        .collect()
}

/// The book as PDF bytes, set in fonts found under `font_dirs` (Helvetica for what none of
/// them draws), and the characters that print as '?' because nothing draws them.
pub fn book_pdf_with_fonts(
    book: &Book,
    font_dirs: &[PathBuf],
) -> Result<(Vec<u8>, Vec<char>), String> {
    let fonts = Fonts::find(&characters(book), font_dirs);
    let mut contents = vec![Source {
        heading: lines(&fonts, &book.title, TITLE_SIZE, false),
        image: book.pages.iter().find_map(|p| p.png.as_deref()),
        body: &book.prompt,
        sizes: &PROMPT_SIZES,
        italic: true,
        number: None,
    }];
    for (i, page) in book.pages.iter().enumerate() {
        contents.push(Source {
            heading: Vec::new(),
            image: page.png.as_deref(),
            body: &page.sentence,
            sizes: &SENTENCE_SIZES,
            italic: false,
            number: Some(i + 1),
        });
    }

    let mut pdf = Pdf::new();
    let mut ids = Ids { next: 0 };
    let catalog = ids.next();
    let tree = ids.next();
    // F0 is Helvetica; F1… are the embedded fonts, in the order Fonts gives their slots.
    let mut font_ids = vec![ids.next()];
    pdf.type1_font(font_ids[0])
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    for (i, (font, remapper)) in fonts.embedded.iter().enumerate() {
        let id = ids.next();
        font_ids.push(id);
        write_font(&mut pdf, id, || ids.next(), i + 1, font, remapper)?;
    }
    let font_names: Vec<String> = (0..font_ids.len()).map(|i| format!("F{i}")).collect();

    let mut page_ids = Vec::new();
    for content in &contents {
        let picture = content.image.map(decode).transpose()?;
        let image_id = picture.as_ref().map(|(data, w, h)| {
            let id = ids.next();
            let mut x = pdf.image_xobject(id, data);
            x.filter(Filter::FlateDecode);
            x.width(*w as i32);
            x.height(*h as i32);
            x.color_space().device_rgb();
            x.bits_per_component(8);
            // Small pictures are enlarged to the page width: smooth them rather than show blocks.
            x.interpolate(true);
            x.finish();
            id
        });
        let sheets = fit(&fonts, content, picture.as_ref().map(|(_, w, h)| (*w, *h)));
        for sheet in sheets {
            let page_id = ids.next();
            let content_id = ids.next();
            page_ids.push(page_id);
            let mut c = Content::new();
            if let Some((_, [x, y, w, h])) = sheet.image {
                c.save_state();
                c.transform([w, 0.0, 0.0, h, x, y]);
                c.x_object(Name(b"Im0"));
                c.restore_state();
            }
            for (line, x, y) in &sheet.lines {
                show(&mut c, &fonts, &font_names, line, *x, *y);
            }
            if let Some(n) = sheet.number {
                let label = n.to_string();
                let w = fonts.width(&label, NUMBER_SIZE);
                let number = Line {
                    text: label,
                    width: w,
                    size: NUMBER_SIZE,
                    italic: false,
                };
                show(
                    &mut c,
                    &fonts,
                    &font_names,
                    &number,
                    (PAGE_W - w) / 2.0,
                    MARGIN / 2.0,
                );
            }
            pdf.stream(content_id, &c.finish());
            let mut page = pdf.page(page_id);
            page.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H));
            page.parent(tree);
            page.contents(content_id);
            let mut resources = page.resources();
            {
                let mut fonts = resources.fonts();
                for (name, id) in font_names.iter().zip(&font_ids) {
                    fonts.pair(Name(name.as_bytes()), *id);
                }
            }
            if let (Some(id), Some(_)) = (image_id, sheet.image) {
                resources.x_objects().pair(Name(b"Im0"), id);
            }
            resources.finish();
            page.finish();
        }
    }
    let count = page_ids.len() as i32;
    pdf.pages(tree).kids(page_ids).count(count);
    pdf.catalog(catalog).pages(tree);
    Ok((pdf.finish(), fonts.missing))
}

/// Draws `line` with its baseline starting at (x, y), one font run after another. Italics are
/// slanted by the text matrix, which works for every font, CJK included.
fn show(c: &mut Content, fonts: &Fonts, names: &[String], line: &Line, x: f32, y: f32) {
    let slant = if line.italic { 0.2 } else { 0.0 };
    c.begin_text();
    c.set_text_matrix([1.0, 0.0, slant, 1.0, x, y]);
    for run in fonts.runs(&line.text) {
        c.set_font(Name(names[run.slot].as_bytes()), line.size);
        c.show(Str(&run.codes));
    }
    c.end_text();
}

#[cfg(test)]
#[path = "pdf_tests.rs"]
mod tests;
