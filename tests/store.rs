//! The library file: round trips across processes, crash safety under SIGKILL, migration from
//! schema v1, and clear refusals that never touch a file that is not ours.
//!
//! Child processes are this test binary run again with `STORE_CHILD` set, which makes the
//! `child_process_entry` test act as the writer or reader instead of its in-process check.

mod common;

use std::io::{BufRead, BufReader, Cursor};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::fixture;
use rand::{Rng, SeedableRng};
use storybook_studio::store::{Checkpoint, Library, NewBook, NewPage, StoreError, SCHEMA_VERSION};

fn png(seed: u64, size: u32) -> Vec<u8> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let img = image::RgbImage::from_fn(size, size, |_, _| {
        image::Rgb([rng.random(), rng.random(), rng.random()])
    });
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

fn sample_book(n: u64, pages: usize, size: u32) -> (NewBook, Vec<NewPage>) {
    let book = NewBook {
        title: format!("Book {n}: \"quotes\", 'single', Robert'); DROP TABLE books;-- 🦊"),
        prompt: format!("prompt {n} with ümlauts and 漢字"),
        story_settings: serde_json::json!({ "temperature": 0.9, "seed": n }),
        story_seed: n,
        style_prefix: "a watercolour of ".into(),
        style_suffix: ", soft light".into(),
        model_ids: serde_json::json!({ "gpt2": "models/gpt2" }),
        planned_pages: pages,
    };
    let pages = (0..pages)
        .map(|i| NewPage {
            sentence: format!("Sentence {i} of book {n}, with <b>markup</b> & emoji 🌙."),
            settings: serde_json::json!({ "width": size, "seed": n * 100 + i as u64 }),
            seed: n * 100 + i as u64,
            iterations: 50 + i,
            similarity: Some(0.25 + i as f64 / 100.0),
            png: Some(png(n * 31 + i as u64, size)),
        })
        .collect();
    (book, pages)
}

fn child(mode: &str, library: &Path, extra: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "child_process_entry",
        "--nocapture",
        "--test-threads",
        "1",
    ])
    .env("STORE_CHILD", mode)
    .env("STORE_LIBRARY", library)
    .env("STORE_EXTRA", extra);
    cmd
}

/// In a child process: writes books forever (crash test) or dumps one book (round trip).
/// Run directly, it checks a small save-and-reopen in this process.
#[test]
fn child_process_entry() {
    let Ok(mode) = std::env::var("STORE_CHILD") else {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("lib.sqlite");
        let (book, pages) = sample_book(1, 2, 16);
        let id = Library::open(&path)
            .unwrap()
            .create_book(&book, &pages)
            .unwrap();
        let again = Library::open(&path).unwrap().book(id).unwrap();
        assert_eq!(again.pages.len(), 2);
        return;
    };
    let library = PathBuf::from(std::env::var("STORE_LIBRARY").unwrap());
    let extra = std::env::var("STORE_EXTRA").unwrap_or_default();
    match mode.as_str() {
        "writer" => {
            let mut lib = Library::open(&library).unwrap();
            let start: u64 = extra.parse().unwrap();
            for n in start.. {
                let (book, pages) = sample_book(n, 3, 96);
                let id = lib.create_book(&book, &pages).unwrap();
                println!("saved {id} {n}");
            }
        }
        "reader" => {
            let lib = Library::open(&library).unwrap();
            let book = lib.book(extra.parse().unwrap()).unwrap();
            let dir = library.with_extension("pages");
            std::fs::create_dir_all(&dir).unwrap();
            for p in &book.pages {
                std::fs::write(
                    dir.join(format!("{}.png", p.position)),
                    p.png.as_ref().unwrap(),
                )
                .unwrap();
            }
            println!("BOOK {}", serde_json::to_string(&book).unwrap());
        }
        "checkpointer" => {
            // Saves ever larger checkpoints of one page under the book's lease, forever.
            let mut lib = Library::open(&library).unwrap();
            let lease = lib.lease_book(extra.parse().unwrap()).unwrap();
            for step in 1.. {
                lib.save_checkpoint(&lease, 0, &checkpoint_at(step))
                    .unwrap();
                println!("checkpoint {step}");
            }
        }
        other => panic!("unknown child mode {other}"),
    }
}

