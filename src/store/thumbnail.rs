//! Small PNG previews for the library grid, made once when a page image is saved.

use std::io::Cursor;

/// Longest side of a thumbnail, in pixels.
pub const SIZE: u32 = 128;

/// A thumbnail of PNG (or any decodable) bytes, itself PNG.
pub fn make(png: &[u8]) -> Result<Vec<u8>, String> {
    let img =
        image::load_from_memory(png).map_err(|e| format!("the page image cannot be read: {e}"))?;
    let thumb = img.thumbnail(SIZE, SIZE).to_rgb8();
    let mut out = Vec::new();
    thumb
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .map_err(|e| format!("the thumbnail cannot be written: {e}"))?;
    Ok(out)
}
