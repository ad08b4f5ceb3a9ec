//! Evaluating a query against a document: whether it matches, its score,
//! and for `NEAR` where its operands occur.
//!
//! Score: the sum of the weights of the weighted clauses that match as part
//! of a match of the whole query. An OR adds up every alternative that
//! matched; an AND that fails contributes nothing, however many of its
//! parts matched. Clauses with no weight inside are evaluated lazily.

use super::document::{Document, FieldSet, Pos};
use super::query::{Node, NodeKind};
use super::term::Term;

/// The result of one clause.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Outcome {
    pub matched: bool,
    pub score: f64,
}

impl Outcome {
    const MISS: Outcome = Outcome {
        matched: false,
        score: 0.0,
    };
}

/// A run of consecutive words in one segment: where a term (or a NEAR
/// group) matched. `end` is inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span {
    pub segment: u32,
    pub start: u32,
    pub end: u32,
}

impl Span {
    /// Words strictly between two spans of one segment; `None` when they
    /// are in different segments or the same span (a word is not near
    /// itself). Overlapping spans are adjacent: "Russia, the U.S. and
    /// China" has `u s` inside the stretch `russia … china`, as near it as
    /// can be.
    fn gap(&self, other: &Span) -> Option<u32> {
        if self.segment != other.segment || self == other {
            return None;
        }
        if self.end < other.start {
            Some(other.start - self.end - 1)
        } else if other.end < self.start {
            Some(self.start - other.end - 1)
        } else {
            Some(0)
        }
    }
}

/// Evaluates `node` against `doc`.
pub fn eval(node: &Node, doc: &Document) -> Outcome {
    let (matched, inner) = match &node.kind {
        NodeKind::Term { term, fields } => (term_matches(doc, term, *fields), 0.0),
        NodeKind::Alias { terms, fields, .. } => {
            (terms.iter().any(|t| term_matches(doc, t, *fields)), 0.0)
        }
        NodeKind::Lang(code) => (doc.language().is_some_and(|l| l.is(code)), 0.0),
        NodeKind::And(parts) => {
            let mut score = 0.0;
            for part in parts {
                let o = eval(part, doc);
                if !o.matched {
                    return Outcome::MISS;
                }
                score += o.score;
            }
            (true, score)
        }
        NodeKind::Or(parts) if !node.scored => (parts.iter().any(|p| eval(p, doc).matched), 0.0),
        NodeKind::Or(parts) => parts.iter().fold((false, 0.0), |(any, score), part| {
            let o = eval(part, doc);
            (any || o.matched, score + o.score)
        }),
        NodeKind::Not(inner) => (!eval(inner, doc).matched, 0.0),
        NodeKind::Near {
            left,
            right,
            within,
        } => {
            // Presence first: cheap, and most entries fail here.
            let present = eval(left, doc).matched && eval(right, doc).matched;
            (
                present && !near_spans(doc, left, right, *within, true).is_empty(),
                0.0,
            )
        }
    };
    if !matched {
        return Outcome::MISS;
    }
    Outcome {
        matched: true,
        score: inner + node.weight.unwrap_or(0.0),
    }
}

/// Where a positional clause (term, alias, OR of them, NEAR) matched.
pub fn spans(node: &Node, doc: &Document) -> Vec<Span> {
    let mut out = match &node.kind {
        NodeKind::Term { term, fields } => term_spans(doc, term, *fields),
        NodeKind::Alias { terms, fields, .. } => terms
            .iter()
            .flat_map(|t| term_spans(doc, t, *fields))
            .collect(),
        NodeKind::Or(parts) => parts.iter().flat_map(|p| spans(p, doc)).collect(),
        NodeKind::Near {
            left,
            right,
            within,
        } => near_spans(doc, left, right, *within, false),
        // The parser lets only positional clauses into NEAR.
        NodeKind::Lang(_) | NodeKind::And(_) | NodeKind::Not(_) => Vec::new(),
    };
    out.sort_unstable();
    out.dedup();
    out
}

