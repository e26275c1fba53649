//! XEP-0106 JID escaping of localparts.
//!
//! Only the localpart of a JID is ever escaped. The escaped form is what
//! travels on the wire and what is compared; the unescaped form is for
//! display and for gateways to foreign address formats.

use std::borrow::Cow;

use super::JidError;

/// The XEP-0106 escape table: the unescaped character and the two lowercase
/// hex digits that follow the backslash in its escaped form.
const ESCAPES: [(char, &str); 10] = [
    (' ', "20"),
    ('"', "22"),
    ('&', "26"),
    ('\'', "27"),
    ('/', "2f"),
    (':', "3a"),
    ('<', "3c"),
    ('>', "3e"),
    ('@', "40"),
    ('\\', "5c"),
];

/// The escape code (without the backslash) of a character that must always
/// be escaped. The backslash is not in this set: it is escaped only in front
/// of a valid escape code, see [`escape_node`].
fn always_escaped_code(c: char) -> Option<&'static str> {
    if c == '\\' {
        return None;
    }
    ESCAPES
        .iter()
        .find_map(|&(raw, code)| (raw == c).then_some(code))
}

/// Decodes the two characters following a backslash, if they form one of the
/// ten escape codes. Case is significant: only lowercase hex digits count.
fn decode(code: &str) -> Option<char> {
    ESCAPES
        .iter()
        .find_map(|&(raw, known)| (known == code).then_some(raw))
}

/// Whether `rest` (the text right after a backslash) starts with one of the
/// ten escape codes.
fn starts_with_code(rest: &str) -> bool {
    rest.get(..2).and_then(decode).is_some()
}

/// Escapes a raw (user-visible) localpart per XEP-0106.
///
/// Each of the characters space, `"`, `&`, `'`, `/`, `:`, `<`, `>` and `@`
/// becomes `\20`, `\22`, `\26`, `\27`, `\2f`, `\3a`, `\3c`, `\3e` and `\40`.
/// A backslash becomes `\5c` **only** when it is followed by one of the ten
/// escape codes (`20 22 26 27 2f 3a 3c 3e 40 5c`, lowercase), as XEP-0106
/// section 4.1 rule 7 and section 4.3 ("Exceptions") require; any other
/// backslash is copied unchanged, so `foo\bar` stays `foo\bar`.
///
/// (XEP-0106's example table disagrees with its own rules for inputs such as
/// `c:\net`, where it shows `c\3a\5cnet`; this function produces `c\3a\net`.
/// Both forms unescape to `c:\net`.)
///
/// No other character is touched: the result is not checked against the
/// localpart rules, so it may still be rejected by [`BareJid::new`]
/// (for example an input containing a tab). Other Unicode space characters
/// are not mapped to U+0020.
///
/// # Errors
///
/// [`JidError::EscapeLeadingOrTrailingSpace`] if `raw` starts or ends with a
/// space: XEP-0106 forbids `\20` at the start or end of an escaped localpart.
///
/// # Examples
///
/// ```
/// use xmpp_kit::jid::{escape_node, unescape_node};
///
/// assert_eq!(escape_node("d'artagnan")?, "d\\27artagnan");
/// assert_eq!(escape_node("space cadet")?, "space\\20cadet");
/// assert_eq!(unescape_node("d\\27artagnan"), "d'artagnan");
/// assert!(escape_node(" leading").is_err());
/// # Ok::<(), xmpp_kit::JidError>(())
/// ```
///
/// [`BareJid::new`]: super::BareJid::new
pub fn escape_node(raw: &str) -> Result<Cow<'_, str>, JidError> {
    if raw.starts_with(' ') || raw.ends_with(' ') {
        return Err(JidError::EscapeLeadingOrTrailingSpace);
    }
    let needs_escaping = raw.char_indices().any(|(i, c)| {
        always_escaped_code(c).is_some()
            || (c == '\\' && starts_with_code(raw.get(i + 1..).unwrap_or("")))
    });
    if !needs_escaping {
        return Ok(Cow::Borrowed(raw));
    }
    let mut out = String::with_capacity(raw.len() + 8);
    for (i, c) in raw.char_indices() {
        if let Some(code) = always_escaped_code(c) {
            out.push('\\');
            out.push_str(code);
        } else if c == '\\' && starts_with_code(raw.get(i + 1..).unwrap_or("")) {
            out.push_str("\\5c");
        } else {
            out.push(c);
        }
    }
    Ok(Cow::Owned(out))
}

/// Unescapes an escaped localpart per XEP-0106, for display or gatewaying.
///
/// Only the ten escape sequences `\20 \22 \26 \27 \2f \3a \3c \3e \40 \5c`
/// (lowercase hex, as XEP-0106 makes case significant) are transformed; every
/// other backslash, including partial sequences such as `\2` and sequences for
/// other characters such as `\41`, is left unchanged. Sequences are decoded
/// left to right without re-scanning, so `\5c27` becomes `\27`, not `'`.
///
/// This never fails: a `\20` at the start or end (which XEP-0106 forbids in
/// an escaped localpart) is still unescaped to a space.
///
/// For any string `s` that [`escape_node`] accepts,
/// `unescape_node(&escape_node(s)?) == s`.
pub fn unescape_node(escaped: &str) -> Cow<'_, str> {
    if !escaped.contains('\\') {
        return Cow::Borrowed(escaped);
    }
    let mut out = String::with_capacity(escaped.len());
    let mut rest = escaped;
    while let Some(pos) = rest.find('\\') {
        let (head, tail) = rest.split_at_checked(pos).unwrap_or((rest, ""));
        out.push_str(head);
        // `tail` starts with the one-byte backslash.
        let after = tail.get(1..).unwrap_or("");
        match after.get(..2).and_then(decode) {
            Some(c) => {
                out.push(c);
                rest = after.get(2..).unwrap_or("");
            }
            None => {
                out.push('\\');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_is_case_sensitive() {
        assert_eq!(decode("2f"), Some('/'));
        assert_eq!(decode("2F"), None);
        assert_eq!(unescape_node("a\\2Fb"), "a\\2Fb");
        assert_eq!(escape_node("a\\2Fb").unwrap(), "a\\2Fb");
    }

    #[test]
    fn borrowed_when_unchanged() {
        assert!(matches!(escape_node("plain").unwrap(), Cow::Borrowed(_)));
        assert!(matches!(unescape_node("plain"), Cow::Borrowed(_)));
        assert!(matches!(escape_node("foo\\bar").unwrap(), Cow::Borrowed(_)));
    }

    #[test]
    fn backslash_at_end_and_multibyte_after_backslash() {
        assert_eq!(escape_node("a\\").unwrap(), "a\\");
        assert_eq!(unescape_node("a\\"), "a\\");
        assert_eq!(escape_node("\\é2").unwrap(), "\\é2");
        assert_eq!(unescape_node("\\é2"), "\\é2");
        assert_eq!(unescape_node("\\2"), "\\2");
    }
}
