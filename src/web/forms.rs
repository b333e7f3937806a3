//! Form helpers: per-field error messages, the checks every text input gets, and reading an
//! uploaded file.

use std::collections::BTreeMap;

use axum::extract::Multipart;
use axum::extract::multipart::MultipartError;
use axum::http::StatusCode;

/// Messages keyed by field name, shown beside each field when a form comes back with 422.
#[derive(Debug, Default, Clone)]
pub struct FieldErrors(BTreeMap<&'static str, String>);

impl FieldErrors {
    pub fn add(&mut self, field: &'static str, message: impl Into<String>) {
        self.0.entry(field).or_insert_with(|| message.into());
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_result<T>(self, value: T) -> Result<T, FieldErrors> {
        if self.is_empty() { Ok(value) } else { Err(self) }
    }
}

/// Unicode's format characters (general category Cf, from Unicode 16.0's
/// `DerivedGeneralCategory.txt`), as sorted, disjoint, inclusive ranges: they draw nothing, and
/// some of them change how the text around them is shown.
const FORMAT_CHARACTERS: &[(char, char)] = &[
    ('\u{00AD}', '\u{00AD}'),
    ('\u{0600}', '\u{0605}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{06DD}', '\u{06DD}'),
    ('\u{070F}', '\u{070F}'),
    ('\u{0890}', '\u{0891}'),
    ('\u{08E2}', '\u{08E2}'),
    ('\u{180E}', '\u{180E}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{202A}', '\u{202E}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{206F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFF9}', '\u{FFFB}'),
    ('\u{110BD}', '\u{110BD}'),
    ('\u{110CD}', '\u{110CD}'),
    ('\u{13430}', '\u{1343F}'),
    ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D173}', '\u{1D17A}'),
    ('\u{E0001}', '\u{E0001}'),
    ('\u{E0020}', '\u{E007F}'),
];

/// Whether `c` is a format character (Cf): zero-width spaces and joiners, direction marks,
/// embeddings, overrides and isolates, the byte order mark, tag characters and the like.
fn is_format(c: char) -> bool {
    FORMAT_CHARACTERS
        .binary_search_by(|&(first, last)| {
            if last < c {
                std::cmp::Ordering::Less
            } else if first > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// The embeddings, overrides and isolates (U+202A-202E, U+2066-2069): each reorders the text
/// after it, so "txt.exe" can be shown as "exe.txt", or a message be read backwards.
fn is_direction_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// What is wrong with a name (of a person, a place, a meetup; any one-line field), if anything:
/// control characters, or format characters, which cannot be seen or turn text around, so
/// that a name passes for another (two venues "of the same name") or scrambles the line it is
/// shown in. Zero-width joiners go too, though some Persian and Indic spellings and emoji
/// sequences use them: the name still reads without them, and telling where they belong
/// would take tables of scripts and joining types.
pub fn name_problem(name: &str) -> Option<&'static str> {
    if name.chars().any(char::is_control) {
        Some("Please remove the control characters from this text.")
    } else if name.chars().any(is_format) {
        Some(
            "This contains invisible or text-direction characters (such as a zero-width space or a \
             right-to-left override). Please remove them.",
        )
    } else {
        None
    }
}

/// What is wrong with free text (a bio, a note, a message), if anything: line breaks and tabs
/// are welcome, other control characters are not, nor the direction controls that would make
/// the text, or whatever is shown after it, read otherwise than it was written.
pub fn free_text_problem(text: &str) -> Option<&'static str> {
    if text.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        Some("Please remove the control characters from this text.")
    } else if text.chars().any(is_direction_control) {
        Some(
            "This contains text-direction characters (right-to-left or left-to-right overrides, \
             embeddings or isolates). Please remove them.",
        )
    } else {
        None
    }
}

/// Trims a text input and refuses what PostgreSQL or a reader would choke on or be fooled by
/// (see `name_problem` and, where `multiline` allows line breaks, `free_text_problem`).
fn clean_text(raw: &str, multiline: bool) -> Result<String, &'static str> {
    let text = raw.trim();
    let problem = if multiline { free_text_problem(text) } else { name_problem(text) };
    if let Some(message) = problem {
        return Err(message);
    }
    // Every line break becomes "\n", a lone "\r" included: some readers of the text (calendar
    // files, emails) take a bare CR as a line break and others do not.
    Ok(text.replace("\r\n", "\n").replace('\r', "\n"))
}

