//! Full-text search over titles, sentences and prompts (FTS5), kept in step with every save.

use rusqlite::{params, Transaction};

use super::{BookSummary, Library, Result};

/// Rewrites the search row of one book; call inside the transaction that changed it.
pub(super) fn reindex(tx: &Transaction, book_id: i64) -> Result<()> {
    tx.execute("DELETE FROM book_search WHERE rowid = ?1", [book_id])?;
    tx.execute(
        "INSERT INTO book_search (rowid, title, sentences, prompt)
         SELECT b.id, b.title,
                coalesce((SELECT group_concat(sentence, ' ') FROM
                    (SELECT sentence FROM pages p WHERE p.book_id = b.id ORDER BY position)), ''),
                b.prompt
         FROM books b WHERE b.id = ?1",
        [book_id],
    )?;
    Ok(())
}

/// Turns what a user typed into an FTS5 query that cannot be a syntax error: every word is
/// quoted (quotes doubled) and matched as a prefix, and all words must appear.
pub fn fts_query(text: &str) -> Option<String> {
    let terms: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.trim_matches('\'').is_empty())
        .map(|w| format!("\"{}\"*", w.replace('"', "\"\"")))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" "))
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
}

#[cfg(test)]
mod tests {
    use super::fts_query;

    #[test]
    fn user_text_becomes_a_safe_prefix_query() {
        assert_eq!(fts_query("red fox").unwrap(), "\"red\"* \"fox\"*");
        assert_eq!(
            fts_query("'); DROP TABLE books;--").unwrap(),
            "\"DROP\"* \"TABLE\"* \"books\"*"
        );
        assert_eq!(fts_query("  \" * ( ) ").as_deref(), None);
    }
}
