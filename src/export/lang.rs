//! The language of a book's text, guessed for the HTML `lang` attribute: by script for
//! scripts one language mostly owns, and by a few very common words among Latin-script
//! languages. Unsure means "und" (undetermined), never a wrong guess.

/// A BCP 47 tag for `text`: "zh", "ja", "ko", "he", "ar", "el", "ru", "th", "hi", "en", "fr",
/// "de", "es", "it", "pt", "nl", or "und".
pub fn guess(text: &str) -> &'static str {
    let mut counts = [0usize; 10];
    const HAN: usize = 0;
    const KANA: usize = 1;
    const HANGUL: usize = 2;
    const HEBREW: usize = 3;
    const ARABIC: usize = 4;
    const GREEK: usize = 5;
    const CYRILLIC: usize = 6;
    const THAI: usize = 7;
    const DEVANAGARI: usize = 8;
    const LATIN: usize = 9;
    for c in text.chars() {
        let script = match c as u32 {
            0x3040..=0x30FF | 0x31F0..=0x31FF | 0xFF66..=0xFF9F => KANA,
            0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x3134F => HAN,
            0x1100..=0x11FF | 0x3130..=0x318F | 0xAC00..=0xD7AF => HANGUL,
            0x0590..=0x05FF | 0xFB1D..=0xFB4F => HEBREW,
            0x0600..=0x06FF | 0x0750..=0x077F | 0xFB50..=0xFDFF | 0xFE70..=0xFEFF => ARABIC,
            0x0370..=0x03FF | 0x1F00..=0x1FFF => GREEK,
            0x0400..=0x04FF => CYRILLIC,
            0x0E00..=0x0E7F => THAI,
            0x0900..=0x097F => DEVANAGARI,
            _ if c.is_alphabetic() && (c.is_ascii() || ('\u{C0}'..='\u{24F}').contains(&c)) => {
                LATIN
            }
            _ => continue,
        };
        counts[script] += 1;
    }
    // Any kana makes Japanese (Japanese mixes kana with Han; Chinese has none).
    if counts[KANA] > 0 && counts[KANA] + counts[HAN] >= counts[LATIN] {
        return "ja";
    }
    let (script, &n) = counts
        .iter()
        .enumerate()
        .max_by_key(|&(_, n)| *n)
        .unwrap_or((LATIN, &0));
    if n == 0 {
        return "und";
    }
    match script {
        HAN => "zh",
        HANGUL => "ko",
        HEBREW => "he",
        ARABIC => "ar",
        GREEK => "el",
        CYRILLIC => "ru",
        THAI => "th",
        DEVANAGARI => "hi",
        _ => latin_language(text),
    }
}

/// The Latin-script language whose most common words the text uses most, if one clearly does.
fn latin_language(text: &str) -> &'static str {
    const WORDS: &[(&str, &[&str])] = &[
        (
            "en",
            &[
                "the", "and", "was", "of", "to", "a", "in", "it", "she", "he", "her", "his",
            ],
        ),
        (
            "fr",
            &[
                "le", "la", "les", "et", "est", "une", "un", "des", "du", "elle", "il", "dans",
            ],
        ),
        (
            "de",
            &[
                "der", "die", "das", "und", "ist", "ein", "eine", "nicht", "sie", "er", "im",
            ],
        ),
        (
            "es",
            &[
                "el", "la", "los", "las", "y", "es", "una", "un", "del", "ella", "en", "que",
            ],
        ),
        (
            "it",
            &[
                "il", "la", "e", "di", "che", "una", "un", "era", "della", "lei", "nel",
            ],
        ),
        (
            "pt",
            &[
                "o", "a", "os", "as", "e", "uma", "um", "do", "da", "ela", "não", "que",
            ],
        ),
        (
            "nl",
            &[
                "de", "het", "een", "en", "van", "is", "niet", "zij", "hij", "was", "ik",
            ],
        ),
    ];
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
        .collect();
    let mut scores: Vec<(usize, &str)> = WORDS
        .iter()
        .map(|(lang, list)| (words.iter().filter(|w| list.contains(w)).count(), *lang))
        .collect();
    scores.sort_by_key(|s| std::cmp::Reverse(s.0));
    match (scores.first(), scores.get(1)) {
        (Some(&(best, lang)), Some(&(second, _))) if best > 0 && best > second => lang,
        _ => "und",
    }
}

#[cfg(test)]
mod tests {
    use super::guess;

    #[test]
    fn scripts_and_common_words() {
        assert_eq!(guess("The fox found a lantern in the snow."), "en");
        assert_eq!(guess("狐狸在雪地里找到了一盏灯笼。"), "zh");
        assert_eq!(guess("きつねは雪の中でランタンを見つけた。"), "ja");
        assert_eq!(guess("여우가 눈 속에서 등불을 찾았다."), "ko");
        assert_eq!(guess("השועל מצא פנס בשלג."), "he");
        assert_eq!(guess("وجد الثعلب فانوسا في الثلج."), "ar");
        assert_eq!(
            guess("Le renard a trouvé une lanterne dans la neige."),
            "fr"
        );
        assert_eq!(guess("Der Fuchs fand eine Laterne im Schnee."), "de");
        assert_eq!(guess("12345 !!!"), "und");
    }
}
