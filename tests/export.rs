//! Exports as a reader gets them: HTML parsed back (text escaped, images inline), PDF parsed
//! (a cover plus one page per sentence, images embedded), GIF decoded frame by frame.

use std::io::Cursor;

use storybook_studio::export::{gif::progress_gif, html::book_html, pdf::book_pdf};
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
