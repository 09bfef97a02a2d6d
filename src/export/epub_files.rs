//! The XML documents inside an EPUB 3: the OCF container, the package document (OPF), the
//! navigation document, and one XHTML page per book page. Every text from the book is escaped
//! and cleared of characters XML forbids, so no sentence can break the markup.

/// One book page as the EPUB holds it.
pub struct EpubPage {
    /// File name of its XHTML document, such as "page-001.xhtml".
    pub file: String,
    /// File name of its picture under images/, if it has one.
    pub image: Option<String>,
    pub sentence: String,
}

/// What the package document says about the book.
pub struct Meta<'a> {
    pub identifier: &'a str,
    pub title: &'a str,
    pub lang: &'a str,
    /// The day it was made, YYYY-MM-DD.
    pub date: &'a str,
    /// When it last changed, YYYY-MM-DDThh:mm:ssZ.
    pub modified: &'a str,
    /// The picture shown as the cover, under images/.
    pub cover_image: Option<&'a str>,
}

pub const CONTAINER: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
  <rootfiles>
    <rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>
  </rootfiles>
</container>
"#;

pub const CSS: &str = "body{margin:1em;font-family:sans-serif;line-height:1.4}
h1{text-align:center}
.picture{text-align:center;margin:0 0 1em 0}
.picture img{max-width:100%;max-height:70vh}
.sentence,.prompt{white-space:pre-line;font-size:1.2em}
.prompt{font-style:italic}
";

/// `text` safe inside XML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // XML 1.0 forbids most control characters; C1 controls are HTML parse errors.
            '\t' | '\n' => out.push(c),
            '\r' => out.push('\n'),
            c if c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// A label for a page in the table of contents: its sentence, shortened, or its number.
pub fn label(number: usize, sentence: &str) -> String {
    let words = sentence.split_whitespace().collect::<Vec<_>>().join(" ");
    let short: String = words.chars().take(60).collect();
    let more = if words.chars().count() > 60 {
        "…"
    } else {
        ""
    };
    if escape(&short).trim().is_empty() {
        format!("Page {number}")
    } else {
        format!("{number}. {short}{more}")
    }
}

fn document(lang: &str, title: &str, body: &str) -> String {
    let lang = escape(lang);
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE html>\n\
         <html xmlns=\"http://www.w3.org/1999/xhtml\" xmlns:epub=\"http://www.idpf.org/2007/ops\" \
         xml:lang=\"{lang}\" lang=\"{lang}\">\n<head>\n<meta charset=\"UTF-8\"/>\n\
         <title>{}</title>\n<link rel=\"stylesheet\" type=\"text/css\" href=\"style.css\"/>\n\
         </head>\n<body>\n{body}</body>\n</html>\n",
        escape(title)
    )
}

fn picture(image: Option<&str>, alt: &str) -> String {
    image.map_or(String::new(), |file| {
        format!(
            "<div class=\"picture\"><img src=\"images/{}\" alt=\"{}\"/></div>\n",
            escape(file),
            escape(alt)
        )
    })
}

/// The title page: title, the prompt the story grew from, and the cover picture.
pub fn cover_xhtml(meta: &Meta, prompt: &str) -> String {
    let body = format!(
        "<h1 dir=\"auto\">{}</h1>\n{}<p class=\"prompt\" dir=\"auto\">{}</p>\n",
        escape(meta.title),
        picture(meta.cover_image, meta.title),
        escape(prompt)
    );
    document(meta.lang, meta.title, &body)
}

pub fn page_xhtml(meta: &Meta, number: usize, page: &EpubPage) -> String {
    let body = format!(
        "{}<p class=\"sentence\" dir=\"auto\">{}</p>\n",
        picture(page.image.as_deref(), &page.sentence),
        escape(&page.sentence)
    );
    document(meta.lang, &format!("{} — {number}", meta.title), &body)
}

/// The navigation document: a table of contents with the title page and every page.
pub fn nav_xhtml(meta: &Meta, pages: &[EpubPage]) -> String {
    let mut items = format!(
        "<li><a href=\"cover.xhtml\">{}</a></li>\n",
        escape(meta.title)
    );
    for (i, page) in pages.iter().enumerate() {
        items.push_str(&format!(
            "<li><a href=\"{}\">{}</a></li>\n",
            page.file,
            escape(&label(i + 1, &page.sentence))
        ));
    }
    let body = format!(
        "<nav epub:type=\"toc\" id=\"toc\">\n<h1>{}</h1>\n<ol>\n{items}</ol>\n</nav>\n",
        escape(meta.title)
    );
    document(meta.lang, meta.title, &body)
}

/// The package document: metadata, every file, and the reading order.
pub fn package_opf(meta: &Meta, pages: &[EpubPage]) -> String {
    let mut manifest = String::from(
        "<item id=\"nav\" href=\"nav.xhtml\" media-type=\"application/xhtml+xml\" properties=\"nav\"/>\n\
         <item id=\"css\" href=\"style.css\" media-type=\"text/css\"/>\n\
         <item id=\"cover\" href=\"cover.xhtml\" media-type=\"application/xhtml+xml\"/>\n",
    );
    let mut spine = String::from("<itemref idref=\"cover\"/>\n");
    for (i, page) in pages.iter().enumerate() {
        let n = i + 1;
        manifest.push_str(&format!(
            "<item id=\"p{n}\" href=\"{}\" media-type=\"application/xhtml+xml\"/>\n",
            page.file
        ));
        if let Some(image) = &page.image {
            let cover = if meta.cover_image == Some(image.as_str()) {
                " properties=\"cover-image\""
            } else {
                ""
            };
            manifest.push_str(&format!(
                "<item id=\"img{n}\" href=\"images/{image}\" media-type=\"image/png\"{cover}/>\n"
            ));
        }
        spine.push_str(&format!("<itemref idref=\"p{n}\"/>\n"));
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <package xmlns=\"http://www.idpf.org/2007/opf\" version=\"3.0\" \
         unique-identifier=\"book-id\" xml:lang=\"{lang}\">\n\
         <metadata xmlns:dc=\"http://purl.org/dc/elements/1.1/\">\n\
         <dc:identifier id=\"book-id\">{id}</dc:identifier>\n\
         <dc:title>{title}</dc:title>\n\
         <dc:language>{lang}</dc:language>\n\
         <dc:date>{date}</dc:date>\n\
         <meta property=\"dcterms:modified\">{modified}</meta>\n\
         <meta name=\"generator\" content=\"Storybook Studio {version}\"/>\n\
         </metadata>\n<manifest>\n{manifest}</manifest>\n<spine>\n{spine}</spine>\n</package>\n",
        lang = escape(meta.lang),
        id = escape(meta.identifier),
        title = escape(meta.title),
        date = meta.date,
        modified = meta.modified,
        version = env!("CARGO_PKG_VERSION"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_forbidden_characters_are_escaped_or_dropped() {
        assert_eq!(
            escape("<b>\"Tom\" & 'Jo'</b>"),
            "&lt;b&gt;&quot;Tom&quot; &amp; &#39;Jo&#39;&lt;/b&gt;"
        );
        assert_eq!(escape("a\u{0}b\u{1b}c\u{85}d\r\n床"), "abcd\n\n床");
    }

    #[test]
    fn labels_are_never_empty() {
        assert_eq!(label(3, "  \n "), "Page 3");
        assert_eq!(label(4, "\u{1}"), "Page 4");
        assert_eq!(label(1, "A fox."), "1. A fox.");
        assert!(label(2, &"word ".repeat(40)).ends_with('…'));
    }
}
