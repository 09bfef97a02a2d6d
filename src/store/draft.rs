//! The studio's book in progress, kept in a small SQLite file of its own beside the library
//! (`library.draft.sqlite` next to `library.sqlite`): every page's text, its picture and how it
//! was made, so a restart brings back what was on screen. It is not a library migration: the
//! library holds saved books, this file holds the one being edited. Each save replaces the whole
//! draft in one transaction; pictures are stored once per content hash, so saving the same
//! pictures again writes only the text.

use std::io::Read;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use sha2::{Digest, Sha256};

const SCHEMA: &str = r#"
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS pictures (hash TEXT PRIMARY KEY, png BLOB NOT NULL);
    CREATE TABLE IF NOT EXISTS pages (
        position   INTEGER PRIMARY KEY,
        sentence   TEXT    NOT NULL,
        drawn_for  TEXT,
        settings   TEXT    NOT NULL DEFAULT 'null',
        seed       INTEGER NOT NULL DEFAULT 0,
        iterations INTEGER NOT NULL DEFAULT 0,
        similarity REAL,
        picture    TEXT REFERENCES pictures(hash)
    );
    CREATE TABLE IF NOT EXISTS checkpoints (
        position INTEGER PRIMARY KEY,
        sentence TEXT    NOT NULL,
        options  TEXT    NOT NULL,
        step     INTEGER NOT NULL,
        state    BLOB    NOT NULL
    );
"#;
/// 2 added paused illustrations (`checkpoints`); a version-1 file gains the table on open.
const VERSION: u32 = 2;
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

#[derive(Debug, thiserror::Error)]
pub enum DraftError {
    #[error("{} is not the studio's draft file (not an SQLite file); it was left untouched, so the book in progress is not being kept", path.display())]
    Foreign { path: PathBuf },
    #[error("the draft file {} was made by a newer Storybook Studio; it was left untouched, so the book in progress is not being kept", path.display())]
    Newer { path: PathBuf },
    #[error("the book in progress could not be kept in {}: {source}", path.display())]
    Sql {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("the book in progress could not be kept in {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// One page of the book in progress. `settings` is the illustration options as JSON, so the
/// store needs no ML types.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DraftPageRecord {
    pub sentence: String,
    /// The text the picture was drawn for; differs from `sentence` once the text is edited.
    pub drawn_for: Option<String>,
    pub settings: serde_json::Value,
    pub seed: u64,
    pub iterations: usize,
    pub similarity: Option<f64>,
    pub png: Option<Vec<u8>>,
    /// A paused illustration: (sentence drawn, options as JSON, step, state).
    pub checkpoint: Option<(String, serde_json::Value, usize, Vec<u8>)>,
}

/// The whole book in progress.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DraftRecord {
    /// The library book it was opened from or saved as.
    pub book_id: Option<i64>,
    /// The library's change stamp of that book which this version is based on.
    pub stamp: Option<i64>,
    pub story: String,
    /// Edited since it was last saved to the library.
    pub unsaved: bool,
    pub pages: Vec<DraftPageRecord>,
}

pub struct DraftStore {
    conn: Connection,
    path: PathBuf,
}

impl DraftStore {
    /// Where the draft of the library at `library` lives: beside it, named after it.
    pub fn path_for(library: &Path) -> PathBuf {
        let stem = library
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "library".into());
        library.with_file_name(format!("{stem}.draft.sqlite"))
    }

