//! Explanations: why a topic took or left an entry — every clause with
//! whether it matched, what it weighs, which words it found where, and the
//! one clause (or score) that decided.
//!
//! Built by re-evaluating the query clause by clause with the matcher, so
//! an explanation can never disagree with what the served feed does.

use super::document::{Document, Pos};
use super::matcher::{Evaluation, Outcome, Span};
use super::query::{Node, NodeKind, Query};
use super::{Reason, Topic, Verdict};
use std::fmt::{self, Write};

/// Where a clause found something: a field, 1-based word positions in it
/// and the words themselves; `via` names the alias member that matched.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    pub field: String,
    pub from: u32,
    pub to: u32,
    pub words: String,
    pub via: Option<String>,
}

impl fmt::Display for Hit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.from == self.to {
            write!(f, "{}#{} «{}»", self.field, self.from, self.words)?;
        } else {
            write!(
                f,
                "{}#{}–{} «{}»",
                self.field, self.from, self.to, self.words
            )?;
        }
        if let Some(via) = &self.via {
            write!(f, " ({via})")?;
        }
        Ok(())
    }
}

/// One clause of the query and how it fared.
#[derive(Clone, Debug)]
pub struct Clause {
    pub text: String,
    pub weight: Option<f64>,
    pub outcome: Outcome,
    pub hits: Vec<Hit>,
    pub children: Vec<Clause>,
}

/// Everything `tidings explain` prints for one topic and entry.
#[derive(Clone, Debug)]
pub struct Explanation {
    pub slug: String,
    pub verdict: Verdict,
    pub min_score: Option<f64>,
    pub language: Option<String>,
    pub query: Clause,
    pub exclude: Option<Clause>,
    /// The clause or rule that decided, in words.
    pub decided_by: String,
}

/// Explains `topic`'s verdict on `doc`.
pub fn explain(topic: &Topic, doc: &Document) -> Explanation {
    let verdict = topic.evaluate(doc);
    let decided_by = match verdict.reason {
        Reason::OtherFeed => "the entry's feed is not in the topic's `feeds`".to_owned(),
        Reason::OtherLanguage => format!(
            "its language ({}) is not in the topic's `languages` ({})",
            doc.language()
                .map_or_else(|| "unknown".to_owned(), ToString::to_string),
            topic.languages.as_deref().unwrap_or_default().join(", ")
        ),
        Reason::QueryMissed => why_not(
            &mut Evaluation::new(&topic.query, doc),
            &topic.query,
            topic.query.root(),
        ),
        Reason::Excluded => {
            let exclude = topic.exclude.as_ref().map_or("", Query::text);
            format!("`exclude` matched: {}", one_line(exclude))
        }
        Reason::BelowMinScore | Reason::Matched => {
            let mut parts = Vec::new();
            let mut ev = Evaluation::new(&topic.query, doc);
            contributions(&mut ev, &topic.query, topic.query.root(), &mut parts);
            let sum = if parts.is_empty() {
                "no weighted clause matched".to_owned()
            } else {
                parts.join(" + ")
            };
            match (verdict.reason, topic.min_score) {
                (Reason::BelowMinScore, Some(min)) => {
                    format!("score {} < min_score {min}: {sum}", verdict.score)
                }
                (_, Some(min)) => format!("score {} ≥ min_score {min}: {sum}", verdict.score),
                _ => format!("the query matched (score {}: {sum})", verdict.score),
            }
        }
    };
    Explanation {
        slug: topic.slug.clone(),
        verdict,
        min_score: topic.min_score,
        language: doc.language().map(ToString::to_string),
        query: clause(
            &mut Evaluation::new(&topic.query, doc),
            &topic.query,
            topic.query.root(),
            doc,
        ),
        exclude: topic
            .exclude
            .as_ref()
            .map(|q| clause(&mut Evaluation::new(q, doc), q, q.root(), doc)),
        decided_by,
    }
}

