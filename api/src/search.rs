//! How text becomes search tokens, for the index and for queries alike: the postings written
//! for a video's name and description with every create and edit ([`postings`]), the terms a
//! query is made of ([`query_terms`]), and which term a page walks ([`Plan`]). Cutting text the
//! same way on both sides is the whole point of this module; the SQL that stores postings and
//! walks them is in `store::search` and `store::videos`.
//!
//! The index is our own (the `search_postings` table), not the database's full-text index:
//! InnoDB FULLTEXT scores every match before it can sort, so a common word cost time in
//! proportion to its matches, while a posting list kept in `(term, in_title, create_time,
//! video_id)` order is read for one page and no further. MariaDB has no ngram parser either, so
//! the api has always cut CJK text itself.
//!
//! - Text is normalised first: lower case, Unicode NFKD with the combining marks (accents)
//!   dropped, then NFC, so "Café", "CAFÉ" and "cafe" are one word, full-width letters are
//!   ordinary letters and Hangul syllables come back whole. The kana voicing marks (U+3099,
//!   U+309A) are kept: they are not accents but part of the letter (ガ is not カ).
//! - A run of CJK letters (Han, Hiragana, Katakana, Hangul) becomes each character `c_X` and
//!   each overlapping pair `c_XY`. Any other run of letters and digits is a word: a word of one
//!   or two characters is the token `w_go`; a longer one is every beginning of it from three
//!   characters on (`w_mou`, `w_moun`, `w_mount`, ... `w_mountains`), so that a query word
//!   finds the words it begins with one exact lookup, whatever their number. A word is cut to
//!   the `term` column's width first (84 characters with the tag).
//! - A video has one posting per distinct token, marked `in_title` when the token comes from
//!   its name.
//! - In a query every term is required. A word is the token `w_<word>`: from three characters
//!   on it finds every word it begins ("mount" finds "Mountains"), below only itself ("go" does
//!   not find "good": a two-letter prefix would match a good part of any vocabulary). A single
//!   CJK character must be present (`c_视`); a longer CJK run needs every overlapping pair
//!   (`c_视频`), so "视频" finds "我的第一个视频" but not "视 频", where the two characters are
//!   not neighbours. Every other character of a query is a separator.
//! - Results come in two tiers ([`Tier`]): the videos with every term in the title, then the
//!   rest; newest first within each.

use std::collections::HashSet;

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// The version of the tokeniser. `video_info.search_version` records the one that wrote a
/// video's postings, and the api re-indexes, at start-up, every video below this one. Raise it
/// with any change to how text is cut, so existing videos are indexed the new way.
pub const VERSION: u8 = 1;

/// The width of `search_postings.term`: a longer word is cut to fit, in the index and in
/// queries alike, so that a query for it still finds it.
const MAX_TOKEN_CHARS: usize = 84;

/// A query uses at most this many distinct terms, the first ones in the order written; the rest
/// are ignored. Each one is a lookup per candidate video, and sixteen already pin a result down
/// (a 200-character Chinese query would otherwise be 199 pairs).
pub const MAX_TERMS: usize = 16;

/// Words of at least this many characters are indexed by their beginnings too (and so match
/// as prefixes in a query); shorter ones only whole.
const PREFIX_MIN_CHARS: usize = 3;

const WORD_TAG: &str = "w_";
const CJK_TAG: &str = "c_";

/// One row of `search_postings` for a video: a distinct token of its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posting {
    pub term: String,
    /// The token comes from the video's name (it may be in the description too).
    pub in_title: bool,
}

/// The postings of a video: each distinct token of `name` and `description` once, the name's
/// first.
pub fn postings(name: &str, description: &str) -> Vec<Posting> {
    let mut seen = HashSet::new();
    let title = tokens(name).into_iter().map(|t| (t, true));
    let rest = tokens(description).into_iter().map(|t| (t, false));
    title
        .chain(rest)
        .filter(|(term, _)| seen.insert(term.clone()))
        .map(|(term, in_title)| Posting { term, in_title })
        .collect()
}

/// The terms of `query`, each once, at most [`MAX_TERMS`]. Empty when the query holds no letter
/// or digit at all (only punctuation), which matches nothing.
pub fn query_terms(query: &str) -> Vec<String> {
    let mut terms: Vec<String> = vec![];
    for run in runs(query) {
        match run.kind {
            Kind::Word => terms.push(word_token(&run.chars)),
            Kind::Cjk if run.chars.len() == 1 => terms.push(format!("{CJK_TAG}{}", run.chars[0])),
            Kind::Cjk => terms.extend(pairs(&run.chars)),
        }
    }
    let mut seen = HashSet::new();
    terms.retain(|t| seen.insert(t.clone()));
    terms.truncate(MAX_TERMS);
    terms
}

