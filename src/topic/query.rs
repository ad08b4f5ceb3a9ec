//! The topic query language: parsing text into a [`Query`] tree.
//!
//! ```text
//! query   := or
//! or      := and ( "OR" and )*
//! and     := near ( "AND"? near )*          adjacent clauses are ANDed
//! near    := unary ( "NEAR/n" unary )*      within n words, either order
//! unary   := "NOT" unary | weighted
//! weighted:= primary ( "^" number )?        a clause's weight, for scoring
//! primary := FIELD ":" primary | "lang:" CODE
//!          | WORD | WORD* | "exact words" | @alias | "(" or ")"
//! ```
//! Operators are upper-case words (`AND`, `OR`, `NOT`, `NEAR/5`); lower-case
//! `and`/`or`/`near` are ordinary search terms; `#` starts a comment that
//! runs to the end of the line. Fields are `title`,
//! `summary`, `content`, `category`, `author`, `feed` and `lang`; a term
//! without one is looked for in the title, summary and categories.
//!
//! Errors carry a byte offset into the query so that `config` can point at
//! the exact line and column in the TOML file.

use super::alias::Aliases;
use super::document::{Field, FieldSet};
use super::lang::parse_language_code;
use super::term::{AliasKeys, Term};
use std::collections::HashMap;
use std::fmt;
use std::ops::Range;

/// The largest distance `NEAR/n` accepts; farther is "anywhere".
pub const MAX_NEAR: u32 = 1000;

/// A parsed query: the tree, its distinct terms, and the text it came
/// from (for explanations).
#[derive(Clone, Debug)]
pub struct Query {
    text: String,
    root: Node,
    /// Every distinct term once: a term an alias brings into several
    /// clauses is looked up once per document.
    terms: Vec<Term>,
    /// How many distinct (alias, fields) uses the query has.
    alias_slots: usize,
    /// Per distinct alias (its `group`): the filter keys of all its terms.
    alias_keys: Vec<AliasKeys>,
    fields: FieldSet,
}

/// Index of a term in its query's term table.
pub type TermId = usize;

/// One clause of a query and where it was written.
#[derive(Clone, Debug)]
pub struct Node {
    pub kind: NodeKind,
    /// The clause's weight (`^n`): added to the score when it matches.
    pub weight: Option<f64>,
    /// Byte range of the clause in the query text.
    pub span: Range<usize>,
    /// Whether this clause or one inside it has a weight. Clauses without
    /// one cannot change a score, so their evaluation may stop early.
    pub scored: bool,
}

#[derive(Clone, Debug)]
pub enum NodeKind {
    Term {
        term: TermId,
        fields: FieldSet,
    },
    /// `@name`: any of the group's terms. `slot` is shared by every use
    /// of the alias with the same fields, so its presence is worked out
    /// once per entry however many clauses use it.
    Alias {
        name: String,
        terms: Vec<TermId>,
        fields: FieldSet,
        slot: usize,
        /// Shared by every use of the alias, whatever the fields: see
        /// [`Query::alias_keys`].
        group: usize,
    },
    /// `lang:xx`: the entry's language.
    Lang(String),
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    /// Both sides within `within` words of each other, in one field.
    Near {
        left: Box<Node>,
        right: Box<Node>,
        within: u32,
    },
}

impl Node {
    /// Whether matches of this clause have positions (so it can be an
    /// operand of `NEAR`).
    fn positional(&self) -> bool {
        match &self.kind {
            NodeKind::Term { .. } | NodeKind::Alias { .. } | NodeKind::Near { .. } => true,
            NodeKind::Or(parts) => parts.iter().all(Node::positional),
            NodeKind::Lang(_) | NodeKind::And(_) | NodeKind::Not(_) => false,
        }
    }

