//! Form helpers: per-field error messages and the checks every text input gets.

use std::collections::BTreeMap;

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

/// Trims a text input and refuses what PostgreSQL or a reader would choke on: NUL bytes and
/// other control characters (newlines and tabs are kept where `multiline` allows them).
fn clean_text(raw: &str, multiline: bool) -> Result<String, &'static str> {
    let text = raw.trim();
    let bad = |c: char| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t'));
    if text.chars().any(bad) {
        return Err("Please remove the control characters from this text.");
    }
    // Every line break becomes "\n", a lone "\r" included: some readers of the text (calendar
    // files, emails) take a bare CR as a line break and others do not.
    Ok(text.replace("\r\n", "\n").replace('\r', "\n"))
}

/// The rules of one free-text field: how long it may be, whether line breaks belong in it,
/// and what to say when it is left empty (`None` when it may be).
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
