//! Images in and out of the optimiser's `[1, 3, h, w]` tensors in [0, 1].

use candle_core::{Device, Tensor};
use image::RgbImage;

use crate::ml::Result;

/// `[1, 3, h, w]` in [0, 1] from an RGB image.
pub fn rgb_to_tensor(img: &RgbImage, device: &Device) -> Result<Tensor> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let mut data = vec![0f32; 3 * w * h];
    for (i, p) in img.pixels().enumerate() {
        for c in 0..3 {
            data[c * w * h + i] = p[c] as f32 / 255.0;
        }
    }
    Ok(Tensor::from_vec(data, (1, 3, h, w), device)?)
}

/// An RGB image from `[1, 3, h, w]` values in [0, 1] (clamped, rounded).
pub fn tensor_to_rgb(t: &Tensor) -> Result<RgbImage> {
    let (_, _, h, w) = t.dims4()?;
    let planes = t.detach().squeeze(0)?.clamp(0f32, 1f32)?.to_vec3::<f32>()?;
    let mut img = RgbImage::new(w as u32, h as u32);
    for (x, y, p) in img.enumerate_pixels_mut() {
        for c in 0..3 {
            p[c] = (planes[c][y as usize][x as usize] * 255.0).round() as u8;
        }
    }
    Ok(img)
}
