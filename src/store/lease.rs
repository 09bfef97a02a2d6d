//! One writer per book: a run that draws a book's pages first takes the book's lease (a row in
//! `leases`), so two `book --resume` runs of one book can never both add its pages.
//!
//! A lease ends when its run ends (the row is deleted on drop), and a run killed with SIGKILL
//! leaves a row whose process is gone: on Linux that is seen at once from /proc, elsewhere the
//! lease lapses when it has not been renewed for [`LEASE_TTL_MS`]. SQLite's WAL mode only works
//! on one machine, so every process that can open the library shares our process table.

use std::path::Path;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use super::{now_ms, Library, Result, StoreError};

/// Where liveness cannot be read from the process table, a lease not renewed for this long is
/// taken to belong to a run that died.
pub const LEASE_TTL_MS: i64 = 120_000;

/// Renewals closer together than this are skipped: they only matter on the TTL fallback.
const RENEW_EVERY_MS: i64 = 5_000;

/// The right to write one book's pages, held until dropped.
pub struct Lease {
    conn: Connection,
    book_id: i64,
    token: String,
    last_renewal: i64,
}

/// Who holds a book's lease, for the refusal sentence.
#[derive(Debug, Clone, PartialEq)]
pub struct Holder {
    pub pid: u32,
    pub since_ms: i64,
}

impl Lease {
    pub fn book_id(&self) -> i64 {
        self.book_id
    }

    pub(super) fn token(&self) -> &str {
        &self.token
    }

    /// Marks the run as alive (at most every few seconds); fails if another run took the lease.
    pub fn renew(&mut self) -> Result<()> {
        let now = now_ms();
        if now - self.last_renewal < RENEW_EVERY_MS {
            return Ok(());
        }
        let n = self.conn.execute(
            "UPDATE leases SET renewed_at = ?3 WHERE book_id = ?1 AND token = ?2",
            params![self.book_id, self.token, now],
        )?;
        if n == 0 {
            return Err(StoreError::LeaseLost { book: self.book_id });
        }
        self.last_renewal = now;
        Ok(())
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // Best effort: a row left behind is recognised as stale by the next run.
        let _ = self.conn.execute(
            "DELETE FROM leases WHERE book_id = ?1 AND token = ?2",
            params![self.book_id, self.token],
        );
    }
}

/// A token no other run will draw: our process, its start, and the time.
fn new_token() -> String {
    format!(
        "{}-{}-{}",
        std::process::id(),
        process_start(std::process::id()).unwrap_or_default(),
        now_ms()
    )
}

/// The start time of process `pid` (clock ticks since boot), which tells a live process from a
/// later one that reused its id. `None` where there is no such process or no /proc.
fn process_start(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses; fields after it do not.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19).map(str::to_string)
}

/// Whether the run that holds a lease is still going.
fn holder_alive(pid: u32, proc_start: &str, renewed_at: i64) -> bool {
    if Path::new("/proc/self/stat").exists() {
        return !proc_start.is_empty() && process_start(pid).as_deref() == Some(proc_start);
    }
    now_ms() - renewed_at < LEASE_TTL_MS
}

impl Library {
    /// Takes the lease of `book_id`, or says which run is writing the book.
    pub fn lease_book(&mut self, book_id: i64) -> Result<Lease> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let exists: bool = tx.query_row(
            "SELECT count(*) > 0 FROM books WHERE id = ?1",
            [book_id],
            |r| r.get(0),
        )?;
        if !exists {
            return Err(StoreError::NoSuchBook(book_id));
        }
        let token = take_lease(&tx, book_id)?;
        tx.commit()?;
        self.lease_handle(book_id, token)
    }

    /// Who holds the lease of `book_id` now, if a live run does.
    pub fn lease_holder(&self, book_id: i64) -> Result<Option<Holder>> {
        let row = self
            .conn
            .query_row(
                "SELECT pid, proc_start, taken_at, renewed_at FROM leases WHERE book_id = ?1",
                [book_id],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                },
            )
            .optional()?;
        Ok(row.and_then(|(pid, start, taken, renewed)| {
            holder_alive(pid as u32, &start, renewed).then_some(Holder {
                pid: pid as u32,
                since_ms: taken,
            })
        }))
    }

    /// A connection of the lease's own, so renewing and releasing need no `&mut Library`.
    pub(super) fn lease_handle(&self, book_id: i64, token: String) -> Result<Lease> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(Lease {
            conn,
            book_id,
            token,
            last_renewal: now_ms(),
        })
    }
}

/// Inside a write transaction: refuses if a live run holds the book, else records us as holder.
pub(super) fn take_lease(tx: &rusqlite::Transaction, book_id: i64) -> Result<String> {
    let held = tx
        .query_row(
            "SELECT pid, proc_start, taken_at, renewed_at FROM leases WHERE book_id = ?1",
            [book_id],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            },
        )
        .optional()?;
    if let Some((pid, start, taken, renewed)) = held {
        if holder_alive(pid as u32, &start, renewed) {
            return Err(StoreError::BookBusy {
                book: book_id,
                pid: pid as u32,
                seconds: ((now_ms() - taken).max(0) / 1000) as u64,
            });
        }
    }
    let token = new_token();
    let now = now_ms();
    tx.execute(
        "INSERT OR REPLACE INTO leases (book_id, token, pid, proc_start, taken_at, renewed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        params![
            book_id,
            token,
            std::process::id() as i64,
            process_start(std::process::id()).unwrap_or_default(),
            now
        ],
    )?;
    Ok(token)
}

/// Inside a write transaction: fails unless `lease` still holds its book.
pub(super) fn check_lease(tx: &rusqlite::Transaction, lease: &Lease) -> Result<()> {
    let token: Option<String> = tx
        .query_row(
            "SELECT token FROM leases WHERE book_id = ?1",
            [lease.book_id()],
            |r| r.get(0),
        )
        .optional()?;
    if token.as_deref() != Some(lease.token()) {
        // A deleted book takes its lease with it: say that, not that another run took over.
        let exists: bool = tx.query_row(
            "SELECT count(*) > 0 FROM books WHERE id = ?1",
            [lease.book_id()],
            |r| r.get(0),
        )?;
        if !exists {
            return Err(StoreError::NoSuchBook(lease.book_id()));
        }
        return Err(StoreError::LeaseLost {
            book: lease.book_id(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::process_start;

    #[cfg(target_os = "linux")]
    #[test]
    fn our_own_process_has_a_start_time_and_a_finished_one_has_none() {
        assert!(process_start(std::process::id()).is_some());
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert_eq!(process_start(pid), None);
    }
}
