//! Exports as a reader gets them: HTML parsed back (text escaped, images inline), PDF parsed
//! (a cover plus one page per sentence, images embedded), GIF decoded frame by frame.

use std::io::Cursor;

use storybook_studio::export::pdf::{book_pdf, book_pdf_with_fonts};
use storybook_studio::export::{gif::progress_gif, html::book_html, pdf_warning};
use storybook_studio::store::{Book, Page};

fn png(colour: [u8; 3]) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(32, 24, image::Rgb(colour));
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

fn book() -> Book {
    let sentences = [
        "<script>alert('owned')</script> The fox & the \"owl\" met.",
        "They walked under the moon 🌙 to the café — quietly.",
    ];
    Book {
        id: 1,
        title: "Night <i>walk</i> & friends".into(),
        prompt: "A fox and an owl".into(),
        created_at: 0,
        updated_at: 0,
        story_settings: serde_json::json!({ "temperature": 0.9 }),
        story_seed: 7,
        style_prefix: "a watercolour of ".into(),
        style_suffix: String::new(),
        model_ids: serde_json::json!({ "gpt2": "models/gpt2" }),
        planned_pages: 2,
        pages: sentences
            .iter()
            .enumerate()
            .map(|(i, s)| Page {
                id: i as i64 + 1,
                position: i,
                sentence: s.to_string(),
                settings: serde_json::json!({ "seed": i }),
                seed: i as u64,
                iterations: 10,
                similarity: Some(0.3),
                png: Some(png([40 * i as u8, 100, 200])),
                thumbnail: None,
            })
            .collect(),
    }
}

#[test]
fn html_escapes_every_text_and_inlines_every_image() {
    let html = book_html(&book());
    let dom = tl::parse(&html, tl::ParserOptions::default()).unwrap();
    let parser = dom.parser();
    assert!(
        dom.query_selector("script").unwrap().next().is_none(),
        "a script element was injected"
    );
    assert!(
        dom.query_selector("i").unwrap().next().is_none(),
        "markup in the title was not escaped"
    );
    let sentences: Vec<String> = dom
        .query_selector("p.sentence")
        .unwrap()
        .map(|h| h.get(parser).unwrap().inner_text(parser).to_string())
        .collect();
    assert_eq!(sentences.len(), 2);
    assert!(
        sentences[0].contains("&lt;script&gt;alert(&#39;owned&#39;)&lt;/script&gt;"),
        "{}",
        sentences[0]
    );
    assert!(sentences[1].contains("🌙"));
    let images: Vec<String> = dom
        .query_selector("img")
        .unwrap()
        .map(|h| {
            h.get(parser)
                .unwrap()
                .as_tag()
                .unwrap()
                .attributes()
                .get("src")
                .flatten()
                .unwrap()
                .as_utf8_str()
                .to_string()
        })
        .collect();
    assert_eq!(images.len(), 3, "cover plus one per page");
    assert!(images
        .iter()
        .all(|s| s.starts_with("data:image/png;base64,")));
    assert!(
        dom.query_selector("details").unwrap().count() >= 3,
        "recipes are in details sections"
    );
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing is loaded from outside"
    );
}

#[test]
fn pdf_has_a_cover_and_a_page_per_sentence_with_images() {
    let bytes = book_pdf(&book()).unwrap();
    let doc = lopdf::Document::load_mem(&bytes).unwrap();
    let pages = doc.get_pages();
    assert_eq!(pages.len(), 3);
    let images = doc
        .objects
        .values()
        .filter(|o| {
            o.as_stream()
                .ok()
                .and_then(|s| s.dict.get(b"Subtype").ok())
                .and_then(|t| t.as_name().ok())
                == Some(b"Image".as_slice())
        })
        .count();
    assert_eq!(images, 3);
    let text = doc.extract_text(&[2]).unwrap();
    assert!(text.contains("The fox"), "{text}");
}

#[test]
fn gif_has_one_frame_per_kept_frame() {
    let frames = vec![png([255, 0, 0]), png([0, 255, 0]), png([0, 0, 255])];
    let gif = progress_gif(&frames, 100).unwrap();
    let decoder = image::codecs::gif::GifDecoder::new(Cursor::new(gif)).unwrap();
    let decoded = image::AnimationDecoder::into_frames(decoder)
        .collect_frames()
        .unwrap();
    assert_eq!(decoded.len(), 3);
    assert_eq!(decoded[1].buffer().get_pixel(5, 5).0[1], 255);
    assert!(progress_gif(&[], 100)
        .unwrap_err()
        .contains("no progress frames"));
}