/// Where a video stands in the results: every term in its title, or not (some term only in the
/// description). Title matches come first; the number is the order, highest first, and what a
/// page cursor records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tier {
    /// Some term only in the description.
    Anywhere = 1,
    /// Every term in the title.
    Title = 2,
}

impl Tier {
    pub fn number(self) -> u8 {
        self as u8
    }

    pub fn from_number(n: u8) -> Option<Tier> {
        match n {
            1 => Some(Tier::Anywhere),
            2 => Some(Tier::Title),
            _ => None,
        }
    }
}

/// A term's title postings are read up to this many, newest first, to tell which term of a
/// query is the rarest, at a bounded cost for common ones.
pub const COUNT_CAP: u64 = 256;

/// What the index says about a term before a page is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TermStats {
    /// Its title postings, counted up to [`COUNT_CAP`].
    pub title_postings: u64,
    /// When it has at least [`COUNT_CAP`] title postings: the `create_time` (as MySQL writes
    /// it) of the oldest of the newest [`COUNT_CAP`]. The further back that reaches, the fewer
    /// videos a walk newest first meets per page: the term is rarer where walks go.
    pub reach: Option<String>,
    /// Whether some video has it in its description but not its title.
    pub in_descriptions: bool,
}

impl TermStats {
    /// No video has the term at all.
    pub fn absent(&self) -> bool {
        self.title_postings == 0 && !self.in_descriptions
    }
}

/// Which of two terms is rarer, as far as [`TermStats`] tell: fewer title postings below the
/// cap, then (both past it) the one whose newest postings reach further back.
fn rarer(a: &TermStats, b: &TermStats) -> std::cmp::Ordering {
    use std::cmp::Ordering::{Greater, Less};
    match (&a.reach, &b.reach) {
        (None, None) => a.title_postings.cmp(&b.title_postings),
        (None, Some(_)) => Less,
        (Some(_), None) => Greater,
        (Some(x), Some(y)) => x.cmp(y),
    }
}

/// How a query is evaluated. One term is *walked*: its posting list is read newest first, and
/// each video met is a candidate, kept if every other term has a posting for it too (a lookup
/// of the whole primary key, rarest term first, so that a candidate that lacks one is dropped
/// soonest). The walked term is the rarest, so a page costs at most its postings, and about a
/// page's worth when the other terms are common.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub walk: String,
    pub others: Vec<String>,
    /// Whether the second tier can hold videos reached through the walked term's description
    /// postings, and through its title postings (some other term only in a description).
    /// Without description postings there is nothing to walk there.
    pub walk_in_descriptions: bool,
    pub others_in_descriptions: bool,
}

impl Plan {
    /// The plan for `terms` given `stats[i]` for `terms[i]` (none for a single term). Among
    /// terms equally rare the query's order decides. `None` without terms.
    pub fn new(terms: Vec<String>, stats: &[TermStats]) -> Option<Plan> {
        let unknown = TermStats {
            title_postings: 0,
            reach: None,
            in_descriptions: true,
        };
        let mut ranked: Vec<(TermStats, String)> = terms
            .into_iter()
            .enumerate()
            .map(|(i, t)| (stats.get(i).cloned().unwrap_or_else(|| unknown.clone()), t))
            .collect();
        // Stable: equally rare terms keep the query's order.
        ranked.sort_by(|(a, _), (b, _)| rarer(a, b));
        let mut ranked = ranked.into_iter();
        let (walked, walk) = ranked.next()?;
        let others: Vec<(TermStats, String)> = ranked.collect();
        Some(Plan {
            walk,
            walk_in_descriptions: walked.in_descriptions,
            others_in_descriptions: others.iter().any(|(s, _)| s.in_descriptions),
            others: others.into_iter().map(|(_, t)| t).collect(),
        })
    }
}

/// The index tokens of one text, in order (a word's beginnings, shortest first).
fn tokens(text: &str) -> Vec<String> {
    let mut out = vec![];
    for run in runs(text) {
        match run.kind {
            Kind::Word => {
                let word = &run.chars[..run.chars.len().min(MAX_TOKEN_CHARS - WORD_TAG.len())];
                let shortest = word.len().min(PREFIX_MIN_CHARS);
                out.extend((shortest..=word.len()).map(|n| word_token(&word[..n])));
            }
            Kind::Cjk => {
                out.extend(run.chars.iter().map(|c| format!("{CJK_TAG}{c}")));
                out.extend(pairs(&run.chars));
            }
        }
    }
    out
}

