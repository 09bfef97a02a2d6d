//! The library list: newest first, with each book's cover thumbnail.

use rusqlite::{params, OptionalExtension, Row};

use super::{BookSummary, Library, Result, StoreError};

impl Library {
    /// One book's row of the list (no pages loaded).
    pub fn summary(&self, book_id: i64) -> Result<BookSummary> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("{SUMMARY_COLUMNS} WHERE b.id = ?1"))?;
        stmt.query_row([book_id], summary_from_row)
            .optional()?
            .ok_or(StoreError::NoSuchBook(book_id))
    }

    /// A page of the library, newest first, with each book's cover thumbnail.
    pub fn list(&self, offset: usize, limit: usize) -> Result<Vec<BookSummary>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "{SUMMARY_COLUMNS} ORDER BY b.updated_at DESC, b.id DESC LIMIT ?1 OFFSET ?2"
        ))?;
        let rows = stmt
            .query_map(params![limit as i64, offset as i64], summary_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    pub fn count_books(&self) -> Result<usize> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM books", [], |r| r.get::<_, i64>(0))?
            as usize)
    }
}

const SUMMARY_COLUMNS: &str = "SELECT b.id, b.title, b.created_at, b.updated_at,
        (SELECT count(*) FROM pages p WHERE p.book_id = b.id), b.planned_pages,
        (SELECT i.thumbnail FROM pages p JOIN images i ON i.page_id = p.id
         WHERE p.book_id = b.id ORDER BY p.position LIMIT 1),
        (SELECT count(*) FROM pages p LEFT JOIN images i ON i.page_id = p.id
         WHERE p.book_id = b.id AND i.page_id IS NULL)
     FROM books b";

fn summary_from_row(r: &Row) -> rusqlite::Result<BookSummary> {
    Ok(BookSummary {
        id: r.get(0)?,
        title: r.get(1)?,
        created_at: r.get(2)?,
        updated_at: r.get(3)?,
        page_count: r.get::<_, i64>(4)? as usize,
        planned_pages: r.get::<_, i64>(5)? as usize,
        cover_thumbnail: r.get(6)?,
        unillustrated: r.get::<_, i64>(7)? as usize,
    })
}
