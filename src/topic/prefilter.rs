//! Which topics cannot match an entry, known before the entry is indexed.
//!
//! Indexing an entry (folding, stemming, sorting its words) costs far more
//! than reading its words once, and most entries match no topic. So each
//! query is first reduced to what it cannot match without ([`need`]):
//! groups of terms of which at least one must occur. The Russia–China
//! topic needs a word for Russia and a word for China, whatever its
//! clauses and weights. An entry is then indexed only when some topic's
//! groups all occur in it; word by word, that takes a lookup of the word
//! in a table of the words seen so far.
//!
//! The check is exact in one direction: a topic it rules out would not
//! have matched (its groups hold every term the query could match with,
//! and a word is counted as a form of a term whenever the document index
//! could find it so). It may let through an entry the topic then does not
//! take; the full evaluation decides those.

use super::document::Field;
use super::key::TextBuild;
use super::query::{Node, NodeKind, Query, TermId};
use super::stem::{is_russian_ending, with_stem};
use super::term::WordPattern;
use super::text::for_each_word_at;
use std::cell::RefCell;
use std::collections::HashMap;

/// What a query cannot match without: groups of terms, each of which must
/// have a term in the document. Empty when nothing is needed that a word
/// lookup can tell (`NOT x`, `lang:en`).
type Need = Vec<Vec<TermId>>;

/// A disjunction's groups are the unions of one group from each side; past
/// this many, its parts' groups are merged into one (still needed, if
/// weaker).
const MAX_GROUPS: usize = 32;

/// Distinct words whose verdict is remembered; past this many the table
/// is dropped and refilled.
const MAX_WORDS: usize = 200_000;

/// Topics (and groups, one bit each) the check can keep track of.
const MAX_BITS: usize = 64;

/// The groups `node` needs to match at all.
fn need(node: &Node) -> Need {
    match &node.kind {
        NodeKind::Term { term, .. } => vec![vec![*term]],
        NodeKind::Alias { terms, .. } => minimal(vec![terms.clone()]),
        // A negation or a language says nothing about which words occur.
        NodeKind::Lang(_) | NodeKind::Not(_) => Vec::new(),
        NodeKind::And(parts) => minimal(parts.iter().flat_map(need).collect()),
        NodeKind::Near { left, right, .. } => {
            minimal(need(left).into_iter().chain(need(right)).collect())
        }
        NodeKind::Or(parts) => {
            let needs: Vec<Need> = parts.iter().map(need).collect();
            if needs.iter().any(Vec::is_empty) {
                return Vec::new();
            }
            // (a1 ∧ a2) ∨ (b1 ∧ b2) needs (a1 ∨ b1), (a1 ∨ b2), (a2 ∨ b1)…
            let mut product: Need = vec![Vec::new()];
            for groups in &needs {
                product = minimal(
                    product
                        .iter()
                        .flat_map(|acc| groups.iter().map(move |g| [&acc[..], g].concat()))
                        .collect(),
                );
                if product.len() > MAX_GROUPS {
                    // Some part matches, so some term of some part occurs.
                    return minimal(vec![needs.concat().concat()]);
                }
            }
            product
        }
    }
}

/// `groups` without duplicate terms, and without a group that holds all of
/// another one's terms (needing the smaller one says more).
fn minimal(groups: Need) -> Need {
    let mut groups: Need = groups
        .into_iter()
        .map(|mut g| {
            g.sort_unstable();
            g.dedup();
            g
        })
        .filter(|g| !g.is_empty())
        .collect();
    groups.sort_by_key(Vec::len);
    let mut kept: Need = Vec::with_capacity(groups.len());
    for g in groups {
        if !kept
            .iter()
            .any(|k| k.iter().all(|t| g.binary_search(t).is_ok()))
        {
            kept.push(g);
        }
    }
    kept
}

