//! Random cutouts of the current image, resized to CLIP's input size and augmented.
//!
//! Resizing is two matrix products, `A_h @ image @ A_wᵀ`, with antialiased triangle-filter
//! weights: candle's `upsample_bilinear2d` has no backward pass, matmul has a correct one.
//! The crop offset and the horizontal flip are folded into the same matrices, so a cutout costs
//! two batched matmuls. Colour jitter and noise are per-cutout scalars and a noise tensor.

use candle_core::{Device, Tensor};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Row weights `[out, in_len]` mapping `out` samples onto input pixels `offset..offset + size`.
fn resize_matrix(in_len: usize, offset: usize, size: usize, out: usize, flip: bool) -> Vec<f32> {
    let scale = size as f64 / out as f64;
    let support = scale.max(1.0);
    let mut m = vec![0f32; out * in_len];
    for j in 0..out {
        let jj = if flip { out - 1 - j } else { j };
        let center = (jj as f64 + 0.5) * scale;
        let lo = (center - support).floor().max(0.0) as usize;
        let hi = ((center + support).ceil() as usize).min(size);
        let mut weights: Vec<(usize, f64)> = (lo..hi)
            .map(|i| {
                let w = 1.0 - ((i as f64 + 0.5 - center) / support).abs();
                (i, w.max(0.0))
            })
            .filter(|(_, w)| *w > 0.0)
            .collect();
        if weights.is_empty() {
            let nearest = (center.floor() as usize).min(size - 1);
            weights.push((nearest, 1.0));
        }
        let total: f64 = weights.iter().map(|(_, w)| w).sum();
        for (i, w) in weights {
            m[j * in_len + offset + i] = (w / total) as f32;
        }
    }
    m
}

/// How cutouts are drawn; `cut_pow` above 1 favours small cutouts.
#[derive(Debug, Clone, Copy)]
pub struct CutoutSettings {
    pub cutn: usize,
    pub cut_pow: f64,
    pub size: usize,
    pub noise: f32,
    pub jitter: f32,
}

/// The random choices for one step's cutouts, drawn from the run's seeded generator.
pub struct CutoutPlan {
    rows: Tensor,
    cols_t: Tensor,
    contrast: Tensor,
    brightness: Tensor,
    saturation: Tensor,
    noise: Option<Tensor>,
}

/// Appends `count` normals of standard deviation `scale`. Box-Muller in f32, both outputs of
/// each pair used: at 32 cutouts this is 4.8 M samples a step, and one f64 normal per pair of
/// uniforms took a tenth of a second of it.
fn extend_normal(rng: &mut ChaCha8Rng, values: &mut Vec<f32>, count: usize, scale: f32) {
    // 2⁻²⁴ is the smallest non-zero uniform f32 draw; it caps a sample at 5.8 deviations.
    const SMALLEST: f32 = 1.0 / (1u32 << 24) as f32;
    let end = values.len() + count;
    while values.len() < end {
        let u1 = rng.random::<f32>().max(SMALLEST);
        let u2: f32 = rng.random();
        let r = (-2.0 * u1.ln()).sqrt() * scale;
        let (sin, cos) = (std::f32::consts::TAU * u2).sin_cos();
        values.push(r * cos);
        if values.len() < end {
            values.push(r * sin);
        }
    }
}

