//! Text that goes to a terminal or to a line-oriented format, made safe to
//! show. This is the one place that decides how untrusted characters look.
//!
//! Data keeps raw values everywhere else in tcptune: a `comm` read from
//! `/proc/PID/comm`, a key or value quoted from a sysctl file, a profile's
//! name or a path. Only where text is finally written for people (the human
//! printer, error and warning lines, Prometheus label values, the comment
//! lines of the generated sysctl.d file) does it pass through [`escape`].
//! JSON needs none of this: serde escapes every string exactly.

use std::borrow::Cow;
use std::fmt;

/// Whether a character must not reach a terminal as itself: C0 and C1
/// controls (ESC starts CSI and OSC sequences, BEL ends OSC, a newline
/// forges a line), DEL, the bidirectional embeddings, overrides and isolates
/// that reorder what the reader sees (U+202A–U+202E, U+2066–U+2069, and the
/// marks U+200E/U+200F, U+061C), and zero-width characters that hide text
/// (U+200B–U+200D, U+2060, U+FEFF).
fn is_hidden_or_control(ch: char) -> bool {
    ch.is_control()
        || matches!(
            ch,
            '\u{061c}'
                | '\u{200b}'..='\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2060}'
                | '\u{2066}'..='\u{2069}'
                | '\u{feff}'
        )
}

/// `text` with every control, bidirectional-override and zero-width
/// character shown visibly (`\u{1b}`, `\n`, `\u{202e}`), so that nothing
/// read from the machine or a file can move the cursor, recolour the
/// terminal, set its title, forge a line or reorder what is shown.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_hidden_or_control) {
        return Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 8);
    for ch in text.chars() {
        if is_hidden_or_control(ch) {
            shown.extend(ch.escape_default());
        } else {
            shown.push(ch);
        }
    }
    Cow::Owned(shown)
}

/// A value that displays escaped: `format!("{}", Shown(name))`.
pub struct Shown<'a>(pub &'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Padding and width still apply to the escaped form.
        f.pad(&escape(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        assert!(matches!(escape("nginx: worker"), Cow::Borrowed(_)));
        assert_eq!(escape("café 日本"), "café 日本");
    }

    #[test]
    fn terminal_sequences_and_line_breaks_are_shown() {
        assert_eq!(escape("\u{1b}[31mred"), "\\u{1b}[31mred");
        assert_eq!(escape("\u{1b}]0;title\u{7}"), "\\u{1b}]0;title\\u{7}");
        assert_eq!(escape("a\nb\rc\td"), "a\\nb\\rc\\td");
        assert_eq!(escape("\u{9b}2J"), "\\u{9b}2J");
        assert_eq!(escape("\u{7f}"), "\\u{7f}");
    }

    #[test]
    fn reordering_and_invisible_characters_are_shown() {
        assert_eq!(escape("evil\u{202e}gpj.exe"), "evil\\u{202e}gpj.exe");
        assert_eq!(escape("\u{2066}x\u{2069}"), "\\u{2066}x\\u{2069}");
        assert_eq!(escape("a\u{200b}b\u{feff}"), "a\\u{200b}b\\u{feff}");
        assert_eq!(escape("\u{200f}"), "\\u{200f}");
    }

    #[test]
    fn shown_pads_the_escaped_form() {
        assert_eq!(format!("[{:<6}]", Shown("a\nb")), "[a\\nb  ]");
    }
}