/// Whether `word` (folded) may be a match of `pattern` in a document: a
/// superset of what [`super::document::Document`]'s lookup finds. `stem`
/// is the word's stem.
fn may_match(pattern: &WordPattern, word: &str, stem: &str) -> bool {
    match pattern {
        WordPattern::Exact { word: key, .. } => key.text() == word,
        WordPattern::Prefix { prefix, .. } => word.starts_with(&**prefix),
        WordPattern::Forms {
            stem: key, bases, ..
        } => {
            key.text() == stem
                || bases
                    .iter()
                    .any(|b| word.strip_prefix(b.text()).is_some_and(is_russian_ending))
        }
    }
}

/// The check for one set of topics (at most [`MAX_BITS`] of them).
pub struct Prefilter {
    /// The first word of every term of every group, with the bits of the
    /// groups it belongs to.
    patterns: Vec<(WordPattern, u64)>,
    /// Per topic: the bits of the groups it needs; 0 for a topic the check
    /// knows nothing about.
    needs: Vec<u64>,
    /// The topics the check knows nothing about: always candidates.
    unknown: u64,
    /// The group bits of each word seen so far.
    words: RefCell<HashMap<Box<str>, u64, TextBuild>>,
}

impl Prefilter {
    pub fn new<'q>(queries: impl IntoIterator<Item = &'q Query>) -> Prefilter {
        let mut patterns: Vec<(WordPattern, u64)> = Vec::new();
        let mut needs = Vec::new();
        let mut next_bit = 0;
        for query in queries {
            let groups = need(query.root());
            if groups.is_empty() || next_bit + groups.len() > MAX_BITS {
                needs.push(0);
                continue;
            }
            let mut topic = 0u64;
            for group in groups {
                let bit = 1u64 << next_bit;
                next_bit += 1;
                topic |= bit;
                for term in group {
                    // A phrase occurs only where its first word does.
                    let Some(first) = query.term(term).words.first() else {
                        continue;
                    };
                    match patterns.iter_mut().find(|(p, _)| p == first) {
                        Some((_, bits)) => *bits |= bit,
                        None => patterns.push((first.clone(), bit)),
                    }
                }
            }
            needs.push(topic);
        }
        let unknown = needs
            .iter()
            .enumerate()
            .filter(|(_, need)| **need == 0)
            .fold(0u64, |acc, (i, _)| acc | 1 << i);
        Prefilter {
            patterns,
            needs,
            unknown,
            words: RefCell::default(),
        }
    }

    /// The topics (bit `i` for the `i`th) that may match a document of
    /// `texts`: each field's text, as a document indexes it.
    pub fn candidates<'t>(&self, texts: impl IntoIterator<Item = (Field, &'t str)>) -> u64 {
        if self.patterns.is_empty() {
            return self.unknown;
        }
        let mut found = 0u64;
        let mut words = self.words.borrow_mut();
        for (_, text) in texts {
            for_each_word_at(text, |word, _| {
                found |= match words.get(word) {
                    Some(bits) => *bits,
                    None => {
                        let bits = self.bits_of(word);
                        if words.len() >= MAX_WORDS {
                            words.clear();
                        }
                        words.insert(word.into(), bits);
                        bits
                    }
                };
            });
        }
        self.needs
            .iter()
            .enumerate()
            .filter(|(_, need)| **need != 0 && **need & found == **need)
            .fold(self.unknown, |acc, (i, _)| acc | 1 << i)
    }

    /// The groups `word` may count for.
    fn bits_of(&self, word: &str) -> u64 {
        with_stem(word, |stem, _| {
            self.patterns
                .iter()
                .filter(|(p, _)| may_match(p, word, stem))
                .fold(0, |acc, (_, bits)| acc | bits)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topic::{Aliases, Document};

    fn query(text: &str) -> Query {
        let mut aliases = Aliases::default();
        let russia = ["russia", "russian", "moscow", "росси*", "москва", "путин"];
        aliases.define("russia", &russia).unwrap();
        let china = ["china", "beijing", "xi jinping", "китай", "пекин"];
        aliases.define("china", &china).unwrap();
        Query::parse(text, &aliases).unwrap()
    }

    /// The needs of `text`, as the terms' text.
    fn needs(text: &str) -> Vec<Vec<String>> {
        let q = query(text);
        need(q.root())
            .into_iter()
            .map(|g| g.into_iter().map(|t| q.term(t).to_string()).collect())
            .collect()
    }

    #[test]
    fn needs_follow_the_query() {
        assert_eq!(needs("a b"), [["a"], ["b"]]);
        assert_eq!(needs("a OR b"), [["a", "b"]]);
        assert_eq!(needs("(a b) OR (a c)"), [vec!["a"], vec!["b", "c"]]);
        assert_eq!(needs("a NEAR/3 (b OR c)"), [vec!["a"], vec!["b", "c"]]);
        assert!(needs("NOT a").is_empty());
        assert!(needs("a OR NOT b").is_empty());
        assert!(needs("lang:en OR a").is_empty());
        assert_eq!(needs("a AND NOT b"), [["a"]]);
        // Weighted clauses that all name both sides need both sides.
        let both = needs(
            "title:(@russia AND @china)^2 OR (@russia NEAR/3 @china)^1 \
             OR title:((@russia NEAR/1 @china) NEAR/0 with)^-3",
        );
        let has = |g: &Vec<String>, w: &str| g.iter().any(|t| t == w);
        assert_eq!(both.len(), 2);
        assert!(both.iter().any(|g| has(g, "moscow") && !has(g, "beijing")));
        assert!(both.iter().any(|g| has(g, "beijing") && !has(g, "moscow")));
    }

    #[test]
    fn wide_disjunctions_merge_into_one_group() {
        let text = (0..8)
            .map(|i| format!("(a{i} b{i})"))
            .collect::<Vec<_>>()
            .join(" OR ");
        let groups = needs(&text);
        assert_eq!(groups.len(), 1, "2^8 combinations are too many");
        assert_eq!(groups[0].len(), 16);
    }

    fn candidates(queries: &[&str], title: &str, summary: &str) -> u64 {
        let queries: Vec<Query> = queries.iter().map(|q| query(q)).collect();
        Prefilter::new(&queries).candidates([(Field::Title, title), (Field::Summary, summary)])
    }

    #[test]
    fn rules_out_topics_whose_groups_do_not_all_occur() {
        let topics = ["@russia @china", "@china", "NOT @china", "moscow"];
        assert_eq!(candidates(&topics, "Weather in Paris", ""), 0b0100);
        assert_eq!(candidates(&topics, "Rain in Beijing", ""), 0b0110);
        assert_eq!(
            candidates(&topics, "Путин прибыл в Пекин", "Переговоры в Москве"),
            0b0111,
            "forms by stem and by base count"
        );
        assert_eq!(
            candidates(&topics, "Xi visits the Kremlin", "Russian officials"),
            0b0111,
            "a phrase counts by its first word"
        );
        assert_eq!(candidates(&topics, "Россиянам и Китаю", ""), 0b0111);
    }

    #[test]
    fn never_rules_out_a_topic_that_matches() {
        // Every query against every text: wherever the document matches,
        // the check must have let the topic through.
        let queries = [
            "@russia @china",
            "(@russia NEAR/2 @china) OR title:\"xi jinping\"",
            "росси* AND китай",
            "talks OR (trade NEAR/3 oil)",
            "\"russia\" china",
            "summary:(@china) AND NOT title:moscow",
        ];
        let texts = [
            ("Russia and China hold talks", "Trade in oil grows."),
            ("Российско-китайские переговоры", "Китаю и России"),
            ("Xi Jinping in Moscow", ""),
            ("Chinese oil trade", "Russians talk"),
            ("Weather", "Rain in Paris"),
            ("Talks", "Beijing, Moscow"),
            ("Россия", "Китаем"),
        ];
        let parsed: Vec<Query> = queries.iter().map(|q| query(q)).collect();
        let check = Prefilter::new(&parsed);
        for (title, summary) in texts {
            let doc = Document::of_text(title, Some(summary));
            let bits = check.candidates([(Field::Title, title), (Field::Summary, summary)]);
            for (i, q) in parsed.iter().enumerate() {
                if super::super::matcher::eval(q, &doc).matched {
                    assert!(bits & 1 << i != 0, "{:?} ruled out for {title:?}", q.text());
                }
            }
        }
    }
}
