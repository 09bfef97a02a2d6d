//! Saved illustration state: a page paused mid-way keeps its optimiser's state here (an opaque
//! blob the illustrator writes and reads), so `book --resume` and the studio's Resume go on
//! from that step. Each save replaces the last in one transaction, so a crash mid-write leaves
//! the previous checkpoint whole; saving the page's picture deletes it.

use rusqlite::{params, OptionalExtension, TransactionBehavior};

use super::lease::check_lease;
use super::{now_ms, Lease, Library, Result};

/// The saved state of one page's illustration.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// The sentence being drawn: a checkpoint for another sentence (the page was edited or the
    /// pages reordered since) is not resumed.
    pub sentence: String,
    /// Steps done.
    pub step: usize,
    pub state: Vec<u8>,
}

impl Library {
    /// Replaces the checkpoint of the leased book's page at `position` (0-based).
    pub fn save_checkpoint(
        &mut self,
        lease: &Lease,
        position: usize,
        checkpoint: &Checkpoint,
    ) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        check_lease(&tx, lease)?;
        tx.execute(
            "INSERT OR REPLACE INTO checkpoints (book_id, position, sentence, step, state, saved_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                lease.book_id(),
                position as i64,
                checkpoint.sentence,
                checkpoint.step as i64,
                checkpoint.state,
                now_ms()
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The checkpoint of a book's page, if one was saved.
    pub fn checkpoint(&self, book_id: i64, position: usize) -> Result<Option<Checkpoint>> {
        Ok(self
            .conn
            .query_row(
                "SELECT sentence, step, state FROM checkpoints WHERE book_id = ?1 AND position = ?2",
                params![book_id, position as i64],
                |r| {
                    Ok(Checkpoint {
                        sentence: r.get(0)?,
                        step: r.get::<_, i64>(1)? as usize,
                        state: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    /// (position, step, sentence) of every checkpoint of a book, by position.
    pub fn checkpoint_steps(&self, book_id: i64) -> Result<Vec<(usize, usize, String)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT position, step, sentence FROM checkpoints WHERE book_id = ?1
             ORDER BY position",
        )?;
        let rows = stmt
            .query_map([book_id], |r| {
                Ok((
                    r.get::<_, i64>(0)? as usize,
                    r.get::<_, i64>(1)? as usize,
                    r.get(2)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Drops a page's checkpoint (its picture is saved, or the state no longer applies).
    pub fn clear_checkpoint(&mut self, book_id: i64, position: usize) -> Result<()> {
        self.conn.execute(
            "DELETE FROM checkpoints WHERE book_id = ?1 AND position = ?2",
            params![book_id, position as i64],
        )?;
        Ok(())
    }
}
