//! What `--precision bf16` costs in quality: the same prompt and seed drawn in f32 and in bf16,
//! the CLIP-similarity curves step by step, and the final pictures' PSNR against each other.

use std::sync::atomic::AtomicBool;

use serde::Serialize;

use crate::ml::illustrate::{precision, IllustrateOptions, Illustrator, ImageInputs, Precision};
use crate::ml::models::clip::tokenize::ClipTokenizer;
use crate::ml::models::clip::Clip;
use crate::ml::models::vqgan::VqModel;
use crate::ml::Result;

#[derive(Debug, Clone, Serialize)]
pub struct PrecisionCost {
    /// What the second run really ran in: f32 where no bf16 kernel runs.
    pub compared: Precision,
    pub iterations: usize,
    /// The similarity each step reported, f32 then the compared precision.
    pub f32_curve: Vec<f32>,
    pub compared_curve: Vec<f32>,
    /// Largest and mean absolute gap between the two curves.
    pub max_gap: f32,
    pub mean_gap: f32,
    /// PSNR of the compared picture against f32's, in dB; `None` when they are identical.
    pub psnr_db: Option<f64>,
    /// For scale: PSNR of f32's picture with the next seed against f32's. The optimisation is
    /// chaotic (a code that flips in the quantizer changes the rest of the run), so any change
    /// of arithmetic makes another picture; this says how far another seed moves it.
    pub next_seed_psnr_db: Option<f64>,
    pub f32_seconds_per_iteration: f64,
    pub compared_seconds_per_iteration: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// PSNR of `b` against `a` over 8-bit channels; `None` when they are identical.
pub fn psnr(a: &[u8], b: &[u8]) -> Option<f64> {
    let n = a.len().min(b.len()).max(1) as f64;
    let mse = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
        .sum::<f64>()
        / n;
    (mse > 0.0).then(|| 10.0 * (255.0f64 * 255.0 / mse).log10())
}

/// Draws `prompt` with `opts` twice: with `f32_clip`, then with `clip` and `vqgan`'s decoder
/// switched to bf16 (they stay in bf16 after). The two CLIP models must be the same weights,
/// loaded twice.
pub fn precision_cost(
    f32_clip: &Clip,
    clip: &mut Clip,
    tokenizer: &ClipTokenizer,
    vqgan: &mut VqModel,
    prompt: &str,
    opts: &IllustrateOptions,
) -> Result<PrecisionCost> {
    let never = AtomicBool::new(false);
    let draw = |clip: &Clip, vqgan: &VqModel, precision: Precision, seed: u64| {
        let mut curve = Vec::new();
        let opts = IllustrateOptions {
            precision,
            seed,
            ..opts.clone()
        };
        let ill = Illustrator {
            clip,
            tokenizer: Some(tokenizer),
            vqgan,
        };
        let out = ill.run(prompt, &ImageInputs::default(), &opts, &never, |r| {
            curve.push(r.similarity)
        })?;
        Ok::<_, crate::ml::Error>((out, curve))
    };
    let (reference, f32_curve) = draw(f32_clip, vqgan, Precision::F32, opts.seed)?;
    let (next_seed, _) = draw(f32_clip, vqgan, Precision::F32, opts.seed.wrapping_add(1))?;
    let (compared, warning) = precision::prepare(clip, vqgan, Precision::Bf16)?;
    let (other, compared_curve) = draw(clip, vqgan, compared, opts.seed)?;
    let gaps: Vec<f32> = f32_curve
        .iter()
        .zip(&compared_curve)
        .map(|(a, b)| (a - b).abs())
        .collect();
    Ok(PrecisionCost {
        compared,
        iterations: opts.iterations,
        max_gap: gaps.iter().copied().fold(0.0, f32::max),
        mean_gap: gaps.iter().sum::<f32>() / gaps.len().max(1) as f32,
        f32_curve,
        compared_curve,
        psnr_db: psnr(reference.image.as_raw(), other.image.as_raw()),
        next_seed_psnr_db: psnr(reference.image.as_raw(), next_seed.image.as_raw()),
        f32_seconds_per_iteration: reference.seconds_per_iteration,
        compared_seconds_per_iteration: other.seconds_per_iteration,
        warning,
    })
}

#[cfg(test)]
mod tests {
    use super::psnr;

    #[test]
    fn psnr_is_none_for_equal_pictures_and_falls_as_they_differ() {
        assert_eq!(psnr(&[1, 2, 3], &[1, 2, 3]), None);
        // One channel off by 255 of three: MSE 255²/3, PSNR 10·log10(3).
        let one = psnr(&[0, 0, 0], &[255, 0, 0]).unwrap();
        assert!((one - 10.0 * 3f64.log10()).abs() < 1e-9);
        let near = psnr(&[100; 300], &[101; 300]).unwrap();
        assert!((near - 20.0 * 255f64.log10()).abs() < 1e-9, "{near}");
        assert!(near > one);
    }
}
