//! How text becomes full-text tokens: the words written into `video_info.search_text` with every
//! create and edit ([`index_text`]), and the InnoDB BOOLEAN MODE expression a search query
//! becomes ([`boolean_query`]). Both cut text the same way, which is the whole point of this
//! module; the SQL that uses them is in `store::videos`.
//!
//! Why the api tokenises rather than the database: MariaDB has no ngram parser, so Chinese,
//! Japanese and Korean text (no spaces between words) would be one token per sentence; and
//! `innodb_ft_min_token_size` (3) and the built-in stop-word list would drop short and common
//! words ("go", "the"). Both are server settings this project cannot rely on. So every token gets
//! a tag (`w_` for a word, `c_` for CJK), which makes it at least three characters long and never
//! a stop word, and the server's parser only has to split on the spaces between tokens.
//!
//! - Text is normalised first: lower case, Unicode NFKD with the combining marks (accents)
//!   dropped, then NFC, so "Café", "CAFÉ" and "cafe" are one word, full-width letters are
//!   ordinary letters and Hangul syllables come back whole. The kana voicing marks (U+3099,
//!   U+309A) are kept: they are not accents but part of the letter (ガ is not カ).
//! - A run of CJK letters (Han, Hiragana, Katakana, Hangul) becomes each character `c_X` and
//!   each overlapping pair `c_XY`; any other run of letters and digits becomes `w_word`,
//!   truncated so that a token stays within `innodb_ft_max_token_size` (84 characters).
//! - In a query, a word must match as a prefix (`+w_mount*` finds "Mountains"); a single CJK
//!   character must be present (`+c_视`); a longer CJK run needs every overlapping pair
//!   (`+c_视频`), so "视频" finds "我的第一个视频" but not "视 频", where the two characters are
//!   not neighbours. Only tokens reach the expression: every other character of the query
//!   (BOOLEAN MODE operators included) is a separator, so a query cannot inject syntax.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// `innodb_ft_max_token_size`'s default: a longer token would not be indexed at all.
const MAX_TOKEN_CHARS: usize = 84;

/// `search_text` is a `TEXT` column (65,535 bytes); what does not fit is left out, description
/// last. Only a description of thousands of CJK characters comes near it.
const MAX_INDEX_BYTES: usize = 60_000;

const WORD_TAG: &str = "w_";
const CJK_TAG: &str = "c_";

/// The `search_text` of a video: the name's tokens twice (a match in the title weighs more),
/// then the description's once, separated by spaces.
pub fn index_text(name: &str, description: &str) -> String {
    let name = tokens(name);
    let mut out = String::new();
    for token in name.iter().chain(&name).chain(&tokens(description)) {
        if out.len() + token.len() + 1 > MAX_INDEX_BYTES {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(token);
    }
    out
}

/// The BOOLEAN MODE expression for `query`: every term required. `None` when the query holds no
/// letter or digit at all (only punctuation), which matches nothing.
pub fn boolean_query(query: &str) -> Option<String> {
    let mut terms: Vec<String> = vec![];
    for run in runs(query) {
        match run.kind {
            Kind::Word => terms.push(format!("+{}*", word_token(&run.chars))),
            Kind::Cjk if run.chars.len() == 1 => terms.push(format!("+{CJK_TAG}{}", run.chars[0])),
            Kind::Cjk => terms.extend(pairs(&run.chars).map(|pair| format!("+{pair}"))),
        }
    }
    let mut seen = std::collections::HashSet::new();
    terms.retain(|t| seen.insert(t.clone()));
    (!terms.is_empty()).then(|| terms.join(" "))
}

/// The index tokens of one text, in order.
fn tokens(text: &str) -> Vec<String> {
    let mut out = vec![];
    for run in runs(text) {
        match run.kind {
            Kind::Word => out.push(word_token(&run.chars)),
            Kind::Cjk => {
                out.extend(run.chars.iter().map(|c| format!("{CJK_TAG}{c}")));
                out.extend(pairs(&run.chars));
            }
        }
    }
    out
}

fn word_token(chars: &[char]) -> String {
    let keep = MAX_TOKEN_CHARS - WORD_TAG.len();
    let word: String = chars.iter().take(keep).collect();
    format!("{WORD_TAG}{word}")
}

/// `c_XY` for every two neighbouring characters of a CJK run.
fn pairs(chars: &[char]) -> impl Iterator<Item = String> + '_ {
    chars
        .windows(2)
        .map(|w| format!("{CJK_TAG}{}{}", w[0], w[1]))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Word,
    Cjk,
}

/// A stretch of letters and digits of one kind, between separators.
#[derive(Debug)]
struct Run {
    kind: Kind,
    chars: Vec<char>,
}

/// The runs of `text` after normalisation. A change of kind ends a run too: "iPhone手机" is the
/// word "iphone" and the CJK run "手机".
fn runs(text: &str) -> Vec<Run> {
    let mut runs: Vec<Run> = vec![];
    let mut open = false;
    for c in normalise(text).chars() {
        let Some(kind) = kind_of(c) else {
            open = false;
            continue;
        };
        match runs.last_mut() {
            Some(run) if open && run.kind == kind => run.chars.push(c),
            _ => runs.push(Run {
                kind,
                chars: vec![c],
            }),
        }
        open = true;
    }
    runs
}

/// Lower case first (so that `İ` loses its dot with the other marks), then compatibility
/// decomposition without the marks, then composition again (Hangul syllables, kana with
/// voicing marks).
fn normalise(text: &str) -> String {
    text.to_lowercase()
        .nfkd()
        .filter(|&c| !is_combining_mark(c) || is_kana_voicing(c))
        .nfc()
        .collect()
}