#[test]
fn a_book_round_trips_through_a_new_process_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("lib.sqlite");
    let (book, pages) = sample_book(7, 4, 256);
    let id = Library::open(&path)
        .unwrap()
        .create_book(&book, &pages)
        .unwrap();

    let out = child("reader", &path, &id.to_string()).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("BOOK ").map(|(_, rest)| rest))
        .unwrap_or_else(|| panic!("the child printed no book: {stdout}"));
    let read: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(read["title"], book.title);
    assert_eq!(read["prompt"], book.prompt);
    assert_eq!(read["story_settings"], book.story_settings);
    assert_eq!(read["style_prefix"], book.style_prefix);
    assert_eq!(read["model_ids"], book.model_ids);
    for (i, page) in pages.iter().enumerate() {
        let p = &read["pages"][i];
        assert_eq!(p["sentence"], page.sentence);
        assert_eq!(p["settings"], page.settings);
        assert_eq!(p["seed"], page.seed);
        assert_eq!(p["similarity"], page.similarity.unwrap());
        let bytes = std::fs::read(path.with_extension("pages").join(format!("{i}.png"))).unwrap();
        assert_eq!(&bytes, page.png.as_ref().unwrap(), "page {i} image differs");
    }
}

#[test]
fn sigkill_at_random_points_never_loses_or_half_writes_a_book() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("lib.sqlite");
    Library::open(&path).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(42);
    let mut reported: Vec<(i64, u64)> = Vec::new();
    let mut next = 0u64;
    for round in 0..24 {
        let mut proc = child("writer", &path, &next.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = proc.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<(i64, u64)>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let mut parts = match line.split_once("saved ") {
                    Some((_, rest)) => rest.split(' '),
                    None => continue,
                };
                let id = parts.next().and_then(|p| p.parse().ok());
                let n = parts.next().and_then(|p| p.parse().ok());
                if let (Some(id), Some(n)) = (id, n) {
                    let _ = tx.send((id, n));
                }
            }
        });
        // Kill at a random point after the writer is under way, however slow its start.
        let first = rx.recv_timeout(std::time::Duration::from_secs(30));
        std::thread::sleep(std::time::Duration::from_millis(rng.random_range(0..150)));
        proc.kill().unwrap(); // SIGKILL on Unix
        proc.wait().unwrap();
        reader.join().unwrap();
        let saved: Vec<(i64, u64)> = first.into_iter().chain(rx.try_iter()).collect();
        next = saved.iter().map(|(_, n)| n + 1).max().unwrap_or(next) + 1000 * (round + 1);
        reported.extend(saved);

        let lib = Library::open(&path).unwrap();
        assert_eq!(lib.integrity_check().unwrap(), "ok", "round {round}");
        for (id, n) in &reported {
            let book = lib
                .book(*id)
                .unwrap_or_else(|e| panic!("reported book {id} is gone: {e}"));
            let (want, pages) = sample_book(*n, 3, 96);
            assert_eq!(book.title, want.title);
            assert_eq!(book.pages.len(), 3);
            for (p, w) in book.pages.iter().zip(&pages) {
                assert_eq!(
                    p.png.as_ref(),
                    w.png.as_ref(),
                    "book {id} page {}",
                    p.position
                );
            }
        }
        for summary in lib.list(0, 10_000).unwrap() {
            let book = lib.book(summary.id).unwrap();
            assert!(
                book.is_complete() && book.pages.len() == 3,
                "half-written book {}",
                summary.id
            );
        }
    }
    assert!(
        reported.len() >= 20,
        "only {} books were saved across the kills",
        reported.len()
    );
}

