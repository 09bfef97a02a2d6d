//! The library thread's jobs: list and search books with their covers, open one as a draft,
//! save a draft over its book, duplicate, delete and export, and keep the book in progress
//! beside the library. It opens the library lazily, so a broken library file is one error
//! notice, not a studio that cannot start. Saving never replaces a stored picture with nothing.

use std::path::PathBuf;

use anyhow::Context;

use super::draft_jobs::DraftJobs;
use super::job_thread::{Jobs, Outbox};
use super::library_search::{find_pages, find_similar, SearchModels};
use super::pictures;
use super::protocol::*;
use crate::book::BookRecipe;
use crate::store::{Book, BookSummary, Library, NewBook, NewPage};

pub struct LibraryJobs {
    path: PathBuf,
    lib: Option<Library>,
    last_query: (String, SearchMode),
    draft: DraftJobs,
    search: SearchModels,
}

impl LibraryJobs {
    pub fn new(path: Option<PathBuf>) -> Self {
        let path = path.unwrap_or_else(Library::default_path);
        Self {
            draft: DraftJobs::beside(&path),
            path,
            lib: None,
            last_query: (String::new(), SearchMode::default()),
            search: SearchModels::default(),
        }
    }

    /// The library `settings` name, searched with the models they name.
    pub fn configured(settings: Box<EngineSettings>) -> Self {
        let mut jobs = Self::new(settings.library.clone());
        jobs.search = SearchModels::with(settings);
        jobs
    }

    fn lib(&mut self) -> anyhow::Result<&mut Library> {
        if self.lib.is_none() {
            let lib = Library::open(&self.path).with_context(|| {
                format!("the library {} could not be opened", self.path.display())
            })?;
            self.lib = Some(lib);
        }
        self.lib
            .as_mut()
            .ok_or_else(|| anyhow::anyhow!("the library is not open"))
    }

    fn list(&mut self, query: String, mode: SearchMode, out: &Outbox) -> anyhow::Result<()> {
        self.last_query = (query.clone(), mode);
        self.lib()?;
        let Some(lib) = self.lib.as_mut() else {
            return Ok(());
        };
        if query.trim().is_empty() {
            let rows = lib.list(0, 500)?;
            out.send(Event::Books(rows.into_iter().map(card).collect()));
            out.send(Event::SearchNote(None));
            return Ok(());
        }
        let (hits, note) = find_pages(&mut self.search, lib, &query, mode, out)?;
        out.send(Event::Books(cards_of(lib, &hits)?));
        out.send(Event::SearchNote(note));
        Ok(())
    }

    fn similar(&mut self, image: ImageSource, out: &Outbox) -> anyhow::Result<()> {
        let picture = match &image {
            ImageSource::Path(p) => crate::ml::image_io::load_rgb(p)?,
            ImageSource::Bytes { name, bytes } => crate::ml::image_io::decode_rgb(bytes)
                .map_err(|e| anyhow::anyhow!("{name} cannot be used: {e}"))?,
        };
        self.lib()?;
        let Some(lib) = self.lib.as_mut() else {
            return Ok(());
        };
        let (hits, note) = find_similar(&mut self.search, lib, &picture, out)?;
        out.send(Event::Books(cards_of(lib, &hits)?));
        out.send(Event::SearchNote(Some(note.unwrap_or_else(|| {
            format!("Books with pictures like {}, closest first.", image.name())
        }))));
        Ok(())
    }

    fn open(&mut self, id: i64, out: &Outbox) -> anyhow::Result<()> {
        let book = self.lib()?.book(id)?;
        let pictures = book
            .pages
            .iter()
            .map(|p| p.png.as_deref().and_then(|b| pictures::from_bytes(b).ok()))
            .collect();
        out.send(Event::BookOpened(Box::new(OpenedBook {
            draft: draft_of(book),
            pictures,
            unsaved: false,
        })));
        Ok(())
    }

    fn create(
        &mut self,
        draft: &BookDraft,
        recipe: &BookRecipe,
        pages: &[NewPage],
        title: String,
    ) -> anyhow::Result<i64> {
        let book = NewBook {
            title,
            prompt: draft.prompt.clone(),
            story_settings: serde_json::to_value(recipe).unwrap_or_default(),
            story_seed: draft.sampling.seed,
            style_prefix: draft.illustration.style_prefix.clone(),
            style_suffix: draft.illustration.style_suffix.clone(),
            model_ids: serde_json::json!({}),
            planned_pages: pages.len(),
        };
        Ok(self.lib()?.create_book(&book, pages)?)
    }

