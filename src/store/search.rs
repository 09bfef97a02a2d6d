//! Full-text search over titles, sentences and prompts (FTS5), kept in step with every save.
//!
//! FTS5's unicode61 tokenizer splits words at spaces and punctuation, so a Chinese or Japanese
//! sentence (no spaces) would be one long "word" that no search term matches. We index such
//! text one character per token instead, and search for a run of those characters as a phrase:
//! "灯笼" finds "一盏灯笼". Trigram tokenizing was not used because it cannot match two-character
//! words, the most common length in Chinese.

use rusqlite::{params, OptionalExtension, Transaction};

use super::{BookSummary, Library, Result};

/// How a search ranks pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SearchMode {
    /// Every word must appear (FTS5, best bm25 first).
    Words,
    /// Cosine similarity of MiniLM embeddings.
    Meaning,
    /// Reciprocal-rank fusion of the two lists.
    #[default]
    Hybrid,
}

/// Chinese, Japanese and Korean characters: each is indexed and searched as its own token.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x11FF      // Hangul Jamo
        | 0x2E80..=0x2FDF    // CJK radicals, Kangxi radicals
        | 0x3040..=0x30FF    // Hiragana, Katakana
        | 0x3100..=0x312F    // Bopomofo
        | 0x3130..=0x318F    // Hangul compatibility Jamo
        | 0x31A0..=0x31FF    // Bopomofo extended, CJK strokes, Katakana extensions
        | 0x3400..=0x4DBF    // CJK extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xAC00..=0xD7AF    // Hangul syllables
        | 0xF900..=0xFAFF    // CJK compatibility ideographs
        | 0xFF66..=0xFF9F    // half-width Katakana
        | 0x20000..=0x3134F  // CJK extensions B to G
    )
}

