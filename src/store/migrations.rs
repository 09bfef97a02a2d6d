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
];

/// The schema version this build writes.
pub const LATEST: u32 = MIGRATIONS.len() as u32;
