//! What a photo is to the rest of Cuppa: two sizes, and a URL that names its version.

/// The two sizes stored for every photo. Lists show the small one at 48 CSS pixels (96 device
/// pixels on a phone's screen); the profile shows the large one at up to 192.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    Small,
    Large,
}

impl Size {
    pub const fn pixels(self) -> u32 {
        match self {
            Size::Small => 96,
            Size::Large => 384,
        }
    }

    /// The size named in a photo's file name (`96`, `384`).
    pub fn from_pixels(text: &str) -> Option<Size> {
        match text {
            "96" => Some(Size::Small),
            "384" => Some(Size::Large),
            _ => None,
        }
    }
}

/// A member's photo in a given size: `/photos/{member}/{photo}-{pixels}.jpg`. The photo's id is
/// its version: a new photo is a new row, so the URL changes with it and may be cached for good.
pub fn url(member_id: i64, photo_id: i64, size: Size) -> String {
    format!("/photos/{member_id}/{photo_id}-{}.jpg", size.pixels())
}

/// Reads a photo's file name (`{photo}-{pixels}.jpg`) back; anything else is not a photo.
pub fn parse_file_name(name: &str) -> Option<(i64, Size)> {
    let (photo, pixels) = name.strip_suffix(".jpg")?.split_once('-')?;
    Some((parse_id(photo)?, Size::from_pixels(pixels)?))
}

/// An id in a photo's URL: digits only, with no leading zero.
pub fn parse_id(text: &str) -> Option<i64> {
    // `parse` would take a leading '+' or zeros ("007"), which would give one photo more
    // than one URL.
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) || (text.starts_with('0') && text != "0") {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_reads_back() {
        assert_eq!(url(7, 42, Size::Small), "/photos/7/42-96.jpg");
        assert_eq!(parse_file_name("42-96.jpg"), Some((42, Size::Small)));
        assert_eq!(parse_file_name("42-384.jpg"), Some((42, Size::Large)));
        for bad in
            ["42-97.jpg", "42-96.png", "+42-96.jpg", "-96.jpg", "x-96.jpg", "42-96", "99999999999999999999-96.jpg"]
        {
            assert_eq!(parse_file_name(bad), None, "{bad}");
        }
        assert_eq!(parse_id("7"), Some(7));
        assert_eq!(parse_id("70"), Some(70));
        assert_eq!(parse_id("0"), Some(0));
        for bad in ["+7", "07", "007", "00", ""] {
            assert_eq!(parse_id(bad), None, "{bad}");
        }
        assert_eq!(parse_file_name("042-96.jpg"), None);
    }
}