/// A sentence of 600 characters or more whose last word is `lanternlight`.
fn long_sentence() -> String {
    let mut s = String::from("Once upon a winter night");
    while s.len() < 600 {
        s.push_str(", and she decided then and there to follow the frozen river");
    }
    s.push_str(" by lanternlight.");
    s
}

fn long_book() -> Book {
    let mut b = book();
    b.pages[1].sentence = long_sentence();
    b.prompt = long_sentence();
    b
}

#[test]
fn pdf_keeps_every_word_of_a_long_sentence() {
    let bytes = book_pdf(&long_book()).unwrap();
    let doc = lopdf::Document::load_mem(&bytes).unwrap();
    let pages = doc.get_pages();
    assert_eq!(pages.len(), 3, "cover and two pages, each on one sheet");
    let page3 = doc.extract_text(&[3]).unwrap();
    let words = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
    let want = words(&long_sentence());
    assert!(words(&page3).contains(&want), "page 3 reads: {page3}");
    // The page number is there too, after the text rather than over it.
    assert!(words(&page3).ends_with("lanternlight. 2"), "{page3}");
    let cover = doc.extract_text(&[1]).unwrap();
    assert!(
        words(&cover).contains(&want),
        "the cover's prompt is cut: {cover}"
    );
}

/// Run by name from .ci/run, which installs poppler-utils: what a reader's PDF tool extracts.
#[test]
#[ignore = "needs pdftotext (Debian poppler-utils); .ci/run runs it by name"]
fn pdftotext_reads_the_last_word_of_a_600_character_sentence() {
    let tmp = tempfile::tempdir().unwrap();
    let pdf = tmp.path().join("book.pdf");
    std::fs::write(&pdf, book_pdf(&long_book()).unwrap()).unwrap();
    let out = std::process::Command::new("pdftotext")
        .arg(&pdf)
        .arg("-")
        .output()
        .expect("pdftotext is missing: install poppler-utils (apt-get install poppler-utils)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(long_sentence().len() >= 600);
    assert_eq!(text.matches("lanternlight.").count(), 2, "{text}");
    assert!(
        text.contains("then and there to follow the frozen river"),
        "{text}"
    );
}

fn png_with_recipe(recipe: &serde_json::Value) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(64, 64, image::Rgb([10, 20, 30]));
    storybook_studio::ml::image_io::encode_png_with_text(
        &img,
        &[("storybook-recipe", &recipe.to_string())],
    )
    .unwrap()
}

#[test]
fn html_names_models_without_their_paths() {
    let mut b = book();
    b.model_ids = serde_json::json!({
        "gpt2": "/home/ana-secret/models/gpt2",
        "clip": "/home/ana-secret/models/clip",
    });
    let recipe = serde_json::json!({ "prompt": "x", "models": b.model_ids });
    for p in &mut b.pages {
        p.png = Some(png_with_recipe(&recipe));
    }
    let html = book_html(&b);
    assert!(!html.contains("ana-secret"), "a path is in the page");
    assert!(
        html.contains("&quot;gpt2&quot;: &quot;gpt2&quot;"),
        "the model names stay"
    );
    let dom = tl::parse(&html, tl::ParserOptions::default()).unwrap();
    let parser = dom.parser();
    for img in dom.query_selector("img").unwrap() {
        let src = img
            .get(parser)
            .unwrap()
            .as_tag()
            .unwrap()
            .attributes()
            .get("src");
        let src = src.flatten().unwrap().as_utf8_str().to_string();
        let b64 = src.trim_start_matches("data:image/png;base64,");
        let png = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b64).unwrap();
        assert!(
            !String::from_utf8_lossy(&png).contains("ana-secret"),
            "a path is inside a picture"
        );
        let decoded = image::load_from_memory(&png).unwrap().to_rgb8();
        assert_eq!(
            decoded.get_pixel(5, 5).0,
            [10, 20, 30],
            "the pixels are kept"
        );
    }
}

