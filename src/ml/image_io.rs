//! Reading images users give us, and writing PNGs that carry their recipe.
//!
//! Decoding is bounded (a decompression bomb is refused before it is allocated), honours EXIF
//! orientation, and composites transparency on white, so every caller gets a plain RGB image.

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageReader, Limits, RgbImage};

use crate::ml::{Error, Result};

/// Largest side and pixel budget we decode: a 16k x 16k image is far beyond any use here.
pub const MAX_SIDE: u32 = 16_384;
pub const MAX_ALLOC_BYTES: u64 = 512 * 1024 * 1024;

fn bad(path: &Path, reason: impl std::fmt::Display) -> Error {
    Error::Input(format!(
        "{} is not a usable image: {reason}",
        path.display()
    ))
}

/// Decodes an image file into RGB, whatever its format, orientation or transparency.
pub fn load_rgb(path: &Path) -> Result<RgbImage> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    decode_rgb(&bytes).map_err(|reason| bad(path, reason))
}

/// The same from bytes (a dropped file, a clipboard).
pub fn decode_rgb(bytes: &[u8]) -> std::result::Result<RgbImage, String> {
    if bytes.is_empty() {
        return Err("the file is empty".into());
    }
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| e.to_string())?;
    if reader.format().is_none() {
        return Err("its format is not PNG, JPEG, WebP, GIF or BMP".into());
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC_BYTES);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|e| e.to_string())?;
    let (w, h) = decoder.dimensions();
    if w == 0 || h == 0 {
        return Err(format!("it is {w}x{h} pixels"));
    }
    let orientation = decoder.orientation().ok();
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| e.to_string())?;
    if let Some(o) = orientation {
        img.apply_orientation(o);
    }
    Ok(flatten_on_white(img))
}

fn flatten_on_white(img: DynamicImage) -> RgbImage {
    if !img.color().has_alpha() {
        return img.to_rgb8();
    }
    let rgba = img.to_rgba8();
    let mut out = RgbImage::new(rgba.width(), rgba.height());
    for (o, p) in out.pixels_mut().zip(rgba.pixels()) {
        let a = p[3] as u32;
        for c in 0..3 {
            o[c] = ((p[c] as u32 * a + 255 * (255 - a) + 127) / 255) as u8;
        }
    }
    out
}

/// JSON text with every non-ASCII character written as `\uXXXX`, so it fits a Latin-1 tEXt chunk
/// and still parses to the same value.
pub fn ascii_json(value: &serde_json::Value) -> String {
    let mut out = String::new();
    for c in value.to_string().chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// Writes `img` as PNG with tEXt chunks (ASCII key, value), through a temporary file and a
/// rename so a crash never leaves half an image under the final name.
pub fn save_png_with_text(img: &RgbImage, path: &Path, text: &[(&str, &str)]) -> Result<()> {
    let bytes = encode_png_with_text(img, text)?;
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension("png.partial");
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// PNG bytes of `img` with tEXt chunks, for storing in the library.
pub fn encode_png_with_text(img: &RgbImage, text: &[(&str, &str)]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, img.width(), img.height());
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        for (key, value) in text {
            check_text_chunk(key, value).map_err(|reason| {
                Error::Input(format!("cannot store '{key}' in the PNG: {reason}"))
            })?;
            encoder
                .add_text_chunk(key.to_string(), value.to_string())
                .map_err(|e| Error::Input(format!("cannot store '{key}' in the PNG: {e}")))?;
        }
        let mut writer = encoder
            .write_header()
            .map_err(|e| Error::Input(format!("cannot encode the PNG: {e}")))?;
        writer
            .write_image_data(img.as_raw())
            .map_err(|e| Error::Input(format!("cannot encode the PNG: {e}")))?;
        writer
            .finish()
            .map_err(|e| Error::Input(format!("cannot encode the PNG: {e}")))?;
    }
    Ok(out)
}

/// The PNG rules for a tEXt chunk, which the encoder does not enforce but readers do (a reader
/// drops a chunk whose keyword breaks them; found by fuzzing): a keyword of 1 to 79 printable
/// Latin-1 characters without leading, trailing or double spaces, and Latin-1 text without NUL.
fn check_text_chunk(key: &str, value: &str) -> std::result::Result<(), String> {
    let printable = |c: char| matches!(c as u32, 32..=126 | 161..=255);
    if key.is_empty() || key.chars().count() > 79 || !key.chars().all(printable) {
        return Err("a key must be 1 to 79 printable Latin-1 characters".into());
    }
    if key.starts_with(' ') || key.ends_with(' ') || key.contains("  ") {
        return Err("a key may not start or end with a space, or hold two in a row".into());
    }
    if value.chars().any(|c| c == '\0' || c as u32 > 255) {
        return Err("the text must be Latin-1 without NUL characters".into());
    }
    Ok(())
}

/// Reads the text chunks of a PNG (tEXt, zTXt and iTXt) as key/value pairs.
pub fn read_png_text(path: &Path) -> Result<Vec<(String, String)>> {
    let file = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .map_err(|e| bad(path, e))?;
    let info = reader.info();
    let mut out: Vec<(String, String)> = info
        .uncompressed_latin1_text
        .iter()
        .map(|t| (t.keyword.clone(), t.text.clone()))
        .collect();
    for t in &info.utf8_text {
        out.push((t.keyword.clone(), t.get_text().map_err(|e| bad(path, e))?));
    }
    Ok(out)
}
