//! Turning images into [`Picture`]s (RGBA8) on the worker, so the UI only uploads textures.

use image::RgbImage;

use super::protocol::Picture;

pub fn from_rgb(img: &RgbImage) -> Picture {
    let rgba = image::DynamicImage::ImageRgb8(img.clone()).to_rgba8();
    Picture {
        width: rgba.width() as usize,
        height: rgba.height() as usize,
        rgba: rgba.into_raw(),
    }
}

/// A PNG (or any supported format) from the library, decoded with the same limits as a drop.
pub fn from_bytes(bytes: &[u8]) -> Result<Picture, String> {
    Ok(from_rgb(&crate::ml::image_io::decode_rgb(bytes)?))
}
