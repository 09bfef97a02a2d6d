//! Library errors, each a sentence that says what happened and that nothing was lost.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{} is not a Storybook library (not an SQLite file); it was left untouched. Choose another file with --library.", path.display())]
    NotSqlite { path: PathBuf },

    #[error("the library {} is damaged ({detail}); it was left untouched. Restore a backup or choose another file with --library.", path.display())]
    Corrupt { path: PathBuf, detail: String },

    #[error("the library {} is read-only; make it writable or choose another file with --library", path.display())]
    ReadOnly { path: PathBuf },

    #[error("the library {} was made by a newer Storybook Studio (schema {found}, this build knows {supported}); it was left untouched", path.display())]
    NewerSchema {
        path: PathBuf,
        found: u32,
        supported: u32,
    },

    #[error("there is no library at {}; check the path", path.display())]
    NoLibrary { path: PathBuf },

    #[error("there is no library at {} (the folder {} does not exist); check the path", path.display(), folder.display())]
    NoFolder { path: PathBuf, folder: PathBuf },

    #[error("book {book} is being written by another run (process {pid}, started {seconds} s ago); wait for it to finish, or stop it and resume the book again")]
    BookBusy { book: i64, pid: u32, seconds: u64 },

    #[error(
        "another run took over book {book}, so this run stopped; the pages saved so far are kept"
    )]
    LeaseLost { book: i64 },

    #[error(
        "page {page} of book {book} was already saved by another run; nothing was overwritten"
    )]
    PageTaken { book: i64, page: usize },

    #[error("there is no book {0} in the library")]
    NoSuchBook(i64),

    #[error(
        "book {book} has {count} page{}; there is no page {page}",
        if *count == 1 { "" } else { "s" }
    )]
    PageOutOfRange {
        book: i64,
        page: usize,
        count: usize,
    },

    #[error("{0}")]
    Invalid(String),

    #[error("could not use {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("library database error: {0}")]
    Sql(#[from] rusqlite::Error),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
