//! The engine's image-to-words jobs: load the picture, caption it with BLIP when BLIP is on disk
//! and the user wants it, then rank the lexicons with CLIP into a prompt or a poem's clues.

use std::ops::ControlFlow;

use super::engine::{status, Engine};
use super::job_thread::Outbox;
use super::pictures;
use super::protocol::*;
use crate::ml::words::caption::{optional_captioner, CaptionOptions, Captioner};
use crate::ml::words::interrogate::image_to_prompt;
use crate::ml::words::lexicon::Lexicon;
use crate::ml::words::poem::image_to_poem;
use crate::ml::words::rank::image_embedding;
use crate::ml::words::zh_keywords::ChineseWords;
use crate::ml::words::zh_poem::image_to_zh_poem;

impl Engine {
    fn decode(&self, image: &ImageSource) -> anyhow::Result<image::RgbImage> {
        Ok(match image {
            ImageSource::Path(p) => crate::ml::image_io::load_rgb(p)?,
            ImageSource::Bytes { name, bytes } => crate::ml::image_io::decode_rgb(bytes)
                .map_err(|e| anyhow::anyhow!("{name} cannot be used: {e}"))?,
        })
    }

    /// BLIP, loaded the first time a job wants a caption and kept; `None` while no usable BLIP
    /// is on disk (looked for again at every job, so a download turns captions on at once, and
    /// nobody is sent to the Models panel for an optional model). A BLIP folder chosen in
    /// Settings that cannot be used is an error.
    fn captioner(&mut self, out: &Outbox) -> anyhow::Result<Option<&Captioner>> {
        if self.blip.is_none() {
            let explicit = self.explicit(ModelKind::Blip);
            let device = self.device()?;
            status(out, Job::Words, "Looking for BLIP…");
            let found = optional_captioner(&self.locator(), explicit.as_deref(), &device)?;
            self.blip = found.ok().map(Box::new);
        }
        Ok(self.blip.as_deref())
    }

    fn caption(
        &mut self,
        wanted: bool,
        rgb: &image::RgbImage,
        out: &Outbox,
    ) -> anyhow::Result<Option<String>> {
        if !wanted {
            return Ok(None);
        }
        let Some(captioner) = self.captioner(out)? else {
            return Ok(None);
        };
        status(out, Job::Words, "Captioning…");
        Ok(Some(
            captioner.caption(rgb, &CaptionOptions::default())?.caption,
        ))
    }

    /// Chinese CLIP with its keywords embedded, and the Chinese poem GPT-2, loaded once.
    fn ensure_chinese(&mut self, out: &Outbox) -> anyhow::Result<()> {
        if self.zh_words.is_none() {
            let files = self.find(ModelKind::ChineseClip, out)?;
            status(out, Job::Words, "Loading Chinese CLIP and its keywords…");
            let device = self.device()?;
            let lexicon = Lexicon::chinese_imagery(None, None)?;
            let words = ChineseWords::load(&files, &device, &lexicon, &self.label_cache())?;
            self.zh_words = Some(Box::new(words));
        }
        if self.gpt2_zh.is_none() {
            let files = self.find(ModelKind::Gpt2Chinese, out)?;
            status(out, Job::Words, "Loading the Chinese poem GPT-2…");
            let device = self.device()?;
            self.gpt2_zh = Some(crate::ml::models::load::gpt2_chinese(&files, &device)?);
        }
        Ok(())
    }

    pub(super) fn words(&mut self, command: Command, out: &Outbox) -> anyhow::Result<()> {
        match command {
            Command::LoadImage(image) => {
                let rgb = self.decode(&image)?;
                out.send(Event::ImageLoaded {
                    name: image.name(),
                    picture: pictures::from_rgb(&rgb),
                });
            }
            Command::Prompt {
                image,
                mode,
                top,
                caption,
            } => {
                let rgb = self.decode(&image)?;
                self.ensure_labels(out)?;
                let wanted = caption && mode.wants_caption();
                let caption = self.caption(wanted, &rgb, out)?;
                let (Some((clip, tok, _)), Some(labels)) = (&self.clip, &self.labels) else {
                    return Ok(());
                };
                status(out, Job::Words, "Reading the picture…");
                let e = image_embedding(clip, &rgb)?;
                let r = image_to_prompt(clip, tok, labels, &e, mode, top, caption.as_deref())?;
                out.send(Event::PromptDone(Box::new(r)));
            }
            Command::Poem {
                image,
                options,
                caption,
            } => {
                let rgb = self.decode(&image)?;
                self.ensure_labels(out)?;
                self.ensure_gpt2(Job::Words, out)?;
                let caption = self.caption(caption, &rgb, out)?;
                let (Some((clip, tok, _)), Some(labels), Some((gpt2, gtok))) =
                    (&self.clip, &self.labels, &self.gpt2)
                else {
                    return Ok(());
                };
                status(out, Job::Words, "Writing a poem…");
                let e = image_embedding(clip, &rgb)?;
                let r = image_to_poem(
                    clip,
                    tok,
                    gpt2,
                    gtok,
                    labels,
                    &e,
                    caption.as_deref(),
                    &options,
                    |_, _| {
                        if out.cancelled() {
                            ControlFlow::Break(())
                        } else {
                            ControlFlow::Continue(())
                        }
                    },
                )?;
                out.send(Event::PoemDone(Box::new(r)));
            }
            Command::ZhPoem { image, options } => {
                let rgb = self.decode(&image)?;
                self.ensure_chinese(out)?;
                let (Some(words), Some((gpt2, tok))) = (&self.zh_words, &self.gpt2_zh) else {
                    return Ok(());
                };
                status(out, Job::Words, "Reading the picture…");
                let e = words.image_embedding(&rgb)?;
                status(out, Job::Words, "Writing a poem…");
                let r = image_to_zh_poem(words, gpt2, tok, &e, &options, |_| {
                    if out.cancelled() {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                })?;
                out.send(Event::ZhPoemDone(Box::new(r)));
            }
            _ => {}
        }
        Ok(())
    }
}
