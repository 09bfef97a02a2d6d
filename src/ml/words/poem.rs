//! Image to poem, after Image2Poem and img2poem: CLIP picks "poetic clues" (objects, scene, mood
//! and imagery) from closed lexicons, GPT-2 writes several candidate poems from a prompt built
//! on them, and CLIP ranks the candidates by how well each poem's text matches the image.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use super::label_cache::embed_texts;
use super::rank::{dot, rank, Ranked};
use super::Labels;
use crate::ml::generate::generate_until;
use crate::ml::models::clip::tokenize::ClipTokenizer;
use crate::ml::models::clip::Clip;
use crate::ml::models::gpt2::tokenizer::TextTokenizer;
use crate::ml::models::gpt2::Gpt2;
use crate::ml::sampling::SamplingOptions;
use crate::ml::{Error, Result};

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PoemOptions {
    pub lines: usize,
    pub candidates: usize,
    pub seed: u64,
    pub temperature: f64,
}

impl Default for PoemOptions {
    fn default() -> Self {
        Self {
            lines: 4,
            candidates: 3,
            seed: 0,
            temperature: 0.9,
        }
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Candidate {
    pub poem: String,
    /// CLIP cosine similarity of the poem's text to the image.
    pub score: f32,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PoemResult {
    pub poem: String,
    /// BLIP's caption, given to GPT-2 as one more clue; none when captions are off.
    pub caption: Option<String>,
    pub clues: BTreeMap<String, Vec<Ranked>>,
    /// Best first.
    pub candidates: Vec<Candidate>,
    pub prompt: String,
}

/// How many of each lexicon's best terms become clues.
const CLUES: [(&str, &str, usize); 4] = [
    ("objects", "subjects", 3),
    ("scene", "scenes", 1),
    ("mood", "moods", 2),
    ("imagery", "imagery", 5),
];

/// Words per line when the model writes prose instead of verse and lines must be made.
const WORDS_PER_LINE: usize = 7;

pub fn clues(labels: &Labels, image: &[f32]) -> Result<BTreeMap<String, Vec<Ranked>>> {
    CLUES
        .iter()
        .map(|(clue, lexicon, n)| {
            let set = labels
                .get(lexicon)
                .ok_or_else(|| Error::Input(format!("the {lexicon} lexicon is missing")))?;
            Ok((
                clue.to_string(),
                rank(set, image).into_iter().take(*n).collect(),
            ))
        })
        .collect()
}

/// The GPT-2 prompt: a title and an opening that steer the model towards verse about the clues,
/// and about what the caption says is happening, when there is one.
pub fn poem_prompt(clues: &BTreeMap<String, Vec<Ranked>>, caption: Option<&str>) -> String {
    let terms = |k: &str| -> Vec<&str> {
        clues
            .get(k)
            .map(|v| v.iter().map(|r| r.term.as_str()).collect())
            .unwrap_or_default()
    };
    let scene = terms("scene").first().copied().unwrap_or("the world");
    let mood = terms("mood").join(" and ");
    let objects = terms("objects").join(", ");
    let imagery = terms("imagery").join(", ");
    let about = match caption {
        Some(c) => format!("{} ({objects} in {scene})", c.trim_end_matches('.')),
        None => format!("{objects} in {scene}"),
    };
    format!(
        "A {mood} poem about {about}.\nImages: {imagery}.\n\n{}\n",
        title_case(terms("imagery").first().copied().unwrap_or(scene))
    )
}

#[allow(clippy::too_many_arguments)]
pub fn image_to_poem(
    clip: &Clip,
    clip_tokenizer: &ClipTokenizer,
    gpt2: &Gpt2,
    gpt2_tokenizer: &TextTokenizer,
    labels: &Labels,
    image: &[f32],
    caption: Option<&str>,
    opts: &PoemOptions,
    mut on_token: impl FnMut(usize, &str) -> ControlFlow<()>,
) -> Result<PoemResult> {
    if opts.lines == 0 || opts.lines > 40 {
        return Err(Error::Input("a poem has between 1 and 40 lines".into()));
    }
    if opts.candidates == 0 || opts.candidates > 16 {
        return Err(Error::Input(
            "ask for between 1 and 16 candidate poems".into(),
        ));
    }
    let clues = clues(labels, image)?;
    let caption = caption.map(str::trim).filter(|c| !c.is_empty());
    let prompt = poem_prompt(&clues, caption);
    let window = gpt2.config().n_positions;
    let sampling = SamplingOptions {
        temperature: opts.temperature,
        top_k: 50,
        top_p: 0.95,
        repetition_penalty: 1.2,
        // The end-of-text token is never drawn (`stop_at_eos` is off), so a minimum would only
        // refuse line counts that a small window cannot promise; `has_lines` ends each poem.
        min_new_tokens: 0,
        max_new_tokens: (opts.lines * 14 + 8).min(window / 2),
        stop_at_eos: false,
        num_sequences: opts.candidates,
        seed: opts.seed,
        banned_words: Vec::new(),
        trim_to_sentence: false,
    };
    // A candidate stops once the lines `shape_lines` keeps are written: what follows them was
    // thrown away, and writing it took most of a poem's time.
    let lines = opts.lines;
    let generation = generate_until(
        gpt2,
        gpt2_tokenizer,
        &prompt,
        &sampling,
        |text| has_lines(text, lines),
        |t| on_token(t.sequence, t.text),
    )?;
    let poems: Vec<String> = generation
        .sequences
        .iter()
        .map(|s| shape_lines(s.text.strip_prefix(&prompt).unwrap_or(&s.text), opts.lines))
        .collect();
    let texts: Vec<&str> = poems.iter().map(String::as_str).collect();
    let embeds = embed_texts(clip, clip_tokenizer, &texts)?;
    let candidates = rank_candidates(poems, &embeds, image);
    Ok(PoemResult {
        poem: candidates[0].poem.clone(),
        caption: caption.map(String::from),
        clues,
        candidates,
        prompt,
    })
}

/// Poems with their similarity to the picture (`embeds[i]` is `poems[i]`'s unit embedding),
/// best first: img2poem's relevance score, for English and Chinese poems alike.
pub fn rank_candidates(poems: Vec<String>, embeds: &[Vec<f32>], image: &[f32]) -> Vec<Candidate> {
    let mut candidates: Vec<Candidate> = poems
        .into_iter()
        .zip(embeds)
        .map(|(poem, e)| Candidate {
            poem,
            score: dot(e, image),
        })
        .collect();
    candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
    candidates
}

/// At most `n` whole lines: the model's own lines where it wrote verse, otherwise its prose
/// broken at punctuation or every few words. A line cut off at the end of the text is dropped
/// unless it is needed to reach `n`.
pub fn shape_lines(text: &str, n: usize) -> String {
    let own: Vec<String> = text
        .lines()
        .map(clean_line)
        .filter(|l| !l.is_empty())
        .collect();
    let lines = if own.len() >= n {
        own
    } else {
        let (mut lines, open) = rewrap(&own.join(" "));
        lines.extend(open);
        lines
    };
    lines.into_iter().take(n).collect::<Vec<_>>().join("\n")
}

/// Whether the lines [`shape_lines`] keeps of `text` are all written.
///
/// Once the model has broken a line it writes verse, whose own lines are kept: they are all
/// written when `n` are ended by a break, and no later text changes them. Until its first
/// break its text is prose, rewrapped: the lines are written when `n` rewrapped lines are
/// closed by finished words. A word is finished once whitespace follows it, since the next
/// token may still add to it ("cat" becoming "cat," or "cats"). Only a model whose first line
/// runs to `n` clauses before it breaks would, left to write on, have had its own lines kept.
pub fn has_lines(text: &str, n: usize) -> bool {
    let segments: Vec<&str> = text.split('\n').collect();
    let closed = segments.split_last().map_or(0, |(_, closed)| {
        closed.iter().filter(|l| !clean_line(l).is_empty()).count()
    });
    // One line is the whole text until its break, however long.
    if closed > 0 || n <= 1 {
        return closed >= n;
    }
    let finished = match text.rfind(char::is_whitespace) {
        Some(i) => &text[..i],
        None => "",
    };
    rewrap(finished).0.len() >= n
}

/// Prose as lines, each closed after `WORDS_PER_LINE` words or at a clause's end once it has
/// three, and the words after the last closed line, if any.
fn rewrap(text: &str) -> (Vec<String>, Option<String>) {
    let mut lines = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for word in text.split_whitespace() {
        current.push(word);
        let ends_clause = word.ends_with([',', '.', ';', ':', '!', '?']);
        if current.len() >= WORDS_PER_LINE || (ends_clause && current.len() >= 3) {
            lines.push(current.join(" "));
            current.clear();
        }
    }
    let open = (!current.is_empty()).then(|| current.join(" "));
    (lines, open)
}

fn clean_line(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn title_case(s: &str) -> String {
    s.split(' ')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_caption_joins_the_clues_in_the_gpt2_prompt() {
        let term = |t: &str| Ranked {
            term: t.into(),
            score: 0.5,
        };
        let mut clues = BTreeMap::new();
        clues.insert("objects".to_string(), vec![term("ducks"), term("bread")]);
        clues.insert("scene".to_string(), vec![term("a pond")]);
        clues.insert("mood".to_string(), vec![term("gentle")]);
        clues.insert("imagery".to_string(), vec![term("ripples")]);
        let with = poem_prompt(&clues, Some("a girl is feeding ducks."));
        assert!(
            with.starts_with(
                "A gentle poem about a girl is feeding ducks (ducks, bread in a pond)."
            ),
            "{with}"
        );
        let without = poem_prompt(&clues, None);
        assert!(
            without.starts_with("A gentle poem about ducks, bread in a pond."),
            "{without}"
        );
        assert!(with.ends_with("\n\nRipples\n") && without.ends_with("\n\nRipples\n"));
    }

    #[test]
    fn verse_keeps_its_own_lines() {
        let text = "The moon is low\n\nthe river   sings\nand night comes\nsoftly home\nextra";
        assert_eq!(
            shape_lines(text, 3),
            "The moon is low\nthe river sings\nand night comes"
        );
    }

    #[test]
    fn prose_is_broken_into_lines() {
        let text = "one two three four five six seven eight nine, ten eleven twelve";
        let poem = shape_lines(text, 2);
        assert_eq!(
            poem,
            "one two three four five six seven\neight nine, ten eleven twelve"
        );
    }

    #[test]
    fn verse_has_its_lines_once_the_last_is_broken() {
        assert!(!has_lines("The moon is low\n\nthe river sings", 2));
        assert!(has_lines("The moon is low\n\nthe river sings\n", 2));
        assert!(!has_lines("The moon is low\n\n\n", 2));
        assert!(!has_lines("", 1));
    }

    /// Each prefix of `text` (cut at every character, as tokens may end anywhere) that
    /// `has_lines` accepts keeps exactly the lines the whole text would give.
    fn stops_where_more_text_changes_nothing(text: &str, n: usize) -> usize {
        let whole = shape_lines(text, n);
        let mut first = None;
        for (i, _) in text.char_indices().skip(1) {
            let prefix = &text[..i];
            if has_lines(prefix, n) {
                first.get_or_insert(i);
                assert_eq!(shape_lines(prefix, n), whole, "{prefix:?}");
            }
        }
        assert_eq!(whole.lines().count(), n);
        first.expect("enough lines were written before the end")
    }

    #[test]
    fn prose_has_its_lines_once_the_closing_word_is_finished() {
        let text = "one two three four five six seven eight nine ten, eleven twelve";
        let at = stops_where_more_text_changes_nothing(text, 2);
        // The second line closes at "ten," (a clause of three words): it is finished when a
        // space follows, not at "ten" (which a comma may still follow).
        assert_eq!(
            &text[..at],
            "one two three four five six seven eight nine ten, "
        );
        assert!(!has_lines(
            "one two three four five six seven eight nine ten",
            2
        ));
    }

    #[test]
    fn verse_with_clauses_waits_for_its_own_lines() {
        // Rewrapped at its clauses this is four lines after two breaks; the model's own four
        // lines are what the poem keeps.
        let text = "The moon is low, the river sings,\nand night comes home, the stars are \
                    bright,\nthe wind is soft,\nand I am home\nmore";
        assert!(!has_lines(&text[..text.find("the wind").unwrap()], 4));
        let at = stops_where_more_text_changes_nothing(text, 4);
        assert_eq!(&text[at..], "more");
    }

    #[test]
    fn verse_stops_after_its_last_kept_line() {
        let text = "The moon is low\n\nthe river   sings\nand night comes\nsoftly home\nextra";
        let at = stops_where_more_text_changes_nothing(text, 3);
        assert_eq!(
            &text[..at],
            "The moon is low\n\nthe river   sings\nand night comes\n"
        );
    }
}
