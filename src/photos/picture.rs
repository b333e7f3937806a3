//! Turning an upload into the two stored sizes, with no I/O: decode under limits, turn it
//! upright, crop a centred square, shrink, re-encode. Re-encoding from pixels is what drops
//! everything else the file carried (EXIF with GPS location, comments, embedded scripts):
//! only pixels go in, and the JPEG encoder writes no metadata of its own.
//!
//! This is CPU work of tens to hundreds of milliseconds: callers run it off the async threads
//! (see `photos::run_bounded`).

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::error::{ImageError, LimitErrorKind};
use image::imageops::FilterType;
use image::metadata::Orientation;
use image::{DynamicImage, GenericImageView, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage};

use super::model::Size;

/// The largest upload accepted, in bytes.
pub const MAX_UPLOAD_BYTES: usize = 8 * 1024 * 1024;
/// The widest or tallest image decoded at all: past every phone camera (8,064 px at 48 MP).
const MAX_SIDE: u32 = 10_000;
/// The most memory a decoded image may take, checked from the header before any pixel is
/// allocated. A 48 MP photo in RGB is 146 MB; a 10,000-pixel square of 16-bit RGBA would be
/// 800 MB from a file of under 1 MB. Everything after the decode works on a copy of at most
/// twice the large size, so this is the peak, and one upload is processed at a time.
const MAX_ALLOC: u64 = 192 * 1024 * 1024;
/// A smaller image cannot fill the small size without looking blurred.
pub const MIN_SIDE: u32 = Size::Small.pixels();
/// Good enough for a face, a few tens of kilobytes at 384 px.
const JPEG_QUALITY: u8 = 85;

/// Why an upload was refused, in words for the member.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PictureError {
    #[error("This file is not a JPEG, PNG or WebP image. Please choose a photo in one of those formats.")]
    NotAnImage,
    #[error("This image is damaged or cut off, so it cannot be read. Please choose the file again.")]
    Damaged,
    #[error("This image has too many pixels to read: at most 10,000 on a side and about 48 megapixels, please.")]
    TooLarge,
    #[error("This image is too small: it should be at least {MIN_SIDE} by {MIN_SIDE} pixels.")]
    TooSmall,
}

/// The two sizes of a photo, as stored and served.
pub struct Encoded {
    pub small: Vec<u8>,
    pub large: Vec<u8>,
}

/// Reads an upload into pixels as the file stores them, with the turn that makes them upright,
/// refusing what is not really a JPEG, PNG or WebP image, what claims more pixels or memory
/// than the limits (from its header, before any pixel memory is taken: a small PNG declaring
/// 50,000 x 50,000 pixels is refused at once), and what is cut off.
pub fn decode(bytes: &[u8]) -> Result<(DynamicImage, Orientation), PictureError> {
    let mut reader =
        ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(|_| PictureError::NotAnImage)?;
    // The format comes from the file's first bytes, never from its name or declared type.
    let format = reader.format();
    if !matches!(format, Some(ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP)) {
        return Err(PictureError::NotAnImage);
    }
    // The JPEG decoder fills a cut-off image with grey rather than failing, so a JPEG must
    // reach its end-of-image marker.
    if format == Some(ImageFormat::Jpeg) && !jpeg_is_complete(bytes) {
        return Err(PictureError::Damaged);
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(refusal)?;
    // `into_decoder` checks the sides only; the memory limit is `decode()`'s, which cannot
    // give the orientation, so it is checked here.
    if decoder.total_bytes() > MAX_ALLOC {
        return Err(PictureError::TooLarge);
    }
    // Phones store pixels as the sensor saw them and say "turn this" in EXIF; the re-encode
    // drops EXIF, so the turn must be made in the pixels or the photo shows sideways.
    let orientation = decoder.orientation().map_err(refusal)?;
    let image = DynamicImage::from_decoder(decoder).map_err(refusal)?;
    Ok((image, orientation))
}

/// Decodes and encodes: the whole of an upload's processing.
pub fn prepare(bytes: &[u8]) -> Result<Encoded, PictureError> {
    let (image, orientation) = decode(bytes)?;
    let (width, height) = image.dimensions();
    if width.min(height) < MIN_SIDE {
        return Err(PictureError::TooSmall);
    }
    // A centred square stays the centred square under any turn or flip, so the small square
    // is turned rather than the whole photo: a full-size image is never copied.
    let mut square = centred_square(&image);
    drop(image);
    square.apply_orientation(orientation);
    Ok(encode(&square))
}

/// The centred square of an image, at most twice the large size: read through a view of the
/// original, never copied whole. Past that size a fast box filter shrinks it (a good filter
/// over a 4,000-pixel side costs seconds, over twice the target a few milliseconds, and looks
/// the same at the end).
fn centred_square(image: &DynamicImage) -> DynamicImage {
    let (width, height) = image.dimensions();
    let side = width.min(height);
    let view = image::imageops::crop_imm(image, (width - side) / 2, (height - side) / 2, side, side);
    let most = 2 * Size::Large.pixels();
    let square = if side > most { image::imageops::thumbnail(&*view, most, most) } else { view.to_image() };
    DynamicImage::ImageRgba8(square)
}

/// The centred square of an upright image, shrunk to both sizes and encoded as JPEG.
/// Transparent pixels are laid on white (JPEG has no transparency).
pub fn encode(image: &DynamicImage) -> Encoded {
    let square = centred_square(image);
    let large_side = Size::Large.pixels();
    // `DynamicImage`'s own methods, not the generic `imageops::resize`: those are compiled
    // inside `image`, which debug builds optimise (Cargo.toml), so tests and the demo seed
    // are not slowed by an unoptimised copy in Cuppa's crate. Same pixels either way.
    let rgb = DynamicImage::ImageRgb8(on_white(&square));
    let large = rgb.resize_exact(large_side, large_side, FilterType::CatmullRom);
    let small_side = Size::Small.pixels();
    let small = large.resize_exact(small_side, small_side, FilterType::CatmullRom);
    Encoded { small: jpeg(&small.to_rgb8()), large: jpeg(&large.to_rgb8()) }
}

fn on_white(image: &DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.to_rgb8();
    }
    let rgba = image.to_rgba8();
    RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let over = |c: u8| ((u16::from(c) * u16::from(a) + 255 * (255 - u16::from(a)) + 127) / 255) as u8;
        image::Rgb([over(r), over(g), over(b)])
    })
}

