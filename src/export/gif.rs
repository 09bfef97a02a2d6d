//! An animated GIF of a page's illustration progress, from the frames kept while it was made.

use image::codecs::gif::{GifEncoder, Repeat};
use image::{Delay, Frame};

/// Encodes PNG frames (in order) as a looping GIF, `frame_ms` per frame and a longer last one.
pub fn progress_gif(frames: &[Vec<u8>], frame_ms: u32) -> Result<Vec<u8>, String> {
    if frames.is_empty() {
        return Err("this page kept no progress frames; illustrate it with frames kept".into());
    }
    let mut out = Vec::new();
    {
        let mut encoder = GifEncoder::new_with_speed(&mut out, 10);
        encoder
            .set_repeat(Repeat::Infinite)
            .map_err(|e| format!("cannot write the GIF: {e}"))?;
        for (i, png) in frames.iter().enumerate() {
            let img = image::load_from_memory(png)
                .map_err(|e| format!("frame {} cannot be read: {e}", i + 1))?
                .to_rgba8();
            let ms = if i + 1 == frames.len() {
                frame_ms * 8
            } else {
                frame_ms
            };
            let frame = Frame::from_parts(img, 0, 0, Delay::from_numer_denom_ms(ms, 1));
            encoder
                .encode_frame(frame)
                .map_err(|e| format!("cannot write the GIF: {e}"))?;
        }
    }
    Ok(out)
}