/// Pairs of a left and a right span at most `within` words apart, joined
/// into one span each (so NEAR groups chain). With `first`, stops at one.
fn near_spans(doc: &Document, left: &Node, right: &Node, within: u32, first: bool) -> Vec<Span> {
    let lefts = spans(left, doc);
    let rights = spans(right, doc);
    let mut out = Vec::new();
    for l in &lefts {
        for r in &rights {
            if l.gap(r).is_some_and(|g| g <= within) {
                out.push(Span {
                    segment: l.segment,
                    start: l.start.min(r.start),
                    end: l.end.max(r.end),
                });
                if first {
                    return out;
                }
            }
        }
    }
    out
}

fn term_matches(doc: &Document, term: &Term, fields: FieldSet) -> bool {
    match term.words.as_slice() {
        [only] => doc.has(only, fields),
        _ => !term_spans(doc, term, fields).is_empty(),
    }
}

/// Where `term` occurs: every word of it, consecutive, in one segment.
pub fn term_spans(doc: &Document, term: &Term, fields: FieldSet) -> Vec<Span> {
    let Some((first, rest)) = term.words.split_first() else {
        return Vec::new();
    };
    let mut starts: Vec<Pos> = doc
        .occurrences(first, fields)
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    for (offset, word) in rest.iter().enumerate() {
        if starts.is_empty() {
            break;
        }
        let at: Vec<Pos> = doc
            .occurrences(word, fields)
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        let offset = offset as u32 + 1;
        starts.retain(|s| {
            at.binary_search(&Pos {
                segment: s.segment,
                index: s.index + offset,
            })
            .is_ok()
        });
    }
    let len = term.words.len() as u32;
    starts
        .into_iter()
        .map(|s| Span {
            segment: s.segment,
            start: s.index,
            end: s.index + len - 1,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topic::alias::Aliases;
    use crate::topic::query::Query;

    fn outcome(query: &str, title: &str, summary: Option<&str>) -> Outcome {
        let mut aliases = Aliases::default();
        aliases
            .define(
                "russia",
                &[
                    "russia",
                    "russian",
                    "moscow",
                    "kremlin",
                    "putin",
                    "россия",
                    "путин",
                    "кремль",
                    "москва",
                    "лавров",
                ],
            )
            .unwrap();
        aliases
            .define(
                "china",
                &[
                    "china",
                    "chinese",
                    "beijing",
                    "xi jinping",
                    "китай",
                    "пекин",
                    "\"си\"",
                ],
            )
            .unwrap();
        let q = Query::parse(query, &aliases).unwrap();
        eval(q.root(), &Document::of_text(title, summary))
    }

    fn matches(query: &str, text: &str) -> bool {
        outcome(query, text, None).matched
    }

    #[test]
    fn boolean_logic_on_word_forms() {
        let q = r#"(russia OR putin) AND (china OR "xi jinping")"#;
        assert!(matches(q, "Putin meets Xi Jinping in Beijing"));
        assert!(matches(q, "RUSSIA and China sign a gas deal"));
        assert!(matches(q, "China's exports to Russia grow"));
        assert!(!matches(q, "Putin meets Xi"));
        assert!(!matches(q, "Prussian china collection"));
        assert!(!matches(q, "Jinping Xi")); // phrase order
        assert!(matches("russia NOT china", "Russia alone"));
        assert!(!matches("russia NOT china", "Russia and China"));
        assert!(matches("talks", "The talk of the town"));
        assert!(!matches("\"talks\"", "The talk of the town"));
        assert!(matches("chin*", "Chinatown"));
        assert!(!matches("china", "Chinatown"));
    }

    #[test]
    fn russian_morphology() {
        for text in [
            "Россия и Китай подписали соглашение",
            "Визит Путина в Китай",
            "Экспорт из России в Китае вырос",
            "Лавров прибыл в Пекин для переговоров с Китаем",
            "Москва и Пекин: новые переговоры",
            "Путин и Си обсудили поставки газа",
        ] {
            assert!(matches("@russia @china", text), "{text}");
        }
        assert!(matches("китай", "Поставки Китаю"));
        assert!(matches("китай", "Поставки из Китая"));
        assert!(matches("Лавров", "Встреча с Лавровым"));
        assert!(matches("переговоры", "В ходе переговоров"));
        assert!(!matches("китай", "Киты у берегов Камчатки"));
        assert!(!matches("китай", "Китайский импорт"));
        assert!(matches("китай*", "Китайский импорт"));
        // `"си"` in the alias is exact: not the pronoun `сию`.
        assert!(!matches("@china", "Сию минуту"));
    }

    #[test]
    fn proximity_either_order_within_n_words() {
        let q = "putin NEAR/3 xi";
        assert!(matches(q, "Putin meets Xi"));
        assert!(matches(q, "Xi greets Putin"));
        assert!(matches(q, "Putin and Chinese leader Xi")); // 3 words between
        assert!(!matches(q, "Putin and the Chinese leader Xi")); // 4 between
        assert!(matches("putin NEAR/0 xi", "Putin Xi summit"));
        assert!(!matches("putin NEAR/0 xi", "Putin meets Xi"));
        // A word is not near itself.
        assert!(!matches("russia NEAR/5 russia", "Russia talks"));
        assert!(matches("russia NEAR/5 russia", "Russia talks Russia"));
        // Proximity never crosses from title into summary.
        assert!(!outcome(q, "Putin speaks", Some("Xi listens")).matched);
    }

    #[test]
    fn proximity_between_groups_and_chained() {
        let q = "(putin OR kremlin) NEAR/5 (xi OR beijing)";
        assert!(matches(q, "The Kremlin said ties with Beijing are strong"));
        assert!(!matches(
            q,
            "The Kremlin said on Tuesday that in the end ties with Beijing are strong"
        ));
        let pair = "(@russia NEAR/4 @china) NEAR/3 (talks OR trade)";
        assert!(matches(pair, "Russia and China hold trade talks"));
        assert!(matches(pair, "Talks between Moscow and Beijing resume"));
        assert!(!matches(
            pair,
            "Russia and China are rivals, analysts say; separately, trade talks with India"
        ));
        assert!(matches(
            "@russia NEAR/2 \"xi jinping\"",
            "Putin hosts Xi Jinping"
        ));
        assert!(matches(
            "title:(@russia NEAR/3 @china)",
            "Путин и Си Цзиньпин"
        ));
        // A match inside the other side's stretch is near it.
        let listed = "(@russia NEAR/5 @china) NEAR/2 (us OR \"u s\")";
        assert!(matches(listed, "Russia, the U.S. and China"));
        assert!(matches(listed, "Russia, China and the US"));
        assert!(!matches(listed, "Russia and China disagree with the US"));
    }

    #[test]
    fn scores_add_up_weighted_clauses_that_match() {
        let q = "(@russia NEAR/5 @china)^3 OR title:(@russia AND @china)^2 OR (rivals)^-4";
        let o = outcome(q, "Russia and China sign deal", None);
        assert_eq!((o.matched, o.score), (true, 5.0));
        let o = outcome(q, "Russia signs deal", Some("China to buy gas from Russia"));
        assert_eq!((o.matched, o.score), (true, 3.0));
        let o = outcome(q, "Rivals Russia and China", None);
        assert_eq!((o.matched, o.score), (true, 1.0));
        // A failed AND contributes nothing, even if a weighted part matched.
        let o = outcome(
            "(russia^2 AND china) OR beijing",
            "Russia and Beijing",
            None,
        );
        assert_eq!((o.matched, o.score), (true, 0.0));
        let o = outcome("((a^2 OR b) AND c)^3", "a c", None);
        assert_eq!(o.score, 5.0);
        assert_eq!(outcome("x^2", "y", None), Outcome::MISS);
    }

    #[test]
    fn fields_and_language() {
        assert!(outcome("summary:xi", "Putin", Some("Xi")).matched);
        assert!(!outcome("title:xi", "Putin", Some("Xi")).matched);
        assert!(matches("lang:ru", "Путин и Си обсудили торговлю"));
        assert!(!matches("lang:en", "Путин и Си обсудили торговлю"));
    }
}
