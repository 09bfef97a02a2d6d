//! Book and page operations. Every change is one transaction, so a crash leaves either the old
//! state or the new one, never half a book.

use rusqlite::{params, OptionalExtension, Row, Transaction};

use super::search::reindex;
use super::{now_ms, thumbnail, Book, Library, NewBook, NewPage, Page, Result, StoreError};

pub(super) fn json(v: &serde_json::Value) -> String {
    if v.is_null() {
        "{}".into()
    } else {
        v.to_string()
    }
}

fn parse_json(text: String) -> serde_json::Value {
    serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
}

pub(super) fn insert_page(
    tx: &Transaction,
    book_id: i64,
    position: usize,
    page: &NewPage,
) -> Result<i64> {
    tx.execute(
        "INSERT INTO pages (book_id, position, sentence, settings, seed, iterations, similarity)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            book_id,
            position as i64,
            page.sentence,
            json(&page.settings),
            page.seed as i64,
            page.iterations as i64,
            page.similarity
        ],
    )?;
    let page_id = tx.last_insert_rowid();
    if let Some(png) = &page.png {
        put_image(tx, page_id, png)?;
    }
    Ok(page_id)
}

pub(super) fn put_image(tx: &Transaction, page_id: i64, png: &[u8]) -> Result<()> {
    let thumb = thumbnail::make(png).map_err(StoreError::Invalid)?;
    tx.execute(
        "INSERT OR REPLACE INTO images (page_id, png, thumbnail) VALUES (?1, ?2, ?3)",
        params![page_id, png, thumb],
    )?;
    Ok(())
}

pub(super) fn touch(tx: &Transaction, book_id: i64) -> Result<()> {
    let n = tx.execute(
        "UPDATE books SET updated_at = max(?2, updated_at + 1) WHERE id = ?1",
        params![book_id, now_ms()],
    )?;
    if n == 0 {
        return Err(StoreError::NoSuchBook(book_id));
    }
    Ok(())
}

pub(super) fn page_count(tx: &Transaction, book_id: i64) -> Result<usize> {
    Ok(tx.query_row(
        "SELECT count(*) FROM pages WHERE book_id = ?1",
        [book_id],
        |r| r.get::<_, i64>(0),
    )? as usize)
}

