//! The engine's drawing job: one page by VQGAN+CLIP, in the precision the options ask where
//! the CPU allows it, with previews, checkpoints and the time left sent as it goes.

use std::time::Instant;

use super::engine::{status, Engine};
use super::job_thread::Outbox;
use super::pictures;
use super::protocol::*;
use crate::ml::illustrate::{precision, Illustrator, ImageInputs, Outcome, Precision, Resume};

impl Engine {
    /// VQGAN, loaded once and kept; a decoder switched to bf16 is loaded again for an f32
    /// drawing, whose f32 weights it freed.
    fn ensure_vqgan(&mut self, job: Job, out: &Outbox, bf16: bool) -> anyhow::Result<()> {
        if !bf16 && self.vqgan.as_ref().is_some_and(|v| v.decoder_is_bf16()) {
            self.vqgan = None;
        }
        if self.vqgan.is_none() {
            let files = self.find(ModelKind::Vqgan, out)?;
            status(out, job, "Loading VQGAN…");
            let device = self.device()?;
            self.vqgan = Some(crate::ml::models::load::vqgan(&files, &device)?);
        }
        Ok(())
    }

    pub(super) fn illustrate(
        &mut self,
        page: usize,
        sentence: String,
        options: IllustrateOptions,
        resume: Option<std::sync::Arc<[u8]>>,
        out: &Outbox,
    ) -> anyhow::Result<()> {
        let job = Job::Illustrate { page };
        let mut options = options;
        let bf16 = options.precision == Precision::Bf16;
        self.ensure_clip(job, out, bf16)?;
        self.ensure_vqgan(job, out, bf16)?;
        let mut said = "Illustrating…".to_string();
        if let (Some((clip, _, _)), Some(vqgan)) = (&mut self.clip, &mut self.vqgan) {
            let prepared = precision::prepare(clip, vqgan, options.precision);
            if prepared.is_err() {
                // A switch that failed midway leaves models neither f32 nor bf16: the next
                // drawing loads them again rather than trust them.
                self.clip = None;
                self.vqgan = None;
            }
            let (precision, fallback) = prepared?;
            options.precision = precision;
            if let Some(w) = fallback {
                said = format!("Illustrating… ({w})");
            }
        }
        let (Some((clip, tok, _)), Some(vqgan)) = (&self.clip, &self.vqgan) else {
            return Ok(());
        };
        status(out, job, &said);
        let illustrator = Illustrator {
            clip,
            tokenizer: Some(tok),
            vqgan,
        };
        let key = format!(
            "{}\u{1}{sentence}\u{1}{}",
            options.style_prefix, options.style_suffix
        );
        let targets = match self.prompt_targets.get(&key) {
            Some(t) => t.clone(),
            None => {
                let t = illustrator.prompt_targets(&sentence, &options)?;
                self.prompt_targets.insert(key, t.clone());
                t
            }
        };
        let started = Instant::now();
        // Steps done before this run (a resumed page starts past 0): the time left is
        // measured on this run's own steps.
        let mut before: Option<usize> = None;
        let checkpoint = |step: usize, state: &[u8]| Event::IllustrateCheckpoint {
            page,
            checkpoint: PageCheckpoint {
                sentence: sentence.clone(),
                options: options.clone(),
                step,
                state: state.into(),
            },
        };
        let outcome = illustrator.run_resumable(
            targets,
            &ImageInputs::default(),
            &options,
            Resume {
                from: resume.as_deref(),
                save_every: Some(crate::book::CHECKPOINT_EVERY),
                key: &sentence,
            },
            out.cancel_flag(),
            |r| {
                let before = *before.get_or_insert(r.step - 1);
                if let Some(state) = r.state {
                    out.send(checkpoint(r.step, state));
                }
                out.send(Event::IllustrateStep {
                    page,
                    step: r.step,
                    iterations: r.iterations,
                    similarity: r.similarity,
                    loss: r.loss,
                    seconds_per_step: started.elapsed().as_secs_f64()
                        / (r.step - before).max(1) as f64,
                    seconds_left: r.seconds_left,
                    preview: r.frame.map(pictures::from_rgb),
                });
            },
        );
        let result = match outcome {
            Ok(Outcome::Done(result)) => result,
            // Stopped: the state goes to the studio, which keeps it for Resume; the stop itself
            // is reported once, as a cancel.
            Ok(Outcome::Paused { step, state }) => {
                out.send(checkpoint(step, &state));
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        if out.cancelled() {
            return Ok(());
        }
        let recipe = serde_json::json!({ "prompt": &sentence, "options": options });
        let png = crate::ml::image_io::encode_png_with_text(
            &result.image,
            &[(
                "storybook-recipe",
                &crate::ml::image_io::ascii_json(&recipe),
            )],
        )?;
        out.send(Event::PageDone {
            page,
            sentence,
            png,
            picture: pictures::from_rgb(&result.image),
            options,
            similarity: result.final_similarity,
            iterations: result.iterations,
            seconds_per_step: result.seconds_per_iteration,
        });
        Ok(())
    }
}
