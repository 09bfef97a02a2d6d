//! Prompt syntax of VQGAN+CLIP notebooks: `text:weight|other text:-0.5`. A missing weight is 1;
//! negative weights push the image away from a text. The style prefix and suffix wrap each text.

use crate::ml::{Error, Result};

#[derive(Debug, Clone, PartialEq)]
pub struct WeightedText {
    pub text: String,
    pub weight: f32,
}

/// Splits `a:1|b:-0.5` into texts and weights. A trailing `:number` is a weight; any other colon
/// belongs to the text ("a note: quietly").
pub fn parse_prompts(spec: &str, prefix: &str, suffix: &str) -> Result<Vec<WeightedText>> {
    let mut out = Vec::new();
    for part in spec.split('|') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (text, weight) = match part.rsplit_once(':') {
            Some((text, w)) if w.trim().parse::<f32>().is_ok() => {
                let weight: f32 = w.trim().parse().unwrap_or(1.0);
                if !weight.is_finite() {
                    return Err(Error::Input(format!(
                        "the weight of '{text}' is not a number"
                    )));
                }
                if weight == 0.0 {
                    return Err(Error::Input(format!(
                        "'{}' has weight 0, so it would count for nothing; give it a positive \
                         weight to draw towards it or a negative one to push away from it",
                        text.trim()
                    )));
                }
                (text.trim(), weight)
            }
            _ => (part, 1.0),
        };
        if text.is_empty() {
            return Err(Error::Input(format!("'{part}' has a weight but no text")));
        }
        out.push(WeightedText {
            text: format!("{prefix}{text}{suffix}"),
            weight,
        });
    }
    Ok(out)
}

/// `text` written in the prompt syntax so that it is drawn as it is: a bar would split it and
/// a trailing ":30." ("at 10:30.") would read as a weight. The result is one text of weight 1.
pub fn literal(text: &str) -> String {
    format!("{}:1", text.replace('|', "/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_styles_and_colons() {
        let p = parse_prompts(
            "a fox:2|rain:-0.5| a note: quietly ",
            "a watercolour of ",
            "",
        )
        .unwrap();
        assert_eq!(
            p,
            vec![
                WeightedText {
                    text: "a watercolour of a fox".into(),
                    weight: 2.0
                },
                WeightedText {
                    text: "a watercolour of rain".into(),
                    weight: -0.5
                },
                WeightedText {
                    text: "a watercolour of a note: quietly".into(),
                    weight: 1.0
                },
            ]
        );
        assert!(parse_prompts(":3", "", "").is_err());
        let zero = parse_prompts("a fox:0", "", "").unwrap_err().to_string();
        assert!(zero.contains("'a fox' has weight 0"), "{zero}");
        assert!(parse_prompts("a fox:-0.0", "", "").is_err());
        assert!(parse_prompts("  |  ", "", "").unwrap().is_empty());
    }

    #[test]
    fn a_literal_sentence_is_one_text_of_weight_one() {
        for sentence in ["We met at 10:30.", "Left | right", "A fox ran.", "Time:0"] {
            let p = parse_prompts(&literal(sentence), "a ", "").unwrap();
            assert_eq!(p.len(), 1, "{sentence}");
            assert_eq!(p[0].weight, 1.0);
            assert_eq!(p[0].text, format!("a {}", sentence.replace('|', "/")));
        }
    }
}
