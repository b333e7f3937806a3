//! The Atom feed (RFC 4287) of upcoming public meetups, for feed readers. Pure: meetups in,
//! XML out. The `atom_syndication` writer escapes every text and attribute, so a title such as
//! `<script>` arrives in a reader as text, never as markup.

use atom_syndication::{Entry, Feed, FixedDateTime, Link, Person, Text};
use chrono::{DateTime, Utc};

use crate::meetups::model::Meetup;

/// How much of a description goes into an entry's summary, in characters.
const SUMMARY_DESCRIPTION_CHARS: usize = 280;

/// XML 1.0 cannot carry most control characters, even escaped; forms refuse them already, and
/// this keeps the feed well-formed whatever is in the database.
fn xml_text(text: &str) -> String {
    text.chars()
        .filter(|&c| (!c.is_control() || matches!(c, '\n' | '\t')) && !matches!(c, '\u{FFFE}' | '\u{FFFF}'))
        .collect()
}

fn fixed(time: DateTime<Utc>) -> FixedDateTime {
    time.fixed_offset()
}

/// The first `max` characters of `text`, cut at a word where one is near, with an ellipsis.
fn excerpt(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max).collect();
    let at_word = cut.rfind(char::is_whitespace).filter(|&i| i > max / 2).map_or(cut.as_str(), |i| &cut[..i]);
    format!("{}…", at_word.trim_end())
}

/// Plain text: when at the venue (with its zone), where, who organises, and how it begins.
fn summary(meetup: &Meetup) -> String {
    let mut text = format!(
        "{} to {} at {}. Organised by {}.",
        meetup.when(),
        meetup.until(),
        meetup.place(),
        meetup.organiser_name
    );
    let description =
        excerpt(&meetup.description.split_whitespace().collect::<Vec<_>>().join(" "), SUMMARY_DESCRIPTION_CHARS);
    if !description.is_empty() {
        text.push('\n');
        text.push_str(&description);
    }
    text
}

fn entry(meetup: &Meetup, base: &str) -> Entry {
    let url = format!("{base}/meetups/{}", meetup.id);
    Entry {
        id: url.clone(),
        title: Text::plain(xml_text(&meetup.title)),
        updated: fixed(meetup.updated_at),
        authors: vec![Person {
            name: xml_text(&meetup.organiser_name),
            uri: Some(format!("{base}/m/{}", meetup.organiser_handle)),
            ..Person::default()
        }],
        links: vec![Link { href: url, mime_type: Some("text/html".to_owned()), ..Link::default() }],
        summary: Some(Text::plain(xml_text(&summary(meetup)))),
        ..Entry::default()
    }
}

/// The feed of `meetups` (soonest first) at `self_url`, whose page is `page_url`. `updated` is
/// the latest change among its entries, and the Unix epoch for an empty feed, so the same
/// meetups always give the same feed.
pub fn feed(
    title: &str,
    id: &str,
    self_url: &str,
    page_url: &str,
    public_url: &str,
    meetups: &[Meetup],
) -> Result<String, atom_syndication::Error> {
    let base = public_url.trim_end_matches('/');
    let updated = meetups.iter().map(|m| m.updated_at).max().unwrap_or(DateTime::UNIX_EPOCH);
    let feed = Feed {
        id: id.to_owned(),
        title: Text::plain(xml_text(title)),
        updated: fixed(updated),
        // Every entry names its organiser; the feed's own author covers an empty feed.
        authors: vec![Person { name: "Cuppa".to_owned(), uri: Some(format!("{base}/")), ..Person::default() }],
        links: vec![
            Link {
                href: self_url.to_owned(),
                rel: "self".to_owned(),
                mime_type: Some("application/atom+xml".to_owned()),
                ..Link::default()
            },
            Link { href: page_url.to_owned(), mime_type: Some("text/html".to_owned()), ..Link::default() },
        ],
        entries: meetups.iter().map(|m| entry(m, base)).collect(),
        ..Feed::default()
    };
    let bytes = feed.write_to(Vec::new())?;
    // The writer writes UTF-8 only.
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_cut_long_text_at_a_word() {
        assert_eq!(excerpt("short", 10), "short");
        assert_eq!(excerpt("one two three four", 12), "one two…");
        assert_eq!(excerpt("abcdefghijkl", 5), "abcde…");
        assert_eq!(excerpt("ééééé ééé", 7), "ééééé…");
    }

    #[test]
    fn control_characters_are_left_out_of_xml() {
        assert_eq!(xml_text("a\u{1}b\u{7f}\nc\u{FFFF}"), "ab\nc");
    }
}