/// The checkpoint a run saves after `step` steps: a megabyte or more, different at every step,
/// so a torn write would show.
fn checkpoint_at(step: usize) -> Checkpoint {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(step as u64);
    let len = (1 << 20) + step * 4099;
    Checkpoint {
        sentence: "The fox saw a lantern.".into(),
        step,
        state: (0..len).map(|_| rng.random()).collect(),
    }
}

#[test]
fn sigkill_during_a_checkpoint_write_leaves_the_previous_checkpoint_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("lib.sqlite");
    let (book, pages) = sample_book(1, 1, 16);
    let id = Library::open(&path)
        .unwrap()
        .create_book(&book, &pages)
        .unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    for round in 0..8 {
        let mut proc = child("checkpointer", &path, &id.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = proc.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<usize>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(n) = line
                    .strip_prefix("checkpoint ")
                    .and_then(|n| n.parse().ok())
                {
                    let _ = tx.send(n);
                }
            }
        });
        let first = rx.recv_timeout(std::time::Duration::from_secs(30));
        std::thread::sleep(std::time::Duration::from_millis(rng.random_range(0..200)));
        proc.kill().unwrap(); // SIGKILL, most likely mid-write: each write is over a megabyte
        proc.wait().unwrap();
        reader.join().unwrap();
        let last = first.into_iter().chain(rx.try_iter()).max();
        let lib = Library::open(&path).unwrap();
        assert_eq!(lib.integrity_check().unwrap(), "ok", "round {round}");
        let saved = lib
            .checkpoint(id, 0)
            .unwrap()
            .expect("a checkpoint survives");
        let last = last.expect("the child saved at least one checkpoint");
        // The one reported last, or the one being written when it was killed: never torn.
        assert!(
            saved.step == last || saved.step == last + 1,
            "round {round}"
        );
        assert_eq!(
            saved,
            checkpoint_at(saved.step),
            "round {round}: torn checkpoint"
        );
        // The next child takes the lease the killed one left once it expires; clear it here.
        drop(lib);
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute("DELETE FROM leases", []).unwrap();
    }
}

#[test]
fn a_version_1_library_opens_with_its_data_and_becomes_searchable() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("old.sqlite");
    std::fs::copy(fixture("library-v1.sqlite"), &path).unwrap();
    let lib = Library::open(&path).unwrap();
    assert_eq!(lib.schema_version().unwrap(), SCHEMA_VERSION);
    let book = lib.book(1).unwrap();
    assert_eq!(book.title, "The Lantern Fox");
    assert_eq!(book.story_settings["sampling"]["seed"], 7);
    assert_eq!(book.pages.len(), 2);
    assert_eq!(book.pages[1].sentence, "It glowed all night by the river.");
    let img = image::load_from_memory(book.pages[0].png.as_ref().unwrap())
        .unwrap()
        .to_rgb8();
    assert_eq!(img.get_pixel(3, 3).0, [200, 120, 40]);
    let hits = lib.search("glowed river", 10).unwrap();
    assert_eq!(hits.iter().map(|b| b.id).collect::<Vec<_>>(), vec![1]);
    assert!(lib.frames(1, 0).unwrap().is_empty());
}