    fn save(&mut self, draft: BookDraft, out: &Outbox) -> anyhow::Result<()> {
        let recipe = BookRecipe {
            sampling: draft.sampling.clone(),
            illustration: draft.illustration.clone(),
            planned_sentences: draft.pages.iter().map(|p| p.sentence.clone()).collect(),
            story_text: draft.story.clone(),
            keep_frames: false,
        };
        let pages: Vec<NewPage> = draft.pages.iter().map(new_page).collect();
        let title = if draft.title.trim().is_empty() {
            crate::book::title_of(&draft.prompt)
        } else {
            draft.title.clone()
        };
        let lib = self.lib()?;
        // A book changed elsewhere since the studio opened it keeps those changes; the
        // studio's version becomes a new book beside it.
        let changed_elsewhere = match (draft.book_id, draft.stamp) {
            (Some(id), Some(stamp)) => lib.book(id).is_ok_and(|b| b.updated_at != stamp),
            _ => false,
        };
        let mut note = None;
        let id = match draft.book_id {
            Some(id) if changed_elsewhere => {
                let new_id = self.create(&draft, &recipe, &pages, title)?;
                note = Some(format!(
                    "Book {id} was changed by another program (the CLI, say) since it was opened                      here, so this version was saved as a new book {new_id}; book {id} keeps                      the other changes."
                ));
                new_id
            }
            Some(id) if lib.book(id).is_ok() => {
                let stored = lib.book(id)?;
                lib.rename(id, &title)?;
                for (i, page) in pages.iter().enumerate() {
                    match stored.pages.get(i) {
                        Some(old) => {
                            let mut page = keep_stored_picture(page, &stored.pages);
                            // The studio holds similarity as f32: the same number read back
                            // keeps the stored digits.
                            if page.similarity.map(|s| s as f32) == old.similarity.map(|s| s as f32)
                            {
                                page.similarity = old.similarity;
                            }
                            if page.png == old.png {
                                // The picture did not change: leave it, and its kept frames.
                                lib.update_page_text(id, i, &page)?;
                            } else {
                                lib.update_page(id, i, &page)?;
                            }
                        }
                        None => {
                            lib.add_page(id, &keep_stored_picture(page, &stored.pages))?;
                        }
                    }
                }
                for i in (pages.len()..stored.pages.len()).rev() {
                    lib.delete_page(id, i)?;
                }
                // The recipe follows the pages, so reopening does not bring deleted ones back;
                // how the book was first written and drawn stays as it was.
                let recipe = match serde_json::from_value::<BookRecipe>(stored.story_settings) {
                    Ok(old) => BookRecipe {
                        planned_sentences: recipe.planned_sentences,
                        story_text: if recipe.story_text.is_empty() {
                            old.story_text
                        } else {
                            recipe.story_text
                        },
                        ..old
                    },
                    Err(_) => recipe,
                };
                let recipe = serde_json::to_value(&recipe).unwrap_or_default();
                lib.update_recipe_and_plan(id, &recipe, pages.len())?;
                id
            }
            _ => self.create(&draft, &recipe, &pages, title)?,
        };
        let stamp = self.lib()?.book(id).ok().map(|b| b.updated_at);
        out.send(Event::BookSaved { id, stamp, note });
        let (query, mode) = self.last_query.clone();
        self.list(query, mode, out)
    }
}

/// A page the studio has no picture for keeps the stored picture drawn for the same text, so a
/// book whose pictures did not reach the studio is never saved without them. (A page whose
/// text matches none was added or rewritten; its position's old picture went with a page the
/// user deleted.)
fn keep_stored_picture(page: &NewPage, stored: &[crate::store::Page]) -> NewPage {
    if page.png.is_some() {
        return page.clone();
    }
    let same_text = stored
        .iter()
        .find(|s| s.png.is_some() && s.sentence.trim() == page.sentence.trim());
    match same_text {
        Some(s) => NewPage {
            png: s.png.clone(),
            settings: if page.settings.is_null() {
                s.settings.clone()
            } else {
                page.settings.clone()
            },
            seed: if page.seed == 0 { s.seed } else { page.seed },
            iterations: if page.iterations == 0 {
                s.iterations
            } else {
                page.iterations
            },
            similarity: page.similarity.or(s.similarity),
            sentence: page.sentence.clone(),
        },
        None => page.clone(),
    }
}

