//! Splits a story into sentences, one per page, the way a reader would: "Mr. Fox", "e.g. this",
//! "J. R. R. Tolkien", "3.14" and "“Help!” she cried." stay whole; "!", "?", "…" and quotes
//! around a sentence end are handled. Chinese and Japanese end marks (。！？ and their full- and
//! half-width forms) end a sentence with no space after them, as those languages write.

/// Titles and short forms after which a full stop never ends a sentence.
const NEVER_ENDS: &[&str] = &[
    "mr", "mrs", "ms", "mx", "dr", "prof", "st", "mt", "capt", "sgt", "gen", "col", "lt", "rev",
    "hon", "fr", "sr", "jr", "e.g", "i.e", "vs", "cf", "approx", "fig", "no", "vol", "ch", "pp",
];

const TERMINATORS: &[char] = &[
    '.', '!', '?', '…', '。', '｡', '！', '？', '．', '‼', '⁇', '⁈', '⁉',
];
/// End marks of scripts written without spaces: the sentence ends right after them.
const WIDE_TERMINATORS: &[char] = &['。', '｡', '！', '？', '‼', '⁇', '⁈', '⁉'];
const CLOSERS: &[char] = &[
    '"', '\'', '”', '’', ')', ']', '»', '›', '」', '』', '）', '］', '】', '〕', '〉', '》', '〟',
    '＂', '＇',
];

/// Byte range of one sentence; `terminated` is false for a trailing fragment with no end mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: usize,
    end: usize,
    terminated: bool,
}

fn spans(text: &str) -> Vec<Span> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let byte_at = |i: usize| chars.get(i).map_or(text.len(), |&(b, _)| b);
    let mut out = Vec::new();
    let mut start = 0usize;
    let mut i = 0usize;
    while i < chars.len() {
        let c = chars[i].1;
        if c == '\n' {
            // A blank line ends a paragraph, and so a sentence, whatever precedes it.
            let mut j = i + 1;
            while j < chars.len() && chars[j].1.is_whitespace() && chars[j].1 != '\n' {
                j += 1;
            }
            if j < chars.len() && chars[j].1 == '\n' {
                out.push(Span {
                    start,
                    end: byte_at(i),
                    terminated: true,
                });
                start = byte_at(j + 1);
                i = j + 1;
                continue;
            }
        }
        if !TERMINATORS.contains(&c) {
            i += 1;
            continue;
        }
        let run_start = i;
        while i < chars.len() && TERMINATORS.contains(&chars[i].1) {
            i += 1;
        }
        let marks_end = i;
        while i < chars.len() && CLOSERS.contains(&chars[i].1) {
            i += 1;
        }
        let end = i;
        // "它很高兴。她笑了" splits with no space, but a quote closed after the mark is dialogue
        // that goes on: "“你好！”他说。" and "「助けて！」と叫んだ。" stay whole.
        let wide = chars[run_start..marks_end]
            .iter()
            .any(|&(_, c)| WIDE_TERMINATORS.contains(&c))
            && end == marks_end;
        let mut next = i;
        while next < chars.len() && chars[next].1.is_whitespace() {
            next += 1;
        }
        let at_end = next == chars.len();
        let spaced = next > end;
        if at_end || (wide && !spaced) || (spaced && ends_sentence(&chars, run_start, end, next)) {
            out.push(Span {
                start,
                end: byte_at(end),
                terminated: true,
            });
            start = byte_at(next);
            i = next;
        }
    }
    if start < text.len() {
        out.push(Span {
            start,
            end: text.len(),
            terminated: false,
        });
    }
    out.retain(|s| !text[s.start..s.end].trim().is_empty());
    out
}

/// Decides whether the end marks in `chars[run_start..end]`, followed by whitespace and then
/// `chars[next]`, close a sentence.
fn ends_sentence(chars: &[(usize, char)], run_start: usize, end: usize, next: usize) -> bool {
    let next_char = chars[next].1;
    // Sentences start with anything but a lowercase letter: "“Help!” she cried" goes on.
    if next_char.is_lowercase() {
        return false;
    }
    let run: String = chars[run_start..end].iter().map(|&(_, c)| c).collect();
    if run.trim_end_matches(CLOSERS) != "." {
        return true;
    }
    // A lone full stop: look at the word it closes.
    let mut w = run_start;
    while w > 0 && !chars[w - 1].1.is_whitespace() {
        w -= 1;
    }
    let word: String = chars[w..run_start]
        .iter()
        .map(|&(_, c)| c)
        .skip_while(|c| !c.is_alphanumeric())
        .collect::<String>()
        .to_lowercase();
    let is_initial = word.chars().count() == 1 && chars[run_start - 1].1.is_uppercase();
    !(NEVER_ENDS.contains(&word.as_str()) || is_initial)
}