/// The rules of one text field: how long it may be, whether line breaks belong in it (a
/// one-line field is a name, held to `name_problem`; one with line breaks is free text, held to
/// `free_text_problem`), and what to say when it is left empty (`None` when it may be).
pub struct TextField {
    pub name: &'static str,
    pub max_chars: usize,
    pub multiline: bool,
    pub required: Option<&'static str>,
}

impl TextField {
    /// The cleaned text; a message beside the field when it breaks a rule.
    pub fn check(&self, raw: &str, errors: &mut FieldErrors) -> String {
        match clean_text(raw, self.multiline) {
            Ok(text) if text.is_empty() => {
                if let Some(message) = self.required {
                    errors.add(self.name, message);
                }
                text
            }
            Ok(text) => {
                let chars = text.chars().count();
                if chars > self.max_chars {
                    errors.add(self.name, format!("Keep it to {} characters (it has {chars}).", self.max_chars));
                }
                text
            }
            Err(message) => {
                errors.add(self.name, message);
                raw.trim().to_owned()
            }
        }
    }
}

/// Every IANA time zone name chrono-tz knows, for time zone lists.
pub fn zone_names() -> impl Iterator<Item = &'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name())
}

/// Percent-encodes a value for a query string (unreserved characters and `/` pass through).
pub fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Why a multipart form's file could not be read.
#[derive(Debug, PartialEq, Eq)]
pub enum FileFieldError {
    /// No file was chosen (browsers send an empty part then), or the field is absent.
    Missing,
    /// Larger than the limit: reading stopped there.
    TooLarge,
    /// A broken or cut-off upload.
    Malformed,
}

