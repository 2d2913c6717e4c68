//! Domain values parsed once from client input and trusted afterwards: user names, passwords,
//! video names and descriptions, comment texts, comment ids, search queries, page sizes and page
//! cursors (SPEC section 3). A video's id, state and visibility are the whole platform's words
//! and come from `svc` (`svc::VideoId`, `svc::VideoState`, `svc::Visibility`); only how a JSON
//! body spells a visibility is read here ([`visibility`]).
//!
//! Every parser returns a message a person can act on; the caller decides the status (422 for a
//! value out of bounds in a body, 404 for a path segment that cannot name anything, 400 for a
//! query parameter). Nothing here touches the database.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Deserializer};
use svc::Visibility;

use crate::search::Tier;

/// A login name: 1 to 64 characters, each a letter or digit (any script) or one of `_ - .`.
/// Compared byte for byte, as the `users.login_name` column is (`utf8mb4_bin`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserName(String);

impl UserName {
    pub const MAX_CHARS: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, String> {
        let chars = raw.chars().count();
        if chars == 0 {
            return Err("user_name must not be empty".into());
        }
        if chars > Self::MAX_CHARS {
            return Err(format!(
                "user_name is {chars} characters long; the limit is {}",
                Self::MAX_CHARS
            ));
        }
        if let Some(bad) = raw
            .chars()
            .find(|c| !(c.is_alphanumeric() || matches!(c, '_' | '-' | '.')))
        {
            return Err(format!(
                "user_name may hold only letters, digits, '_', '-' and '.'; {bad:?} is not allowed"
            ));
        }
        Ok(UserName(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password as chosen at registration: 8 to 256 characters. Never logged, never stored.
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 256;

    pub fn parse(raw: &str) -> Result<Self, String> {
        let chars = raw.chars().count();
        if !(Self::MIN_CHARS..=Self::MAX_CHARS).contains(&chars) {
            return Err(format!(
                "pwd must be {} to {} characters long; it is {chars}",
                Self::MIN_CHARS,
                Self::MAX_CHARS
            ));
        }
        Ok(Password(raw.to_string()))
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

/// Checks a free-text field: `1..=max` characters, not only white space, and no control
/// characters other than line breaks and tabs (which comments may carry).
fn text(field: &str, raw: &str, max: usize, allow_newlines: bool) -> Result<String, String> {
    if raw.trim().is_empty() {
        return Err(format!("{field} must not be empty"));
    }
    optional_text(field, raw, max, allow_newlines)
}

/// [`text`] that may also be empty or blank (a description).
fn optional_text(
    field: &str,
    raw: &str,
    max: usize,
    allow_newlines: bool,
) -> Result<String, String> {
    let chars = raw.chars().count();
    if chars > max {
        return Err(format!(
            "{field} is {chars} characters long; the limit is {max}"
        ));
    }
    let allowed = |c: char| allow_newlines && matches!(c, '\n' | '\r' | '\t');
    if raw.chars().any(|c| c.is_control() && !allowed(c)) {
        return Err(format!("{field} must not contain control characters"));
    }
    Ok(raw.to_string())
}

/// A video's title: 1 to 200 characters on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoName(String);

impl VideoName {
    pub const MAX_CHARS: usize = 200;

    pub fn parse(raw: &str) -> Result<Self, String> {
        text("name", raw, Self::MAX_CHARS, false).map(VideoName)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A video's description: plain text of 0 to 5000 characters, line breaks kept as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description(String);

impl Description {
    pub const MAX_CHARS: usize = 5000;

    pub fn parse(raw: &str) -> Result<Self, String> {
        optional_text("description", raw, Self::MAX_CHARS, true).map(Description)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Reads an optional `visibility` field of a JSON body (`#[serde(default, deserialize_with =
/// "visibility")]`). A string that is not a visibility is a malformed body, like a wrong type:
/// 400 with serde's message, which lists the three spellings.
pub fn visibility<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Visibility>, D::Error> {
    struct OneOf;
    impl serde::de::Expected for OneOf {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            let names: Vec<String> = Visibility::ALL
                .iter()
                .map(|v| format!("{:?}", v.as_str()))
                .collect();
            write!(f, "one of {}", names.join(", "))
        }
    }
    let Some(raw) = Option::<String>::deserialize(d)? else {
        return Ok(None);
    };
    Visibility::parse(&raw)
        .map(Some)
        .ok_or_else(|| serde::de::Error::invalid_value(serde::de::Unexpected::Str(&raw), &OneOf))
}

/// A comment's text: 1 to 2000 characters; line breaks allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentText(String);

impl CommentText {
    pub const MAX_CHARS: usize = 2000;

    pub fn parse(raw: &str) -> Result<Self, String> {
        text("content", raw, Self::MAX_CHARS, true).map(CommentText)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A UUID in its canonical lower-case hyphenated form, as every id the api stores is written
/// (comments, sessions, the id in a page cursor). The rule is [`svc::VideoId`]'s, not restated:
/// only the 36-character hyphenated spelling (any case), so that one row is never reachable
/// under several spellings.
pub fn canonical_uuid(raw: &str) -> Option<String> {
    svc::VideoId::parse(raw).map(|id| id.to_string())
}

/// A comment id (UUIDv4 text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentId(String);

impl CommentId {
    /// A fresh random (v4) id.
    pub fn random() -> Self {
        CommentId(uuid::Uuid::new_v4().to_string())
    }

    pub fn parse(raw: &str) -> Option<Self> {
        canonical_uuid(raw).map(CommentId)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What `GET /search?q=` looks for: trimmed, 1 to 200 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery(String);

impl SearchQuery {
    pub const MAX_CHARS: usize = 200;

    pub fn parse(raw: Option<&str>) -> Result<Self, String> {
        let q = raw.unwrap_or("").trim();
        if q.is_empty() {
            return Err("q must not be empty: say what to search for, as in ?q=mountains".into());
        }
        let chars = q.chars().count();
        if chars > Self::MAX_CHARS {
            return Err(format!(
                "q is {chars} characters long; the limit is {}",
                Self::MAX_CHARS
            ));
        }
        Ok(SearchQuery(q.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A position in search results: the tier and the `(time, id)` of the last row of the previous
/// page. Results are ordered by tier (title matches first), then newest first, which is a total
/// order on keys that never change, so a keyset works as on the lists: rows added while a
/// client pages are skipped only if they sort before its position, and nothing repeats. Clients
/// treat it as opaque (`before=`): base64url of `<tier>|<time>|<id>`, which a list's cursor is
/// not (and the reverse).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchCursor {
    pub tier: Tier,
    pub at: Cursor,
}

impl SearchCursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!(
            "{}|{}|{}",
            self.tier.number(),
            self.at.time,
            self.at.id
        ))
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        let bad = || {
            "before is not a search cursor this server issued; use the `next` value of the \
             previous page"
                .to_string()
        };
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        let (tier, key) = text.split_once('|').ok_or_else(bad)?;
        let tier = match tier.as_bytes() {
            [digit @ b'0'..=b'9'] => Tier::from_number(digit - b'0'),
            _ => None,
        }
        .ok_or_else(bad)?;
        let at = Cursor::from_text(key).ok_or_else(bad)?;
        Ok(SearchCursor { tier, at })
    }
}

/// How many rows a page holds: `limit`, default 20, 1 to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(u32);

impl Limit {
    pub const DEFAULT: Limit = Limit(20);
    pub const MAX: u32 = 100;

    pub fn parse(raw: Option<&str>) -> Result<Self, String> {
        let Some(raw) = raw else {
            return Ok(Self::DEFAULT);
        };
        match raw.parse::<u32>() {
            Ok(n) if (1..=Self::MAX).contains(&n) => Ok(Limit(n)),
            _ => Err(format!(
                "limit must be a whole number from 1 to {}; got {raw:?}",
                Self::MAX
            )),
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// A keyset position in a newest-first list: the `(time, id)` of the last row of the previous
/// page. Clients treat it as opaque (`before=`); it is base64url of `<time>|<id>`, where `<time>`
/// is the row's `DATETIME(6)` as MySQL writes it (`2026-01-02 03:04:05.123456`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub time: String,
    pub id: String,
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}|{}", self.time, self.id))
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        let bad = || {
            "before is not a cursor this server issued; use the `next` value of the previous page"
                .to_string()
        };
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        Self::from_text(&text).ok_or_else(bad)
    }

    /// `<time>|<id>`, decoded, checked (a real time, a canonical id).
    fn from_text(text: &str) -> Option<Self> {
        let (time, id) = text.split_once('|')?;
        let format = time::macros::format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:6]"
        );
        time::PrimitiveDateTime::parse(time, format).ok()?;
        Some(Cursor {
            time: time.to_string(),
            id: canonical_uuid(id)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names() {
        for ok in [
            "a",
            "ann",
            "Ann_B-c.d",
            "Zoë",
            "用户",
            "x1",
            &"n".repeat(64),
        ] {
            assert_eq!(UserName::parse(ok).unwrap().as_str(), ok);
        }
        assert!(UserName::parse("").unwrap_err().contains("empty"));
        assert!(UserName::parse(&"n".repeat(65))
            .unwrap_err()
            .contains("65 characters"));
        // 64 multi-byte characters are fine: the limit counts characters, not bytes.
        assert!(UserName::parse(&"é".repeat(64)).is_ok());
        for bad in ["a b", "a/b", "a'b", "a\"b", "a\u{0}", "ann!", "💥", "a%20"] {
            let e = UserName::parse(bad).unwrap_err();
            assert!(e.contains("not allowed"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn passwords() {
        assert!(Password::parse("12345678").is_ok());
        assert!(Password::parse(&"p".repeat(256)).is_ok());
        assert!(Password::parse("ééééééé é").is_ok());
        assert!(Password::parse("1234567").unwrap_err().contains("8 to 256"));
        assert!(Password::parse("").is_err());
        assert!(Password::parse(&"p".repeat(257)).is_err());
        assert_eq!(
            format!("{:?}", Password::parse("secret-pwd").unwrap()),
            "Password(***)"
        );
    }

    #[test]
    fn video_names_and_comments() {
        assert!(VideoName::parse("My \"holiday\" 'video' 🎬").is_ok());
        assert!(VideoName::parse(&"v".repeat(200)).is_ok());
        assert!(VideoName::parse(&"v".repeat(201))
            .unwrap_err()
            .contains("limit is 200"));
        assert!(VideoName::parse("").unwrap_err().contains("empty"));
        assert!(VideoName::parse("   ").unwrap_err().contains("empty"));
        assert!(VideoName::parse("a\nb").unwrap_err().contains("control"));
        assert!(CommentText::parse("line one\nline two\t'\"").is_ok());
        assert!(CommentText::parse(&"c".repeat(2000)).is_ok());
        assert!(CommentText::parse(&"c".repeat(2001)).is_err());
        assert!(CommentText::parse("\n\n").is_err());
        assert!(CommentText::parse("bell\u{7}").is_err());
    }

    #[test]
    fn comment_ids_have_the_one_spelling_video_ids_have() {
        let id = CommentId::random();
        assert_eq!(id.as_str().len(), 36);
        assert_eq!(CommentId::parse(id.as_str()), Some(id.clone()));
        let upper = id.as_str().to_uppercase();
        assert_eq!(CommentId::parse(&upper), Some(id.clone()));
        let u = uuid::Uuid::parse_str(id.as_str()).unwrap();
        for other in [
            u.simple().to_string(),
            u.braced().to_string(),
            u.urn().to_string(),
            format!(" {}", id.as_str()),
            String::new(),
            "nope".into(),
        ] {
            assert_eq!(CommentId::parse(&other), None, "{other:?}");
            assert_eq!(canonical_uuid(&other), None, "{other:?}");
            // The same rule as svc's video ids, by construction.
            assert_eq!(svc::VideoId::parse(&other), None, "{other:?}");
        }
        assert_eq!(canonical_uuid(&upper).as_deref(), Some(id.as_str()));
    }

    #[test]
    fn limits() {
        assert_eq!(Limit::parse(None).unwrap().get(), 20);
        assert_eq!(Limit::parse(Some("1")).unwrap().get(), 1);
        assert_eq!(Limit::parse(Some("100")).unwrap().get(), 100);
        for bad in ["0", "101", "-1", "abc", "", "1.5", "99999999999"] {
            assert!(
                Limit::parse(Some(bad)).unwrap_err().contains("1 to 100"),
                "{bad}"
            );
        }
    }

    #[test]
    fn cursors_round_trip_and_reject_forgeries() {
        let c = Cursor {
            time: "2026-01-02 03:04:05.123456".into(),
            id: uuid::Uuid::new_v4().to_string(),
        };
        assert_eq!(Cursor::parse(&c.encode()).unwrap(), c);
        let forged = [
            "".to_string(),
            "!!!".to_string(),
            URL_SAFE_NO_PAD.encode("no separator"),
            URL_SAFE_NO_PAD.encode(format!("yesterday|{}", c.id)),
            URL_SAFE_NO_PAD.encode("2026-01-02 03:04:05.123456|not-a-uuid"),
            URL_SAFE_NO_PAD.encode("2026-01-02 03:04:05.123456' OR 1=1 --|x"),
        ];
        for f in forged {
            assert!(Cursor::parse(&f).unwrap_err().contains("next"), "{f}");
        }
    }

    #[test]
    fn descriptions_may_be_empty_and_keep_their_lines() {
        for ok in [
            "",
            "   ",
            "line one\nline two\r\n\ttabbed",
            &"d".repeat(5000),
        ] {
            assert_eq!(Description::parse(ok).unwrap().as_str(), ok);
        }
        assert!(Description::parse(&"d".repeat(5001))
            .unwrap_err()
            .contains("limit is 5000"));
        assert!(Description::parse("bell\u{7}")
            .unwrap_err()
            .contains("control"));
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct WithVisibility {
        #[serde(default, deserialize_with = "visibility")]
        visibility: Option<Visibility>,
    }

    #[test]
    fn visibilities_are_read_by_their_spelling_and_anything_else_is_named() {
        let read = |body: &str| svc::http::parse_json::<WithVisibility>(body.as_bytes());
        for v in Visibility::ALL {
            let body = format!(r#"{{"visibility": "{v}"}}"#);
            assert_eq!(read(&body).unwrap().visibility, Some(v));
        }
        assert_eq!(read("{}").unwrap().visibility, None);
        assert_eq!(read(r#"{"visibility": null}"#).unwrap().visibility, None);
        let e = read(r#"{"visibility": "secret"}"#).unwrap_err();
        assert!(
            e.contains(r#"expected one of "public", "unlisted", "private""#),
            "{e}"
        );
        assert!(e.contains("secret"), "{e}");
        assert!(read(r#"{"visibility": 1}"#).is_err());
        assert!(read(r#"{"visibility": "Public"}"#).is_err());
    }

    #[test]
    fn search_queries_are_trimmed_and_bounded() {
        assert_eq!(
            SearchQuery::parse(Some("  mount ")).unwrap().as_str(),
            "mount"
        );
        assert_eq!(
            SearchQuery::parse(Some(&"视".repeat(200)))
                .unwrap()
                .as_str(),
            "视".repeat(200)
        );
        for empty in [None, Some(""), Some(" \t\n ")] {
            assert!(SearchQuery::parse(empty)
                .unwrap_err()
                .contains("must not be empty"));
        }
        assert!(SearchQuery::parse(Some(&"q".repeat(201)))
            .unwrap_err()
            .contains("limit is 200"));
    }

    #[test]
    fn search_cursors_round_trip_and_reject_forgeries() {
        let at = Cursor {
            time: "2026-01-02 03:04:05.123456".into(),
            id: uuid::Uuid::new_v4().to_string(),
        };
        for tier in [Tier::Title, Tier::Anywhere] {
            let c = SearchCursor {
                tier,
                at: at.clone(),
            };
            assert_eq!(SearchCursor::parse(&c.encode()).unwrap(), c);
        }
        let key = format!("{}|{}", at.time, at.id);
        for f in [
            "".to_string(),
            "!!!".to_string(),
            // The offset cursors of earlier versions.
            URL_SAFE_NO_PAD.encode("offset:20"),
            URL_SAFE_NO_PAD.encode(format!("0|{key}")),
            URL_SAFE_NO_PAD.encode(format!("3|{key}")),
            URL_SAFE_NO_PAD.encode(format!("+2|{key}")),
            URL_SAFE_NO_PAD.encode(format!("2|{}|not-a-uuid", at.time)),
            URL_SAFE_NO_PAD.encode(format!("2|2026-13-02 03:04:05.123456|{}", at.id)),
            URL_SAFE_NO_PAD.encode(format!("2|{key}|x")),
            // A list's cursor is not a search cursor, nor the reverse.
            at.encode(),
        ] {
            assert!(SearchCursor::parse(&f).unwrap_err().contains("next"), "{f}");
        }
        let search = SearchCursor {
            tier: Tier::Title,
            at,
        };
        assert!(Cursor::parse(&search.encode()).is_err());
    }
}
