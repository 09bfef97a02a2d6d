//! Which models each command needs, so that when the first one is missing the error names every
//! other one that is missing too, instead of one per run.

use std::path::PathBuf;

use super::library::LibraryAction;
use super::Command;
use crate::ml::weights::{LocateError, Locator, ModelKind};

/// The models `command` loads, each with the file or folder given for it on the command line.
pub fn needed_models(command: Option<&Command>) -> Vec<(ModelKind, Option<PathBuf>)> {
    use super::words_zh::Lang;
    use ModelKind::{Blip, ChineseClip, Clip, Gpt2, Gpt2Chinese, Minilm, Vqgan};
    let Some(command) = command else {
        return Vec::new();
    };
    match command {
        Command::Story(a) => vec![(Gpt2, a.gpt2.clone())],
        Command::Finetune(a) => vec![(Gpt2, a.base.clone())],
        Command::Illustrate(a) => vec![(Clip, a.clip.clone()), (Vqgan, a.vqgan.clone())],
        Command::Book(a) => vec![
            (Gpt2, a.story.gpt2.clone()),
            (Clip, a.clip.clone()),
            (Vqgan, a.vqgan.clone()),
        ],
        Command::Caption(a) => vec![(Blip, a.blip.clone())],
        // BLIP is optional for these, and needed only when named with --blip.
        Command::Prompt(a) => with_blip(vec![(Clip, a.clip.clone())], &a.caption.blip),
        Command::Poem(a) if a.lang == Lang::Zh => vec![
            (ChineseClip, a.cn_clip.clone()),
            (Gpt2Chinese, a.gpt2_zh.clone()),
        ],
        Command::Keywords(a) => match a.lang {
            Lang::Zh => vec![(ChineseClip, a.cn_clip.clone())],
            Lang::En => vec![(Clip, a.clip.clone())],
        },
        Command::Poem(a) => with_blip(
            vec![(Clip, a.clip.clone()), (Gpt2, a.gpt2.clone())],
            &a.caption.blip,
        ),
        Command::Embed(a) => vec![(Minilm, a.minilm.clone())],
        Command::EvalPrompts(a) => with_blip(
            vec![(Clip, a.clip.clone()), (Minilm, a.minilm.clone())],
            &a.caption.blip,
        ),
        Command::Library(a) => match &a.action {
            LibraryAction::Regenerate { clip, vqgan, .. } => {
                vec![(Clip, clip.clone()), (Vqgan, vqgan.clone())]
            }
            _ => Vec::new(),
        },
        Command::Gui(_) | Command::Models(_) | Command::Bench(_) => Vec::new(),
    }
}

/// `needed`, and BLIP when a folder was named for it.
fn with_blip(
    mut needed: Vec<(ModelKind, Option<PathBuf>)>,
    blip: &Option<PathBuf>,
) -> Vec<(ModelKind, Option<PathBuf>)> {
    if let Some(dir) = blip {
        needed.push((ModelKind::Blip, Some(dir.clone())));
    }
    needed
}

/// The model-location error at the root of `err`, if that is what ended the command.
fn locate_error(err: &anyhow::Error) -> Option<&LocateError> {
    err.chain().find_map(|cause| {
        cause.downcast_ref::<LocateError>().or_else(|| {
            match cause.downcast_ref::<crate::ml::Error>() {
                Some(crate::ml::Error::Locate(e)) => Some(e),
                _ => None,
            }
        })
    })
}

/// When `err` says one needed model is missing, adds every other needed model that is missing
/// on disk too (searched without downloading), each with its own advice.
pub fn name_every_missing_model(
    err: anyhow::Error,
    needed: &[(ModelKind, Option<PathBuf>)],
    locator: &Locator,
) -> anyhow::Error {
    let Some(first) = locate_error(&err) else {
        return err;
    };
    if first.is_cancelled() {
        return err;
    }
    let others: Vec<LocateError> = needed
        .iter()
        .filter(|(kind, _)| *kind != first.kind())
        .filter_map(|(kind, explicit)| locator.find_local(*kind, explicit.as_deref()).err())
        .map(|e| match e {
            // Say what the command's own search would also have tried.
            LocateError::NotFound {
                kind, mut tried, ..
            } if !locator.allow_download => {
                tried.push("no download: offline mode (--offline or HF_HUB_OFFLINE=1)".into());
                locator.not_found(kind, tried, None)
            }
            other => other,
        })
        .collect();
    if others.is_empty() {
        return err;
    }
    let names: Vec<&str> = std::iter::once(first.kind())
        .chain(others.iter().map(LocateError::kind))
        .map(ModelKind::display_name)
        .collect();
    let mut msg = format!(
        "{} models this command needs are missing: {}.\n\n{err:#}",
        names.len(),
        names.join(", ")
    );
    for other in &others {
        msg.push_str(&format!("\n\n{other}"));
    }
    anyhow::anyhow!(msg)
}
