//! Search by meaning and by picture for the library thread: MiniLM and CLIP are loaded the
//! first time they are needed (local files only; a download is the user's choice in Models)
//! and kept; pages without vectors are embedded first, with progress, between searches, so
//! the window never waits.

use std::sync::atomic::AtomicBool;

use super::job_thread::Outbox;
use super::protocol::*;
use crate::book::search::{backfill, search, similar, Embedder, Hit};
use crate::ml::models::clip::Clip;
use crate::ml::models::minilm::MiniLm;
use crate::ml::weights::{Locator, ModelFiles};
use crate::store::Library;

/// The models searches use, loaded lazily, with the names their vectors are stored under.
#[derive(Default)]
pub struct SearchModels {
    settings: Option<Box<EngineSettings>>,
    minilm: Option<(MiniLm, String)>,
    clip: Option<(Clip, String)>,
}

fn vector_name(kind: &str, files: &ModelFiles) -> String {
    let folder = files
        .location
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("{kind}:{folder}")
}

impl SearchModels {
    /// No model loaded yet; they are looked for with these settings when needed.
    pub fn with(settings: Box<EngineSettings>) -> Self {
        Self {
            settings: Some(settings),
            ..Self::default()
        }
    }

    fn find(&self, kind: ModelKind) -> Option<ModelFiles> {
        let settings = self.settings.as_deref();
        let locator = Locator::from_env(settings.and_then(|s| s.models_dir.clone()), true);
        let explicit = settings.and_then(|s| match kind {
            ModelKind::Minilm => s.minilm.clone(),
            ModelKind::Clip => s.clip.clone(),
            _ => None,
        });
        locator.find_local(kind, explicit.as_deref()).ok()
    }

    fn device(&self) -> anyhow::Result<candle_core::Device> {
        let name = self.settings.as_ref().map_or("cpu", |s| s.device.as_str());
        Ok(crate::ml::device::open(if name.is_empty() {
            "cpu"
        } else {
            name
        })?)
    }

    /// MiniLM, or `None` when it is not on this computer.
    fn minilm(&mut self) -> anyhow::Result<Option<Embedder<'_>>> {
        if self.minilm.is_none() {
            let Some(files) = self.find(ModelKind::Minilm) else {
                return Ok(None);
            };
            let model = crate::ml::models::load::minilm(&files, &self.device()?)?;
            self.minilm = Some((model, vector_name("minilm", &files)));
        }
        Ok(self.minilm.as_ref().map(|(model, name)| Embedder::Text {
            model,
            name: name.clone(),
        }))
    }

    fn clip(&mut self) -> anyhow::Result<Option<&(Clip, String)>> {
        if self.clip.is_none() {
            let Some(files) = self.find(ModelKind::Clip) else {
                return Ok(None);
            };
            let (model, _) = crate::ml::models::load::clip(&files, &self.device()?)?;
            self.clip = Some((model, vector_name("clip", &files)));
        }
        Ok(self.clip.as_ref())
    }
}

/// Embeds what is missing, saying how far it got.
fn bring_up_to_date(
    lib: &mut Library,
    embedder: &Embedder,
    what: &str,
    out: &Outbox,
) -> anyhow::Result<()> {
    let cancel: &AtomicBool = out.cancel_flag();
    backfill(lib, embedder, cancel, |done, total| {
        out.send(Event::SearchNote(Some(format!(
            "Embedding {what} for search: {done} of {total} pages…"
        ))));
    })?;
    Ok(())
}

/// Pages for `query` in `mode`; hybrid and meaning fall back to words when MiniLM is not on
/// this computer, and say so.
pub fn find_pages(
    models: &mut SearchModels,
    lib: &mut Library,
    query: &str,
    mode: SearchMode,
    out: &Outbox,
) -> anyhow::Result<(Vec<Hit>, Option<String>)> {
    if mode == SearchMode::Words {
        return Ok((search(lib, query, mode, None, 200)?, None));
    }
    let Some(embedder) = models.minilm()? else {
        let note = "Searched by words only: the MiniLM sentence model is not on this \
                    computer; get it in Models to search by meaning."
            .to_string();
        return Ok((
            search(lib, query, SearchMode::Words, None, 200)?,
            Some(note),
        ));
    };
    bring_up_to_date(lib, &embedder, "sentences", out)?;
    Ok((search(lib, query, mode, Some(&embedder), 200)?, None))
}

/// Pages whose pictures look like `image`.
pub fn find_similar(
    models: &mut SearchModels,
    lib: &mut Library,
    image: &image::RgbImage,
    out: &Outbox,
) -> anyhow::Result<(Vec<Hit>, Option<String>)> {
    let Some((clip, name)) = models.clip()? else {
        let note = "Pictures cannot be compared: CLIP is not on this computer; get it in \
                    Models."
            .to_string();
        return Ok((Vec::new(), Some(note)));
    };
    let embedder = Embedder::Image {
        model: clip,
        name: name.clone(),
    };
    bring_up_to_date(lib, &embedder, "pictures", out)?;
    Ok((similar(lib, clip, name, image, 50)?, None))
}
