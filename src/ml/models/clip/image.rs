//! CLIP's image preprocessing, matching transformers' `CLIPImageProcessor` with PIL: the short
//! side resized to 224 with PIL's bicubic filter, a centre crop, then CLIP's mean and std.
//!
//! PIL's bicubic is reproduced exactly (a = -0.5, support widened by the scale when shrinking,
//! 22-bit fixed-point weights, two passes in Pillow's order, each rounded to 8 bits), because
//! other bicubic filters differ by several grey levels.

use candle_core::{Device, Tensor};
use image::RgbImage;

use crate::ml::Result;

pub const MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
pub const STD: [f32; 3] = [0.268_629_54, 0.261_302_6, 0.275_777_1];

const PRECISION_BITS: u32 = 32 - 8 - 2;

fn bicubic(x: f64) -> f64 {
    const A: f64 = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * A
    } else {
        0.0
    }
}

/// Per output pixel: first input index and fixed-point weights, as PIL's `precompute_coeffs`.
fn coefficients(in_size: usize, out_size: usize) -> Vec<(usize, Vec<i32>)> {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = 2.0 * filterscale;
    (0..out_size)
        .map(|xx| {
            let center = (xx as f64 + 0.5) * scale;
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
            let weights: Vec<f64> = (xmin..xmax)
                .map(|x| bicubic((x as f64 - center + 0.5) / filterscale))
                .collect();
            let total: f64 = weights.iter().sum();
            let fixed = weights
                .iter()
                .map(|w| {
                    let w = if total != 0.0 { w / total } else { 0.0 };
                    let scaled = w * (1u32 << PRECISION_BITS) as f64;
                    (if w < 0.0 { scaled - 0.5 } else { scaled + 0.5 }) as i32
                })
                .collect();
            (xmin, fixed)
        })
        .collect()
}

