//! The library with more than one writer: a book's lease admits one run at a time (and passes
//! from a killed run to the next), each page is claimed once, a stored picture is never
//! replaced by a resumed run, and the plan never reads below the saved pages. Also: schema 3's
//! migration (Chinese search, repaired plans), and where a library may be created.
//!
//! The killed writer is this test binary run again with `WRITER_CHILD` set.

mod common;

use std::io::{BufRead, BufReader, Cursor};
use std::path::Path;
use std::process::{Command, Stdio};

use common::fixture;
use storybook_studio::store::{Create, Library, NewBook, NewPage, StoreError, SCHEMA_VERSION};

fn png(shade: u8) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(8, 8, image::Rgb([shade, 100, 200]));
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

fn page(sentence: &str, picture: Option<u8>) -> NewPage {
    NewPage {
        sentence: sentence.into(),
        settings: serde_json::json!({ "seed": 1 }),
        seed: 1,
        iterations: 10,
        similarity: Some(0.3),
        png: picture.map(png),
    }
}

fn book(planned: usize) -> NewBook {
    NewBook {
        title: "The Lantern Fox".into(),
        prompt: "A fox finds a lantern".into(),
        planned_pages: planned,
        ..NewBook::default()
    }
}

/// In a child process: takes book 1's lease, says so, and waits to be killed. Run directly,
/// it checks that a released lease can be taken again at once.
#[test]
fn child_process_entry() {
    let Ok(library) = std::env::var("WRITER_CHILD") else {
        let tmp = tempfile::tempdir().unwrap();
        let mut lib = Library::open(&tmp.path().join("lib.sqlite")).unwrap();
        let id = lib.create_book(&book(1), &[]).unwrap();
        drop(lib.lease_book(id).unwrap());
        lib.lease_book(id).expect("a released lease is free");
        return;
    };
    let mut lib = Library::open(Path::new(&library)).unwrap();
    let _lease = lib.lease_book(1).unwrap();
    println!("leased");
    std::thread::sleep(std::time::Duration::from_secs(120));
}

#[test]
fn one_run_at_a_time_holds_a_book() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("lib.sqlite");
    let mut first = Library::open(&path).unwrap();
    let id = first.create_book(&book(3), &[]).unwrap();
    let mut second = Library::open(&path).unwrap();

    let lease = first.lease_book(id).unwrap();
    let err = second
        .lease_book(id)
        .err()
        .expect("a second lease is refused");
    assert!(
        matches!(err, StoreError::BookBusy { book, .. } if book == id),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&format!("book {id} is being written by another run"))
            && text.contains(&format!("process {}", std::process::id())),
        "{text}"
    );
    assert!(second.lease_holder(id).unwrap().is_some());
    drop(lease);
    assert!(second.lease_holder(id).unwrap().is_none());
    let _taken = second.lease_book(id).unwrap();
    assert!(matches!(
        first.lease_book(999).err(),
        Some(StoreError::NoSuchBook(999))
    ));
}

#[cfg(target_os = "linux")]
#[test]
fn a_lease_left_by_a_killed_run_passes_to_the_next_run() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("lib.sqlite");
    let mut lib = Library::open(&path).unwrap();
    let id = lib.create_book(&book(3), &[]).unwrap();
    assert_eq!(id, 1);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_process_entry", "--nocapture"])
        .env("WRITER_CHILD", &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let leased = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|l| l.contains("leased"));
    assert!(leased, "the child never took the lease");
    let held = lib.lease_book(id).err().expect("the child holds the book");
    assert!(
        matches!(held, StoreError::BookBusy { pid, .. } if pid == child.id()),
        "{held}"
    );
    child.kill().unwrap(); // SIGKILL: the child cannot release its lease
    child.wait().unwrap();
    assert!(lib.lease_holder(id).unwrap().is_none());
    let lease = lib
        .lease_book(id)
        .expect("a dead run's lease is taken over");
    lib.add_page_at(&lease, 0, &page("A fox.", Some(1)))
        .unwrap();
}

#[test]
fn each_page_is_saved_once_and_a_lost_lease_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("lib.sqlite");
    let mut lib = Library::open(&path).unwrap();
    let (id, lease) = lib.start_book(&book(3)).unwrap();
    lib.add_page_at(&lease, 0, &page("One.", Some(1))).unwrap();
    let again = lib.add_page_at(&lease, 0, &page("One again.", Some(2)));
    assert!(
        matches!(again, Err(StoreError::PageTaken { page: 1, .. })),
        "{again:?}"
    );
    let gap = lib.add_page_at(&lease, 2, &page("Three.", Some(3)));
    assert!(matches!(gap, Err(StoreError::Invalid(_))), "{gap:?}");
    assert_eq!(lib.book(id).unwrap().pages.len(), 1);

    // Another run takes over (as after a lease judged stale): this one can no longer write.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("UPDATE leases SET token = 'someone else'", [])
        .unwrap();
    let lost = lib.add_page_at(&lease, 1, &page("Two.", Some(2)));
    assert!(
        matches!(lost, Err(StoreError::LeaseLost { book }) if book == id),
        "{lost:?}"
    );
    let saved = lib.book(id).unwrap();
    assert_eq!(saved.pages.len(), 1);
    assert_eq!(saved.pages[0].sentence, "One.");

    // The book deleted while a run draws it: the run is told so.
    let (gone, lease) = lib.start_book(&book(1)).unwrap();
    lib.delete(gone).unwrap();
    let deleted = lib.add_page_at(&lease, 0, &page("Late.", Some(1)));
    assert!(
        matches!(deleted, Err(StoreError::NoSuchBook(b)) if b == gone),
        "{deleted:?}"
    );
}