fn clause(ev: &mut Evaluation, query: &Query, node: &Node, doc: &Document) -> Clause {
    let outcome = ev.eval(node);
    let mut hits = Vec::new();
    let mut children = Vec::new();
    match &node.kind {
        NodeKind::Term { .. } => {
            hits = ev
                .spans(node)
                .iter()
                .filter_map(|s| hit(doc, s, None))
                .collect();
        }
        NodeKind::Near { left, right, .. } => {
            hits = ev
                .spans(node)
                .iter()
                .filter_map(|s| hit(doc, s, None))
                .collect();
            children = vec![clause(ev, query, left, doc), clause(ev, query, right, doc)];
        }
        NodeKind::Alias { terms, fields, .. } => {
            for term in terms {
                for span in ev.term_spans(*term, *fields) {
                    hits.extend(hit(doc, &span, Some(query.term(*term).to_string())));
                }
            }
        }
        NodeKind::Lang(_) => {
            if let Some(lang) = doc.language() {
                hits.push(Hit {
                    field: "lang".into(),
                    from: 0,
                    to: 0,
                    words: lang.to_string(),
                    via: None,
                });
            }
        }
        NodeKind::And(parts) | NodeKind::Or(parts) => {
            children = parts.iter().map(|p| clause(ev, query, p, doc)).collect();
        }
        NodeKind::Not(inner) => children.push(clause(ev, query, inner, doc)),
    }
    Clause {
        text: one_line(&query.source_of(node)),
        weight: node.weight,
        outcome,
        hits,
        children,
    }
}

fn hit(doc: &Document, span: &Span, via: Option<String>) -> Option<Hit> {
    let first = Pos {
        segment: span.segment,
        index: span.start,
    };
    let field = doc.field_of(first)?;
    let words: Vec<&str> = (span.start..=span.end)
        .filter_map(|index| {
            doc.word_at(Pos {
                segment: span.segment,
                index,
            })
        })
        .collect();
    Some(Hit {
        field: field.to_string(),
        from: span.start + 1,
        to: span.end + 1,
        words: words.join(" "),
        via,
    })
}

/// The first clause whose failure made `node` fail, in words.
fn why_not(ev: &mut Evaluation, query: &Query, node: &Node) -> String {
    let text = one_line(&query.source_of(node));
    match &node.kind {
        NodeKind::And(parts) => match parts.iter().find(|p| !ev.eval(p).matched) {
            Some(failed) => why_not(ev, query, failed),
            None => format!("`{text}` did not match"),
        },
        NodeKind::Or(_) => format!("none of the alternatives of `{}` matched", shorten(&text)),
        NodeKind::Not(inner) => {
            format!("`{text}`: `{}` matched", one_line(&query.source_of(inner)))
        }
        NodeKind::Near {
            left,
            right,
            within,
        } => {
            for side in [left, right] {
                if !ev.eval(side).matched {
                    return format!(
                        "`{text}`: `{}` not found",
                        shorten(&one_line(&query.source_of(side)))
                    );
                }
            }
            format!(
                "`{}`: both sides occur, but not within {within} words in one field",
                shorten(&text)
            )
        }
        NodeKind::Lang(code) => format!("`{text}`: the language is not {code}"),
        NodeKind::Term { .. } | NodeKind::Alias { .. } => format!("`{text}` not found"),
    }
}