#[test]
fn html_takes_its_language_from_the_text_and_lets_each_line_choose_its_direction() {
    let mut hebrew = book();
    hebrew.title = "השועל והפנס".into();
    hebrew.prompt = "השועל מצא פנס".into();
    for p in &mut hebrew.pages {
        p.sentence = "השועל מצא פנס בשלג.".into();
    }
    let html = book_html(&hebrew);
    assert!(html.contains("<html lang=\"he\">"), "{}", &html[..200]);
    let dom = tl::parse(&html, tl::ParserOptions::default()).unwrap();
    let parser = dom.parser();
    let mut texts = 0;
    for sel in ["h1", "p.prompt", "p.sentence"] {
        for node in dom.query_selector(sel).unwrap() {
            let tag = node.get(parser).unwrap().as_tag().unwrap();
            let dir = tag
                .attributes()
                .get("dir")
                .flatten()
                .map(|d| d.as_utf8_str().to_string());
            assert_eq!(dir.as_deref(), Some("auto"), "{sel} has no dir=auto");
            texts += 1;
        }
    }
    assert_eq!(texts, 4);
    let mut chinese = book();
    chinese.title = "狐狸和灯笼".into();
    chinese.prompt = "狐狸在雪地里".into();
    for p in &mut chinese.pages {
        p.sentence = "它很高兴。".into();
    }
    assert!(book_html(&chinese).contains("<html lang=\"zh\">"));
    assert!(book_html(&book()).contains("<html lang=\"en\">"));
}

/// A classical poem from `poem --lang zh` as a page: Chinese, its lines kept as lines.
#[test]
fn a_chinese_poem_page_exports_to_html_with_its_lines() {
    let mut poem = book();
    poem.title = "静夜思".into();
    poem.prompt = "明月 故乡".into();
    let text = "床前明月光，\n疑是地上霜。\n举头望明月，\n低头思故乡。";
    for p in &mut poem.pages {
        p.sentence = text.into();
    }
    let html = book_html(&poem);
    assert!(html.contains("<html lang=\"zh\">"));
    assert!(html.contains(".sentence{") && html.contains("white-space:pre-line"));
    let dom = tl::parse(&html, tl::ParserOptions::default()).unwrap();
    let parser = dom.parser();
    let sentences: Vec<String> = dom
        .query_selector("p.sentence")
        .unwrap()
        .map(|n| n.get(parser).unwrap().inner_text(parser).to_string())
        .collect();
    assert_eq!(sentences, vec![text.to_string(); 2]);
}

#[test]
fn small_pictures_are_shown_at_most_four_times_their_size() {
    let html = book_html(&book());
    // The test pictures are 32 pixels wide: they may grow to 128, not to the 720-pixel column.
    assert_eq!(
        html.matches("max-width:min(100%,128px)").count(),
        3,
        "{html}"
    );
}

/// With no font installed, Helvetica draws Latin text and the rest prints as '?', which the
/// warning names; HTML keeps every word. (Which fonts a machine has is not assumed here.)
#[test]
fn a_pdf_that_cannot_draw_the_book_s_script_says_so_and_html_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let mut chinese = book();
    chinese.title = "灯笼".into();
    for p in &mut chinese.pages {
        p.sentence = "狐狸点亮了灯笼。".into();
    }
    let (bytes, missing) = book_pdf_with_fonts(&chinese, &[]).unwrap();
    assert_eq!(
        lopdf::Document::load_mem(&bytes).unwrap().get_pages().len(),
        3
    );
    assert!(
        missing.contains(&'灯') && missing.contains(&'。'),
        "{missing:?}"
    );
    let warning = pdf_warning(&missing).expect("a warning");
    assert!(
        warning.contains("“灯”")
            && warning.contains(".html")
            && warning.contains("fonts-wqy-microhei"),
        "{warning}"
    );
    let html = dir.path().join("b.html");
    assert_eq!(
        storybook_studio::export::export_book(&chinese, &html).unwrap(),
        None
    );
    // Latin text with curly quotes, dashes and accents is all drawn, even by Helvetica.
    let mut latin = book();
    for p in &mut latin.pages {
        p.sentence = "The fox met the owl at the café — “quietly”…".into();
    }
    let (_, missing) = book_pdf_with_fonts(&latin, &[]).unwrap();
    assert_eq!(missing, Vec::<char>::new());
    assert_eq!(pdf_warning(&missing), None);
}