fn new_page(p: &DraftPage) -> NewPage {
    NewPage {
        sentence: p.sentence.clone(),
        settings: p
            .settings
            .as_ref()
            .and_then(|s| serde_json::to_value(s).ok())
            .unwrap_or_default(),
        seed: p.seed,
        iterations: p.iterations,
        similarity: p.similarity.map(f64::from),
        png: p.png.clone(),
    }
}

/// One card per book, in the order of its best page, naming that page.
fn cards_of(lib: &Library, hits: &[crate::book::search::Hit]) -> anyhow::Result<Vec<BookCard>> {
    let mut cards: Vec<BookCard> = Vec::new();
    for hit in hits {
        if cards.iter().any(|c| c.id == hit.book_id) {
            continue;
        }
        let mut c = card(lib.summary(hit.book_id)?);
        c.matched = Some(format!("page {}: {}", hit.page, hit.sentence));
        cards.push(c);
    }
    Ok(cards)
}

fn card(s: BookSummary) -> BookCard {
    BookCard {
        matched: None,
        id: s.id,
        title: s.title,
        pages: s.page_count,
        planned_pages: s.planned_pages,
        updated_at: s.updated_at,
        cover: s
            .cover_thumbnail
            .as_deref()
            .and_then(|b| pictures::from_bytes(b).ok()),
    }
}

fn draft_of(book: Book) -> BookDraft {
    let recipe: Option<BookRecipe> = serde_json::from_value(book.story_settings.clone()).ok();
    let mut pages: Vec<DraftPage> = book
        .pages
        .into_iter()
        .map(|p| DraftPage {
            checkpoint: None,
            drawn_for: p.png.as_ref().map(|_| p.sentence.clone()),
            sentence: p.sentence,
            settings: serde_json::from_value(p.settings).ok(),
            seed: p.seed,
            iterations: p.iterations,
            similarity: p.similarity.map(|s| s as f32),
            png: p.png,
        })
        .collect();
    // An interrupted book: the planned sentences not illustrated yet come back as pages to do.
    if let Some(r) = &recipe {
        for sentence in r.planned_sentences.iter().skip(pages.len()) {
            pages.push(DraftPage {
                checkpoint: None,
                sentence: sentence.clone(),
                ..DraftPage::default()
            });
        }
    }
    BookDraft {
        book_id: Some(book.id),
        stamp: Some(book.updated_at),
        title: book.title,
        prompt: book.prompt,
        story: recipe
            .as_ref()
            .map(|r| r.story_text.clone())
            .unwrap_or_default(),
        sampling: recipe
            .as_ref()
            .map(|r| r.sampling.clone())
            .unwrap_or_default(),
        illustration: recipe.map(|r| r.illustration).unwrap_or_default(),
        pages,
    }
}

impl Jobs for LibraryJobs {
    fn run(&mut self, command: Command, out: &Outbox) -> anyhow::Result<()> {
        match command {
            Command::Configure(settings) => {
                let path = settings
                    .library
                    .clone()
                    .unwrap_or_else(Library::default_path);
                if path != self.path {
                    *self = LibraryJobs::new(Some(path));
                }
                // Models are looked for again with the new settings when next needed.
                self.search = SearchModels::with(settings);
                Ok(())
            }
            Command::ListBooks { query, mode } => self.list(query, mode, out),
            Command::FindSimilar(image) => self.similar(image, out),
            Command::OpenBook(id) => self.open(id, out),
            Command::SaveBook(draft) => self.save(*draft, out),
            Command::LoadDraft => {
                out.send(Event::DraftLoaded(self.draft.load()));
                Ok(())
            }
            Command::SaveDraft { draft, unsaved } => {
                self.draft.save(&draft, unsaved).map_err(anyhow::Error::msg)
            }
            Command::DeleteBook(id) => {
                self.lib()?.delete(id)?;
                out.send(Event::BookDeleted { id });
                let (query, mode) = self.last_query.clone();
                self.list(query, mode, out)
            }
            Command::DuplicateBook(id) => {
                self.lib()?.duplicate(id)?;
                let (query, mode) = self.last_query.clone();
                self.list(query, mode, out)
            }
            Command::ExportBook { id, path } => {
                let book = self.lib()?.book(id)?;
                let warning =
                    crate::export::export_book(&book, &path).map_err(anyhow::Error::msg)?;
                out.send(Event::Exported { path, warning });
                Ok(())
            }
            _ => Ok(()),
        }
    }
}
