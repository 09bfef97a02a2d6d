//! Writing a book's pages under its lease: a new book is created and leased in one transaction,
//! and each page is claimed at its own position, so two runs can never save one page twice, and
//! a picture already saved is never replaced by a resumed run.

use rusqlite::{params, OptionalExtension, TransactionBehavior};

use super::books::{insert_book, insert_page, json, page_count, put_image, raise_plan, touch};
use super::lease::{check_lease, take_lease};
use super::search::reindex;
use super::{Lease, Library, NewBook, NewPage, Result, StoreError};

/// A finished picture makes its page's checkpoint useless; it goes in the same transaction.
fn clear_checkpoint(tx: &rusqlite::Transaction, book_id: i64, position: usize) -> Result<()> {
    tx.execute(
        "DELETE FROM checkpoints WHERE book_id = ?1 AND position = ?2",
        params![book_id, position as i64],
    )?;
    Ok(())
}

impl Library {
    /// Creates a book with no pages yet and takes its lease, in one transaction.
    pub fn start_book(&mut self, book: &NewBook) -> Result<(i64, Lease)> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let id = insert_book(&tx, book, book.planned_pages)?;
        let token = take_lease(&tx, id)?;
        reindex(&tx, id)?;
        tx.commit()?;
        let lease = self.lease_handle(id, token)?;
        Ok((id, lease))
    }

    /// Saves the page at `position`, which must be the book's next page. If another run saved
    /// that page first, nothing is written and [`StoreError::PageTaken`] says so.
    pub fn add_page_at(&mut self, lease: &Lease, position: usize, page: &NewPage) -> Result<()> {
        let book_id = lease.book_id();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        check_lease(&tx, lease)?;
        touch(&tx, book_id)?;
        let count = page_count(&tx, book_id)?;
        if position < count {
            return Err(StoreError::PageTaken {
                book: book_id,
                page: position + 1,
            });
        }
        if position > count {
            return Err(StoreError::Invalid(format!(
                "page {} of book {book_id} cannot be saved before page {}",
                position + 1,
                count + 1
            )));
        }
        insert_page(&tx, book_id, position, page)?;
        if page.png.is_some() {
            clear_checkpoint(&tx, book_id, position)?;
        }
        raise_plan(&tx, book_id)?;
        reindex(&tx, book_id)?;
        tx.commit()?;
        Ok(())
    }

    /// Gives the saved page at `position`, which has no picture, its picture and the settings
    /// that drew it; its sentence stays. A page that already has a picture keeps it.
    pub fn fill_picture(&mut self, lease: &Lease, position: usize, page: &NewPage) -> Result<()> {
        let book_id = lease.book_id();
        let Some(png) = &page.png else {
            return Err(StoreError::Invalid(format!(
                "page {} of book {book_id} needs a picture to be filled",
                position + 1
            )));
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        check_lease(&tx, lease)?;
        touch(&tx, book_id)?;
        let count = page_count(&tx, book_id)?;
        let row: Option<(i64, bool)> = tx
            .query_row(
                "SELECT p.id, i.page_id IS NOT NULL FROM pages p
                 LEFT JOIN images i ON i.page_id = p.id
                 WHERE p.book_id = ?1 AND p.position = ?2",
                params![book_id, position as i64],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let (page_id, has_picture) = row.ok_or(StoreError::PageOutOfRange {
            book: book_id,
            page: position,
            count,
        })?;
        if has_picture {
            return Err(StoreError::PageTaken {
                book: book_id,
                page: position + 1,
            });
        }
        tx.execute(
            "UPDATE pages SET settings = ?2, seed = ?3, iterations = ?4, similarity = ?5
             WHERE id = ?1",
            params![
                page_id,
                json(&page.settings),
                page.seed as i64,
                page.iterations as i64,
                page.similarity
            ],
        )?;
        put_image(&tx, page_id, png)?;
        clear_checkpoint(&tx, book_id, position)?;
        tx.commit()?;
        Ok(())
    }

    /// Replaces the recipe (`story_settings`) of the leased book: a resume with corrected
    /// options records them, so the next resume and `library show` see what was used.
    pub fn update_recipe(
        &mut self,
        lease: &Lease,
        story_settings: &serde_json::Value,
    ) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        check_lease(&tx, lease)?;
        touch(&tx, lease.book_id())?;
        tx.execute(
            "UPDATE books SET story_settings = ?2 WHERE id = ?1",
            params![lease.book_id(), json(story_settings)],
        )?;
        tx.commit()?;
        Ok(())
    }
}
