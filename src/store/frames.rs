//! Progress frames kept while a page was illustrated, for the animated GIF export.

use rusqlite::{params, OptionalExtension};

use super::{Library, Result, StoreError};

impl Library {
    /// Keeps one progress frame of a page's illustration.
    pub fn add_frame(
        &mut self,
        book_id: i64,
        position: usize,
        step: usize,
        png: &[u8],
    ) -> Result<()> {
        let page_id = self.page_id(book_id, position)?;
        self.conn.execute(
            "INSERT OR REPLACE INTO frames (page_id, step, png) VALUES (?1, ?2, ?3)",
            params![page_id, step as i64, png],
        )?;
        Ok(())
    }

    /// The kept frames of a page, in step order.
    pub fn frames(&self, book_id: i64, position: usize) -> Result<Vec<(usize, Vec<u8>)>> {
        let page_id = self.page_id(book_id, position)?;
        let mut stmt = self
            .conn
            .prepare_cached("SELECT step, png FROM frames WHERE page_id = ?1 ORDER BY step")?;
        let rows = stmt
            .query_map([page_id], |r| Ok((r.get::<_, i64>(0)? as usize, r.get(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn page_id(&self, book_id: i64, position: usize) -> Result<i64> {
        let book = self.summary(book_id)?;
        self.conn
            .query_row(
                "SELECT id FROM pages WHERE book_id = ?1 AND position = ?2",
                params![book_id, position as i64],
                |r| r.get(0),
            )
            .optional()?
            .ok_or(StoreError::PageOutOfRange {
                book: book_id,
                page: position,
                count: book.page_count,
            })
    }
}
