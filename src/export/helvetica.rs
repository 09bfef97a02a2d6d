//! Advance widths of Helvetica (and Helvetica-Oblique, which has the same widths) in
//! thousandths of an em, by WinAnsiEncoding byte, so PDF text is wrapped by its real width.
//! ASCII widths are Adobe's published metrics; accented letters take their base letter's width,
//! and bytes we do not know are counted as a full em, which can only wrap a line early.

/// Widths of bytes 32..=126.
const ASCII: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278,
    278, // space../
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, // 0..?
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, // @..O
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, // P.._
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, // `..o
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, // p..~
];

/// The letter each byte 0xC0..=0xFF is drawn from (À is an A), for its width.
const LATIN1_BASE: &[u8; 64] =
    b"AAAAAA\xc6CEEEEIIIIDNOOOOO\xd7OUUUUY\xdeSaaaaaa\xe6ceeeeiiiidnooooo\xf7ouuuuy\xfey";

/// Width of one WinAnsi byte, in thousandths of an em.
pub fn byte_width(b: u8) -> u16 {
    match b {
        32..=126 => ASCII[(b - 32) as usize],
        0x85 | 0x97 => 1000, // … —
        0x91 | 0x92 => 222,  // ‘ ’
        0x93 | 0x94 => 333,  // “ ”
        0x96 => 556,         // –
        0xa0 => 278,
        0xab | 0xbb => 556, // « »
        0xb0 => 400,
        0xb7 => 278,
        0xc6 => 1000, // Æ
        0xd7 | 0xf7 => 584,
        0xde => 667,
        0xdf => 611, // ß
        0xe6 => 889, // æ
        0xfe => 556,
        0xc0..=0xff => byte_width(LATIN1_BASE[(b - 0xc0) as usize]),
        _ => 1000,
    }
}

/// Width of WinAnsi `bytes` set at `size` points.
#[cfg(test)]
pub fn text_width(bytes: &[u8], size: f32) -> f32 {
    bytes.iter().map(|&b| byte_width(b) as f32).sum::<f32>() * size / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_widths_and_accents() {
        assert_eq!(byte_width(b' '), 278);
        assert_eq!(byte_width(b'W'), 944);
        assert_eq!(byte_width(b'i'), 222);
        assert_eq!(byte_width(b'~'), 584);
        assert_eq!(byte_width(0xe9), byte_width(b'e')); // é
        assert_eq!(byte_width(0xc9), byte_width(b'E')); // É
        assert_eq!(byte_width(0xdf), 611);
        assert_eq!(byte_width(0x01), 1000);
        assert!((text_width(b"Hi", 10.0) - 9.44).abs() < 1e-4);
    }
}
