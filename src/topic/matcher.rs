//! Evaluating a query against a document: whether it matches, its score,
//! and for `NEAR` where its operands occur.
//!
//! Score: the sum of the weights of the weighted clauses that match as part
//! of a match of the whole query. An OR adds up every alternative that
//! matched; an AND that fails contributes nothing, however many of its
//! parts matched. Clauses with no weight inside are evaluated lazily.

use super::document::{Document, FieldSet, Pos};
use super::query::{Node, NodeKind, Query, TermId};

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

/// One query evaluated against one document. Remembers where each term
/// occurs, so a term used by many clauses (an alias's) is looked up once.
///
/// Most entries contain few of a topic's terms, and a topic of long
/// aliases has hundreds. So before looking words up, a clause is checked
/// against the document's key filter ([`Evaluation::may_match`]): an AND
/// or NEAR with a part that certainly does not occur fails at once,
/// without looking up the words of its other parts; and of an alias that
/// may occur, only the terms the filter lets through are looked up
/// ([`Evaluation::members`]). The filter never rules out a word that
/// occurs, so results are the same either way.
pub struct Evaluation<'a> {
    query: &'a Query,
    doc: &'a Document,
    tables: Tables,
    /// Whether clauses are checked against the key filter first (always,
    /// except in the test that checks this changes no outcome).
    prechecks: bool,
}

/// What an evaluation learns, per term and alias of its query. Kept per
/// thread from one evaluation to the next: a topic of long aliases has
/// hundreds of terms, and allocating and clearing a table of them for
/// every entry cost more than matching most entries. Only what an
/// evaluation set is reset after it.
#[derive(Default)]
struct Tables {
    /// Per term of the query: where its start positions are in `found`,
    /// once looked up. Unset (`None`) between evaluations.
    looked_up: Vec<Option<(u32, u32)>>,
    /// The terms whose `looked_up` entry is set.
    set: Vec<TermId>,
    found: Vec<Pos>,
    /// Per alias slot: whether the alias occurs in its fields, once known.
    aliases: Vec<Option<bool>>,
    /// Per alias group: whether the key filter lets any of its terms occur.
    groups: Vec<Option<bool>>,
    /// Per alias group: which of its terms the key filter lets occur, as a
    /// range of `members`, once asked. This answers `groups` too, but
    /// working it out reads all the alias's keys where `groups` stops at
    /// the first that passes: without `groups`, the shipped topic matched
    /// 20–45% slower (three interleaved pairs).
    candidates: Vec<Option<(u32, u32)>>,
    members: Vec<TermId>,
}

thread_local! {
    static SPARE_TABLES: std::cell::Cell<Tables> = std::cell::Cell::new(Tables::default());
}

impl Tables {
    /// Positions kept between evaluations at most; a document with more
    /// (a long body) gets a table of its own.
    const KEEP_FOUND: usize = 4096;

    /// This thread's spare tables, sized for `query`.
    fn take(query: &Query) -> Tables {
        let mut t = SPARE_TABLES.with(std::cell::Cell::take);
        // Every entry is unset between evaluations: growing is enough.
        if t.looked_up.len() < query.terms().len() {
            t.looked_up.resize(query.terms().len(), None);
        }
        t.aliases.clear();
        t.aliases.resize(query.alias_slots(), None);
        t.groups.clear();
        t.groups.resize(query.alias_groups(), None);
        t.candidates.clear();
        t.candidates.resize(query.alias_groups(), None);
        t
    }

    /// Unsets what an evaluation set and keeps the tables for the next.
    fn give_back(mut self) {
        for term in self.set.drain(..) {
            if let Some(entry) = self.looked_up.get_mut(term) {
                *entry = None;
            }
        }
        self.members.clear();
        self.found.clear();
        if self.found.capacity() > Tables::KEEP_FOUND {
            self.found = Vec::new();
        }
        SPARE_TABLES.with(|spare| spare.set(self));
    }
}

impl Drop for Evaluation<'_> {
    fn drop(&mut self) {
        std::mem::take(&mut self.tables).give_back();
    }
}

