//! Text made safe to print on a terminal. A story or a title may hold control characters (from
//! the model, a pasted prompt, or a hostile library file): an escape sequence could recolour,
//! retitle or clear the user's terminal, and a carriage return could hide text. They are shown
//! as visible escapes such as `\u{1b}` instead.

use std::borrow::Cow;

fn is_unsafe(c: char, keep_newlines: bool) -> bool {
    if keep_newlines && (c == '\n' || c == '\t') {
        return false;
    }
    // C0, DEL and C1 controls, and the bidirectional overrides that reorder what follows.
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn escape(text: &str, keep_newlines: bool) -> Cow<'_, str> {
    if !text.chars().any(|c| is_unsafe(c, keep_newlines)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe(c, keep_newlines) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `text` for one line of output: every control character, newlines included, is escaped.
pub fn line(text: &str) -> Cow<'_, str> {
    escape(text, false)
}

/// `text` as running prose: newlines and tabs stay, other control characters are escaped.
pub fn prose(text: &str) -> Cow<'_, str> {
    escape(text, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_shown_not_obeyed() {
        assert_eq!(line("plain 狐狸 🦊"), "plain 狐狸 🦊");
        assert!(matches!(line("plain"), Cow::Borrowed(_)));
        assert_eq!(line("a\x1b[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(line("one\ntwo\r"), "one\\u{a}two\\u{d}");
        assert_eq!(prose("one\ntwo\tthree\x07"), "one\ntwo\tthree\\u{7}");
        assert_eq!(line("x\u{202E}y"), "x\\u{202e}y");
        assert_eq!(line("\u{9b}"), "\\u{9b}");
    }
}