/// Inserts the book's own row and returns its id. It is the newest book: `touch` may have put
/// another's time a few milliseconds ahead of the clock, so this one goes past it.
pub(super) fn insert_book(tx: &Transaction, book: &NewBook, planned: usize) -> Result<i64> {
    tx.execute(
        "INSERT INTO books (title, prompt, created_at, updated_at, story_settings, story_seed,
                            style_prefix, style_suffix, model_ids, planned_pages)
         VALUES (?1, ?2, ?3, max(?3, coalesce((SELECT max(updated_at) FROM books), 0) + 1),
                 ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            book.title,
            book.prompt,
            now_ms(),
            json(&book.story_settings),
            book.story_seed as i64,
            book.style_prefix,
            book.style_suffix,
            json(&book.model_ids),
            planned as i64
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

/// Keeps `planned_pages` at least the number of saved pages.
pub(super) fn raise_plan(tx: &Transaction, book_id: i64) -> Result<()> {
    tx.execute(
        "UPDATE books SET planned_pages = max(planned_pages,
             (SELECT count(*) FROM pages WHERE book_id = ?1)) WHERE id = ?1",
        [book_id],
    )?;
    Ok(())
}

fn page_from_row(r: &Row) -> rusqlite::Result<Page> {
    Ok(Page {
        id: r.get(0)?,
        position: r.get::<_, i64>(1)? as usize,
        sentence: r.get(2)?,
        settings: parse_json(r.get(3)?),
        seed: r.get::<_, i64>(4)? as u64,
        iterations: r.get::<_, i64>(5)? as usize,
        similarity: r.get(6)?,
        png: r.get(7)?,
        thumbnail: r.get(8)?,
    })
}

impl Library {
    /// Saves a whole book with its pages in one transaction and returns its id.
    pub fn create_book(&mut self, book: &NewBook, pages: &[NewPage]) -> Result<i64> {
        let tx = self.conn.transaction()?;
        let id = insert_book(&tx, book, book.planned_pages.max(pages.len()))?;
        for (i, page) in pages.iter().enumerate() {
            insert_page(&tx, id, i, page)?;
        }
        reindex(&tx, id)?;
        tx.commit()?;
        Ok(id)
    }

    /// Appends a finished page; a book being written is saved one page at a time this way.
    /// A page beyond the plan raises the plan, so saved pages never outnumber planned ones.
    pub fn add_page(&mut self, book_id: i64, page: &NewPage) -> Result<usize> {
        let tx = self.conn.transaction()?;
        touch(&tx, book_id)?;
        let position = page_count(&tx, book_id)?;
        insert_page(&tx, book_id, position, page)?;
        raise_plan(&tx, book_id)?;
        reindex(&tx, book_id)?;
        tx.commit()?;
        Ok(position)
    }

    /// Replaces the page at `position` (sentence, settings, image).
    pub fn update_page(&mut self, book_id: i64, position: usize, page: &NewPage) -> Result<()> {
        let tx = self.conn.transaction()?;
        touch(&tx, book_id)?;
        let count = page_count(&tx, book_id)?;
        let page_id: i64 = tx
            .query_row(
                "SELECT id FROM pages WHERE book_id = ?1 AND position = ?2",
                params![book_id, position as i64],
                |r| r.get(0),
            )
            .optional()?
            .ok_or(StoreError::PageOutOfRange {
                book: book_id,
                page: position,
                count,
            })?;
        tx.execute(
            "UPDATE pages SET sentence = ?2, settings = ?3, seed = ?4, iterations = ?5, similarity = ?6
             WHERE id = ?1",
            params![
                page_id,
                page.sentence,
                json(&page.settings),
                page.seed as i64,
                page.iterations as i64,
                page.similarity
            ],
        )?;
        match &page.png {
            Some(png) => put_image(&tx, page_id, png)?,
            None => {
                tx.execute("DELETE FROM images WHERE page_id = ?1", [page_id])?;
            }
        }
        tx.execute("DELETE FROM frames WHERE page_id = ?1", [page_id])?;
        reindex(&tx, book_id)?;
        tx.commit()?;
        Ok(())
    }

    /// Updates a page's sentence and recipe but leaves its picture and kept frames alone: the
    /// studio saves a page whose picture did not change this way.
    pub fn update_page_text(
        &mut self,
        book_id: i64,
        position: usize,
        page: &NewPage,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        touch(&tx, book_id)?;
        let count = page_count(&tx, book_id)?;
        let n = tx.execute(
            "UPDATE pages SET sentence = ?3, settings = ?4, seed = ?5, iterations = ?6, similarity = ?7
             WHERE book_id = ?1 AND position = ?2",
            params![
                book_id,
                position as i64,
                page.sentence,
                json(&page.settings),
                page.seed as i64,
                page.iterations as i64,
                page.similarity
            ],
        )?;
        if n == 0 {
            return Err(StoreError::PageOutOfRange {
                book: book_id,
                page: position,
                count,
            });
        }
        reindex(&tx, book_id)?;
        tx.commit()?;
        Ok(())
    }

    /// Replaces a book's recipe (`story_settings`) and planned page count, as the studio does
    /// when it saves a book whose pages were added, deleted or edited.
    pub fn update_recipe_and_plan(
        &mut self,
        book_id: i64,
        story_settings: &serde_json::Value,
        planned_pages: usize,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        touch(&tx, book_id)?;
        tx.execute(
            "UPDATE books SET story_settings = ?2, planned_pages = ?3 WHERE id = ?1",
            params![book_id, json(story_settings), planned_pages as i64],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Puts pages in a new order: `order[i]` is the current position of the page that goes to `i`.
    pub fn reorder_pages(&mut self, book_id: i64, order: &[usize]) -> Result<()> {
        let tx = self.conn.transaction()?;
        touch(&tx, book_id)?;
        let count = page_count(&tx, book_id)?;
        let mut sorted = order.to_vec();
        sorted.sort_unstable();
        if sorted != (0..count).collect::<Vec<_>>() {
            return Err(StoreError::Invalid(format!(
                "a new order must name each of the {count} pages once"
            )));
        }
        // Move every page out of the way first, so the unique positions never collide.
        tx.execute(
            "UPDATE pages SET position = -1 - position WHERE book_id = ?1",
            [book_id],
        )?;
        for (new, old) in order.iter().enumerate() {
            tx.execute(
                "UPDATE pages SET position = ?3 WHERE book_id = ?1 AND position = ?2",
                params![book_id, -1 - *old as i64, new as i64],
            )?;
        }
        reindex(&tx, book_id)?;
        tx.commit()?;
        Ok(())
    }

    pub fn delete_page(&mut self, book_id: i64, position: usize) -> Result<()> {
        let tx = self.conn.transaction()?;
        touch(&tx, book_id)?;
        let count = page_count(&tx, book_id)?;
        if position >= count {
            return Err(StoreError::PageOutOfRange {
                book: book_id,
                page: position,
                count,
            });
        }
        tx.execute(
            "DELETE FROM page_search WHERE rowid IN
                 (SELECT id FROM pages WHERE book_id = ?1 AND position = ?2)",
            params![book_id, position as i64],
        )?;
        tx.execute(
            "DELETE FROM pages WHERE book_id = ?1 AND position = ?2",
            params![book_id, position as i64],
        )?;
        tx.execute(
            "UPDATE pages SET position = position - 1 WHERE book_id = ?1 AND position > ?2",
            params![book_id, position as i64],
        )?;
        tx.execute(
            "UPDATE books SET planned_pages = max(planned_pages - 1, 0) WHERE id = ?1",
            [book_id],
        )?;
        reindex(&tx, book_id)?;
        tx.commit()?;
        Ok(())
    }

    /// Gives a book a new title; an empty or blank title is refused.
    pub fn rename(&mut self, book_id: i64, title: &str) -> Result<()> {
        if title.trim().is_empty() {
            return Err(StoreError::Invalid(
                "a book's title cannot be empty; type a few words".into(),
            ));
        }
        let tx = self.conn.transaction()?;
        touch(&tx, book_id)?;
        tx.execute(
            "UPDATE books SET title = ?2 WHERE id = ?1",
            params![book_id, title],
        )?;
        reindex(&tx, book_id)?;
        tx.commit()?;
        Ok(())
    }

    /// Copies a book with all its pages and images; the copy's title says so.
    pub fn duplicate(&mut self, book_id: i64) -> Result<i64> {
        let book = self.book(book_id)?;
        let new = NewBook {
            title: format!("{} (copy)", book.title),
            prompt: book.prompt,
            story_settings: book.story_settings,
            story_seed: book.story_seed,
            style_prefix: book.style_prefix,
            style_suffix: book.style_suffix,
            model_ids: book.model_ids,
            planned_pages: book.planned_pages,
        };
        let pages: Vec<NewPage> = book
            .pages
            .into_iter()
            .map(|p| NewPage {
                sentence: p.sentence,
                settings: p.settings,
                seed: p.seed,
                iterations: p.iterations,
                similarity: p.similarity,
                png: p.png,
            })
            .collect();
        self.create_book(&new, &pages)
    }

    pub fn delete(&mut self, book_id: i64) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "DELETE FROM page_search WHERE rowid IN (SELECT id FROM pages WHERE book_id = ?1)",
            [book_id],
        )?;
        let n = tx.execute("DELETE FROM books WHERE id = ?1", [book_id])?;
        if n == 0 {
            return Err(StoreError::NoSuchBook(book_id));
        }
        tx.execute("DELETE FROM book_search WHERE rowid = ?1", [book_id])?;
        tx.commit()?;
        Ok(())
    }

    /// A whole book with its pages and images.
    pub fn book(&self, book_id: i64) -> Result<Book> {
        let mut book = self
            .conn
            .query_row(
                "SELECT id, title, prompt, created_at, updated_at, story_settings, story_seed,
                        style_prefix, style_suffix, model_ids, planned_pages
                 FROM books WHERE id = ?1",
                [book_id],
                |r| {
                    Ok(Book {
                        id: r.get(0)?,
                        title: r.get(1)?,
                        prompt: r.get(2)?,
                        created_at: r.get(3)?,
                        updated_at: r.get(4)?,
                        story_settings: parse_json(r.get(5)?),
                        story_seed: r.get::<_, i64>(6)? as u64,
                        style_prefix: r.get(7)?,
                        style_suffix: r.get(8)?,
                        model_ids: parse_json(r.get(9)?),
                        planned_pages: r.get::<_, i64>(10)? as usize,
                        pages: Vec::new(),
                    })
                },
            )
            .optional()?
            .ok_or(StoreError::NoSuchBook(book_id))?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT p.id, p.position, p.sentence, p.settings, p.seed, p.iterations, p.similarity,
                    i.png, i.thumbnail
             FROM pages p LEFT JOIN images i ON i.page_id = p.id
             WHERE p.book_id = ?1 ORDER BY p.position",
        )?;
        book.pages = stmt
            .query_map([book_id], page_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(book)
    }
}
