//! The library's schema, as an ordered list of migrations. `PRAGMA user_version` records how
//! many have run; each runs in its own transaction, so a crash mid-migration changes nothing.
//! Never edit a released migration: add the next one.

/// Migration `i` brings a database from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 1: books, their pages, one image (and thumbnail) per page.
    r#"
    CREATE TABLE books (
        id             INTEGER PRIMARY KEY,
        title          TEXT    NOT NULL,
        prompt         TEXT    NOT NULL,
        created_at     INTEGER NOT NULL,
        updated_at     INTEGER NOT NULL,
        story_settings TEXT    NOT NULL DEFAULT '{}',
        story_seed     INTEGER NOT NULL DEFAULT 0,
        style_prefix   TEXT    NOT NULL DEFAULT '',
        style_suffix   TEXT    NOT NULL DEFAULT '',
        model_ids      TEXT    NOT NULL DEFAULT '{}',
        planned_pages  INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE pages (
        id          INTEGER PRIMARY KEY,
        book_id     INTEGER NOT NULL REFERENCES books(id) ON DELETE CASCADE,
        position    INTEGER NOT NULL,
        sentence    TEXT    NOT NULL,
        settings    TEXT    NOT NULL DEFAULT '{}',
        seed        INTEGER NOT NULL DEFAULT 0,
        iterations  INTEGER NOT NULL DEFAULT 0,
        similarity  REAL,
        UNIQUE (book_id, position)
    );
    CREATE TABLE images (
        page_id   INTEGER PRIMARY KEY REFERENCES pages(id) ON DELETE CASCADE,
        png       BLOB NOT NULL,
        thumbnail BLOB NOT NULL
    );
    CREATE INDEX books_by_update ON books (updated_at DESC, id DESC);
    "#,
    // 2: full-text search over titles and sentences, and kept progress frames.
    r#"
    CREATE VIRTUAL TABLE book_search USING fts5 (
        title, sentences, prompt, tokenize = 'unicode61 remove_diacritics 2'
    );
    INSERT INTO book_search (rowid, title, sentences, prompt)
        SELECT b.id, b.title,
               coalesce((SELECT group_concat(sentence, ' ') FROM
                   (SELECT sentence FROM pages p WHERE p.book_id = b.id ORDER BY position)), ''),
               b.prompt
        FROM books b;
    CREATE TABLE frames (
        page_id INTEGER NOT NULL REFERENCES pages(id) ON DELETE CASCADE,
        step    INTEGER NOT NULL,
        png     BLOB    NOT NULL,
        PRIMARY KEY (page_id, step)
    );
    "#,
    // 3: one writer per book (a lease row, taken by `book` and `book --resume`), planned page
    // counts that are never below the saved pages, and a search index that splits Chinese,
    // Japanese and Korean text into characters (rebuilt in Rust by `after`, below).
    r#"
    CREATE TABLE leases (
        book_id    INTEGER PRIMARY KEY REFERENCES books(id) ON DELETE CASCADE,
        token      TEXT    NOT NULL,
        pid        INTEGER NOT NULL,
        proc_start TEXT    NOT NULL DEFAULT '',
        taken_at   INTEGER NOT NULL,
        renewed_at INTEGER NOT NULL
    );
    UPDATE books SET planned_pages =
        max(planned_pages, (SELECT count(*) FROM pages p WHERE p.book_id = books.id));
    "#,
    // 4: search page by page (words: an FTS5 row per page, filled by `after`; meaning: a
    // vector per page's sentence and per picture, filled lazily by whoever has the model), and
    // the saved state of illustrations paused mid-way. Triggers drop a vector the moment what
    // it embeds changes, whichever code path changed it.
    r#"
    CREATE VIRTUAL TABLE page_search USING fts5 (
        sentence, title, tokenize = 'unicode61 remove_diacritics 2'
    );
    CREATE TABLE vectors (
        page_id INTEGER NOT NULL REFERENCES pages(id) ON DELETE CASCADE,
        kind    TEXT    NOT NULL,
        model   TEXT    NOT NULL,
        data    BLOB    NOT NULL,
        PRIMARY KEY (page_id, kind, model)
    );
    CREATE TRIGGER vectors_sentence_changed AFTER UPDATE OF sentence ON pages
    WHEN OLD.sentence IS NOT NEW.sentence BEGIN
        DELETE FROM vectors WHERE page_id = NEW.id AND kind = 'text';
    END;
    CREATE TRIGGER vectors_picture_saved AFTER INSERT ON images BEGIN
        DELETE FROM vectors WHERE page_id = NEW.page_id AND kind = 'image';
    END;
    CREATE TRIGGER vectors_picture_removed AFTER DELETE ON images BEGIN
        DELETE FROM vectors WHERE page_id = OLD.page_id AND kind = 'image';
    END;
    CREATE TABLE checkpoints (
        book_id  INTEGER NOT NULL REFERENCES books(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        sentence TEXT    NOT NULL,
        step     INTEGER NOT NULL,
        state    BLOB    NOT NULL,
        saved_at INTEGER NOT NULL,
        PRIMARY KEY (book_id, position)
    );
    "#,
];

/// The part of a migration SQL cannot do, run in the same transaction right after
/// migration `version` (1-based: the version it brings the database to).
pub(super) fn after(version: u32, tx: &rusqlite::Transaction) -> super::Result<()> {
    match version {
        3 | 4 => super::search::reindex_all(tx),
        _ => Ok(()),
    }
}

/// The schema version this build writes.
pub const LATEST: u32 = MIGRATIONS.len() as u32;
