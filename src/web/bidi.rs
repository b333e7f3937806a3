//! Keeping what members typed from turning Cuppa's own words around it. Text runs in the
//! direction of its letters, so a name in Arabic or Hebrew, or one that starts with a
//! right-to-left override, shown inside a sentence would reorder the words after it ("Met
//! [override]Nia in person?" reads "Met ?nosrep ni aiN"). Templates put each member-typed
//! value that sits among other words in a `<bdi>`. Text composed in Rust (notification lines,
//! which are stored whole and are also the emails' subjects and first lines, flash messages,
//! reasons) marks each member-typed piece with `isolate`: plain text such as an email honours
//! the marks as they are, and a page shows the pieces as `<bdi>` (`pieces`, through the
//! `isolated` macro in `_macros.html`).

/// FIRST STRONG ISOLATE: what follows, up to the matching `PDI`, takes its direction from its
/// own first letter and cannot reorder anything outside.
const FSI: char = '\u{2068}';
/// POP DIRECTIONAL ISOLATE: ends the isolate.
const PDI: char = '\u{2069}';

/// `text` as an isolate, for a sentence composed in Rust. Isolate marks of its own are left
/// out: a stray `PDI` would end the isolate early and let an override after it loose. The
/// forms refuse them, but rows written some other way may hold them.
pub fn isolate(text: &str) -> String {
    let inner: String = text.chars().filter(|c| !matches!(c, '\u{2066}'..='\u{2069}')).collect();
    format!("{FSI}{inner}{PDI}")
}

/// A piece of a composed text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Cuppa's own words.
    Cuppa(&'a str),
    /// What a member typed, marked by `isolate`.
    Member(&'a str),
}

/// `text` cut at the marks `isolate` made, the marks left out. A text without marks (written
/// before they were, or by Cuppa alone) is one `Cuppa` piece; a mark left open runs to the end.
pub fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some((before, after)) = rest.split_once(FSI) {
        if !before.is_empty() {
            pieces.push(Piece::Cuppa(before));
        }
        let (member, after) = after.split_once(PDI).unwrap_or((after, ""));
        pieces.push(Piece::Member(member));
        rest = after;
    }
    if !rest.is_empty() {
        pieces.push(Piece::Cuppa(rest));
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marked_pieces_come_back_as_members_text() {
        let text = format!("{} invites you to coffee at {}", isolate("Ada"), isolate("Café Lumen"));
        assert_eq!(text, "\u{2068}Ada\u{2069} invites you to coffee at \u{2068}Café Lumen\u{2069}");
        assert_eq!(
            pieces(&text),
            [Piece::Member("Ada"), Piece::Cuppa(" invites you to coffee at "), Piece::Member("Café Lumen")]
        );
    }

    #[test]
    fn text_without_marks_is_cuppas_own() {
        assert_eq!(pieces("Marked 2 notifications as read."), [Piece::Cuppa("Marked 2 notifications as read.")]);
        assert!(pieces("").is_empty());
    }

    #[test]
    fn a_members_own_isolate_marks_cannot_end_the_isolate() {
        // A pop mark typed into a name would close the isolate and leave the override after it
        // loose among Cuppa's words.
        let text = format!("Met {} in person?", isolate("\u{2069}\u{202E}won Nia"));
        assert_eq!(
            pieces(&text),
            [Piece::Cuppa("Met "), Piece::Member("\u{202E}won Nia"), Piece::Cuppa(" in person?")]
        );
    }

    #[test]
    fn a_mark_left_open_runs_to_the_end() {
        assert_eq!(pieces("News of \u{2068}Tea"), [Piece::Cuppa("News of "), Piece::Member("Tea")]);
    }
}
