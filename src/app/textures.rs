//! Worker pictures into egui textures.

use crate::worker::Picture;

pub fn load(ctx: &egui::Context, name: &str, picture: &Picture) -> egui::TextureHandle {
    let image =
        egui::ColorImage::from_rgba_unmultiplied([picture.width, picture.height], &picture.rgba);
    ctx.load_texture(name, image, egui::TextureOptions::LINEAR)
}

/// FNV-1a of the pixels: lets tests and the UI tell one preview from the next.
pub fn hash(picture: &Picture) -> u64 {
    picture.rgba.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x100_0000_01b3)
    })
}