    fn fields(&self) -> FieldSet {
        match &self.kind {
            NodeKind::Term { fields, .. } | NodeKind::Alias { fields, .. } => *fields,
            NodeKind::Lang(_) => FieldSet::language(),
            NodeKind::And(parts) | NodeKind::Or(parts) => parts
                .iter()
                .fold(FieldSet::EMPTY, |acc, p| acc.union(p.fields())),
            NodeKind::Not(inner) => inner.fields(),
            NodeKind::Near { left, right, .. } => left.fields().union(right.fields()),
        }
    }
}

/// Why a query failed to parse, and where (byte offset into the query).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryError {
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at offset {})", self.message, self.offset)
    }
}

impl std::error::Error for QueryError {}

impl Query {
    /// Parses `text`; `@name` refers to a group of `aliases`.
    pub fn parse(text: &str, aliases: &Aliases) -> Result<Query, QueryError> {
        let tokens = tokenize(text)?;
        let mut parser = Parser {
            tokens: &tokens,
            pos: 0,
            end: text.len(),
            aliases,
            terms: Vec::new(),
            term_ids: HashMap::new(),
            alias_slots: HashMap::new(),
            alias_groups: HashMap::new(),
            alias_keys: Vec::new(),
        };
        let root = parser.or(FieldSet::DEFAULT)?;
        if let Some(tok) = parser.peek() {
            let message = match tok.kind {
                Tok::Close => "unmatched `)`".to_owned(),
                _ => format!("unexpected {}", tok.kind.describe()),
            };
            return Err(QueryError {
                offset: tok.start,
                message,
            });
        }
        Ok(Query {
            text: text.to_owned(),
            fields: root.fields(),
            root,
            terms: parser.terms,
            alias_slots: parser.alias_slots.len(),
            alias_keys: parser.alias_keys,
        })
    }