/// `text` with a space on each side of every CJK character, as the index stores it.
pub fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for c in text.chars() {
        if is_cjk(c) {
            out.push(' ');
            out.push(c);
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

/// Rewrites the search rows of one book (its own and its pages'); call inside the transaction
/// that changed it.
pub(super) fn reindex(tx: &Transaction, book_id: i64) -> Result<()> {
    tx.execute("DELETE FROM book_search WHERE rowid = ?1", [book_id])?;
    if has_page_search(tx)? {
        // By rowid, so a save touches only this book's rows; deleted pages drop their rows
        // where they are deleted (delete_page, delete).
        tx.execute(
            "DELETE FROM page_search WHERE rowid IN (SELECT id FROM pages WHERE book_id = ?1)",
            [book_id],
        )?;
    }
    let row: Option<(String, String)> = tx
        .query_row(
            "SELECT title, prompt FROM books WHERE id = ?1",
            [book_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((title, prompt)) = row else {
        return Ok(());
    };
    let mut stmt =
        tx.prepare_cached("SELECT id, sentence FROM pages WHERE book_id = ?1 ORDER BY position")?;
    let pages = stmt
        .query_map([book_id], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    if has_page_search(tx)? {
        let title = segment(&title);
        for (id, sentence) in &pages {
            tx.execute(
                "INSERT INTO page_search (rowid, sentence, title) VALUES (?1, ?2, ?3)",
                params![id, segment(sentence), title],
            )?;
        }
    }
    let sentences = pages
        .iter()
        .map(|(_, s)| s.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    tx.execute(
        "INSERT INTO book_search (rowid, title, sentences, prompt) VALUES (?1, ?2, ?3, ?4)",
        params![
            book_id,
            segment(&title),
            segment(&sentences),
            segment(&prompt)
        ],
    )?;
    Ok(())
}

/// Whether the per-page index exists: the migration to schema 3 reindexes before schema 4
/// has made it.
fn has_page_search(tx: &Transaction) -> Result<bool> {
    Ok(tx
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE name = 'page_search'",
            [],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Rebuilds the whole index (the migrations to schemas 3 and 4 run this once).
pub(super) fn reindex_all(tx: &Transaction) -> Result<()> {
    tx.execute("DELETE FROM book_search", [])?;
    let ids = tx
        .prepare("SELECT id FROM books")?
        .query_map([], |r| r.get::<_, i64>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for id in ids {
        reindex(tx, id)?;
    }
    Ok(())
}

/// Turns what a user typed into an FTS5 query that cannot be a syntax error: every word is
/// quoted (quotes doubled) and matched as a prefix, a run of CJK characters is matched as a
/// phrase of single characters, and all must appear.
pub fn fts_query(text: &str) -> Option<String> {
    let mut terms: Vec<String> = Vec::new();
    for word in text.split(|c: char| !c.is_alphanumeric() && c != '\'') {
        // A word like "red灯笼" is two terms: the Latin part and the CJK run.
        let mut run = String::new();
        let mut run_is_cjk = false;
        for c in word.chars() {
            let cjk = is_cjk(c);
            if cjk != run_is_cjk && !run.is_empty() {
                push_term(&mut terms, &run, run_is_cjk);
                run.clear();
            }
            run_is_cjk = cjk;
            run.push(c);
        }
        push_term(&mut terms, &run, run_is_cjk);
    }
    (!terms.is_empty()).then(|| terms.join(" "))
}

fn push_term(terms: &mut Vec<String>, run: &str, cjk: bool) {
    if cjk {
        let chars: Vec<String> = run.chars().map(String::from).collect();
        terms.push(format!("\"{}\"", chars.join(" ")));
    } else if !run.trim_matches('\'').is_empty() {
        terms.push(format!("\"{}\"*", run.replace('"', "\"\"")));
    }
}

impl Library {
    /// Books whose title, sentences or prompt contain every word of `text`, best match first.
    pub fn search(&self, text: &str, limit: usize) -> Result<Vec<BookSummary>> {
        let Some(query) = fts_query(text) else {
            return Ok(Vec::new());
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT b.id FROM book_search s JOIN books b ON b.id = s.rowid
             WHERE book_search MATCH ?1 ORDER BY rank LIMIT ?2",
        )?;
        let ids = stmt
            .query_map(params![query, limit as i64], |r| r.get::<_, i64>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        ids.into_iter().map(|id| self.summary(id)).collect()
    }

    /// Pages whose sentence or book title contain every word of `text`, best match first
    /// (FTS5's bm25 rank), as page ids.
    pub fn search_pages(&self, text: &str, limit: usize) -> Result<Vec<i64>> {
        let Some(query) = fts_query(text) else {
            return Ok(Vec::new());
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT s.rowid FROM page_search s JOIN pages p ON p.id = s.rowid
             WHERE page_search MATCH ?1 ORDER BY rank LIMIT ?2",
        )?;
        let ids = stmt
            .query_map(params![query, limit as i64], |r| r.get::<_, i64>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::{fts_query, segment};

    #[test]
    fn user_text_becomes_a_safe_prefix_query() {
        assert_eq!(fts_query("red fox").unwrap(), "\"red\"* \"fox\"*");
        assert_eq!(
            fts_query("'); DROP TABLE books;--").unwrap(),
            "\"DROP\"* \"TABLE\"* \"books\"*"
        );
        assert_eq!(fts_query("  \" * ( ) ").as_deref(), None);
    }

    #[test]
    fn cjk_runs_become_phrases_of_characters() {
        assert_eq!(fts_query("灯笼").unwrap(), "\"灯 笼\"");
        assert_eq!(
            fts_query("red灯笼fox 狐").unwrap(),
            "\"red\"* \"灯 笼\" \"fox\"* \"狐\""
        );
        assert_eq!(fts_query("ランタン").unwrap(), "\"ラ ン タ ン\"");
        assert_eq!(segment("一盏灯笼。ok"), " 一  盏  灯  笼 。ok");
    }
}