#[test]
fn operations_keep_order_search_and_thumbnails_in_step() {
    let tmp = tempfile::tempdir().unwrap();
    let mut lib = Library::open(&tmp.path().join("lib.sqlite")).unwrap();
    let (book, pages) = sample_book(3, 3, 64);
    let id = lib.create_book(&book, &pages).unwrap();
    assert_eq!(lib.book(id).unwrap().title, book.title);

    lib.reorder_pages(id, &[2, 0, 1]).unwrap();
    let order: Vec<String> = lib
        .book(id)
        .unwrap()
        .pages
        .iter()
        .map(|p| p.sentence.clone())
        .collect();
    assert_eq!(
        order,
        vec![
            pages[2].sentence.clone(),
            pages[0].sentence.clone(),
            pages[1].sentence.clone()
        ]
    );
    assert!(lib.reorder_pages(id, &[0, 0, 1]).is_err());

    lib.rename(id, "Moonlit 🌙 \"Fox\"").unwrap();
    assert_eq!(lib.search("moonlit", 5).unwrap()[0].id, id);
    let hits = lib.search("'); DROP TABLE books;--", 5).unwrap();
    assert!(hits.is_empty(), "{hits:?}");
    assert_eq!(lib.count_books().unwrap(), 1);

    let err = lib.update_page(id, 9, &pages[0]).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::PageOutOfRange {
                page: 9,
                count: 3,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("has 3 pages; there is no page 9"));

    let copy = lib.duplicate(id).unwrap();
    assert_eq!(lib.book(copy).unwrap().pages.len(), 3);
    let listed = lib.list(0, 10).unwrap();
    assert_eq!(listed[0].id, copy, "newest first");
    let thumb = image::load_from_memory(listed[0].cover_thumbnail.as_ref().unwrap()).unwrap();
    assert!(thumb.width() <= 128 && thumb.height() <= 128);

    lib.add_frame(id, 0, 10, &png(1, 16)).unwrap();
    assert_eq!(lib.frames(id, 0).unwrap().len(), 1);
    lib.delete(id).unwrap();
    assert!(matches!(lib.book(id), Err(StoreError::NoSuchBook(_))));
    let hits: Vec<i64> = lib
        .search("moonlit", 5)
        .unwrap()
        .iter()
        .map(|b| b.id)
        .collect();
    assert_eq!(
        hits,
        vec![copy],
        "the deleted book left the index, its copy did not"
    );
    assert!(lib.delete(id).is_err());
}

fn assert_untouched_refusal(path: &Path, needle: &str) {
    let before = std::fs::read(path).unwrap();
    let err = Library::open(path)
        .err()
        .expect("the library must be refused")
        .to_string();
    assert!(err.contains(needle), "{err}");
    assert_eq!(
        std::fs::read(path).unwrap(),
        before,
        "the file was modified"
    );
}

#[test]
fn foreign_damaged_and_read_only_files_are_refused_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let text = tmp.path().join("notes.sqlite");
    std::fs::write(&text, "my shopping list").unwrap();
    assert_untouched_refusal(&text, "not a Storybook library");

    // A real library whose pages are then overwritten with garbage.
    let damaged = tmp.path().join("damaged.sqlite");
    {
        let mut lib = Library::open(&damaged).unwrap();
        for n in 0..5 {
            let (b, p) = sample_book(n, 2, 64);
            lib.create_book(&b, &p).unwrap();
        }
    }
    let mut bytes = std::fs::read(&damaged).unwrap();
    for b in bytes.iter_mut().skip(4096).take(16384) {
        *b = 0xA5;
    }
    std::fs::write(&damaged, &bytes).unwrap();
    assert_untouched_refusal(&damaged, "damaged");

    let readonly = tmp.path().join("ro.sqlite");
    Library::open(&readonly).unwrap();
    let mut perms = std::fs::metadata(&readonly).unwrap().permissions();
    perms.set_readonly(true);
    std::fs::set_permissions(&readonly, perms).unwrap();
    assert_untouched_refusal(&readonly, "read-only");

    let ro_dir = tmp.path().join("locked");
    std::fs::create_dir(&ro_dir).unwrap();
    let mut perms = std::fs::metadata(&ro_dir).unwrap().permissions();
    perms.set_readonly(true);
    std::fs::set_permissions(&ro_dir, perms).unwrap();
    let err = Library::open(&ro_dir.join("new.sqlite"))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("read-only"), "{err}");
    assert!(!ro_dir.join("new.sqlite").exists());

    let err = Library::open(tmp.path()).err().unwrap().to_string();
    assert!(err.contains("is a folder"), "{err}");
}
