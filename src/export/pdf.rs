//! A PDF book: a cover page, then one page per sentence with the image full-width and the
//! sentence below. Text uses the standard Helvetica font, so characters outside Windows-1252
//! (emoji, CJK) print as '?'; the HTML export keeps them.
//!
//! No word is ever lost: lines are wrapped by Helvetica's real widths (a word wider than a line
//! is broken), a long text shrinks the picture and then its own size, and text that still does
//! not fit continues on the next sheet. The page number sits in the bottom margin, below every
//! line of text.

use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str};

use super::helvetica::text_width;
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
/// on one sheet is used, and the last continues on more sheets if even it does not.
const PROMPT_SIZES: [f32; 3] = [12.0, 10.0, 9.0];
const SENTENCE_SIZES: [f32; 4] = [15.0, 13.0, 11.0, 9.0];
const NUMBER_SIZE: f32 = 9.0;

/// Windows-1252 bytes for Helvetica's WinAnsiEncoding; anything else becomes '?'.
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars().map(win_ansi_byte).collect()
}

/// The characters of `book` the PDF cannot draw (they print as '?'): how many, and the first.
pub fn unprintable(book: &Book) -> (usize, Option<char>) {
    let texts = [book.title.as_str(), book.prompt.as_str()]
        .into_iter()
        .chain(book.pages.iter().map(|p| p.sentence.as_str()));
    let lost: Vec<char> = texts
        .flat_map(str::chars)
        .filter(|&c| c != '?' && !c.is_whitespace() && win_ansi_byte(c) == b'?')
        .collect();
    (lost.len(), lost.first().copied())
}

fn win_ansi_byte(c: char) -> u8 {
    {
        match c as u32 {
            0x20..=0x7e | 0xa0..=0xff => c as u32 as u8,
            0x2018 => 0x91,
            0x2019 => 0x92,
            0x201c => 0x93,
            0x201d => 0x94,
            0x2013 => 0x96,
            0x2014 => 0x97,
            0x2026 => 0x85,
            _ => b'?',
        }
    }
}

/// Greedy word wrap of WinAnsi text by measured width; a word wider than `width` is broken.
fn wrap(text: &str, size: f32, width: f32) -> Vec<Vec<u8>> {
    let fits = |bytes: &[u8]| text_width(bytes, size) <= width;
    let mut lines = Vec::new();
    let mut line: Vec<u8> = Vec::new();
    for word in text.split_whitespace().map(win_ansi) {
        let mut candidate = line.clone();
        if !candidate.is_empty() {
            candidate.push(b' ');
        }
        candidate.extend_from_slice(&word);
        if fits(&candidate) {
            line = candidate;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        // The word alone: as many pieces as needed, each as long as fits (at least one byte).
        let mut rest = word.as_slice();
        while !rest.is_empty() {
            let mut n = rest.len();
            while n > 1 && !fits(&rest[..n]) {
                n -= 1;
            }
            if n == rest.len() {
                line = rest.to_vec();
                break;
            }
            lines.push(rest[..n].to_vec());
            rest = &rest[n..];
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// A line of text: its WinAnsi bytes, font size, and whether it is set in italics.
#[derive(Debug, Clone, PartialEq)]
struct Line {
    bytes: Vec<u8>,
    size: f32,
    italic: bool,
}

fn lines(text: &str, size: f32, italic: bool) -> Vec<Line> {
    wrap(text, size, CONTENT_W)
        .into_iter()
        .map(|bytes| Line {
            bytes,
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
fn fit(source: &Source, image_size: Option<(u32, u32)>) -> Vec<Sheet> {
    let mut sheets = Vec::new();
    for &size in source.sizes {
        let body = lines(source.body, size, source.italic);
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

/// The book as PDF bytes.
pub fn book_pdf(book: &Book) -> Result<Vec<u8>, String> {
    let mut contents = vec![Source {
        heading: lines(&book.title, TITLE_SIZE, false),
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
    let font = ids.next();
    let font_italic = ids.next();
    pdf.type1_font(font)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.type1_font(font_italic)
        .base_font(Name(b"Helvetica-Oblique"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));

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
        let sheets = fit(content, picture.as_ref().map(|(_, w, h)| (*w, *h)));
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
                c.begin_text();
                c.set_font(Name(if line.italic { b"F2" } else { b"F1" }), line.size);
                c.next_line(*x, *y);
                c.show(Str(&line.bytes));
                c.end_text();
            }
            if let Some(n) = sheet.number {
                let label = n.to_string();
                let w = text_width(label.as_bytes(), NUMBER_SIZE);
                c.begin_text();
                c.set_font(Name(b"F1"), NUMBER_SIZE);
                c.next_line((PAGE_W - w) / 2.0, MARGIN / 2.0);
                c.show(Str(label.as_bytes()));
                c.end_text();
            }
            pdf.stream(content_id, &c.finish());
            let mut page = pdf.page(page_id);
            page.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H));
            page.parent(tree);
            page.contents(content_id);
            let mut resources = page.resources();
            {
                let mut fonts = resources.fonts();
                fonts.pair(Name(b"F1"), font);
                fonts.pair(Name(b"F2"), font_italic);
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
    Ok(pdf.finish())
}

#[cfg(test)]
#[path = "pdf_tests.rs"]
mod tests;