fn tidy(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The sentences of `text`, whitespace tidied, in order.
pub fn split_sentences(text: &str) -> Vec<String> {
    spans(text)
        .into_iter()
        .map(|s| tidy(&text[s.start..s.end]))
        .collect()
}

/// Cuts `text` after its last complete sentence, if that sentence ends past byte `keep_at_least`
/// (the prompt is never cut into). Text with no such sentence end is returned whole.
pub fn trim_to_last_sentence(text: &str, keep_at_least: usize) -> &str {
    match spans(text)
        .iter()
        .rev()
        .find(|s| s.terminated && s.end > keep_at_least)
    {
        Some(span) => text[..span.end].trim_end(),
        None => text,
    }
}

/// `text` up to the end of its last complete sentence, or `None` when no sentence in it ends.
pub fn complete_sentences(text: &str) -> Option<&str> {
    spans(text)
        .iter()
        .rev()
        .find(|s| s.terminated)
        .map(|s| text[..s.end].trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: &[&str]) {
        assert_eq!(split_sentences(text), expected, "splitting {text:?}");
    }

    #[test]
    fn plain_sentences_and_marks() {
        check(
            "The fox ran. The hound slept! Did the owl see? Yes.",
            &[
                "The fox ran.",
                "The hound slept!",
                "Did the owl see?",
                "Yes.",
            ],
        );
        check("What?! No way.", &["What?!", "No way."]);
    }

    #[test]
    fn abbreviations_and_initials_do_not_split() {
        check(
            "Mr. Fox met Dr. Owl at St. Mary's. They talked.",
            &["Mr. Fox met Dr. Owl at St. Mary's.", "They talked."],
        );
        check(
            "She loved fruit, e.g. Apples and pears. Then winter came.",
            &[
                "She loved fruit, e.g. Apples and pears.",
                "Then winter came.",
            ],
        );
        check(
            "J. R. R. Tolkien wrote it. It was long.",
            &["J. R. R. Tolkien wrote it.", "It was long."],
        );
        check("Pi is 3.14 or so. Nice.", &["Pi is 3.14 or so.", "Nice."]);
    }

    #[test]
    fn quotes_and_dialogue() {
        check(
            "“Help!” she cried. “Who is there?” asked the owl.",
            &["“Help!” she cried.", "“Who is there?” asked the owl."],
        );
        check(
            "He said \"Run.\" Then he ran.",
            &["He said \"Run.\"", "Then he ran."],
        );
        check(
            "(It was late.) The moon rose.",
            &["(It was late.)", "The moon rose."],
        );
    }

    #[test]
    fn ellipses() {
        check("Wait... what was that?", &["Wait... what was that?"]);
        check(
            "It was dark... The wind howled. Then… Silence.",
            &["It was dark...", "The wind howled.", "Then…", "Silence."],
        );
    }

    #[test]
    fn whitespace_paragraphs_and_fragments() {
        check(
            "  A line\nthat wraps.\n\nA new paragraph without end\n\nLast one",
            &[
                "A line that wraps.",
                "A new paragraph without end",
                "Last one",
            ],
        );
        check("", &[]);
        check("   \n\n  ", &[]);
        check("No end mark at all", &["No end mark at all"]);
    }

    #[test]
    fn chinese_and_japanese_end_marks() {
        check(
            "狐狸在雪地里找到了一盏灯笼。它很高兴。",
            &["狐狸在雪地里找到了一盏灯笼。", "它很高兴。"],
        );
        check(
            "きつねはランタンを見つけた！うれしかった？はい｡ おわり！",
            &[
                "きつねはランタンを見つけた！",
                "うれしかった？",
                "はい｡",
                "おわり！",
            ],
        );
        check(
            "“你好！”他说。「助けて！」と叫んだ。",
            &["“你好！”他说。", "「助けて！」と叫んだ。"],
        );
        check(
            "It was late. 天黑了。Then dawn.",
            &["It was late.", "天黑了。", "Then dawn."],
        );
        assert_eq!(trim_to_last_sentence("天黑了。月亮", 0), "天黑了。");
    }

    #[test]
    fn trimming_keeps_complete_sentences_and_the_prompt() {
        let text = "Once upon a time. A fox was born. It ran into the";
        assert_eq!(
            trim_to_last_sentence(text, 5),
            "Once upon a time. A fox was born."
        );
        // The only sentence end lies inside the prompt: keep everything.
        assert_eq!(trim_to_last_sentence(text, 40), text);
        assert_eq!(trim_to_last_sentence("Done.", 2), "Done.");
        assert_eq!(complete_sentences(" It ran. And then"), Some(" It ran."));
        assert_eq!(complete_sentences(" and then"), None);
    }
}