    pub fn root(&self) -> &Node {
        &self.root
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn terms(&self) -> &[Term] {
        &self.terms
    }

    pub fn term(&self, id: TermId) -> &Term {
        &self.terms[id]
    }

    /// The filter keys of every term of the alias with this `group` (see
    /// [`NodeKind::Alias`]): a document without any of them holds none of
    /// its terms, and one with some holds at most the terms they belong to.
    pub fn alias_keys(&self, group: usize) -> Option<&AliasKeys> {
        self.alias_keys.get(group)
    }

    /// The number of distinct aliases the query uses.
    pub fn alias_groups(&self) -> usize {
        self.alias_keys.len()
    }

    /// The number of alias slots (see [`NodeKind::Alias`]).
    pub fn alias_slots(&self) -> usize {
        self.alias_slots
    }

    /// The source text of one clause, without comments.
    pub fn source_of(&self, node: &Node) -> String {
        let text = self.text.get(node.span.clone()).unwrap_or("");
        text.lines()
            .map(|line| {
                // A comment starts a token: `c#` is a word, ` # note` is not.
                let comment = line
                    .match_indices('#')
                    .map(|(at, _)| at)
                    .find(|at| *at == 0 || line[..*at].ends_with(char::is_whitespace));
                comment.map_or(line, |at| &line[..at])
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The fields the query reads, so documents index only those.
    pub fn fields(&self) -> FieldSet {
        self.fields
    }

    /// Whether any clause carries a weight (else every match scores 0).
    pub fn is_weighted(&self) -> bool {
        self.root.scored
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Alias(String),
    Field(Field),
    Lang,
    Weight(f64),
    And,
    Or,
    Not,
    Near(u32),
    Open,
    Close,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Word(w) => format!("word `{w}`"),
            Tok::Quoted(q) => format!("phrase \"{q}\""),
            Tok::Alias(a) => format!("`@{a}`"),
            Tok::Field(f) => format!("`{f}:`"),
            Tok::Lang => "`lang:`".into(),
            Tok::Weight(w) => format!("weight `^{w}`"),
            Tok::And => "`AND`".into(),
            Tok::Or => "`OR`".into(),
            Tok::Not => "`NOT`".into(),
            Tok::Near(n) => format!("`NEAR/{n}`"),
            Tok::Open => "`(`".into(),
            Tok::Close => "`)`".into(),
        }
    }

    /// Whether this token can start a clause (for implicit AND).
    fn starts_clause(&self) -> bool {
        matches!(
            self,
            Tok::Word(_)
                | Tok::Quoted(_)
                | Tok::Alias(_)
                | Tok::Field(_)
                | Tok::Lang
                | Tok::Not
                | Tok::Open
        )
    }
}

#[derive(Clone, Debug)]
struct Token {
    kind: Tok,
    start: usize,
    end: usize,
}

fn is_quote(c: char) -> bool {
    matches!(c, '"' | '“' | '”' | '«' | '»')
}

fn ends_word(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '^') || is_quote(c)
}

fn error<T>(offset: usize, message: impl Into<String>) -> Result<T, QueryError> {
    Err(QueryError {
        offset,
        message: message.into(),
    })
}

fn tokenize(text: &str) -> Result<Vec<Token>, QueryError> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    let push = |tokens: &mut Vec<Token>, kind, start, end| tokens.push(Token { kind, start, end });
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        // `#` starts a comment that runs to the end of the line, for
        // queries written over several lines.
        if c == '#' {
            for (_, c) in chars.by_ref() {
                if c == '\n' {
                    break;
                }
            }
            continue;
        }
        chars.next();
        let after = start + c.len_utf8();
        match c {
            '(' => push(&mut tokens, Tok::Open, start, after),
            ')' => push(&mut tokens, Tok::Close, start, after),
            c if is_quote(c) => {
                let mut phrase = String::new();
                let mut end = None;
                for (i, c) in chars.by_ref() {
                    if is_quote(c) {
                        end = Some(i + c.len_utf8());
                        break;
                    }
                    phrase.push(c);
                }
                let Some(end) = end else {
                    return error(start, "unterminated quoted phrase");
                };
                push(&mut tokens, Tok::Quoted(phrase), start, end);
            }
            '^' => {
                let mut end = after;
                while let Some(&(i, c)) = chars.peek() {
                    if !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+') {
                        break;
                    }
                    end = i + 1;
                    chars.next();
                }
                match text[after..end].parse::<f64>() {
                    Ok(w) if w.is_finite() => push(&mut tokens, Tok::Weight(w), start, end),
                    _ => return error(start, "`^` takes a number, e.g. `^3` or `^-1.5`"),
                }
            }
            _ => {
                let mut end = after;
                while let Some(&(i, c)) = chars.peek() {
                    if ends_word(c) {
                        break;
                    }
                    end = i + c.len_utf8();
                    chars.next();
                }
                word_tokens(&text[start..end], start, &mut tokens)?;
            }
        }
    }
    Ok(tokens)
}

/// Classifies one run of word characters: an operator, `@alias`, a field
/// prefix (and the word glued to it), or a plain word.
fn word_tokens(word: &str, start: usize, tokens: &mut Vec<Token>) -> Result<(), QueryError> {
    let end = start + word.len();
    let mut push = |kind, start, end| tokens.push(Token { kind, start, end });
    match word {
        "AND" => push(Tok::And, start, end),
        "OR" => push(Tok::Or, start, end),
        "NOT" => push(Tok::Not, start, end),
        _ if word.starts_with("NEAR") => match word.strip_prefix("NEAR/").map(str::parse::<u32>) {
            Some(Ok(n)) if n <= MAX_NEAR => push(Tok::Near(n), start, end),
            _ => {
                return error(
                    start,
                    format!("write `NEAR/n` with n from 0 to {MAX_NEAR}, e.g. `NEAR/10`"),
                );
            }
        },
        _ if word.starts_with('@') => {
            let name = &word[1..];
            if !super::alias::is_valid_name(name) {
                return error(
                    start,
                    format!("`{word}` is not an alias name: write `@name`"),
                );
            }
            push(Tok::Alias(name.to_owned()), start, end);
        }
        _ => match word.split_once(':') {
            Some((head, rest))
                if !head.is_empty() && head.chars().all(|c| c.is_ascii_alphabetic()) =>
            {
                let colon = start + head.len() + 1;
                let kind = match (head, Field::from_name(head)) {
                    ("lang", _) => Tok::Lang,
                    (_, Some(field)) => Tok::Field(field),
                    (_, None) => {
                        return error(
                            start,
                            format!(
                                "unknown field `{head}:`; fields are title, summary, content, \
                                 category, author, feed and lang (quote the word to search for it)"
                            ),
                        );
                    }
                };
                push(kind, start, colon);
                if !rest.is_empty() {
                    word_tokens(rest, colon, tokens)?;
                }
            }
            _ => push(Tok::Word(word.to_owned()), start, end),
        },
    }
    Ok(())
}

