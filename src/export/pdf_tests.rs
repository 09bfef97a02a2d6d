//! Tests of the PDF layout, kept apart so the module stays short.

use super::*;

/// Helvetica alone, so these layouts do not depend on the fonts installed.
fn helvetica() -> Fonts {
    Fonts::builtin(&BTreeSet::new())
}

fn long_sentence() -> String {
    let mut s = String::from("Once");
    while s.len() < 600 {
        s.push_str(" she decided then and there to follow the river");
    }
    s.push_str(" lanternlight.");
    s
}

/// Every line within the text column and above the bottom margin, where the number sits.
fn assert_inside(sheets: &[Sheet]) {
    for sheet in sheets {
        for (line, x, y) in &sheet.lines {
            assert!(*x >= MARGIN && x + line.width <= PAGE_W - MARGIN + 0.01);
            assert!(
                y - 0.25 * line.size >= MARGIN,
                "a line runs into the margin at {y}"
            );
            assert!(*y + line.size <= PAGE_H - MARGIN + 0.01);
        }
        if let Some((_, [x, y, w, h])) = sheet.image {
            assert!(x >= MARGIN - 0.01 && x + w <= PAGE_W - MARGIN + 0.01);
            assert!(y >= MARGIN - 0.01 && y + h <= PAGE_H - MARGIN + 0.01);
            for (_, _, ly) in &sheet.lines {
                assert!(*ly < y || *ly > y + h, "text over the picture");
            }
        }
    }
}

fn text_of(sheets: &[Sheet]) -> String {
    sheets
        .iter()
        .flat_map(|s| s.lines.iter())
        .map(|(l, _, _)| l.text.clone())
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn a_long_sentence_shrinks_the_picture_and_keeps_every_word() {
    let text = long_sentence();
    let body = lines(&helvetica(), &text, SENTENCE_SIZES[0], false);
    let sheets = lay_out(&[], Some((256, 256)), &body, Some(3));
    assert_eq!(
        sheets.len(),
        1,
        "600 characters fit beside a smaller picture"
    );
    let (_, [_, _, _, h]) = sheets[0].image.unwrap();
    assert!((MIN_IMAGE_H..CONTENT_W).contains(&h), "picture height {h}");
    assert_inside(&sheets);
    assert_eq!(
        text_of(&sheets),
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    );
}

#[test]
fn a_longer_text_is_set_smaller_to_stay_on_one_sheet() {
    let text = long_sentence().repeat(2);
    let source = Source {
        heading: Vec::new(),
        image: None,
        body: &text,
        sizes: &SENTENCE_SIZES,
        italic: false,
        number: Some(2),
    };
    let sheets = fit(&helvetica(), &source, Some((256, 256)));
    assert_eq!(sheets.len(), 1);
    let size = sheets[0].lines[0].0.size;
    assert!(size < SENTENCE_SIZES[0], "set at {size} pt");
    assert_inside(&sheets);
    assert_eq!(
        text_of(&sheets),
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    );
}

#[test]
fn a_very_long_text_continues_on_more_sheets() {
    let text = long_sentence().repeat(8);
    let source = Source {
        heading: Vec::new(),
        image: None,
        body: &text,
        sizes: &SENTENCE_SIZES,
        italic: false,
        number: Some(1),
    };
    let sheets = fit(&helvetica(), &source, Some((64, 256)));
    assert!(sheets.len() > 1);
    assert!(sheets.iter().all(|s| s.number == Some(1)));
    assert_inside(&sheets);
    assert_eq!(
        text_of(&sheets),
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    );
}

#[test]
fn the_cover_fits_its_title_prompt_and_picture() {
    let fonts = helvetica();
    let heading = lines(&fonts, &"A very long title ".repeat(6), TITLE_SIZE, false);
    let body = lines(&fonts, &long_sentence(), PROMPT_SIZES[0], true);
    let sheets = lay_out(&heading, Some((256, 256)), &body, None);
    assert_inside(&sheets);
    assert!(text_of(&sheets).ends_with("lanternlight."));
}

#[test]
fn words_wider_than_a_line_are_broken_not_lost() {
    let fonts = helvetica();
    let word = "x".repeat(300);
    let body = lines(&fonts, &word, SENTENCE_SIZES[0], false);
    assert!(body.len() > 1);
    assert!(body.iter().all(|l| l.width <= CONTENT_W));
    assert_eq!(
        body.iter().map(|l| l.text.as_str()).collect::<String>(),
        word
    );
}
