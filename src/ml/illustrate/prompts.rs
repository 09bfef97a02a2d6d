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
        assert!(parse_prompts("  |  ", "", "").unwrap().is_empty());
    }
}