struct Parser<'a> {
    tokens: &'a [Token],
    pos: usize,
    /// Offset reported for errors at the end of input.
    end: usize,
    aliases: &'a Aliases,
    terms: Vec<Term>,
    term_ids: HashMap<Term, TermId>,
    alias_slots: HashMap<(String, FieldSet), usize>,
    alias_groups: HashMap<String, usize>,
    alias_keys: Vec<AliasKeys>,
}

fn combine(mut parts: Vec<Node>, make: fn(Vec<Node>) -> NodeKind) -> Node {
    if parts.len() == 1 {
        return parts.remove(0);
    }
    let span = parts[0].span.start..parts[parts.len() - 1].span.end;
    let scored = parts.iter().any(|p| p.scored);
    Node {
        kind: make(parts),
        weight: None,
        span,
        scored,
    }
}

impl Parser<'_> {
    fn intern(&mut self, term: Term) -> TermId {
        if let Some(id) = self.term_ids.get(&term) {
            return *id;
        }
        let id = self.terms.len();
        self.term_ids.insert(term.clone(), id);
        self.terms.push(term);
        id
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let tok = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        tok
    }

    fn or(&mut self, scope: FieldSet) -> Result<Node, QueryError> {
        let mut parts = vec![self.and(scope)?];
        while self.peek().is_some_and(|t| t.kind == Tok::Or) {
            self.pos += 1;
            parts.push(self.and(scope)?);
        }
        Ok(combine(parts, NodeKind::Or))
    }

    fn and(&mut self, scope: FieldSet) -> Result<Node, QueryError> {
        let mut parts = vec![self.near(scope)?];
        loop {
            match self.peek().map(|t| &t.kind) {
                Some(Tok::And) => {
                    self.pos += 1;
                    parts.push(self.near(scope)?);
                }
                Some(kind) if kind.starts_clause() => parts.push(self.near(scope)?),
                _ => break,
            }
        }
        Ok(combine(parts, NodeKind::And))
    }

    fn near(&mut self, scope: FieldSet) -> Result<Node, QueryError> {
        let mut left = self.unary(scope)?;
        while let Some(Tok::Near(within)) = self.peek().map(|t| t.kind.clone()) {
            self.pos += 1;
            let right = self.unary(scope)?;
            for side in [&left, &right] {
                if !side.positional() {
                    return error(
                        side.span.start,
                        "NEAR needs words, phrases, @aliases or OR-groups of them on both sides",
                    );
                }
                if side.scored {
                    return error(
                        side.span.start,
                        "a weight inside NEAR never counts: weigh the whole, e.g. `(a NEAR/5 b)^2`",
                    );
                }
            }
            left = Node {
                span: left.span.start..right.span.end,
                kind: NodeKind::Near {
                    left: Box::new(left),
                    right: Box::new(right),
                    within,
                },
                weight: None,
                scored: false,
            };
        }
        Ok(left)
    }

    fn unary(&mut self, scope: FieldSet) -> Result<Node, QueryError> {
        match self.peek() {
            Some(t) if t.kind == Tok::Not => {
                let start = t.start;
                self.pos += 1;
                let inner = self.unary(scope)?;
                if inner.scored {
                    return error(
                        inner.span.start,
                        "a weight under NOT never counts (a negative weight, e.g. `(x)^-2`, lowers a score)",
                    );
                }
                Ok(Node {
                    span: start..inner.span.end,
                    kind: NodeKind::Not(Box::new(inner)),
                    weight: None,
                    scored: false,
                })
            }
            _ => self.weighted(scope),
        }
    }

    fn weighted(&mut self, scope: FieldSet) -> Result<Node, QueryError> {
        let mut node = self.primary(scope)?;
        if let Some(Token {
            kind: Tok::Weight(w),
            end,
            ..
        }) = self.peek().cloned()
        {
            self.pos += 1;
            node.weight = Some(w);
            node.scored = true;
            node.span.end = end;
            if let Some(t) = self.peek().filter(|t| matches!(t.kind, Tok::Weight(_))) {
                return error(t.start, "a clause takes one weight");
            }
        }
        Ok(node)
    }

    fn primary(&mut self, scope: FieldSet) -> Result<Node, QueryError> {
        let Some(token) = self.next() else {
            return error(
                self.end,
                "expected a term, a \"phrase\" or `(`, found the end of the query",
            );
        };
        let leaf = |kind| Node {
            kind,
            weight: None,
            span: token.start..token.end,
            scored: false,
        };
        match token.kind {
            Tok::Word(w) => {
                let term = Term::unquoted(&w).map_err(|m| QueryError {
                    offset: token.start,
                    message: m,
                })?;
                Ok(leaf(NodeKind::Term {
                    term: self.intern(term),
                    fields: scope,
                }))
            }
            Tok::Quoted(q) => {
                let term = Term::quoted(&q).map_err(|m| QueryError {
                    offset: token.start,
                    message: m,
                })?;
                Ok(leaf(NodeKind::Term {
                    term: self.intern(term),
                    fields: scope,
                }))
            }
            Tok::Alias(name) => match self.aliases.get(&name) {
                Some(terms) => {
                    let terms: Vec<TermId> = terms.iter().map(|t| self.intern(t.clone())).collect();
                    let next = self.alias_slots.len();
                    let slot = *self
                        .alias_slots
                        .entry((name.clone(), scope))
                        .or_insert(next);
                    let group = match self.alias_groups.get(&name) {
                        Some(group) => *group,
                        None => {
                            // Interned just above: every id has its term.
                            let keys = AliasKeys::of(terms.iter().map(|t| &self.terms[*t].filter));
                            self.alias_keys.push(keys);
                            let group = self.alias_keys.len() - 1;
                            self.alias_groups.insert(name.clone(), group);
                            group
                        }
                    };
                    Ok(leaf(NodeKind::Alias {
                        terms,
                        name,
                        fields: scope,
                        slot,
                        group,
                    }))
                }
                None => {
                    let known: Vec<String> =
                        self.aliases.names().map(|n| format!("@{n}")).collect();
                    let known = if known.is_empty() {
                        "none are defined in [aliases]".to_owned()
                    } else {
                        format!("defined: {}", known.join(", "))
                    };
                    error(token.start, format!("unknown alias `@{name}` ({known})"))
                }
            },
            Tok::Field(field) => {
                let mut inner = self.primary(FieldSet::only(field))?;
                inner.span.start = token.start;
                Ok(inner)
            }
            Tok::Lang => match self.next() {
                Some(Token {
                    kind: Tok::Word(code),
                    end,
                    start,
                }) if start == token.end => {
                    let code = parse_language_code(&code).map_err(|m| QueryError {
                        offset: start,
                        message: m,
                    })?;
                    Ok(Node {
                        kind: NodeKind::Lang(code),
                        weight: None,
                        span: token.start..end,
                        scored: false,
                    })
                }
                _ => error(
                    token.start,
                    "`lang:` takes a language code right after it, e.g. `lang:ru` (for several: `lang:en OR lang:ru`)",
                ),
            },
            Tok::Open => {
                if self.peek().is_some_and(|t| t.kind == Tok::Close) {
                    return error(token.start, "empty parentheses");
                }
                let mut inner = self.or(scope)?;
                match self.next() {
                    Some(t) if t.kind == Tok::Close => {
                        // A weight after `)` weighs the group as a whole.
                        if inner.weight.is_some() {
                            inner = combine_single(inner);
                        }
                        inner.span = token.start..t.end;
                        Ok(inner)
                    }
                    _ => error(token.start, "`(` is never closed"),
                }
            }
            other => error(
                token.start,
                format!(
                    "expected a term, a \"phrase\" or `(`, found {}",
                    other.describe()
                ),
            ),
        }
    }
}

