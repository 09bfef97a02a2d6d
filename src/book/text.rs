//! Pages from the user's own text (`book --text`): one page per sentence, or one per
//! paragraph (blank-line separated), with whitespace tidied. No model writes anything.

use super::{BookError, Story, MAX_PAGES};
use crate::story::sentences::split_sentences;

/// How a text is cut into pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PagesBy {
    #[default]
    Sentence,
    Paragraph,
}

/// The user's text as a story with its pages; empty text, or more pages than a book may
/// have, is a sentence saying so.
pub fn story_from_text(text: &str, by: PagesBy, keep: Option<usize>) -> Result<Story, BookError> {
    let mut sentences: Vec<String> = match by {
        PagesBy::Sentence => split_sentences(text),
        PagesBy::Paragraph => paragraphs(text),
    };
    let mut warnings = Vec::new();
    if let Some(keep) = keep.filter(|&k| k < sentences.len()) {
        warnings.push(format!(
            "the text makes {} pages; --pages {keep} keeps the first {keep}",
            sentences.len()
        ));
        sentences.truncate(keep);
    }
    if sentences.is_empty() {
        return Err(BookError::Invalid(
            "the text is empty; give a file with at least one sentence".into(),
        ));
    }
    if sentences.len() > MAX_PAGES {
        return Err(BookError::Invalid(format!(
            "the text makes {} pages and a book can have at most {MAX_PAGES}; split it into \
             several books{}",
            sentences.len(),
            if by == PagesBy::Sentence {
                ", or use --pages-by paragraph"
            } else {
                ""
            }
        )));
    }
    Ok(Story {
        text: text.trim().to_string(),
        sentences,
        warnings,
    })
}

/// Paragraphs separated by blank lines (a line of only spaces counts as blank), each on one
/// line.
fn paragraphs(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                out.push(current.join(" "));
                current.clear();
            }
        } else {
            current.extend(line.split_whitespace());
        }
    }
    if !current.is_empty() {
        out.push(current.join(" "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_and_paragraphs_become_pages() {
        let text = "A fox ran.  It was fast!\r\n  \r\n\n  The end came\nquietly. \n\n \n";
        let s = story_from_text(text, PagesBy::Sentence, None).unwrap();
        assert_eq!(
            s.sentences,
            ["A fox ran.", "It was fast!", "The end came quietly."]
        );
        let p = story_from_text(text, PagesBy::Paragraph, None).unwrap();
        let first = story_from_text(text, PagesBy::Sentence, Some(2)).unwrap();
        assert_eq!(first.sentences, ["A fox ran.", "It was fast!"]);
        assert!(first.warnings[0].contains("keeps the first 2"));
        assert_eq!(
            p.sentences,
            ["A fox ran. It was fast!", "The end came quietly."]
        );
    }

    #[test]
    fn empty_or_huge_texts_are_refused_with_a_sentence() {
        for empty in ["", "   \n\n\t"] {
            let e = story_from_text(empty, PagesBy::Paragraph, None).unwrap_err();
            assert!(e.to_string().contains("empty"), "{e}");
        }
        let long = "Go. ".repeat(MAX_PAGES + 1);
        let e = story_from_text(&long, PagesBy::Sentence, None).unwrap_err();
        assert!(e.to_string().contains("--pages-by paragraph"), "{e}");
        // --pages within the limit makes a long text usable.
        let kept = story_from_text(&long, PagesBy::Sentence, Some(10)).unwrap();
        assert_eq!(kept.sentences.len(), 10);
    }
}
