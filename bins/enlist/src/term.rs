//! Text for the operator's terminal. Names, labels, userNames and details
//! come from identity providers and Admins; a raw escape sequence in one
//! could rewrite the screen or the clipboard (OSC 52), so every line the CLI
//! prints for people goes through [`term`]. JSON output is safe as it is:
//! serde_json escapes control characters.

use enlist_core::service::is_hostile_char;
use std::borrow::Cow;

/// `s` with every control character and bidirectional override written
/// as a visible `\u{…}` escape (tab and newline included: a line printed
/// is one line).
pub(crate) fn term(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_hostile_char) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars().map(|c| if is_hostile_char(c) { c.escape_unicode().to_string() } else { c.to_string() }).collect(),
    )
}

/// `println!` for people: the whole line escaped with [`term`].
macro_rules! say {
    ($($arg:tt)*) => { println!("{}", $crate::term::term(&format!($($arg)*))) };
}

/// `eprintln!` for people: the whole line escaped with [`term`].
macro_rules! note {
    ($($arg:tt)*) => { eprintln!("{}", $crate::term::term(&format!($($arg)*))) };
}

pub(crate) use {note, say};

#[cfg(test)]
mod tests {
    use super::term;

    #[test]
    fn control_characters_and_bidi_overrides_are_escaped_and_plain_text_is_kept() {
        for (raw, shown) in [
            ("Entra ID provisioning", "Entra ID provisioning"),
            ("Zoë Ünal", "Zoë Ünal"),
            ("a\u{1b}]52;c;ZXZpbA==\u{7}b", "a\\u{1b}]52;c;ZXZpbA==\\u{7}b"),
            ("two\nlines", "two\\u{a}lines"),
            ("\u{9b}31m", "\\u{9b}31m"),
            ("gpj.\u{202e}exe", "gpj.\\u{202e}exe"),
        ] {
            assert_eq!(term(raw), shown, "{raw:?}");
        }
    }
}