fn clip8(v: i64) -> u8 {
    (v >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Resizes an RGB image with PIL's `Image.resize(size, BICUBIC)` arithmetic.
///
/// Pillow runs the horizontal pass first, except when the width grows while the height
/// shrinks: then the vertical pass goes first. The order matters (each pass rounds to 8 bits,
/// up to 7 grey levels apart). It was measured on Pillow 13.0.0, the oracle's version, over
/// both-up, both-down and mixed resizes; the Chinese CLIP oracle's 180×320 → 224×224 needs it,
/// and BLIP's 384×384 changes with it only for pictures narrower and taller than 384.
pub fn resize_bicubic_pil(img: &RgbImage, width: usize, height: usize) -> RgbImage {
    let (w0, h0) = (img.width() as usize, img.height() as usize);
    let src = img.as_raw();
    let out = if width > w0 && height < h0 {
        let tmp = vertical_pass(src, w0, h0, height);
        horizontal_pass(&tmp, w0, height, width)
    } else {
        let tmp = horizontal_pass(src, w0, h0, width);
        vertical_pass(&tmp, width, h0, height)
    };
    RgbImage::from_raw(width as u32, height as u32, out).expect("buffer has width*height*3 bytes")
}

/// `src` (`w0`×`h`) to `width`×`h`.
fn horizontal_pass(src: &[u8], w0: usize, h: usize, width: usize) -> Vec<u8> {
    let rounding = 1i64 << (PRECISION_BITS - 1);
    let hc = coefficients(w0, width);
    let mut out = vec![0u8; width * h * 3];
    for y in 0..h {
        for (x, (xmin, k)) in hc.iter().enumerate() {
            for c in 0..3 {
                let mut ss = rounding;
                for (i, &w) in k.iter().enumerate() {
                    ss += src[(y * w0 + xmin + i) * 3 + c] as i64 * w as i64;
                }
                out[(y * width + x) * 3 + c] = clip8(ss);
            }
        }
    }
    out
}

/// `src` (`w`×`h0`) to `w`×`height`.
fn vertical_pass(src: &[u8], w: usize, h0: usize, height: usize) -> Vec<u8> {
    let rounding = 1i64 << (PRECISION_BITS - 1);
    let vc = coefficients(h0, height);
    let mut out = vec![0u8; w * height * 3];
    for (y, (ymin, k)) in vc.iter().enumerate() {
        for x in 0..w {
            for c in 0..3 {
                let mut ss = rounding;
                for (i, &wt) in k.iter().enumerate() {
                    ss += src[((ymin + i) * w + x) * 3 + c] as i64 * wt as i64;
                }
                out[(y * w + x) * 3 + c] = clip8(ss);
            }
        }
    }
    out
}

/// Short side to `size`, long side `int(size * long / short)`, then a centre `size`² crop.
pub fn resize_and_crop(img: &RgbImage, size: usize) -> RgbImage {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let (short, long) = (w.min(h).max(1), w.max(h));
    let new_long = (size as f64 * long as f64 / short as f64) as usize;
    let (nw, nh) = if w <= h {
        (size, new_long)
    } else {
        (new_long, size)
    };
    let resized = resize_bicubic_pil(img, nw, nh);
    let top = (nh.saturating_sub(size)) / 2;
    let left = (nw.saturating_sub(size)) / 2;
    image::imageops::crop_imm(&resized, left as u32, top as u32, size as u32, size as u32)
        .to_image()
}

/// `[1, 3, size, size]` pixel values: x/255, then (x - mean) / std per channel.
pub fn normalize_to_tensor(img: &RgbImage, device: &Device) -> Result<Tensor> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let mut data = vec![0f32; 3 * w * h];
    for (i, p) in img.pixels().enumerate() {
        for c in 0..3 {
            data[c * w * h + i] = (p[c] as f32 / 255.0 - MEAN[c]) / STD[c];
        }
    }
    Ok(Tensor::from_vec(data, (1, 3, h, w), device)?)
}

/// The full `CLIPImageProcessor` pipeline for one image.
pub fn preprocess(img: &RgbImage, size: usize, device: &Device) -> Result<Tensor> {
    normalize_to_tensor(&resize_and_crop(img, size), device)
}

/// BLIP's and Chinese CLIP's pipeline: PIL bicubic straight to `size`×`size` (the aspect is not
/// kept and nothing is cropped), then CLIP's mean and std.
pub fn preprocess_straight(img: &RgbImage, size: usize, device: &Device) -> Result<Tensor> {
    normalize_to_tensor(&resize_bicubic_pil(img, size, size), device)
}

#[cfg(test)]
mod tests {
    use super::resize_bicubic_pil;

    /// Pillow 13's bytes for a 5×9 picture resized both ways round: wider and shorter (its
    /// vertical pass first), narrower and taller (horizontal first).
    #[test]
    fn both_pass_orders_match_pillow_13() {
        let (w, h) = (5u32, 9u32);
        let data: Vec<u8> = (0..h)
            .flat_map(|y| {
                (0..w).flat_map(move |x| {
                    (0..3).map(move |c| ((x * 37 + y * 91 + c * 53) * 7 % 256) as u8)
                })
            })
            .collect();
        let img = image::RgbImage::from_raw(w, h, data).unwrap();
        let wider = [
            96, 169, 172, 101, 170, 173, 88, 173, 176, 52, 175, 178, 52, 177, 180, 60, 180, 183,
            67, 181, 184, 191, 171, 157, 198, 172, 158, 175, 175, 161, 117, 177, 163, 121, 179,
            165, 94, 182, 168, 57, 183, 169, 176, 164, 150, 177, 165, 151, 182, 168, 154, 190, 170,
            156, 197, 172, 158, 167, 175, 161, 130, 176, 162, 178, 149, 152, 179, 150, 153, 182,
            153, 156, 184, 155, 158, 186, 157, 160, 192, 160, 163, 199, 161, 164,
        ];
        assert_eq!(resize_bicubic_pil(&img, 7, 4).as_raw(), &wider);
        let taller = [
            0, 109, 238, 0, 114, 243, 4, 119, 248, 70, 204, 140, 90, 209, 145, 99, 214, 150, 186,
            199, 139, 110, 204, 144, 92, 209, 149, 249, 115, 219, 55, 120, 224, 5, 125, 229, 126,
            230, 100, 112, 235, 105, 119, 240, 110, 205, 146, 180, 223, 151, 185, 118, 156, 190,
            203, 143, 177, 212, 148, 182, 104, 153, 187, 119, 223, 93, 124, 228, 98, 136, 233, 103,
            234, 104, 208, 239, 109, 213, 245, 114, 218, 150, 184, 124, 155, 189, 129, 160, 194,
            134, 145, 183, 119, 150, 188, 124, 155, 193, 129, 240, 85, 214, 245, 90, 219, 250, 95,
            224,
        ];
        assert_eq!(resize_bicubic_pil(&img, 3, 12).as_raw(), &taller);
    }
}