impl<'a> Evaluation<'a> {
    pub fn new(query: &'a Query, doc: &'a Document) -> Evaluation<'a> {
        Evaluation {
            query,
            doc,
            tables: Tables::take(query),
            prechecks: true,
        }
    }

    /// Evaluates `node`, a clause of this evaluation's query.
    pub fn eval(&mut self, node: &Node) -> Outcome {
        let (matched, inner) = match &node.kind {
            NodeKind::Term { term, fields } => (self.present(*term, *fields), 0.0),
            NodeKind::Alias {
                terms,
                fields,
                slot,
                group,
                ..
            } => match self.tables.aliases.get(*slot).copied().flatten() {
                Some(present) => (present, 0.0),
                None => {
                    // Terms the key filter rules out need no looking up.
                    let (from, to) = self.members(*group, terms);
                    let present = (from..to).any(|i| {
                        let term = self.tables.members[i as usize];
                        self.present(term, *fields)
                    });
                    if let Some(cached) = self.tables.aliases.get_mut(*slot) {
                        *cached = Some(present);
                    }
                    (present, 0.0)
                }
            },
            NodeKind::Lang(code) => (self.doc.language().is_some_and(|l| l.is(code)), 0.0),
            NodeKind::And(parts) => {
                if !parts.iter().all(|p| self.may_match(p)) {
                    return Outcome::MISS;
                }
                let mut score = 0.0;
                for part in parts {
                    let o = self.eval(part);
                    if !o.matched {
                        return Outcome::MISS;
                    }
                    score += o.score;
                }
                (true, score)
            }
            NodeKind::Or(parts) if !node.scored => {
                (parts.iter().any(|p| self.eval(p).matched), 0.0)
            }
            NodeKind::Or(parts) => parts.iter().fold((false, 0.0), |(any, score), part| {
                let o = self.eval(part);
                (any || o.matched, score + o.score)
            }),
            NodeKind::Not(inner) => (!self.eval(inner).matched, 0.0),
            NodeKind::Near {
                left,
                right,
                within,
            } => {
                // Presence first: cheap, and most entries fail here.
                let present = self.may_match(left)
                    && self.may_match(right)
                    && self.eval(left).matched
                    && self.eval(right).matched;
                (
                    present && self.near(left, right, *within, true).is_some(),
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

    /// Whether `node` may match: false only when the document's key filter
    /// rules out a word it needs (see the type's docs). Looks no words up.
    fn may_match(&mut self, node: &Node) -> bool {
        if !self.prechecks {
            return true;
        }
        match &node.kind {
            NodeKind::Term { term, .. } => self.may_occur(*term),
            NodeKind::Alias { slot, group, .. } => {
                let known = self.tables.aliases.get(*slot).copied().flatten();
                known.unwrap_or_else(|| self.group_may_occur(*group))
            }
            NodeKind::Lang(code) => self.doc.language().is_some_and(|l| l.is(code)),
            NodeKind::And(parts) => parts.iter().all(|p| self.may_match(p)),
            NodeKind::Or(parts) => parts.iter().any(|p| self.may_match(p)),
            NodeKind::Not(_) => true,
            NodeKind::Near { left, right, .. } => self.may_match(left) && self.may_match(right),
        }
    }

    /// Whether some term of alias `group` may occur, by the key filter;
    /// worked out once per evaluation whatever the fields it is used in.
    fn group_may_occur(&mut self, group: usize) -> bool {
        if !self.prechecks {
            return true;
        }
        if let Some(may) = self.tables.groups.get(group).copied().flatten() {
            return may;
        }
        if let Some((from, to)) = self.tables.candidates.get(group).copied().flatten() {
            return from < to;
        }
        let may = self
            .query
            .alias_keys(group)
            .is_none_or(|keys| self.doc.may_have_some(keys));
        if let Some(cached) = self.tables.groups.get_mut(group) {
            *cached = Some(may);
        }
        may
    }

    /// The terms of alias `group` (`terms`) that the key filter lets occur
    /// (all of them without prechecks), as a range of `tables.members`;
    /// worked out once per evaluation whatever the fields the alias is
    /// used in.
    fn members(&mut self, group: usize, terms: &[TermId]) -> (u32, u32) {
        if let Some(range) = self.tables.candidates.get(group).copied().flatten() {
            return range;
        }
        let from = self.tables.members.len() as u32;
        match self.query.alias_keys(group).filter(|_| self.prechecks) {
            Some(keys) => {
                let members = &mut self.tables.members;
                self.doc.may_have_which(keys, |i| {
                    members.extend(terms.get(i as usize));
                });
            }
            None => self.tables.members.extend_from_slice(terms),
        }
        let range = (from, self.tables.members.len() as u32);
        if let Some(slot) = self.tables.candidates.get_mut(group) {
            *slot = Some(range);
        }
        range
    }

    /// Whether `term` may occur in the document (in any field): its first
    /// word passes the key filter, or it was looked up and found.
    fn may_occur(&self, term: TermId) -> bool {
        match self.tables.looked_up.get(term).copied().flatten() {
            Some((from, to)) => from < to,
            None => self.doc.may_have(&self.query.term(term).filter),
        }
    }

    /// Where a positional clause (term, alias, OR of them, NEAR) matched,
    /// sorted and without duplicates.
    pub fn spans(&mut self, node: &Node) -> Vec<Span> {
        let mut out = match &node.kind {
            NodeKind::Term { term, fields } => self.term_spans(*term, *fields),
            NodeKind::Alias {
                terms,
                fields,
                group,
                ..
            } => {
                let (from, to) = self.members(*group, terms);
                let mut spans = Vec::new();
                for i in from..to {
                    let term = self.tables.members[i as usize];
                    self.push_term_spans(term, *fields, &mut spans);
                }
                spans
            }
            NodeKind::Or(parts) => parts.iter().flat_map(|p| self.spans(p)).collect(),
            NodeKind::Near {
                left,
                right,
                within,
            } => self.near(left, right, *within, false).unwrap_or_default(),
            // The parser lets only positional clauses into NEAR.
            NodeKind::Lang(_) | NodeKind::And(_) | NodeKind::Not(_) => Vec::new(),
        };
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Pairs of a left and a right span at most `within` words apart, joined
    /// into one span each (so NEAR groups chain); `None` when there are
    /// none. With `first`, stops at one.
    fn near(&mut self, left: &Node, right: &Node, within: u32, first: bool) -> Option<Vec<Span>> {
        let lefts = self.spans(left);
        let rights = self.spans(right);
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
                        return Some(out);
                    }
                }
            }
        }
        (!out.is_empty()).then_some(out)
    }

    fn present(&mut self, term: TermId, fields: FieldSet) -> bool {
        let doc = self.doc;
        self.starts(term).iter().any(|p| doc.in_fields(*p, fields))
    }

    /// Where the term occurs in `fields`, as spans of its length.
    pub fn term_spans(&mut self, term: TermId, fields: FieldSet) -> Vec<Span> {
        let mut spans = Vec::new();
        self.push_term_spans(term, fields, &mut spans);
        spans
    }

    /// [`Evaluation::term_spans`], appended to `out`.
    fn push_term_spans(&mut self, term: TermId, fields: FieldSet, out: &mut Vec<Span>) {
        let len = self.query.term(term).words.len() as u32;
        let doc = self.doc;
        out.extend(
            self.starts(term)
                .iter()
                .filter(|p| doc.in_fields(**p, fields))
                .map(|p| Span {
                    segment: p.segment,
                    start: p.index,
                    end: p.index.saturating_add(len.saturating_sub(1)),
                }),
        );
    }

    /// Where each occurrence of the term starts: every word of it,
    /// consecutive, in one segment.
    fn starts(&mut self, term: TermId) -> &[Pos] {
        // Most calls find the term looked up already: keep that path
        // small enough to inline.
        let (from, to) = match self.tables.looked_up.get(term).copied().flatten() {
            Some(range) => range,
            None => self.look_up(term),
        };
        &self.tables.found[from as usize..to as usize]
    }

    /// Looks `term` up in the document, appends its starts to `found`
    /// and remembers where they are.
    #[inline(never)]
    fn look_up(&mut self, term: TermId) -> (u32, u32) {
        let from = self.tables.found.len() as u32;
        let words = &self.query.term(term).words;
        if words.len() == 1 {
            if let Some(word) = words.first() {
                self.doc.append_positions(word, &mut self.tables.found);
            }
        } else {
            let mut starts = match words.first() {
                Some(first) => self.doc.positions(first),
                None => Vec::new(),
            };
            for (offset, word) in words.iter().enumerate().skip(1) {
                if starts.is_empty() {
                    break;
                }
                let at = self.doc.positions(word);
                starts.retain(|s| {
                    at.binary_search(&Pos {
                        segment: s.segment,
                        index: s.index.saturating_add(offset as u32),
                    })
                    .is_ok()
                });
            }
            self.tables.found.extend_from_slice(&starts);
        }
        let range = (from, self.tables.found.len() as u32);
        if let Some(slot) = self.tables.looked_up.get_mut(term) {
            *slot = Some(range);
            self.tables.set.push(term);
        }
        range
    }
}

