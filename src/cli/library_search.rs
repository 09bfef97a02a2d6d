//! `library search TEXT [--mode words|meaning|hybrid]` and `library similar IMAGE`: pages by
//! their words, their meaning (MiniLM), or their pictures (CLIP). Pages not embedded yet are
//! embedded first, with progress on stderr, and kept, so each page is embedded once.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use serde::Serialize;

use super::progress::TerminalDownload;
use super::GlobalArgs;
use crate::book::search::{backfill, search, similar, Embedder, Hit, SearchMode};
use crate::ml::weights::{ModelFiles, ModelKind};
use crate::store::Library;
use crate::story::printable;

/// How `library search` ranks pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ModeArg {
    /// Every word must appear.
    Words,
    /// Closest in meaning (all-MiniLM-L6-v2), whatever the words.
    Meaning,
    /// Both lists fused by rank; words alone when MiniLM is not on this computer.
    #[default]
    Hybrid,
}

#[derive(Serialize)]
struct Results {
    results: Vec<Hit>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
}

/// The name a model's vectors are stored under: its kind and folder, so the tiny test model's
/// vectors are never compared with the real one's.
fn vector_model_name(kind: &str, files: &ModelFiles) -> String {
    let folder = files
        .location
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("{kind}:{folder}")
}

/// Embeds the pages that have no vector yet, saying so on stderr when there are any.
fn bring_up_to_date(
    global: &GlobalArgs,
    lib: &mut Library,
    embedder: &Embedder,
    what: &str,
) -> anyhow::Result<()> {
    let cancel: &AtomicBool = super::interrupt::flag();
    let mut said = false;
    let n = backfill(lib, embedder, cancel, |done, total| {
        if !global.json {
            eprint!("\rEmbedding {what}: {done} of {total} pages");
            said = true;
        }
    })?;
    if said {
        eprintln!();
    }
    if super::interrupt::interrupted() {
        anyhow::bail!("stopped by Ctrl-C after embedding {n} pages; they are kept");
    }
    Ok(())
}

pub(super) fn run_search(
    global: &GlobalArgs,
    lib: &mut Library,
    text: &str,
    mode: ModeArg,
    minilm: Option<&Path>,
    limit: usize,
) -> anyhow::Result<()> {
    super::interrupt::install();
    let mut warnings = Vec::new();
    let locator = global.locator();
    let files = match mode {
        ModeArg::Words => None,
        ModeArg::Meaning => Some(locator.locate(
            ModelKind::Minilm,
            minilm,
            &mut TerminalDownload::new(global.json),
        )?),
        // The default mode never downloads: a search should not start a 90 MB transfer.
        ModeArg::Hybrid => match locator.find_local(ModelKind::Minilm, minilm) {
            Ok(files) => Some(files),
            Err(_) => {
                warnings.push(
                    "searched by words only: the MiniLM sentence model is not on this \
                     computer; `library search --mode meaning` fetches it (90 MB)"
                        .to_string(),
                );
                None
            }
        },
    };
    let model = match &files {
        Some(files) => {
            let device = crate::ml::device::open(&global.device)?;
            Some(crate::ml::models::load::minilm(files, &device)?)
        }
        None => None,
    };
    let embedder = match (&model, &files) {
        (Some(model), Some(files)) => Some(Embedder::Text {
            model,
            name: vector_model_name("minilm", files),
        }),
        _ => None,
    };
    if let Some(e) = &embedder {
        bring_up_to_date(global, lib, e, "sentences")?;
    }
    let mode = match (mode, &embedder) {
        (ModeArg::Words, _) | (ModeArg::Hybrid, None) => SearchMode::Words,
        (ModeArg::Meaning, _) => SearchMode::Meaning,
        (ModeArg::Hybrid, Some(_)) => SearchMode::Hybrid,
    };
    let results = search(lib, text, mode, embedder.as_ref(), limit)?;
    print_results(global, results, warnings)
}

pub(super) fn run_similar(
    global: &GlobalArgs,
    lib: &mut Library,
    image: &Path,
    clip: Option<&PathBuf>,
    limit: usize,
) -> anyhow::Result<()> {
    super::interrupt::install();
    let picture = crate::ml::image_io::load_rgb(image)?;
    let files = global.locator().locate(
        ModelKind::Clip,
        clip.map(PathBuf::as_path),
        &mut TerminalDownload::new(global.json),
    )?;
    let device = crate::ml::device::open(&global.device)?;
    let (model, _) = crate::ml::models::load::clip(&files, &device)?;
    let embedder = Embedder::Image {
        model: &model,
        name: vector_model_name("clip", &files),
    };
    bring_up_to_date(global, lib, &embedder, "pictures")?;
    let results = similar(lib, &model, embedder.name(), &picture, limit)?;
    print_results(global, results, Vec::new())
}

fn print_results(
    global: &GlobalArgs,
    results: Vec<Hit>,
    warnings: Vec<String>,
) -> anyhow::Result<()> {
    if global.json {
        return super::print_json(&Results { results, warnings });
    }
    for w in &warnings {
        eprintln!("warning: {w}.");
    }
    if results.is_empty() {
        println!("No pages found.");
    }
    for h in &results {
        println!(
            "{:>7.3}  book {:>4}, page {:>3}  {} — {}",
            h.score,
            h.book_id,
            h.page,
            printable::line(&h.title),
            printable::line(&h.sentence)
        );
    }
    Ok(())
}