impl CutoutPlan {
    /// Draws sizes, offsets, flips, colour jitter and noise for an image of `width` x `height`.
    pub fn draw(
        s: &CutoutSettings,
        width: usize,
        height: usize,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> candle_core::Result<Self> {
        let max_size = width.min(height);
        let min_size = width.min(height).min(s.size);
        let (n, out) = (s.cutn, s.size);
        let mut rows = Vec::with_capacity(n * out * height);
        let mut cols_t = Vec::with_capacity(n * width * out);
        let (mut contrast, mut brightness, mut saturation) = (vec![], vec![], vec![]);
        for _ in 0..n {
            let r: f64 = rng.random();
            let size =
                (r.powf(s.cut_pow) * (max_size - min_size) as f64 + min_size as f64) as usize;
            let size = size.clamp(1, max_size);
            let ox = rng.random_range(0..=width - size);
            let oy = rng.random_range(0..=height - size);
            let flip = rng.random_bool(0.5);
            rows.extend(resize_matrix(height, oy, size, out, false));
            // Transposed so the product is image @ colsᵀ directly.
            let cols = resize_matrix(width, ox, size, out, flip);
            for x in 0..width {
                for j in 0..out {
                    cols_t.push(cols[j * width + x]);
                }
            }
            let j = s.jitter;
            contrast.push(1.0 + j * (2.0 * rng.random::<f32>() - 1.0));
            brightness.push(j * (2.0 * rng.random::<f32>() - 1.0));
            saturation.push(1.0 + j * (2.0 * rng.random::<f32>() - 1.0));
        }
        let noise = if s.noise > 0.0 {
            let mut values = Vec::with_capacity(n * 3 * out * out);
            for _ in 0..n {
                let fac = rng.random::<f32>() * s.noise;
                extend_normal(rng, &mut values, 3 * out * out, fac);
            }
            Some(Tensor::from_vec(values, (n, 3, out, out), device)?)
        } else {
            None
        };
        let per_cutout = |v: Vec<f32>| Tensor::from_vec(v, (n, 1, 1, 1), device);
        Ok(Self {
            rows: Tensor::from_vec(rows, (n, 1, out, height), device)?,
            cols_t: Tensor::from_vec(cols_t, (n, 1, width, out), device)?,
            contrast: per_cutout(contrast)?,
            brightness: per_cutout(brightness)?,
            saturation: per_cutout(saturation)?,
            noise,
        })
    }

    /// `[cutn, 3, size, size]` augmented cutouts of `image` `[1, 3, h, w]` in [0, 1].
    pub fn apply(&self, image: &Tensor) -> candle_core::Result<Tensor> {
        let cut = self
            .rows
            .broadcast_matmul(image)?
            .broadcast_matmul(&self.cols_t)?;
        let grey = cut.mean_keepdim(1)?;
        let saturated = cut
            .broadcast_sub(&grey)?
            .broadcast_mul(&self.saturation)?
            .broadcast_add(&grey)?;
        let mut out = ((saturated - 0.5)?.broadcast_mul(&self.contrast)? + 0.5)?
            .broadcast_add(&self.brightness)?;
        if let Some(noise) = &self.noise {
            out = (out + noise)?;
        }
        Ok(out)
    }
}

/// The whole image resized to `size`² without augmentation, for measuring similarity.
pub fn whole_image(image: &Tensor, size: usize) -> candle_core::Result<Tensor> {
    let (_, _, h, w) = image.dims4()?;
    let device = image.device();
    let rows = Tensor::from_vec(resize_matrix(h, 0, h, size, false), (size, h), device)?;
    let cols = Tensor::from_vec(resize_matrix(w, 0, w, size, false), (size, w), device)?;
    rows.broadcast_matmul(image)?.broadcast_matmul(&cols.t()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resize_rows_sum_to_one_and_stay_in_the_crop() {
        for (len, off, size, out) in [(256, 10, 230, 224), (128, 0, 128, 224), (40, 5, 7, 16)] {
            let m = resize_matrix(len, off, size, out, false);
            for j in 0..out {
                let row = &m[j * len..(j + 1) * len];
                let sum: f32 = row.iter().sum();
                assert!((sum - 1.0).abs() < 1e-5);
                for (i, w) in row.iter().enumerate() {
                    if *w != 0.0 {
                        assert!(i >= off && i < off + size, "weight outside the crop");
                    }
                }
            }
        }
    }

    #[test]
    fn noise_has_the_asked_spread_and_no_wild_outliers() {
        use rand::SeedableRng;
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut v = vec![1.0];
        extend_normal(&mut rng, &mut v, 100_001, 0.5);
        assert_eq!(v.len(), 100_002);
        let xs = &v[1..];
        let mean = xs.iter().sum::<f32>() / xs.len() as f32;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() / xs.len() as f32;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var.sqrt() - 0.5).abs() < 0.01, "std {}", var.sqrt());
        assert!(xs.iter().all(|x| x.abs() <= 0.5 * 5.8));
    }

    #[test]
    fn a_flip_mirrors_the_rows() {
        let a = resize_matrix(30, 3, 20, 10, false);
        let b = resize_matrix(30, 3, 20, 10, true);
        for j in 0..10 {
            assert_eq!(a[j * 30..(j + 1) * 30], b[(9 - j) * 30..(10 - j) * 30]);
        }
    }

    #[test]
    fn an_identity_resize_keeps_the_image() {
        let device = Device::Cpu;
        let img = Tensor::arange(0f32, 48.0, &device)
            .unwrap()
            .reshape((1, 3, 4, 4))
            .unwrap();
        let same = whole_image(&img, 4).unwrap();
        let diff = (same - &img).unwrap().abs().unwrap().max_all().unwrap();
        assert!(diff.to_scalar::<f32>().unwrap() < 1e-5);
    }
}