    /// Opens (or creates) the draft file; a foreign or newer file is refused, never modified.
    pub fn open(path: &Path) -> Result<Self, DraftError> {
        let sql = |source| DraftError::Sql {
            path: path.to_path_buf(),
            source,
        };
        let io = |source| DraftError::Io {
            path: path.to_path_buf(),
            source,
        };
        if path.exists() {
            // The header only: the file holds every picture of the book.
            let mut head = Vec::with_capacity(SQLITE_MAGIC.len());
            std::fs::File::open(path)
                .and_then(|f| f.take(SQLITE_MAGIC.len() as u64).read_to_end(&mut head))
                .map_err(io)?;
            if !head.is_empty() && head != SQLITE_MAGIC {
                return Err(DraftError::Foreign {
                    path: path.to_path_buf(),
                });
            }
        } else if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sql)?;
        let found: u32 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| match e.sqlite_error_code() {
                Some(rusqlite::ErrorCode::NotADatabase) => DraftError::Foreign {
                    path: path.to_path_buf(),
                },
                _ => sql(e),
            })?;
        if found > VERSION {
            return Err(DraftError::Newer {
                path: path.to_path_buf(),
            });
        }
        conn.execute_batch(SCHEMA).map_err(sql)?;
        conn.pragma_update(None, "user_version", VERSION)
            .map_err(sql)?;
        Ok(Self {
            conn,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sql(&self, source: rusqlite::Error) -> DraftError {
        DraftError::Sql {
            path: self.path.clone(),
            source,
        }
    }

    /// Replaces the stored draft with `draft`, in one transaction.
    pub fn save(&mut self, draft: &DraftRecord) -> Result<(), DraftError> {
        let path = self.path.clone();
        let sql = |source| DraftError::Sql {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(sql)?;
        tx.execute("DELETE FROM meta", []).map_err(sql)?;
        let meta = [
            ("book_id", draft.book_id.map(|i| i.to_string())),
            ("book_stamp", draft.stamp.map(|i| i.to_string())),
            ("story", Some(draft.story.clone())),
            ("unsaved", Some(u8::from(draft.unsaved).to_string())),
        ];
        for (key, value) in meta {
            if let Some(value) = value {
                tx.execute(
                    "INSERT INTO meta (key, value) VALUES (?1, ?2)",
                    params![key, value],
                )
                .map_err(sql)?;
            }
        }
        tx.execute("DELETE FROM pages", []).map_err(sql)?;
        tx.execute("DELETE FROM checkpoints", []).map_err(sql)?;
        for (i, p) in draft.pages.iter().enumerate() {
            let hash = p.png.as_deref().map(content_hash);
            if let (Some(hash), Some(png)) = (&hash, &p.png) {
                tx.execute(
                    "INSERT OR IGNORE INTO pictures (hash, png) VALUES (?1, ?2)",
                    params![hash, png],
                )
                .map_err(sql)?;
            }
            tx.execute(
                "INSERT INTO pages (position, sentence, drawn_for, settings, seed, iterations,
                                    similarity, picture)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    i as i64,
                    p.sentence,
                    p.drawn_for,
                    p.settings.to_string(),
                    p.seed as i64,
                    p.iterations as i64,
                    p.similarity,
                    hash
                ],
            )
            .map_err(sql)?;
            if let Some((sentence, options, step, state)) = &p.checkpoint {
                tx.execute(
                    "INSERT INTO checkpoints (position, sentence, options, step, state)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![i as i64, sentence, options.to_string(), *step as i64, state],
                )
                .map_err(sql)?;
            }
        }
        tx.execute(
            "DELETE FROM pictures WHERE hash NOT IN
                 (SELECT picture FROM pages WHERE picture IS NOT NULL)",
            [],
        )
        .map_err(sql)?;
        tx.commit().map_err(sql)
    }

    /// The stored draft, or `None` when nothing has been kept yet.
    pub fn load(&self) -> Result<Option<DraftRecord>, DraftError> {
        let meta = |key: &str| -> Result<Option<String>, DraftError> {
            self.conn
                .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()
                .map_err(|e| self.sql(e))
        };
        let Some(story) = meta("story")? else {
            return Ok(None);
        };
        let book_id = meta("book_id")?.and_then(|v| v.parse().ok());
        let stamp = meta("book_stamp")?.and_then(|v| v.parse().ok());
        let unsaved = meta("unsaved")?.as_deref() == Some("1");
        let mut stmt = self
            .conn
            .prepare(
                "SELECT p.sentence, p.drawn_for, p.settings, p.seed, p.iterations, p.similarity,
                        i.png, c.sentence, c.options, c.step, c.state
                 FROM pages p LEFT JOIN pictures i ON i.hash = p.picture
                 LEFT JOIN checkpoints c ON c.position = p.position
                 ORDER BY p.position",
            )
            .map_err(|e| self.sql(e))?;
        let pages = stmt
            .query_map([], |r| {
                let settings: String = r.get(2)?;
                Ok(DraftPageRecord {
                    sentence: r.get(0)?,
                    drawn_for: r.get(1)?,
                    settings: serde_json::from_str(&settings).unwrap_or_default(),
                    seed: r.get::<_, i64>(3)? as u64,
                    iterations: r.get::<_, i64>(4)? as usize,
                    similarity: r.get(5)?,
                    png: r.get(6)?,
                    checkpoint: match r.get::<_, Option<String>>(7)? {
                        Some(sentence) => {
                            let options: String = r.get(8)?;
                            Some((
                                sentence,
                                serde_json::from_str(&options).unwrap_or_default(),
                                r.get::<_, i64>(9)? as usize,
                                r.get(10)?,
                            ))
                        }
                        None => None,
                    },
                })
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| self.sql(e))?;
        Ok(Some(DraftRecord {
            book_id,
            stamp,
            story,
            unsaved,
            pages,
        }))
    }
}

fn content_hash(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(sentence: &str, png: Option<&[u8]>) -> DraftPageRecord {
        DraftPageRecord {
            checkpoint: None,
            sentence: sentence.into(),
            drawn_for: png.map(|_| sentence.to_string()),
            settings: serde_json::json!({ "width": 128 }),
            seed: 7,
            iterations: 50,
            similarity: png.map(|_| 0.25),
            png: png.map(<[u8]>::to_vec),
        }
    }

    #[test]
    fn a_draft_round_trips_and_shares_equal_pictures() {
        let dir = tempfile::tempdir().unwrap();
        let path = DraftStore::path_for(&dir.path().join("library.sqlite"));
        assert_eq!(path, dir.path().join("library.draft.sqlite"));
        let mut store = DraftStore::open(&path).unwrap();
        assert_eq!(store.load().unwrap(), None, "a new file holds no draft");
        let draft = DraftRecord {
            book_id: Some(3),
            stamp: Some(1_700_000_000_123),
            story: "A fox. A lamp.".into(),
            unsaved: true,
            pages: vec![
                page("A fox.", Some(b"png-one")),
                page("A lamp.", None),
                page("Again.", Some(b"png-one")),
            ],
        };
        store.save(&draft).unwrap();
        drop(store);
        let store = DraftStore::open(&path).unwrap();
        assert_eq!(store.load().unwrap(), Some(draft));
        let pictures: i64 = store
            .conn
            .query_row("SELECT count(*) FROM pictures", [], |r| r.get(0))
            .unwrap();
        assert_eq!(pictures, 1, "one copy of a picture used twice");
    }

    #[test]
    fn a_smaller_draft_drops_pictures_nothing_uses() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = DraftStore::open(&dir.path().join("d.sqlite")).unwrap();
        let mut draft = DraftRecord {
            pages: vec![page("a", Some(b"1")), page("b", Some(b"2"))],
            ..DraftRecord::default()
        };
        store.save(&draft).unwrap();
        draft.pages.pop();
        store.save(&draft).unwrap();
        assert_eq!(store.load().unwrap().unwrap().pages, draft.pages);
        let pictures: i64 = store
            .conn
            .query_row("SELECT count(*) FROM pictures", [], |r| r.get(0))
            .unwrap();
        assert_eq!(pictures, 1);
    }

    #[test]
    fn a_foreign_file_is_refused_and_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.draft.sqlite");
        std::fs::write(&path, b"my shopping list").unwrap();
        let err = DraftStore::open(&path).err().unwrap();
        assert!(matches!(err, DraftError::Foreign { .. }), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"my shopping list");
    }
}