/// Wraps a weighted clause in a one-part group, so that `(a^2)^3` keeps
/// both weights instead of the outer replacing the inner.
fn combine_single(inner: Node) -> Node {
    Node {
        span: inner.span.clone(),
        scored: true,
        weight: None,
        kind: NodeKind::And(vec![inner]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Query {
        Query::parse(text, &Aliases::default()).unwrap()
    }

    /// A compact rendering of the tree, to compare structure.
    fn shape(q: &Query, node: &Node) -> String {
        let shape = |n: &Node| shape(q, n);
        let w = node.weight.map(|w| format!("^{w}")).unwrap_or_default();
        let s = match &node.kind {
            NodeKind::Term { term, fields } if *fields == FieldSet::DEFAULT => {
                q.term(*term).to_string()
            }
            NodeKind::Term { term, fields } => {
                let term = q.term(*term);
                let names: Vec<&str> = Field::ALL
                    .into_iter()
                    .filter(|f| fields.contains(*f))
                    .map(Field::name)
                    .collect();
                format!("{}:{term}", names.join("+"))
            }
            NodeKind::Alias { name, .. } => format!("@{name}"),
            NodeKind::Lang(code) => format!("lang:{code}"),
            NodeKind::And(parts) => format!(
                "AND({})",
                parts.iter().map(shape).collect::<Vec<_>>().join(", ")
            ),
            NodeKind::Or(parts) => format!(
                "OR({})",
                parts.iter().map(shape).collect::<Vec<_>>().join(", ")
            ),
            NodeKind::Not(inner) => format!("NOT({})", shape(inner)),
            NodeKind::Near {
                left,
                right,
                within,
            } => format!("NEAR{within}({}, {})", shape(left), shape(right)),
        };
        format!("{s}{w}")
    }

    fn shape_of(text: &str) -> String {
        let q = parse(text);
        shape(&q, q.root())
    }

    #[test]
    fn precedence_not_then_near_then_and_then_or() {
        assert_eq!(
            shape_of("a b OR NOT c AND d"),
            "OR(AND(a, b), AND(NOT(c), d))"
        );
        assert_eq!(shape_of("a NEAR/3 b c OR d"), "OR(AND(NEAR3(a, b), c), d)");
        assert_eq!(
            shape_of("(putin OR kremlin) NEAR/20 (xi OR beijing) NEAR/5 talks"),
            "NEAR5(NEAR20(OR(putin, kremlin), OR(xi, beijing)), talks)"
        );
    }

    #[test]
    fn terms_fields_weights_and_case() {
        assert_eq!(
            shape_of(r#"(Russia OR Kremlin) AND "Xi Jinping""#),
            r#"AND(OR(russia, kremlin), "xi" "jinping")"#
        );
        // A hyphenated word is a phrase; lower-case `or` and `near` are terms.
        assert_eq!(shape_of("xi-jinping or near"), "AND(xi jinping, or, near)");
        assert_eq!(shape_of("Путин китай*"), "AND(путин, китай*)");
        assert_eq!(
            shape_of("title:(putin OR summary:xi)^3 feed:tass.com lang:RU"),
            "AND(OR(title:putin, summary:xi)^3, feed:tass com, lang:ru)"
        );
        assert_eq!(
            shape_of(r#"title:"xi jinping"^-1.5"#),
            r#"title:"xi" "jinping"^-1.5"#
        );
        assert_eq!(shape_of("(a^2)^3"), "AND(a^2)^3");
        let q = parse("a (b^2 OR c)");
        assert!(q.is_weighted());
        assert!(!parse("a b").is_weighted());
        assert_eq!(parse("content:x author:y").fields(), {
            FieldSet::only(Field::Content).union(FieldSet::only(Field::Author))
        });
    }

    #[test]
    fn comments_run_to_the_end_of_the_line() {
        assert_eq!(
            shape_of("putin   # the president\n OR xi # and his guest"),
            "OR(putin, xi)"
        );
        assert_eq!(shape_of("c# OR f#"), "OR(c, f)");
        let q = parse("a # first\nOR c# # second\nOR d");
        assert_eq!(q.source_of(q.root()), "a \nOR c# \nOR d");
    }

    #[test]
    fn spans_cover_the_clause_text() {
        let q = parse("x OR title:(a NEAR/2 b)^3");
        let NodeKind::Or(parts) = &q.root().kind else {
            panic!("expected OR");
        };
        assert_eq!(q.source_of(&parts[1]), "title:(a NEAR/2 b)^3");
        assert_eq!(q.source_of(&parts[0]), "x");
    }

    #[test]
    fn aliases_expand_with_their_field() {
        let mut aliases = Aliases::default();
        aliases.define("china", &["china", "xi jinping"]).unwrap();
        let q = Query::parse("title:@china NEAR/5 @china", &aliases).unwrap();
        assert_eq!(shape(&q, q.root()), "NEAR5(@china, @china)");
        // The alias's terms are in the table once, however often it is
        // used; its uses share a slot per field set.
        assert_eq!(q.terms().len(), 2);
        assert_eq!(q.alias_slots(), 2);
        let NodeKind::Near { left, .. } = &q.root().kind else {
            panic!("expected NEAR");
        };
        assert!(matches!(&left.kind, NodeKind::Alias { fields, terms, .. }
            if *fields == FieldSet::only(Field::Title) && terms.len() == 2));
    }

    #[test]
    fn errors_point_at_the_problem() {
        let mut aliases = Aliases::default();
        aliases.define("china", &["china"]).unwrap();
        let cases = [
            ("(a OR b", 0, "never closed"),
            ("a OR", 4, "end of the query"),
            ("a )", 2, "unmatched"),
            ("a \"b c", 2, "unterminated"),
            ("a AND OR b", 6, "found `OR`"),
            ("()", 0, "empty parentheses"),
            ("a --- b", 2, "no letters"),
            ("", 0, "end of the query"),
            ("a NEAR b", 2, "NEAR/n"),
            ("a NEAR/x b", 2, "NEAR/n"),
            ("a NEAR/5000 b", 2, "NEAR/n"),
            ("(a AND b) NEAR/3 c", 0, "NEAR needs"),
            ("a NEAR/3 NOT c", 9, "NEAR needs"),
            ("a NEAR/3 lang:en", 9, "NEAR needs"),
            ("a NEAR/3 b^2", 9, "inside NEAR"),
            ("x NOT (a^2)", 6, "under NOT"),
            ("a^x", 1, "takes a number"),
            ("a^2^3", 3, "one weight"),
            ("titel:x", 0, "unknown field `titel:`"),
            ("lang: en", 0, "language code right after"),
            ("lang:english", 5, "invalid language code"),
            ("x @russia", 2, "unknown alias `@russia` (defined: @china)"),
            ("x @", 2, "not an alias name"),
            ("ch*na", 0, "end of a word"),
        ];
        for (text, offset, needle) in cases {
            let err = Query::parse(text, &aliases).unwrap_err();
            assert_eq!(err.offset, offset, "{text:?}: {err}");
            assert!(err.message.contains(needle), "{text:?}: {err}");
        }
    }
}
