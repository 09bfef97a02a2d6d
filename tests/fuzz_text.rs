//! Fuzzing the text parsers of untrusted input: the prompt syntax (`text:weight|…`), lexicon
//! files and the eval-prompts CSV. Each target runs for a time budget (see common/fuzz.rs), never
//! panics, and checks what the parser promises on every input it accepts.

mod common;

use std::path::Path;

use common::fuzz::{fuzz, mutated, mutated_text};
use proptest::prelude::*;
use storybook_studio::ml::illustrate::prompts::parse_prompts;
use storybook_studio::ml::words::lexicon::Lexicon;
use storybook_studio::ml::words::pairs::{parse_csv, read_pairs};

/// Strings over the characters the prompt syntax gives meaning to, plus any other.
fn prompt_spec() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => proptest::sample::select(vec![
            "|", ":", "-", ".", "e", "E", "+", "0", "1", "9", " ", "inf", "NaN", "nan",
            "infinity", "1e39", "-0", "a fox", "rain", "\u{0}", "ß", "😀", "\t", "\n",
        ])
        .prop_map(str::to_string),
        1 => any::<String>(),
    ];
    prop_oneof![
        3 => proptest::collection::vec(piece, 0..24).prop_map(|v| v.concat()),
        1 => mutated_text(vec![
            "a fox:2|rain:-0.5| a note: quietly ".into(),
            "a lighthouse at dusk:1.5|blurry:-1".into(),
        ]),
    ]
}

#[test]
fn fuzz_prompt_syntax() {
    fuzz(
        "prompt syntax",
        (prompt_spec(), any::<String>(), any::<String>()),
        |(spec, prefix, suffix)| {
            if let Ok(prompts) = parse_prompts(&spec, &prefix, &suffix) {
                prop_assert!(prompts.len() <= spec.matches('|').count() + 1);
                for p in &prompts {
                    prop_assert!(p.weight.is_finite(), "{p:?}");
                    prop_assert!(p.text.starts_with(&prefix) && p.text.ends_with(&suffix));
                    prop_assert!(p.text.len() > prefix.len() + suffix.len(), "{p:?}");
                }
            }
            Ok(())
        },
    );
}

fn builtin_lexicon_text() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/lexicons/moods.txt");
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn fuzz_lexicon_files() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("moods.txt");
    let seeds = vec![
        builtin_lexicon_text().into_bytes(),
        b"# comment\n calm \nCalm\n\n\tstormy\r\n#\n".to_vec(),
    ];
    fuzz("lexicon files", mutated(seeds), |bytes| {
        let text = String::from_utf8_lossy(&bytes);
        let lexicon = Lexicon::parse("moods", &text);
        let mut seen = std::collections::HashSet::new();
        for t in &lexicon.terms {
            prop_assert!(!t.is_empty() && !t.starts_with('#'), "{t:?}");
            prop_assert_eq!(t.trim(), t.as_str());
            prop_assert!(seen.insert(t.to_lowercase()), "repeated {t:?}");
        }
        // The file as the commands read it, bytes and all (invalid UTF-8 is an error).
        std::fs::write(&file, &bytes).unwrap();
        if let Ok(all) = Lexicon::load_all(Some(tmp.path())) {
            prop_assert!(all.iter().all(|l| !l.terms.is_empty()));
        }
        Ok(())
    });
}

/// Rows of fields full of the characters CSV quoting is about.
fn csv_rows() -> impl Strategy<Value = Vec<Vec<String>>> {
    let field = proptest::collection::vec(
        proptest::sample::select(vec!["a", ",", "\"", "\n", "\r\n", " ", "é", "x y"]),
        0..6,
    )
    .prop_map(|v| v.concat());
    proptest::collection::vec(proptest::collection::vec(field, 1..4), 1..5)
}

fn write_csv(rows: &[Vec<String>]) -> String {
    let quote = |f: &String| format!("\"{}\"", f.replace('"', "\"\""));
    rows.iter()
        .map(|r| r.iter().map(quote).collect::<Vec<_>>().join(","))
        .collect::<Vec<_>>()
        .join("\r\n")
}

#[test]
fn fuzz_eval_csv() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("fox.png"), b"not really a png").unwrap();
    let csv = tmp.path().join("prompts.csv");
    let seeds = vec![
        "imgId,prompt\nfox,\"a red, \"\"quick\"\" fox\"\n".into(),
        "\u{feff}image,prompt\r\nfox.png,a fox\r\nmissing,none\r\n".into(),
        "prompt,file\n\"open".into(),
    ];
    let inputs = prop_oneof![
        3 => mutated_text(seeds).prop_map(|t| (t, None)),
        1 => csv_rows().prop_map(|rows| (write_csv(&rows), Some(rows))),
    ];
    fuzz("eval CSV", inputs, |(text, rows)| {
        let parsed = parse_csv(&text);
        if let Some(rows) = rows {
            // Fully quoted rows read back exactly.
            prop_assert_eq!(parsed.as_ref().ok(), Some(&rows));
        }
        std::fs::write(&csv, &text).unwrap();
        if let Ok(pairs) = read_pairs(&csv) {
            prop_assert!(!pairs.is_empty());
            prop_assert!(pairs.iter().all(|p| p.image.is_file()));
        }
        Ok(())
    });
}
