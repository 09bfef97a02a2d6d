//! Decoding images users drop on us: every format we promise, orientation, transparency, and
//! refusals (empty, not an image, truncated, a decompression bomb) as sentences, never panics.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, Rgba, RgbaImage};
use storybook_studio::ml::image_io::decode_rgb;

mod common;
use common::images::{animated_gif, png_bomb};

fn encode(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), format).unwrap();
    out
}

fn sample() -> DynamicImage {
    DynamicImage::ImageRgb8(image::RgbImage::from_fn(8, 6, |x, y| {
        image::Rgb([x as u8 * 30, y as u8 * 40, 90])
    }))
}

#[test]
fn png_jpeg_webp_gif_and_bmp_decode_to_rgb() {
    for format in [
        ImageFormat::Png,
        ImageFormat::Jpeg,
        ImageFormat::WebP,
        ImageFormat::Gif,
        ImageFormat::Bmp,
    ] {
        let img = match format {
            ImageFormat::WebP | ImageFormat::Gif => DynamicImage::ImageRgba8(sample().to_rgba8()),
            _ => sample(),
        };
        let rgb = decode_rgb(&encode(&img, format)).unwrap_or_else(|e| panic!("{format:?}: {e}"));
        assert_eq!((rgb.width(), rgb.height()), (8, 6), "{format:?}");
    }
    let one = decode_rgb(&encode(&DynamicImage::new_rgb8(1, 1), ImageFormat::Png)).unwrap();
    assert_eq!((one.width(), one.height()), (1, 1));
}

#[test]
fn transparency_is_composited_on_white() {
    let mut img = RgbaImage::from_pixel(2, 1, Rgba([0, 0, 0, 0]));
    img.put_pixel(1, 0, Rgba([255, 0, 0, 128]));
    let rgb = decode_rgb(&encode(&DynamicImage::ImageRgba8(img), ImageFormat::Png)).unwrap();
    assert_eq!(rgb.get_pixel(0, 0).0, [255, 255, 255]);
    assert_eq!(rgb.get_pixel(1, 0).0, [255, 127, 127]);
}

#[test]
fn an_animated_gif_gives_its_first_frame() {
    let bytes = animated_gif();
    let rgb = decode_rgb(&bytes).unwrap();
    let p = rgb.get_pixel(1, 1).0;
    assert!(p[0] > 200 && p[2] < 50, "not the first frame: {p:?}");
}

#[test]
fn bad_files_are_refused_with_a_sentence() {
    let jpeg = encode(&sample(), ImageFormat::Jpeg);
    for (bytes, needle) in [
        (Vec::new(), "empty"),
        (b"just some words, not pixels".to_vec(), "not PNG, JPEG"),
        (jpeg[..jpeg.len() / 2].to_vec(), "Not enough bytes"),
        (png_bomb(), "exceeds limit"),
    ] {
        let err = decode_rgb(&bytes)
            .err()
            .unwrap_or_else(|| panic!("accepted {} bytes", bytes.len()));
        assert!(err.contains(needle), "{err}");
    }
}

#[test]
fn exif_orientation_is_applied_and_cmyk_jpeg_decodes_to_rgb() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/images");
    // Stored 4x2 with red on the left; EXIF says rotate 90° clockwise, so red ends up on top.
    let rotated = decode_rgb(&std::fs::read(dir.join("exif-rotate-90.jpg")).unwrap()).unwrap();
    assert_eq!(rotated.dimensions(), (2, 4));
    let (top, bottom) = (rotated.get_pixel(1, 0).0, rotated.get_pixel(1, 3).0);
    assert!(top[0] > 180 && top[2] < 90, "top {top:?}");
    assert!(bottom[2] > 180 && bottom[0] < 90, "bottom {bottom:?}");

    let cmyk = decode_rgb(&std::fs::read(dir.join("cmyk.jpg")).unwrap()).unwrap();
    assert_eq!(cmyk.dimensions(), (8, 6));
    let (left, right) = (cmyk.get_pixel(1, 3).0, cmyk.get_pixel(6, 3).0);
    assert!(left[0] > 180 && left[2] < 90, "left {left:?}");
    assert!(right[2] > 180 && right[0] < 90, "right {right:?}");
}
