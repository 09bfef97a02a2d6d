//! Opening a library safely: a file that is not ours, is damaged, read-only or from a newer
//! build is refused before anything is written to it.

use std::io::Read;
use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::migrations::{LATEST, MIGRATIONS};
use super::{Library, Result, StoreError};

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

fn is_read_only(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.permissions().readonly())
}

/// What opening does when there is no library file yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Create {
    /// Refuse with "there is no library at PATH": a mistyped path changes nothing on disk.
    Never,
    /// Start a new library, but only in a folder that already exists.
    InExistingFolder,
    /// Start a new library, making its folders (the default library on first use).
    WithFolders,
}

impl Library {
    /// Opens `path`, creating a new library (and its folders) if nothing exists, and migrates it.
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_with(path, Create::WithFolders)
    }

    /// Opens `path`; whether a missing library is created, and where, is `create`'s choice.
    pub fn open_with(path: &Path, create: Create) -> Result<Self> {
        let io = |source| StoreError::Io {
            path: path.to_path_buf(),
            source,
        };
        let exists = path.exists();
        if exists {
            if path.is_dir() {
                return Err(StoreError::Invalid(format!(
                    "{} is a folder; the library is a file such as {}/library.sqlite",
                    path.display(),
                    path.display()
                )));
            }
            let mut head = [0u8; 16];
            let mut file = std::fs::File::open(path).map_err(io)?;
            let len = file.metadata().map_err(io)?.len();
            // An empty file is what a crash during creation leaves; SQLite treats it as new.
            if len > 0 && (file.read_exact(&mut head).is_err() || &head != SQLITE_MAGIC) {
                return Err(StoreError::NotSqlite {
                    path: path.to_path_buf(),
                });
            }
            // Permission bits are checked by hand: as root, writes would succeed anyway.
            if is_read_only(path) {
                return Err(StoreError::ReadOnly {
                    path: path.to_path_buf(),
                });
            }
        } else {
            let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
            match (create, dir) {
                (Create::Never, _) => {
                    return Err(StoreError::NoLibrary {
                        path: path.to_path_buf(),
                    })
                }
                (Create::InExistingFolder, Some(dir)) if !dir.is_dir() => {
                    return Err(StoreError::NoFolder {
                        path: path.to_path_buf(),
                        folder: dir.to_path_buf(),
                    })
                }
                _ => {}
            }
            if let Some(dir) = dir {
                if dir.exists() && is_read_only(dir) {
                    return Err(StoreError::ReadOnly {
                        path: dir.to_path_buf(),
                    });
                }
                std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                    path: dir.to_path_buf(),
                    source,
                })?;
            }
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| classify(path, e))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        if exists {
            let check: String = conn
                .query_row("PRAGMA quick_check", [], |r| r.get(0))
                .map_err(|e| classify(path, e))?;
            if check != "ok" {
                return Err(StoreError::Corrupt {
                    path: path.to_path_buf(),
                    detail: check,
                });
            }
        }
        let found: u32 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| classify(path, e))?;
        if found > LATEST {
            return Err(StoreError::NewerSchema {
                path: path.to_path_buf(),
                found,
                supported: LATEST,
            });
        }
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| classify(path, e))?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // WAL with synchronous=NORMAL keeps every committed transaction across a process crash.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let mut lib = Library {
            conn,
            path: path.to_path_buf(),
        };
        lib.migrate(found)?;
        Ok(lib)
    }

    fn migrate(&mut self, from: u32) -> Result<()> {
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(from as usize) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)?;
            super::migrations::after((i + 1) as u32, &tx)?;
            tx.pragma_update(None, "user_version", (i + 1) as u32)?;
            tx.commit()?;
        }
        Ok(())
    }
}

/// SQLite's own words for a foreign or damaged file, as our sentences.
fn classify(path: &Path, e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode;
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => StoreError::NotSqlite {
            path: path.to_path_buf(),
        },
        Some(ErrorCode::DatabaseCorrupt) => StoreError::Corrupt {
            path: path.to_path_buf(),
            detail: e.to_string(),
        },
        Some(ErrorCode::ReadOnly)
        | Some(ErrorCode::CannotOpen)
        | Some(ErrorCode::PermissionDenied) => StoreError::ReadOnly {
            path: path.to_path_buf(),
        },
        _ => StoreError::Sql(e),
    }
}
