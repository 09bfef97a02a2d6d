//! A single self-contained HTML book: images inline as data URIs, every piece of text escaped,
//! a cover, one page per sentence, and the recipe of each page in a details section.
//!
//! The language is guessed from the text and every text element has `dir="auto"`, so Hebrew
//! and Arabic sentences read right to left. Pictures are shown at most four times their size,
//! so a 64-pixel picture is not blown up to a blur. Model paths are cut to names.

use base64::Engine;

use crate::store::Book;

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An `<img>` of a page picture, shareable (see [`super::public`]) and no more than four
/// times its own width.
fn img(png: &[u8], alt: &str) -> String {
    let Some(shared) = super::public::shareable_png(png) else {
        return String::new();
    };
    let width = image::ImageReader::new(std::io::Cursor::new(&shared))
        .with_guessed_format()
        .ok()
        .and_then(|r| r.into_dimensions().ok())
        .map_or(0, |(w, _)| w);
    format!(
        "<img src=\"{}\" alt=\"{}\" style=\"max-width:min(100%,{}px)\">",
        data_uri(&shared),
        escape(alt),
        width * 4
    )
}

fn data_uri(png: &[u8]) -> String {
    format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(png)
    )
}

const STYLE: &str = "body{margin:0;background:#f4efe6;color:#2b2620;font:18px/1.6 Georgia,serif}\
main{max-width:720px;margin:0 auto;padding:2em 1em}\
section{background:#fffdf8;margin:0 0 2.5em;padding:1.5em;border-radius:8px;box-shadow:0 2px 8px #0002}\
img{display:block;width:100%;height:auto;margin:0 auto;border-radius:4px;image-rendering:auto}\
h1{font-size:2.2em;text-align:center;margin:.2em 0}.prompt{text-align:center;font-style:italic}\
.sentence{font-size:1.25em;margin:.8em 0 0;white-space:pre-line}.n{color:#9a8f80;font-size:.8em}\
details{margin-top:1em;font-size:.8em;color:#5a5248}pre{white-space:pre-wrap;word-break:break-word}";

/// The whole book as one HTML document.
pub fn book_html(book: &Book) -> String {
    let mut h = String::new();
    let all_text: Vec<&str> = std::iter::once(book.title.as_str())
        .chain(std::iter::once(book.prompt.as_str()))
        .chain(book.pages.iter().map(|p| p.sentence.as_str()))
        .collect();
    let lang = super::lang::guess(&all_text.join(" "));
    h.push_str(&format!(
        "<!DOCTYPE html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\">"
    ));
    h.push_str("<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">");
    h.push_str(&format!(
        "<title>{}</title><style>{STYLE}</style></head><body><main>\n",
        escape(&book.title)
    ));
    h.push_str("<section class=\"cover\">");
    h.push_str(&format!("<h1 dir=\"auto\">{}</h1>", escape(&book.title)));
    if let Some(png) = book.pages.iter().find_map(|p| p.png.as_deref()) {
        h.push_str(&img(png, &book.title));
    }
    h.push_str(&format!(
        "<p class=\"prompt\" dir=\"auto\">{}</p></section>\n",
        escape(&book.prompt)
    ));
    for (i, page) in book.pages.iter().enumerate() {
        h.push_str("<section class=\"page\">");
        if let Some(png) = &page.png {
            h.push_str(&img(png, &page.sentence));
        }
        h.push_str(&format!(
            "<p class=\"sentence\" dir=\"auto\">{}</p><p class=\"n\">{}</p>",
            escape(&page.sentence),
            i + 1
        ));
        let recipe = serde_json::json!({
            "seed": page.seed,
            "iterations": page.iterations,
            "similarity": page.similarity,
            "settings": page.settings,
        });
        h.push_str(&format!(
            "<details><summary>Recipe</summary><pre>{}</pre></details></section>\n",
            escape(&serde_json::to_string_pretty(&recipe).unwrap_or_default())
        ));
    }
    let recipe = serde_json::json!({
        "prompt": book.prompt,
        "story_settings": book.story_settings,
        "story_seed": book.story_seed,
        "style_prefix": book.style_prefix,
        "style_suffix": book.style_suffix,
        "models": super::public::model_names(&book.model_ids),
    });
    h.push_str(&format!(
        "<section><details><summary>How this book was made</summary><pre>{}</pre></details></section>\n",
        escape(&serde_json::to_string_pretty(&recipe).unwrap_or_default())
    ));
    h.push_str("</main></body></html>\n");
    h
}