/// The file in field `name` of a multipart form, read as it arrives and never held past `max`
/// bytes: past them it is `TooLarge` (and so is a body the route's body limit cut off), and
/// the rest of the body is read and dropped ([`drain_multipart`]) so that the browser can
/// finish sending and read the page that says so. A broken or cut-off upload is an error,
/// never a shorter file.
pub async fn read_file_field(multipart: &mut Multipart, name: &str, max: usize) -> Result<Vec<u8>, FileFieldError> {
    let failed = |err: MultipartError| {
        if err.status() == StatusCode::PAYLOAD_TOO_LARGE { FileFieldError::TooLarge } else { FileFieldError::Malformed }
    };
    while let Some(mut field) = multipart.next_field().await.map_err(failed)? {
        if field.name() != Some(name) {
            continue;
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(failed)? {
            if bytes.len() + chunk.len() > max {
                // The part read so far is let go before the rest is read.
                drop(bytes);
                drop(field);
                drain_multipart(multipart).await;
                return Err(FileFieldError::TooLarge);
            }
            bytes.extend_from_slice(&chunk);
        }
        return if bytes.is_empty() { Err(FileFieldError::Missing) } else { Ok(bytes) };
    }
    Err(FileFieldError::Missing)
}

/// Reads the rest of a multipart body and drops it, for a form answered before it was read
/// whole. A server that answers while the browser is still sending closes the connection
/// (hyper reads one more chunk at most), and the browser shows "connection reset" instead of
/// the page. The route's body limit bounds the reading: past it, or when the body is broken,
/// this stops and the connection is closed after all.
pub async fn drain_multipart(multipart: &mut Multipart) {
    while let Ok(Some(mut field)) = multipart.next_field().await {
        while let Ok(Some(_)) = field.chunk().await {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_text_trims_and_refuses_nul_bytes() {
        assert_eq!(clean_text("  Ada  ", false), Ok("Ada".to_owned()));
        assert!(clean_text("A\0da", false).is_err());
        assert!(clean_text("line\nbreak", false).is_err());
        assert_eq!(clean_text("line\r\nbreak", true), Ok("line\nbreak".to_owned()));
        assert_eq!(clean_text("a\rEND:VEVENT", true), Ok("a\nEND:VEVENT".to_owned()));
    }

    #[test]
    fn text_fields_check_emptiness_length_and_control_characters() {
        let field = TextField { name: "city", max_chars: 5, multiline: false, required: Some("Say which city.") };
        let mut errors = FieldErrors::default();
        assert_eq!(field.check(" Oslo ", &mut errors), "Oslo");
        assert!(errors.is_empty());
        field.check("  ", &mut errors);
        assert_eq!(errors.get("city"), Some("Say which city."));
        let mut errors = FieldErrors::default();
        field.check("Lisboa", &mut errors);
        assert_eq!(errors.get("city"), Some("Keep it to 5 characters (it has 6)."));
        let optional = TextField { required: None, ..field };
        let mut errors = FieldErrors::default();
        assert_eq!(optional.check("", &mut errors), "");
        optional.check("a\0b", &mut errors);
        assert!(errors.get("city").is_some());
    }

    #[test]
    fn the_format_table_is_sorted_and_knows_cf_from_its_neighbours() {
        assert!(FORMAT_CHARACTERS.iter().all(|(first, last)| first <= last));
        assert!(FORMAT_CHARACTERS.windows(2).all(|pair| pair[0].1 < pair[1].0), "sorted and disjoint");
        for c in ['\u{AD}', '\u{61C}', '\u{200B}', '\u{200E}', '\u{202E}', '\u{2060}', '\u{2069}', '\u{FEFF}']
            .into_iter()
            .chain(['\u{13439}', '\u{1343F}', '\u{E0001}', '\u{E0020}', '\u{E007F}'])
        {
            assert!(is_format(c), "{c:?} is Cf");
        }
        for c in ['a', ' ', '\u{AC}', '\u{AE}', '\u{200A}', '\u{2010}', '\u{2065}', '\u{FE0F}', 'é', 'ع', '😀']
            .into_iter()
            .chain(['\u{E0000}', '\u{E0080}', '\u{10FFFF}'])
        {
            assert!(!is_format(c), "{c:?} is not Cf");
        }
        let direction: Vec<char> = ('\0'..=char::MAX).filter(|&c| is_direction_control(c)).collect();
        assert_eq!(direction.len(), 9);
        assert!(direction.iter().all(|&c| is_format(c)));
    }

    #[test]
    fn names_refuse_invisible_and_direction_characters() {
        let bad = ["Ada\u{200B}", "\u{200B}", "Ada \u{202E}gnp.exe", "\u{2067}Ada", "A\u{2060}da", "\u{FEFF}Ada"];
        for bad in bad.into_iter().chain(["Corner\u{200D}Café", "\u{E0041}Ada", "Ada\u{AD}"]) {
            assert!(name_problem(bad).unwrap().contains("invisible or text-direction characters"), "{bad:?}");
        }
        for good in ["Ada Lovelace", "Zoë O'Brien", "علی رضا", "李小龍", "Café ☕", "❤\u{FE0F}"] {
            assert_eq!(name_problem(good), None, "{good:?}");
        }
        assert!(name_problem("Ada\nLovelace").unwrap().contains("control characters"));
    }

    #[test]
    fn free_text_keeps_line_breaks_and_marks_but_refuses_direction_overrides() {
        assert_eq!(free_text_problem("Hello,\r\nsee you\tthen \u{200F}"), None);
        assert_eq!(free_text_problem("zero\u{200B}width and joined 👩\u{200D}👩"), None);
        for bad in ["read \u{202E}backwards", "\u{2066}isolated\u{2069}", "\u{202A}embedded"] {
            assert!(free_text_problem(bad).unwrap().contains("text-direction characters"), "{bad:?}");
        }
        assert!(free_text_problem("nul\0").unwrap().contains("control characters"));
        let bio = TextField { name: "bio", max_chars: 50, multiline: true, required: None };
        let mut errors = FieldErrors::default();
        assert_eq!(bio.check("evil\u{202E}txt", &mut errors), "evil\u{202E}txt", "what was typed comes back");
        assert!(errors.get("bio").is_some());
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(encode_query_value("/m/ada?x=1&y"), "/m/ada%3Fx%3D1%26y");
    }

    #[test]
    fn the_first_message_for_a_field_wins() {
        let mut errors = FieldErrors::default();
        errors.add("email", "first");
        errors.add("email", "second");
        assert_eq!(errors.get("email"), Some("first"));
        assert!(errors.into_result(()).is_err());
    }
}