#[test]
fn a_resumed_run_fills_missing_pictures_and_never_replaces_one() {
    let tmp = tempfile::tempdir().unwrap();
    let mut lib = Library::open(&tmp.path().join("lib.sqlite")).unwrap();
    let id = lib
        .create_book(&book(2), &[page("Drawn.", Some(1)), page("Not yet.", None)])
        .unwrap();
    let before = lib.book(id).unwrap();
    assert_eq!(before.unillustrated(), 1);
    let lease = lib.lease_book(id).unwrap();
    let refused = lib.fill_picture(&lease, 0, &page("Drawn.", Some(9)));
    assert!(matches!(
        refused,
        Err(StoreError::PageTaken { page: 1, .. })
    ));
    let empty = lib.fill_picture(&lease, 1, &page("Not yet.", None));
    assert!(matches!(empty, Err(StoreError::Invalid(_))));
    lib.fill_picture(&lease, 1, &page("Not yet.", Some(7)))
        .unwrap();
    let after = lib.book(id).unwrap();
    assert_eq!(after.pages[0].png, before.pages[0].png);
    assert_eq!(after.pages[1].png, Some(png(7)));
    assert_eq!(after.pages[1].sentence, "Not yet.");
    assert!(after.is_complete());
}

#[test]
fn saved_pages_never_outnumber_planned_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let mut lib = Library::open(&tmp.path().join("lib.sqlite")).unwrap();
    let id = lib
        .create_book(
            &book(3),
            &[
                page("a.", Some(1)),
                page("b.", Some(2)),
                page("c.", Some(3)),
            ],
        )
        .unwrap();
    // What the studio's save does with a fourth page.
    lib.add_page(id, &page("d.", Some(4))).unwrap();
    let summary = &lib.list(0, 10).unwrap()[0];
    assert_eq!((summary.page_count, summary.planned_pages), (4, 4));
    assert_eq!(summary.pages_to_add(), 0);
    assert!(lib.book(id).unwrap().is_complete());
}

#[test]
fn an_empty_title_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let mut lib = Library::open(&tmp.path().join("lib.sqlite")).unwrap();
    let id = lib.create_book(&book(0), &[]).unwrap();
    for title in ["", "   "] {
        let err = lib.rename(id, title).unwrap_err().to_string();
        assert!(err.contains("title cannot be empty"), "{err}");
    }
    assert_eq!(lib.book(id).unwrap().title, "The Lantern Fox");
}

#[test]
fn version_2_libraries_become_searchable_in_chinese_with_honest_plans() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("old.sqlite");
    std::fs::copy(fixture("library-v2.sqlite"), &path).unwrap();
    let mut lib = Library::open(&path).unwrap();
    assert_eq!(lib.schema_version().unwrap(), SCHEMA_VERSION);
    for query in ["灯笼", "雪地", "狐狸 灯笼", "它很高兴", "owl"] {
        let ids: Vec<i64> = lib
            .search(query, 10)
            .unwrap()
            .iter()
            .map(|b| b.id)
            .collect();
        let want = if query == "owl" { 2 } else { 1 };
        assert_eq!(ids, vec![want], "searching {query}");
    }
    assert!(
        lib.search("灯狐", 10).unwrap().is_empty(),
        "characters must be adjacent"
    );
    let owl = lib.book(2).unwrap();
    assert_eq!((owl.pages.len(), owl.planned_pages), (4, 4));
    assert!(owl.is_complete());
    // New text is indexed the same way.
    let id = lib
        .create_book(&book(1), &[page("きつねはランタンを見つけた。", Some(1))])
        .unwrap();
    assert_eq!(lib.search("ランタン", 5).unwrap()[0].id, id);
    assert_eq!(lib.integrity_check().unwrap(), "ok");
}

#[test]
fn a_missing_library_is_created_only_where_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let typo = tmp.path().join("libary").join("lib.sqlite");
    let err = Library::open_with(&typo, Create::Never).err().unwrap();
    assert!(err.to_string().contains("there is no library at"), "{err}");
    let err = Library::open_with(&typo, Create::InExistingFolder)
        .err()
        .unwrap();
    assert!(
        matches!(err, StoreError::NoFolder { .. }) && err.to_string().contains("does not exist"),
        "{err}"
    );
    assert!(!tmp.path().join("libary").exists(), "a folder was created");

    let here = tmp.path().join("new.sqlite");
    assert!(Library::open_with(&here, Create::Never).is_err());
    assert!(!here.exists());
    Library::open_with(&here, Create::InExistingFolder).unwrap();
    assert!(here.is_file());
    Library::open_with(&typo, Create::WithFolders).unwrap();
    assert!(typo.is_file());
}

/// A book changed many times within a few milliseconds has its time pushed ahead of the
/// clock (each change must sort after the last); a book made right after is still listed
/// first. (This raced in CI: a duplicate was listed second.)
#[test]
fn a_new_book_lists_first_even_after_a_burst_of_changes_to_another() {
    let tmp = tempfile::tempdir().unwrap();
    let mut lib = Library::open(&tmp.path().join("lib.sqlite")).unwrap();
    let first = lib.create_book(&book(0), &[]).unwrap();
    for i in 0..300 {
        lib.rename(first, &format!("Title {i}")).unwrap();
    }
    let second = lib.create_book(&book(1), &[]).unwrap();
    let listed = lib.list(0, 10).unwrap();
    assert_eq!(listed[0].id, second, "newest first");
    assert!(lib.book(second).unwrap().updated_at > lib.book(first).unwrap().updated_at);
}
