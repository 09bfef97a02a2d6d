//! A book's settings checked before anything is written, and corrections a resume may make.

use super::BookRecipe;
use crate::ml::illustrate::{fit_size, IllustrateOptions};

/// More pages than any story the model writes in [`super::MAX_STORY_PASSES`] passes could fill.
pub const MAX_PAGES: usize = 500;

pub fn check_pages(pages: usize) -> Result<(), String> {
    match pages {
        0 => Err("a book needs at least one page; use --pages 1 or more".into()),
        n if n > MAX_PAGES => Err(format!(
            "a book can have at most {MAX_PAGES} pages (asked for {n})"
        )),
        _ => Ok(()),
    }
}

/// Every illustration setting a page will be drawn with; `grid` is the VQGAN's once it is
/// loaded (before, the usual 16 is named in the advice for a size too small).
pub fn check_illustration(opts: &IllustrateOptions, grid: Option<usize>) -> Result<(), String> {
    fit_size(opts.width, opts.height, grid.unwrap_or(16)).map_err(|e| e.to_string())?;
    if opts.iterations == 0 {
        return Err("a picture needs at least one step; use --iterations 1 or more".into());
    }
    if opts.iterations > crate::ml::illustrate::MAX_ITERATIONS {
        return Err(format!(
            "at most {} steps a picture (got {}); the picture stops changing long before",
            crate::ml::illustrate::MAX_ITERATIONS,
            opts.iterations
        ));
    }
    if opts.cutn == 0 || opts.cutn > 256 {
        return Err(format!(
            "cutn must be between 1 and 256 (got {})",
            opts.cutn
        ));
    }
    let positive = |v: f64| v.is_finite() && v > 0.0;
    if !positive(opts.lr) {
        return Err(format!(
            "the learning rate must be positive (got {})",
            opts.lr
        ));
    }
    if !positive(opts.cut_pow) {
        return Err(format!("cut_pow must be positive (got {})", opts.cut_pow));
    }
    if !(opts.init_weight.is_finite() && opts.init_weight >= 0.0) {
        return Err(format!(
            "the init weight must be 0 or more (got {})",
            opts.init_weight
        ));
    }
    if !(opts.noise.is_finite() && opts.jitter.is_finite()) {
        return Err("the noise and jitter settings must be numbers".into());
    }
    Ok(())
}

/// Options given again with `book --resume`: each replaces the saved one for the pages still
/// to draw (a book saved with `--cutn 0` can be finished with `--cutn 4`).
#[derive(Debug, Clone, Default)]
pub struct Corrections {
    pub size: Option<(usize, usize)>,
    pub iterations: Option<usize>,
    pub cutn: Option<usize>,
    pub image_seed: Option<u64>,
    pub style_prefix: Option<String>,
    pub style_suffix: Option<String>,
    pub keep_frames: bool,
    pub precision: Option<crate::ml::illustrate::Precision>,
}

impl Corrections {
    /// Applies the corrections and returns what changed, as "cutn 0 → 4".
    pub fn apply(&self, recipe: &mut BookRecipe) -> Vec<String> {
        let mut changed = Vec::new();
        let ill = &mut recipe.illustration;
        if let Some((w, h)) = self.size {
            if (w, h) != (ill.width, ill.height) {
                changed.push(format!("size {}x{} → {w}x{h}", ill.width, ill.height));
                (ill.width, ill.height) = (w, h);
            }
        }
        let mut set = |name: &str, old: &mut usize, new: Option<usize>| {
            if let Some(new) = new.filter(|n| n != old) {
                changed.push(format!("{name} {old} → {new}"));
                *old = new;
            }
        };
        set("iterations", &mut ill.iterations, self.iterations);
        set("cutn", &mut ill.cutn, self.cutn);
        if let Some(seed) = self.image_seed.filter(|s| *s != ill.seed) {
            changed.push(format!("image seed {} → {seed}", ill.seed));
            ill.seed = seed;
        }
        for (name, old, new) in [
            ("style prefix", &mut ill.style_prefix, &self.style_prefix),
            ("style suffix", &mut ill.style_suffix, &self.style_suffix),
        ] {
            if let Some(new) = new.as_ref().filter(|n| *n != old) {
                changed.push(format!("{name} {old:?} → {new:?}"));
                *old = new.clone();
            }
        }
        if let Some(p) = self.precision.filter(|p| *p != ill.precision) {
            changed.push(format!("precision {} → {p}", ill.precision));
            ill.precision = p;
        }
        if self.keep_frames && !recipe.keep_frames {
            changed.push("progress frames kept".into());
            recipe.keep_frames = true;
            if ill.preview_every == 0 {
                ill.preview_every = 10;
            }
        }
        changed
    }
}

/// The drawing settings of a recipe in a few words, for "Resuming book 3 with …".
pub fn describe(recipe: &BookRecipe) -> String {
    let i = &recipe.illustration;
    format!(
        "{}x{}, {} steps, {} cutouts, image seed {}{}",
        i.width,
        i.height,
        i.iterations,
        i.cutn,
        i.seed,
        if recipe.keep_frames {
            ", frames kept"
        } else {
            ""
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::sampling::SamplingOptions;

    fn recipe() -> BookRecipe {
        BookRecipe {
            sampling: SamplingOptions::default(),
            illustration: IllustrateOptions {
                cutn: 0,
                ..IllustrateOptions::default()
            },
            planned_sentences: vec!["A.".into()],
            story_text: "A.".into(),
            keep_frames: false,
        }
    }

    #[test]
    fn bad_settings_are_sentences() {
        let ok = IllustrateOptions::default();
        assert!(check_illustration(&ok, Some(16)).is_ok());
        for (opts, needle) in [
            (
                IllustrateOptions {
                    cutn: 0,
                    ..ok.clone()
                },
                "cutn",
            ),
            (
                IllustrateOptions {
                    width: 0,
                    height: 0,
                    ..ok.clone()
                },
                "no pixels",
            ),
            (
                IllustrateOptions {
                    width: 99999,
                    height: 99999,
                    ..ok.clone()
                },
                "too large",
            ),
            (
                IllustrateOptions {
                    iterations: 0,
                    ..ok.clone()
                },
                "at least one step",
            ),
            (
                IllustrateOptions {
                    lr: f64::NAN,
                    ..ok.clone()
                },
                "learning rate",
            ),
        ] {
            let err = check_illustration(&opts, None).unwrap_err();
            assert!(err.contains(needle), "{err}");
        }
        assert!(check_pages(0).unwrap_err().contains("at least one page"));
        assert!(check_pages(MAX_PAGES + 1).is_err());
        assert!(check_pages(1).is_ok());
    }

    #[test]
    fn corrections_replace_saved_settings_and_say_so() {
        let mut r = recipe();
        let fix = Corrections {
            cutn: Some(4),
            iterations: Some(200),
            keep_frames: true,
            ..Corrections::default()
        };
        let changed = fix.apply(&mut r);
        assert_eq!(changed, vec!["cutn 0 → 4", "progress frames kept"]);
        assert_eq!(r.illustration.cutn, 4);
        assert_eq!(r.illustration.preview_every, 10);
        assert!(check_illustration(&r.illustration, None).is_ok());
        assert!(describe(&r).contains("4 cutouts"));
    }
}
