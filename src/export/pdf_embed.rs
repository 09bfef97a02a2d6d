//! Writes one found font into the PDF as typst does: a Type0 font with Identity-H encoding
//! (two-byte glyph ids), a CID font with the subset's widths, a font descriptor holding only
//! the glyphs the book uses, and a ToUnicode map so copying and `pdftotext` give the text back.

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Filter, Finish, Name, Pdf, Rect, Ref, Str};
use subsetter::GlyphRemapper;
use ttf_parser::Face;

use super::pdf_font::FoundFont;

const IDENTITY: SystemInfo = SystemInfo {
    registry: Str(b"Adobe"),
    ordering: Str(b"Identity"),
    supplement: 0,
};

/// Writes `font`'s subset as the Type0 font `type0`; `next` hands out new object ids.
pub fn write_font(
    pdf: &mut Pdf,
    type0: Ref,
    mut next: impl FnMut() -> Ref,
    slot: usize,
    font: &FoundFont,
    remapper: &GlyphRemapper,
) -> Result<(), String> {
    let face = Face::parse(&font.data, font.index)
        .map_err(|e| format!("the font {} cannot be read: {e}", font.name))?;
    let subset = subsetter::subset(&font.data, font.index, remapper)
        .map_err(|e| format!("the font {} cannot be embedded: {e}", font.name))?;
    let is_cff = face.tables().cff.is_some();
    let scale = 1000.0 / face.units_per_em() as f32;
    let base = format!("{}+{}", subset_tag(slot, remapper), font.name);

    let cid = next();
    let descriptor = next();
    let cmap = next();
    let file = next();

    pdf.type0_font(type0)
        .base_font(Name(base.as_bytes()))
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(cid)
        .to_unicode(cmap);

    let mut cid_font = pdf.cid_font(cid);
    cid_font
        .subtype(if is_cff {
            CidFontType::Type0
        } else {
            CidFontType::Type2
        })
        .base_font(Name(base.as_bytes()))
        .system_info(IDENTITY)
        .font_descriptor(descriptor);
    if !is_cff {
        cid_font.cid_to_gid_map_predefined(Name(b"Identity"));
    }
    let widths: Vec<f32> = remapper
        .remapped_gids()
        .map(|old| {
            face.glyph_hor_advance(ttf_parser::GlyphId(old))
                .unwrap_or(0) as f32
                * scale
        })
        .collect();
    cid_font.widths().consecutive(0, widths);
    cid_font.finish();

    let bbox = face.global_bounding_box();
    let ascent = face.ascender() as f32 * scale;
    let mut d = pdf.font_descriptor(descriptor);
    d.name(Name(base.as_bytes()))
        .flags(FontFlags::NON_SYMBOLIC)
        .bbox(Rect::new(
            bbox.x_min as f32 * scale,
            bbox.y_min as f32 * scale,
            bbox.x_max as f32 * scale,
            bbox.y_max as f32 * scale,
        ))
        .italic_angle(0.0)
        .ascent(ascent)
        .descent(face.descender() as f32 * scale)
        .cap_height(
            face.capital_height()
                .map_or(ascent * 0.7, |h| h as f32 * scale),
        )
        .stem_v(80.0);
    if is_cff {
        d.font_file3(file);
    } else {
        d.font_file2(file);
    }
    d.finish();

    let mut unicode = UnicodeCmap::new(Name(b"Custom"), IDENTITY);
    let mut mapped = std::collections::BTreeSet::new();
    for (&c, &(old, _)) in &font.glyphs {
        // One text per glyph: the first character (in code order) that it draws.
        if let Some(new) = remapper.get(old).filter(|&new| mapped.insert(new)) {
            unicode.pair(new, c);
        }
    }
    pdf.cmap(cmap, &unicode.finish())
        .name(Name(b"Custom"))
        .system_info(IDENTITY);

    let packed = miniz_oxide::deflate::compress_to_vec_zlib(&subset, 6);
    let mut stream = pdf.stream(file, &packed);
    stream.filter(Filter::FlateDecode);
    if is_cff {
        // A CFF subset comes wrapped as OpenType, which PDF 1.6 and later embed as such.
        stream.pair(Name(b"Subtype"), Name(b"OpenType"));
    }
    stream.finish();
    Ok(())
}

/// Six capital letters that name this subset, different for each font of the document.
fn subset_tag(slot: usize, remapper: &GlyphRemapper) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325 ^ slot as u64;
    for gid in remapper.remapped_gids() {
        hash = (hash ^ gid as u64).wrapping_mul(0x0100_0000_01b3);
    }
    (0..6)
        .map(|i| (b'A' + ((hash >> (i * 5)) % 26) as u8) as char)
        .collect()
}
