//! A PDF book: a cover page, then one page per sentence with the image full-width and the
//! sentence below. Text uses the standard Helvetica font, so characters outside Windows-1252
//! (emoji, CJK) print as '?'; the HTML export keeps them.

use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str};

use crate::store::Book;

const PAGE_W: f32 = 420.0;
const PAGE_H: f32 = 595.0;
const MARGIN: f32 = 36.0;

/// Windows-1252 bytes for Helvetica's WinAnsiEncoding; anything else becomes '?'.
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c as u32 {
            0x20..=0x7e | 0xa0..=0xff => c as u32 as u8,
            0x2018 => 0x91,
            0x2019 => 0x92,
            0x201c => 0x93,
            0x201d => 0x94,
            0x2013 => 0x96,
            0x2014 => 0x97,
            0x2026 => 0x85,
            _ => b'?',
        })
        .collect()
}

/// Greedy word wrap by an average Helvetica advance (0.52 em), good enough for prose.
fn wrap(text: &str, size: f32, width: f32) -> Vec<String> {
    let max_chars = ((width / (size * 0.52)) as usize).max(8);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > max_chars {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// A line of text: its words, font size, and whether it is set in italics.
type Line = (String, f32, bool);

struct Ids {
    next: i32,
}

impl Ids {
    fn next(&mut self) -> Ref {
        self.next += 1;
        Ref::new(self.next)
    }
}

/// The book as PDF bytes.
pub fn book_pdf(book: &Book) -> Result<Vec<u8>, String> {
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

    // Cover, then one page per sentence; each is (text lines, size, optional image).
    let mut sheets: Vec<(Vec<Line>, Option<&[u8]>)> = Vec::new();
    let mut cover: Vec<Line> = wrap(&book.title, 26.0, PAGE_W - 2.0 * MARGIN)
        .into_iter()
        .map(|l| (l, 26.0, false))
        .collect();
    cover.extend(
        wrap(&book.prompt, 12.0, PAGE_W - 2.0 * MARGIN)
            .into_iter()
            .map(|l| (l, 12.0, true)),
    );
    sheets.push((cover, book.pages.iter().find_map(|p| p.png.as_deref())));
    for page in &book.pages {
        let lines = wrap(&page.sentence, 15.0, PAGE_W - 2.0 * MARGIN)
            .into_iter()
            .map(|l| (l, 15.0, false))
            .collect();
        sheets.push((lines, page.png.as_deref()));
    }

    let mut page_ids = Vec::new();
    for (i, (lines, png)) in sheets.iter().enumerate() {
        let page_id = ids.next();
        let content_id = ids.next();
        page_ids.push(page_id);
        let mut content = Content::new();
        let mut y = PAGE_H - MARGIN;
        let image_name = format!("Im{i}");
        let mut image_id = None;
        if let Some(png) = png {
            let img = image::load_from_memory(png)
                .map_err(|e| format!("a page image cannot be read: {e}"))?
                .to_rgb8();
            let (w, h) = (img.width(), img.height());
            let draw_w = PAGE_W - 2.0 * MARGIN;
            let draw_h = draw_w * h as f32 / w as f32;
            let id = ids.next();
            let data = miniz_oxide::deflate::compress_to_vec_zlib(img.as_raw(), 6);
            let mut x = pdf.image_xobject(id, &data);
            x.filter(Filter::FlateDecode);
            x.width(w as i32);
            x.height(h as i32);
            x.color_space().device_rgb();
            x.bits_per_component(8);
            x.finish();
            // The cover puts its title above the picture; pages put the sentence below.
            if i == 0 {
                y -= 26.0 * 1.3 * lines.iter().filter(|l| !l.2).count() as f32 + 12.0;
            }
            y -= draw_h;
            content.save_state();
            content.transform([draw_w, 0.0, 0.0, draw_h, MARGIN, y]);
            content.x_object(Name(image_name.as_bytes()));
            content.restore_state();
            y -= 24.0;
            image_id = Some(id);
        }
        let mut text_y = if i == 0 { PAGE_H - MARGIN - 26.0 } else { y };
        for (n, (line, size, italic)) in lines.iter().enumerate() {
            if i == 0 && *italic && n > 0 && lines[n - 1].2 != *italic {
                text_y = y - 6.0;
            }
            content.begin_text();
            content.set_font(Name(if *italic { b"F2" } else { b"F1" }), *size);
            content.next_line(MARGIN, text_y);
            content.show(Str(&win_ansi(line)));
            content.end_text();
            text_y -= size * 1.3;
        }
        if i > 0 {
            content.begin_text();
            content.set_font(Name(b"F1"), 9.0);
            content.next_line(PAGE_W / 2.0 - 4.0, MARGIN / 2.0);
            content.show(Str(i.to_string().as_bytes()));
            content.end_text();
        }
        pdf.stream(content_id, &content.finish());
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
        if let Some(id) = image_id {
            resources.x_objects().pair(Name(image_name.as_bytes()), id);
        }
        resources.finish();
        page.finish();
    }
    let count = page_ids.len() as i32;
    pdf.pages(tree).kids(page_ids).count(count);
    pdf.catalog(catalog).pages(tree);
    Ok(pdf.finish())
}
