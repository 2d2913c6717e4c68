//! Domain values parsed once from client input and trusted afterwards: user names, passwords,
//! video names, comment texts, comment ids, page sizes and page cursors (SPEC section 3). A
//! video's id and state are the whole platform's words and come from `svc` (`svc::VideoId`,
//! `svc::VideoState`).
//!
//! Every parser returns a message a person can act on; the caller decides the status (422 for a
//! value out of bounds in a body, 404 for a path segment that cannot name anything, 400 for a
//! query parameter). Nothing here touches the database.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

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

/// Checks a free-text field: `min..=max` characters, not only white space, and no control
/// characters other than line breaks and tabs (which comments may carry).
fn text(field: &str, raw: &str, max: usize, allow_newlines: bool) -> Result<String, String> {
    let chars = raw.chars().count();
    if chars == 0 || raw.trim().is_empty() {
        return Err(format!("{field} must not be empty"));
    }
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
        let (time, id) = text.split_once('|').ok_or_else(bad)?;
        let format = time::macros::format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:6]"
        );
        time::PrimitiveDateTime::parse(time, format).map_err(|_| bad())?;
        let id = canonical_uuid(id).ok_or_else(bad)?;
        Ok(Cursor {
            time: time.to_string(),
            id,
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
}