/// The weighted clauses that count towards the score, as `text (+w)`.
fn contributions(ev: &mut Evaluation, query: &Query, node: &Node, out: &mut Vec<String>) {
    if !node.scored || !ev.eval(node).matched {
        return;
    }
    if let Some(w) = node.weight {
        out.push(format!(
            "{} ({w:+})",
            shorten(&one_line(&query.source_of(node)))
        ));
    }
    if let NodeKind::And(parts) | NodeKind::Or(parts) = &node.kind {
        for part in parts {
            contributions(ev, query, part, out);
        }
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn shorten(text: &str) -> String {
    const MAX: usize = 70;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(MAX - 1).collect();
        format!("{cut}…")
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.verdict.matched() {
            "MATCH"
        } else {
            "no match"
        };
        writeln!(f, "topic {}: {verdict}", self.slug)?;
        match self.min_score {
            Some(min) => writeln!(f, "score: {} (min_score {min})", self.verdict.score)?,
            None => writeln!(f, "score: {}", self.verdict.score)?,
        }
        writeln!(
            f,
            "language: {}",
            self.language.as_deref().unwrap_or("unknown")
        )?;
        writeln!(f, "decided by: {}", self.decided_by)?;
        writeln!(f, "query:")?;
        let mut out = String::new();
        render(&self.query, 1, &mut out);
        f.write_str(&out)?;
        if let Some(exclude) = &self.exclude {
            writeln!(f, "exclude:")?;
            let mut out = String::new();
            render(exclude, 1, &mut out);
            f.write_str(&out)?;
        }
        Ok(())
    }
}

/// One line per clause, indented by depth: a mark, the weight when the
/// clause has one, its text, and where it matched.
fn render(clause: &Clause, depth: usize, out: &mut String) {
    let mark = if clause.outcome.matched { "✓" } else { "✗" };
    let weight = clause
        .weight
        .map(|w| format!(" [weight {w:+}]"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "{}{mark} {}{weight}",
        "  ".repeat(depth),
        shorten(&clause.text)
    );
    const MAX_HITS: usize = 8;
    for hit in clause.hits.iter().take(MAX_HITS) {
        let _ = writeln!(out, "{}    at {hit}", "  ".repeat(depth));
    }
    if clause.hits.len() > MAX_HITS {
        let _ = writeln!(
            out,
            "{}    … and {} more",
            "  ".repeat(depth),
            clause.hits.len() - MAX_HITS
        );
    }
    for child in &clause.children {
        render(child, depth + 1, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topic::Aliases;

    fn topic(query: &str, min_score: Option<f64>) -> Topic {
        let mut aliases = Aliases::default();
        aliases
            .define("russia", &["russia", "putin", "россия", "путин"])
            .unwrap();
        aliases
            .define("china", &["china", "xi jinping", "китай", "\"си\""])
            .unwrap();
        let mut t = Topic::new("rc", "RC", Query::parse(query, &aliases).unwrap());
        t.min_score = min_score;
        t
    }

    #[test]
    fn a_match_names_its_words_positions_and_score() {
        let t = topic("(@russia NEAR/5 @china)^3 OR title:(talks)^1", Some(3.0));
        let d = Document::of_text("Путин и Си обсудили торговлю", None);
        let e = explain(&t, &d);
        assert!(e.verdict.matched());
        assert_eq!(e.verdict.score, 3.0);
        let text = e.to_string();
        assert!(text.contains("topic rc: MATCH"), "{text}");
        assert!(
            text.contains("score 3 ≥ min_score 3: (@russia NEAR/5 @china)^3 (+3)"),
            "{text}"
        );
        assert!(text.contains("title#1–3 «путин и си»"), "{text}");
        assert!(text.contains("title#1 «путин» (путин)"), "{text}");
        assert!(text.contains("title#3 «си» (\"си\")"), "{text}");
        assert!(
            text.contains("language: ru (detected from the text)"),
            "{text}"
        );
    }

    #[test]
    fn a_miss_names_the_clause_that_decided() {
        let t = topic("@russia AND @china AND talks", None);
        let e = explain(&t, &Document::of_text("Russia and China", None));
        assert!(!e.verdict.matched());
        assert_eq!(e.decided_by, "`talks` not found");

        let t = topic("@russia NEAR/1 @china", None);
        let e = explain(
            &t,
            &Document::of_text("Russia and the People's Republic of China", None),
        );
        assert!(
            e.decided_by.contains("not within 1 words"),
            "{}",
            e.decided_by
        );

        let t = topic("(@russia NEAR/3 @china)^2 OR china^1", Some(2.5));
        let e = explain(&t, &Document::of_text("Russia, China", None));
        assert_eq!(e.verdict.reason, Reason::Matched);
        let e = explain(&t, &Document::of_text("China alone", None));
        assert_eq!(e.verdict.reason, Reason::BelowMinScore);
        assert!(
            e.decided_by.starts_with("score 1 < min_score 2.5"),
            "{}",
            e.decided_by
        );
    }
}