/// Evaluates a whole query against `doc`.
pub fn eval(query: &Query, doc: &Document) -> Outcome {
    Evaluation::new(query, doc).eval(query.root())
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
        eval(&q, &Document::of_text(title, summary))
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

    /// Only the terms of an alias that the key filter lets occur are
    /// looked up (`AliasKeys`): each kind of term, alone in an entry, must
    /// still be found, in a presence test and in a `NEAR`.
    #[test]
    fn each_kind_of_alias_term_is_found_alone() {
        let terms = [
            ("ki*", "Kiev"),              // a prefix too short to be ruled out
            ("ки*", "Киев"),              // the same in Cyrillic
            ("sino*", "Sinopec"),         // a prefix ruled out by its head
            ("\"tass\"", "TASS"),         // one exact form
            ("talks", "talk"),            // any form, by stem
            ("пекин", "Пекином"),         // any form, by Cyrillic base
            ("xi jinping", "Xi Jinping"), // a phrase, by its first word
        ];
        let mut aliases = Aliases::default();
        aliases
            .define("mixed", &terms.map(|(term, _)| term))
            .unwrap();
        let query = |q: &str| Query::parse(q, &aliases).unwrap();
        let (alone, near) = (query("@mixed"), query("@mixed NEAR/2 deal"));
        for (term, text) in terms {
            let doc = Document::of_text(&format!("A {text} deal"), None);
            assert!(eval(&alone, &doc).matched, "{term} in {text:?}");
            assert!(eval(&near, &doc).matched, "{term} near a deal");
            let other = Document::of_text("Deal done", Some(text));
            assert!(eval(&alone, &other).matched, "{term} in a summary");
            assert!(!eval(&near, &other).matched, "{term} in another field");
        }
        let none = Document::of_text("Москва: a deal done", None);
        assert!(!eval(&alone, &none).matched);
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

    /// Entries of real news: the last snapshot of each news-replay feed,
    /// and the labelled Russia–China set.
    fn real_entries() -> Vec<crate::model::Entry> {
        let shared = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared");
        let base = url::Url::parse("https://replay.invalid/feed.xml").unwrap();
        let mut feeds = Vec::new();
        let mut dirs = vec![shared.join("news-replay")];
        while let Some(dir) = dirs.pop() {
            let mut snapshots = Vec::new();
            for path in std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()) {
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|x| x == "xml") {
                    snapshots.push(path);
                }
            }
            snapshots.sort();
            feeds.extend(snapshots.pop());
        }
        let mut out = Vec::new();
        for path in feeds {
            let body = std::fs::read(&path).unwrap();
            let Ok(parsed) = crate::normalize::parse_feed(&body, &base) else {
                continue;
            };
            let state = crate::model::FeedState::new(&path.to_string_lossy());
            out.extend(crate::poll::entries_of(&state, parsed, chrono::Utc::now()));
        }
        let dev = std::fs::read_to_string(shared.join("topics/russia-china/dev.tsv")).unwrap();
        let labelled = crate::topic::eval::read_tsv(&dev).unwrap();
        out.extend(labelled.into_iter().map(|l| l.entry));
        out
    }

    #[test]
    fn key_filter_prechecks_change_no_outcome_on_real_news() {
        // Shapes the prechecks treat differently: AND and NEAR of aliases
        // in other fields, NOT, phrases, exact forms, short prefixes (no
        // key rules them out), terms of each script, languages. Added to
        // the shipped config as topics, to use its aliases.
        let shapes = [
            "@russia AND @china",
            "title:@china AND summary:(@russia NEAR/3 @dealings)",
            "(@russia NEAR/5 @others) OR (trade NEAR/2 @china)^2",
            "@china AND NOT @russia",
            "NOT (@rivalry AND @others)",
            r#""xi jinping" OR ("vladimir putin" AND "си цзиньпин")"#,
            "(ки* AND (ру* OR мо*)) OR (de* NEAR/4 pu*)",
            "(lang:ru AND @dealings) OR (lang:en AND title:@russia)",
            "category:(@china OR @russia) OR (war NEAR/3 @russia)",
            "(oil AND 2024) OR (нефть AND 2025)",
        ];
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/tidings.toml");
        let mut text = std::fs::read_to_string(&path).unwrap();
        for (i, query) in shapes.iter().enumerate() {
            text.push_str(&format!(
                "\n[[topic]]\nslug = \"s{i}\"\ntitle = \"s{i}\"\nquery = '''{query}'''\n"
            ));
        }
        let config = crate::config::Config::parse(&text, &path, None).unwrap();
        let queries: Vec<&Query> = config.topics.iter().map(|t| &t.query).collect();
        assert_eq!(queries.len(), shapes.len() + 1);
        let entries = real_entries();
        assert!(entries.len() > 1_000, "too few entries: {}", entries.len());
        let fields = queries
            .iter()
            .fold(FieldSet::language(), |acc, q| acc.union(q.fields()));
        let mut matched = vec![0usize; queries.len()];
        for entry in &entries {
            let doc = Document::of_entry(entry, None, fields);
            for (i, query) in queries.iter().enumerate() {
                let checked = Evaluation::new(query, &doc).eval(query.root());
                let mut exhaustive = Evaluation::new(query, &doc);
                exhaustive.prechecks = false;
                let all = exhaustive.eval(query.root());
                assert_eq!(checked, all, "{} on {:?}", query.text(), entry.title);
                matched[i] += usize::from(all.matched);
            }
        }
        // Each query both matches and misses somewhere, so both paths ran.
        for (query, n) in queries.iter().zip(&matched) {
            assert!(
                *n > 0 && *n < entries.len(),
                "{}: {n} matches",
                query.text()
            );
        }
    }
}