fn jpeg(image: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY)
        .encode_image(image)
        .expect("encoding pixels into memory cannot fail");
    out
}

fn refusal(err: ImageError) -> PictureError {
    match err {
        ImageError::Limits(limit) if matches!(limit.kind(), LimitErrorKind::DimensionError) => PictureError::TooLarge,
        // An allocation past the limit is an image too large to hold, too.
        ImageError::Limits(_) => PictureError::TooLarge,
        ImageError::Unsupported(_) => PictureError::NotAnImage,
        _ => PictureError::Damaged,
    }
}

/// Whether a JPEG's main image is followed by its end-of-image marker. The segments before
/// the scan are walked by their lengths, so an EXIF thumbnail's own end marker (inside APP1)
/// does not count; data after the marker (a phone's appended video) is allowed.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let mut at = 2; // after the start-of-image marker
    while at + 4 <= bytes.len() {
        if bytes[at] != 0xFF {
            return false;
        }
        let marker = bytes[at + 1];
        if marker == 0xFF {
            at += 1; // fill bytes
            continue;
        }
        if marker == 0xDA {
            return bytes[at..].windows(2).any(|pair| pair == [0xFF, 0xD9]);
        }
        let length = usize::from(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]));
        at += 2 + length;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, Rgba, RgbaImage};

    fn sample_rgb(width: u32, height: u32) -> RgbImage {
        RgbImage::from_fn(width, height, |x, y| Rgb([(x % 256) as u8, (y % 256) as u8, 128]))
    }

    fn encoded(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    #[test]
    fn each_format_becomes_two_square_jpegs() {
        let image = DynamicImage::ImageRgb8(sample_rgb(640, 400));
        for format in [ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::WebP] {
            let photo = prepare(&encoded(&image, format)).unwrap();
            for (bytes, side) in [(&photo.small, 96), (&photo.large, 384)] {
                let back = image::load_from_memory_with_format(bytes, ImageFormat::Jpeg).unwrap();
                assert_eq!(back.dimensions(), (side, side), "{format:?}");
            }
        }
    }

    #[test]
    fn the_crop_is_the_centre() {
        // Left third red, middle third green, right third blue: the square is the green middle.
        let image = RgbImage::from_fn(900, 300, |x, _| match x / 300 {
            0 => Rgb([255, 0, 0]),
            1 => Rgb([0, 255, 0]),
            _ => Rgb([0, 0, 255]),
        });
        let photo = encode(&DynamicImage::ImageRgb8(image));
        let back = image::load_from_memory(&photo.large).unwrap().to_rgb8();
        let Rgb([r, g, b]) = *back.get_pixel(192, 192);
        assert!(g > 200 && r < 60 && b < 60, "centre pixel {r},{g},{b}");
        let Rgb([r, g, b]) = *back.get_pixel(2, 192);
        assert!(g > 200 && r < 60 && b < 60, "left edge {r},{g},{b}");
    }

    #[test]
    fn transparency_is_laid_on_white() {
        let image = DynamicImage::ImageRgba8(RgbaImage::from_pixel(200, 200, Rgba([0, 0, 0, 0])));
        let photo = prepare(&encoded(&image, ImageFormat::Png)).unwrap();
        let back = image::load_from_memory(&photo.small).unwrap().to_rgb8();
        assert!(back.get_pixel(48, 48).0.iter().all(|&c| c > 245));
    }

    #[test]
    fn what_is_not_a_real_image_is_refused() {
        assert_eq!(decode(b"GIF89a not one of ours").err(), Some(PictureError::NotAnImage));
        assert_eq!(decode(b"<svg onload=alert(1)></svg>").err(), Some(PictureError::NotAnImage));
        assert_eq!(decode(b"\x89PNG\r\n\x1a\n but then nothing").err(), Some(PictureError::Damaged));
        let tiny = DynamicImage::ImageRgb8(sample_rgb(40, 40));
        assert_eq!(prepare(&encoded(&tiny, ImageFormat::Png)).err(), Some(PictureError::TooSmall));
    }

    // The decompression bomb (a PNG declaring 50,000 x 50,000) is refused through the upload
    // route, in tests/web/photos.rs.

    #[test]
    fn a_cut_off_image_is_refused_in_every_format() {
        let image = DynamicImage::ImageRgb8(sample_rgb(300, 300));
        for format in [ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::WebP] {
            let whole = encoded(&image, format);
            let cut = &whole[..whole.len() * 2 / 3];
            assert_eq!(decode(cut).err(), Some(PictureError::Damaged), "{format:?}");
        }
    }
}