/// `w_<word>`, the word cut to fit the `term` column.
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

    fn strings(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn words_are_folded_in_case_and_accents_tagged_and_indexed_by_their_beginnings() {
        assert_eq!(tokens("Café"), ["w_caf", "w_cafe"]);
        assert_eq!(tokens("CAFÉ"), tokens("cafe"));
        assert_eq!(tokens("Ｆｕｌｌ"), ["w_ful", "w_full"]);
        assert_eq!(tokens("İstanbul")[5], "w_istanbul");
        assert_eq!(tokens("Straße"), ["w_str", "w_stra", "w_straß", "w_straße"]);
        assert_eq!(
            tokens("don't go 2024"),
            ["w_don", "w_t", "w_go", "w_202", "w_2024"]
        );
        assert_eq!(tokens("a to the"), ["w_a", "w_to", "w_the"]);
        assert_eq!(tokens("ωμέγα")[2], "w_ωμεγα");
        assert_eq!(tokens("Ёлка"), ["w_елк", "w_елка"]);
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
        assert_eq!(
            tokens("iPhone手机"),
            ["w_iph", "w_ipho", "w_iphon", "w_iphone", "c_手", "c_机", "c_手机"]
        );
        // Hangul syllables survive the decomposition whole; kana keep their voicing marks,
        // half-width kana become full-width.
        assert_eq!(tokens("한국"), ["c_한", "c_국", "c_한국"]);
        assert_eq!(tokens("ガ"), ["c_ガ"]);
        assert_eq!(tokens("ｶﾞｲﾄﾞ"), tokens("ガイド"));
        assert_eq!(tokens("時々"), ["c_時", "c_々", "c_時々"]);
    }

    #[test]
    fn long_words_are_cut_to_the_term_column() {
        let long = "a".repeat(500);
        let t = tokens(&long);
        assert_eq!(
            t.len(),
            MAX_TOKEN_CHARS - WORD_TAG.len() - PREFIX_MIN_CHARS + 1
        );
        assert!(t.iter().all(|t| t.chars().count() <= MAX_TOKEN_CHARS));
        assert_eq!(t.last().unwrap().chars().count(), MAX_TOKEN_CHARS);
        // The query cuts the same way, so the word still finds itself.
        assert_eq!(query_terms(&long), [t.last().unwrap().clone()]);
    }

    #[test]
    fn a_video_has_each_distinct_token_once_marked_when_it_comes_from_the_title() {
        let p = |term: &str, in_title| Posting {
            term: term.into(),
            in_title,
        };
        assert_eq!(
            postings("Mount mount", "High MOUNTAIN, high"),
            [
                p("w_mou", true),
                p("w_moun", true),
                p("w_mount", true),
                p("w_hig", false),
                p("w_high", false),
                p("w_mounta", false),
                p("w_mountai", false),
                p("w_mountain", false),
            ]
        );
        assert_eq!(
            postings("视频", "我的视频"),
            [
                p("c_视", true),
                p("c_频", true),
                p("c_视频", true),
                p("c_我", false),
                p("c_的", false),
                p("c_我的", false),
                p("c_的视", false),
            ]
        );
        assert!(postings("...", "").is_empty());
    }

    #[test]
    fn a_long_cjk_description_is_one_posting_per_distinct_token() {
        let description: String = "我的第一个视频".chars().cycle().take(5000).collect();
        let p = postings("名", &description);
        // Seven characters and seven pairs (the cycle's wrap-around pair included), plus the name.
        assert_eq!(p.len(), 1 + 7 + 7);
    }

    #[test]
    fn a_query_word_is_one_term_which_finds_the_words_it_begins() {
        assert_eq!(query_terms("Mount"), ["w_mount"]);
        assert_eq!(query_terms("  CAFÉ  crème "), ["w_cafe", "w_creme"]);
        assert_eq!(query_terms("go to"), ["w_go", "w_to"]);
        // Every beginning of three characters or more is a token of "mountains" ...
        for q in ["mou", "moun", "mount", "mountains"] {
            assert!(tokens("Mountains").contains(&query_terms(q)[0]), "{q}");
        }
        // ... but not one of two, nor anything that is not a beginning.
        for q in ["mo", "ountains", "mountainz"] {
            assert!(!tokens("Mountains").contains(&query_terms(q)[0]), "{q}");
        }
        assert!(tokens("go").contains(&query_terms("go")[0]));
        assert!(!tokens("good").contains(&query_terms("go")[0]));
        assert_eq!(query_terms("É"), ["w_e"]);
    }

    #[test]
    fn cjk_queries_are_characters_or_every_neighbouring_pair() {
        assert_eq!(query_terms("视"), ["c_视"]);
        assert_eq!(query_terms("视频"), ["c_视频"]);
        assert_eq!(
            query_terms("第一个视频"),
            ["c_第一", "c_一个", "c_个视", "c_视频"]
        );
        assert_eq!(query_terms("视频 视频"), ["c_视频"]);
        assert_eq!(query_terms("ビデオ 動画"), ["c_ビデ", "c_デオ", "c_動画"]);
        assert_eq!(query_terms("한국어"), ["c_한국", "c_국어"]);
        assert_eq!(query_terms("iPhone手机"), ["w_iphone", "c_手机"]);
    }

    #[test]
    fn a_query_keeps_its_first_sixteen_distinct_terms() {
        let words: Vec<String> = (0..40).map(|i| format!("word{i:02}")).collect();
        let terms = query_terms(&words.join(" "));
        assert_eq!(terms.len(), MAX_TERMS);
        assert_eq!(terms[0], "w_word00");
        assert_eq!(terms[15], "w_word15");
        // Repeats do not use up the allowance.
        let repeated = format!("{} word16", "word00 ".repeat(30));
        assert_eq!(query_terms(&repeated), ["w_word00", "w_word16"]);
        // A long CJK run: its first sixteen pairs.
        let run: String = ('一'..).take(40).collect();
        let terms = query_terms(&run);
        assert_eq!(terms.len(), MAX_TERMS);
        assert_eq!(terms[0], "c_一丁");
        assert_eq!(query_terms(&"视".repeat(200)), ["c_视视"]);
    }

    #[test]
    fn punctuation_and_sql_wildcards_are_only_separators() {
        assert_eq!(
            query_terms(r#"+cat -dog "exact" (x) ~y <z> @2 w* 'q' 100% a_b"#),
            [
                "w_cat", "w_dog", "w_exact", "w_x", "w_y", "w_z", "w_2", "w_w", "w_q", "w_100",
                "w_a", "w_b"
            ]
        );
        for nothing in ["", "   ", "+-*\"()<>~@", "！？。、", "_%!"] {
            assert!(query_terms(nothing).is_empty(), "{nothing:?}");
        }
    }

    fn stats(title_postings: u64, reach: Option<&str>, in_descriptions: bool) -> TermStats {
        TermStats {
            title_postings,
            reach: reach.map(str::to_string),
            in_descriptions,
        }
    }

    #[test]
    fn the_rarest_term_is_walked_and_the_others_looked_up_rarest_first() {
        let terms = strings(&["w_mount", "w_go", "c_视频"]);
        let plan = Plan::new(
            terms.clone(),
            &[
                stats(COUNT_CAP, Some("2026-01-01 00:00:00.000000"), false),
                stats(40, None, true),
                stats(7, None, false),
            ],
        )
        .unwrap();
        assert_eq!(plan.walk, "c_视频");
        assert_eq!(plan.others, ["w_go", "w_mount"]);
        assert!(!plan.walk_in_descriptions);
        assert!(plan.others_in_descriptions);
        // Past the cap: the term whose newest postings reach furthest back is the rarest.
        let plan = Plan::new(
            terms.clone(),
            &[
                stats(COUNT_CAP, Some("2026-03-01 00:00:00.000000"), false),
                stats(COUNT_CAP, Some("2026-01-01 00:00:00.000000"), false),
                stats(COUNT_CAP, Some("2026-02-01 00:00:00.000000"), false),
            ],
        )
        .unwrap();
        assert_eq!(plan.walk, "w_go");
        assert_eq!(plan.others, ["c_视频", "w_mount"]);
        assert!(!plan.walk_in_descriptions && !plan.others_in_descriptions);
        // Equally rare: the query's order.
        let same = stats(5, None, false);
        let plan = Plan::new(terms, &[same.clone(), same.clone(), same]).unwrap();
        assert_eq!(plan.walk, "w_mount");
        // One term is not counted: it may be in descriptions.
        let plan = Plan::new(strings(&["w_mount"]), &[]).unwrap();
        assert_eq!((plan.walk.as_str(), plan.others.len()), ("w_mount", 0));
        assert!(plan.walk_in_descriptions);
        assert_eq!(Plan::new(vec![], &[]), None);
    }

    #[test]
    fn a_term_is_absent_only_without_title_and_description_postings() {
        assert!(stats(0, None, false).absent());
        assert!(!stats(0, None, true).absent());
        assert!(!stats(1, None, false).absent());
    }

    #[test]
    fn tiers_order_title_matches_first() {
        assert!(Tier::Title > Tier::Anywhere);
        for tier in [Tier::Title, Tier::Anywhere] {
            assert_eq!(Tier::from_number(tier.number()), Some(tier));
        }
        assert_eq!(Tier::from_number(0), None);
        assert_eq!(Tier::from_number(3), None);
    }
}
