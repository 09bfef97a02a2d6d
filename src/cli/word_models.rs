//! Loading the models that turn a picture into words, with their embedded lexicons, for every
//! command that needs them: CLIP with the English lexicons, Chinese CLIP with the imagery
//! keywords. Each says on stderr when it had to embed terms (cached for next time).

use std::path::Path;
use std::time::Instant;

use anyhow::Context;

use super::progress::TerminalDownload;
use super::GlobalArgs;
use crate::ml::weights::ModelKind;
use crate::ml::words::label_cache::LabelCache;
use crate::ml::words::lexicon::Lexicon;
use crate::ml::words::zh_keywords::ChineseWords;
use crate::ml::words::ImageWords;

pub(crate) fn load_image_words(
    global: &GlobalArgs,
    clip: Option<&Path>,
    lexicons: Option<&Path>,
) -> anyhow::Result<ImageWords> {
    let lexicons = Lexicon::load_all(lexicons)?;
    let files = global.locator().locate(
        ModelKind::Clip,
        clip,
        &mut TerminalDownload::new(global.json),
    )?;
    let device = crate::ml::device::open(&global.device)?;
    let started = Instant::now();
    let words = ImageWords::load(&files, &device, &lexicons, &LabelCache::default_location())
        .context("could not prepare CLIP and its lexicons")?;
    let computed: usize = words.cache_reports.iter().map(|r| r.computed).sum();
    if computed > 0 && !global.json {
        eprintln!(
            "embedded {computed} lexicon terms in {:.1} s (cached for next time)",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(words)
}

/// Chinese CLIP with the imagery keywords embedded (cached after the first run).
pub(crate) fn load_chinese_words(
    global: &GlobalArgs,
    cn_clip: Option<&Path>,
    terms: Option<&Path>,
    lexicons: Option<&Path>,
) -> anyhow::Result<ChineseWords> {
    let lexicon = Lexicon::chinese_imagery(terms, lexicons)?;
    let files = global.locator().locate(
        ModelKind::ChineseClip,
        cn_clip,
        &mut TerminalDownload::new(global.json),
    )?;
    let device = crate::ml::device::open(&global.device)?;
    let started = Instant::now();
    let words = ChineseWords::load(&files, &device, &lexicon, &LabelCache::default_location())
        .context("could not prepare Chinese CLIP and its keywords")?;
    if words.cache_report.computed > 0 && !global.json {
        eprintln!(
            "embedded {} keywords in {:.1} s (cached for next time)",
            words.cache_report.computed,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(words)
}