fn is_kana_voicing(c: char) -> bool {
    matches!(c, '\u{3099}' | '\u{309A}')
}

/// `None` for a separator (anything that is not a letter or digit).
fn kind_of(c: char) -> Option<Kind> {
    if !c.is_alphanumeric() {
        None
    } else if is_cjk(c) {
        Some(Kind::Cjk)
    } else {
        Some(Kind::Word)
    }
}

/// Han (with its iteration and closing marks 々 〆 〇 〻), Hiragana, Katakana and Hangul: the
/// scripts written without spaces between words (Korean has spaces, but its words inflect, so
/// pairs find them better than whole words). Callers check `is_alphanumeric` first, which
/// leaves the punctuation of these blocks out.
fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3005}'..='\u{3007}' | '\u{303B}'
        | '\u{3040}'..='\u{30FF}' | '\u{31F0}'..='\u{31FF}'
        | '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{3134F}'
        | '\u{1100}'..='\u{11FF}' | '\u{3130}'..='\u{318F}' | '\u{A960}'..='\u{A97F}'
        | '\u{AC00}'..='\u{D7FF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(q: &str) -> String {
        boolean_query(q).unwrap_or_default()
    }

    #[test]
    fn words_are_folded_in_case_and_accents_and_tagged() {
        assert_eq!(tokens("Café"), ["w_cafe"]);
        assert_eq!(tokens("CAFÉ crème"), ["w_cafe", "w_creme"]);
        assert_eq!(tokens("Ｆｕｌｌ－width"), ["w_full", "w_width"]);
        assert_eq!(tokens("İstanbul Straße"), ["w_istanbul", "w_straße"]);
        assert_eq!(
            tokens("don't stop-me 2024"),
            ["w_don", "w_t", "w_stop", "w_me", "w_2024"]
        );
        assert_eq!(tokens("the go a"), ["w_the", "w_go", "w_a"]);
        assert_eq!(tokens("ωμέγα Ёлка"), ["w_ωμεγα", "w_елка"]);
        assert!(tokens("  ...!!! -- ").is_empty());
    }

    #[test]
    fn cjk_runs_become_characters_and_overlapping_pairs() {
        assert_eq!(
            tokens("我的视频"),
            ["c_我", "c_的", "c_视", "c_频", "c_我的", "c_的视", "c_视频"]
        );
        assert_eq!(tokens("视"), ["c_视"]);
        // CJK punctuation separates runs.
        assert_eq!(tokens("视，频"), ["c_视", "c_频"]);
        assert_eq!(tokens("视 频"), ["c_视", "c_频"]);
        // A change of script ends a run.
        assert_eq!(tokens("iPhone手机"), ["w_iphone", "c_手", "c_机", "c_手机"]);
        // Hangul syllables survive the decomposition whole; kana keep their voicing marks,
        // half-width kana become full-width.
        assert_eq!(tokens("한국"), ["c_한", "c_국", "c_한국"]);
        assert_eq!(tokens("ガ"), ["c_ガ"]);
        assert_eq!(tokens("ｶﾞｲﾄﾞ"), tokens("ガイド"));
        assert_eq!(tokens("時々"), ["c_時", "c_々", "c_時々"]);
    }

    #[test]
    fn long_words_are_cut_to_the_servers_token_size() {
        let long = "a".repeat(500);
        let t = tokens(&long);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].chars().count(), MAX_TOKEN_CHARS);
        // The query cuts the same way, so the prefix still matches.
        assert_eq!(query(&long), format!("+{}*", t[0]));
    }

    #[test]
    fn the_name_weighs_twice_and_the_description_once() {
        assert_eq!(
            index_text("Mountains", "High mountains"),
            "w_mountains w_mountains w_high w_mountains"
        );
        assert_eq!(index_text("视频", ""), "c_视 c_频 c_视频 c_视 c_频 c_视频");
    }

    #[test]
    fn the_index_text_fits_its_column_whatever_the_description() {
        let description: String = "我的第一个视频".chars().cycle().take(5000).collect();
        let text = index_text(&"名".repeat(200), &description);
        assert!(text.len() <= MAX_INDEX_BYTES, "{}", text.len());
        assert!(text.starts_with("c_名 c_名"));
        assert!(!text.ends_with(' '));
    }

    #[test]
    fn queries_require_every_term_words_as_prefixes() {
        assert_eq!(query("Mount"), "+w_mount*");
        assert_eq!(query("  CAFÉ  crème "), "+w_cafe* +w_creme*");
        assert_eq!(query("视"), "+c_视");
        assert_eq!(query("视频"), "+c_视频");
        assert_eq!(query("第一个视频"), "+c_第一 +c_一个 +c_个视 +c_视频");
        assert_eq!(query("视频 视频"), "+c_视频");
        assert_eq!(query("ビデオ 動画"), "+c_ビデ +c_デオ +c_動画");
        assert_eq!(query("한국어"), "+c_한국 +c_국어");
    }

    #[test]
    fn boolean_mode_syntax_in_a_query_is_only_a_separator() {
        assert_eq!(
            query(r#"+cat -dog "exact" (x) ~y <z> @2 w* 'q'"#),
            "+w_cat* +w_dog* +w_exact* +w_x* +w_y* +w_z* +w_2* +w_w* +w_q*"
        );
        for nothing in ["", "   ", "+-*\"()<>~@", "！？。、"] {
            assert_eq!(boolean_query(nothing), None, "{nothing:?}");
        }
    }
}
