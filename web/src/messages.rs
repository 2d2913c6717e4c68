//! The one table that turns the api's precise messages into the plain sentences the pages show,
//! and says which form field each is about, so a page can put it next to that field
//! (`aria-describedby`). The api keeps its messages for programmers ("pwd must be 8 to 256
//! characters long; it is 5"); people read "Password must be at least 8 characters.".
//!
//! A message the table does not know passes through unchanged (with a full stop added), so
//! a new api message is never lost, only less polished. Which page shows what is `pages.rs`.

/// A message as a page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plain {
    /// The form field it is about (`user_name`, `pwd`, `name`, `description`, `content`), or
    /// `None` for the form as a whole.
    pub field: Option<&'static str>,
    pub text: String,
}

/// The api's field names and the label the forms give each.
const LABELS: &[(&str, &str)] = &[
    ("user_name", "User name"),
    ("pwd", "Password"),
    ("name", "Title"),
    ("description", "Description"),
    ("content", "Comment"),
    ("visibility", "Who can watch it"),
];

fn label(field: &str) -> Option<(&'static str, &'static str)> {
    LABELS.iter().find(|(f, _)| *f == field).copied()
}

/// The first number in `s`.
fn number_in(s: &str) -> Option<u64> {
    let digits: String = s
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// The plain sentence for one api message.
pub fn plain(message: &str) -> Plain {
    let m = message.trim();
    let whole = |text: &str| Plain {
        field: None,
        text: text.into(),
    };
    if m.starts_with("user authentication failed: wrong user name or password") {
        return Plain {
            field: Some("pwd"),
            text: "The user name or password is wrong. Check both and try again.".into(),
        };
    }
    if m.starts_with("user authentication failed") {
        return whole("Your session has ended. Sign in again.");
    }
    if m.starts_with("this user name is taken") {
        return Plain {
            field: Some("user_name"),
            text: "That user name is taken. Choose another one.".into(),
        };
    }
    if let Some(rest) = m.strip_prefix("pwd must be ") {
        let min = number_in(rest).unwrap_or(8);
        let now = rest
            .rsplit("it is ")
            .next()
            .and_then(number_in)
            .unwrap_or(0);
        let text = if now < min {
            format!("Password must be at least {min} characters.")
        } else {
            let max = rest.split(" to ").nth(1).and_then(number_in).unwrap_or(256);
            format!("Password must be at most {max} characters.")
        };
        return Plain {
            field: Some("pwd"),
            text,
        };
    }
    if m.starts_with("user_name may hold only") {
        return Plain {
            field: Some("user_name"),
            text:
                "User name may use only letters, digits, and the characters _ - and . (no spaces)."
                    .into(),
        };
    }
    // The generic shapes of `domain.rs`: "{field} must not be empty", "{field} is N characters
    // long; the limit is M", "{field} must not contain control characters".
    let field = m.split_whitespace().next().unwrap_or("");
    if let Some((field, label)) = label(field) {
        let rest = &m[field.len()..];
        let text = if rest.starts_with(" must not be empty") {
            Some(format!("{label} must not be empty."))
        } else if rest.contains("the limit is") {
            let max = rest.rsplit("the limit is").next().and_then(number_in);
            max.map(|max| format!("{label} must be at most {max} characters."))
        } else if rest.starts_with(" must not contain control characters") {
            Some(format!(
                "{label} holds invisible control characters; remove them and try again."
            ))
        } else {
            None
        };
        if let Some(text) = text {
            return Plain {
                field: Some(field),
                text,
            };
        }
    }
    whole(&sentence(m))
}

/// `text` ending with a full stop (or the mark it already ends with), first letter upper-case.
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    let mut out: String = match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => return String::new(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(field: Option<&'static str>, text: &str) -> Plain {
        Plain {
            field,
            text: text.into(),
        }
    }

    #[test]
    fn the_api_messages_read_as_plain_sentences_about_their_field() {
        let cases = [
            (
                "pwd must be 8 to 256 characters long; it is 5",
                p(Some("pwd"), "Password must be at least 8 characters."),
            ),
            (
                "pwd must be 8 to 256 characters long; it is 300",
                p(Some("pwd"), "Password must be at most 256 characters."),
            ),
            (
                "user_name may hold only letters, digits, '_', '-' and '.'; ' ' is not allowed",
                p(
                    Some("user_name"),
                    "User name may use only letters, digits, and the characters _ - and . (no spaces).",
                ),
            ),
            (
                "user authentication failed: wrong user name or password",
                p(
                    Some("pwd"),
                    "The user name or password is wrong. Check both and try again.",
                ),
            ),
            (
                "this user name is taken; choose another",
                p(Some("user_name"), "That user name is taken. Choose another one."),
            ),
            (
                "user_name must not be empty",
                p(Some("user_name"), "User name must not be empty."),
            ),
            (
                "user_name is 70 characters long; the limit is 64",
                p(Some("user_name"), "User name must be at most 64 characters."),
            ),
            (
                "name must not be empty",
                p(Some("name"), "Title must not be empty."),
            ),
            (
                "content is 2100 characters long; the limit is 2000",
                p(Some("content"), "Comment must be at most 2000 characters."),
            ),
            (
                "description must not contain control characters",
                p(
                    Some("description"),
                    "Description holds invisible control characters; remove them and try again.",
                ),
            ),
        ];
        for (api, expected) in cases {
            assert_eq!(plain(api), expected, "{api}");
        }
    }

    #[test]
    fn unknown_messages_pass_through_as_a_sentence() {
        assert_eq!(
            plain("something new went wrong"),
            p(None, "Something new went wrong.")
        );
        assert_eq!(plain("Already fine."), p(None, "Already fine."));
        assert_eq!(plain(""), p(None, ""));
    }
}
