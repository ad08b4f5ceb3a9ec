//! The topic query language: parsing text into a [`Query`] tree.
//!
//! ```text
//! query   := or
//! or      := and ( "OR" and )*
//! and     := unary ( "AND"? unary )*        adjacent terms are ANDed
//! unary   := "NOT" unary | atom
//! atom    := WORD | "quoted phrase" | "(" or ")"
//! ```
//! Operators are upper-case words (`AND`, `OR`, `NOT`); lower-case `and`/`or`
//! are ordinary search terms. Words are normalized exactly like the text
//! they are matched against (see `text::words`), so a word that splits into
//! several (`xi-jinping`) becomes a phrase.
//!
//! Errors carry a byte offset into the query so that `config` can point at
//! the exact line and column in the TOML file.

use super::text::words;
use std::fmt;

/// A parsed query. Leaves hold already-normalized words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Query {
    /// One word, or several that must appear consecutively (a phrase).
    Phrase(Vec<String>),
    And(Vec<Query>),
    Or(Vec<Query>),
    Not(Box<Query>),
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
    pub fn parse(text: &str) -> Result<Query, QueryError> {
        let tokens = tokenize(text)?;
        let mut parser = Parser {
            tokens: &tokens,
            pos: 0,
            end: text.len(),
        };
        let query = parser.or()?;
        if let Some(tok) = parser.peek() {
            let message = match tok.kind {
                TokenKind::Close => "unmatched `)`".to_owned(),
                _ => format!("unexpected {}", tok.kind.describe()),
            };
            return Err(QueryError {
                offset: tok.offset,
                message,
            });
        }
        Ok(query)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum TokenKind {
    Word(String),
    Quoted(String),
    And,
    Or,
    Not,
    Open,
    Close,
}

impl TokenKind {
    fn describe(&self) -> String {
        match self {
            TokenKind::Word(w) => format!("word `{w}`"),
            TokenKind::Quoted(q) => format!("phrase \"{q}\""),
            TokenKind::And => "`AND`".into(),
            TokenKind::Or => "`OR`".into(),
            TokenKind::Not => "`NOT`".into(),
            TokenKind::Open => "`(`".into(),
            TokenKind::Close => "`)`".into(),
        }
    }
}

#[derive(Clone, Debug)]
struct Token {
    kind: TokenKind,
    offset: usize,
}

fn tokenize(text: &str) -> Result<Vec<Token>, QueryError> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        match c {
            '(' => {
                chars.next();
                tokens.push(Token {
                    kind: TokenKind::Open,
                    offset: start,
                });
            }
            ')' => {
                chars.next();
                tokens.push(Token {
                    kind: TokenKind::Close,
                    offset: start,
                });
            }
            '"' | '“' | '”' | '«' | '»' => {
                chars.next();
                let mut phrase = String::new();
                let mut closed = false;
                for (_, c) in chars.by_ref() {
                    if matches!(c, '"' | '“' | '”' | '«' | '»') {
                        closed = true;
                        break;
                    }
                    phrase.push(c);
                }
                if !closed {
                    return Err(QueryError {
                        offset: start,
                        message: "unterminated quoted phrase".into(),
                    });
                }
                tokens.push(Token {
                    kind: TokenKind::Quoted(phrase),
                    offset: start,
                });
            }
            _ => {
                let mut word = String::new();
                while let Some(&(_, c)) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '(' | ')' | '"' | '“' | '”' | '«' | '»')
                    {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                let kind = match word.as_str() {
                    "AND" => TokenKind::And,
                    "OR" => TokenKind::Or,
                    "NOT" => TokenKind::Not,
                    _ => TokenKind::Word(word),
                };
                tokens.push(Token {
                    kind,
                    offset: start,
                });
            }
        }
    }
    Ok(tokens)
}

struct Parser<'a> {
    tokens: &'a [Token],
    pos: usize,
    /// Offset reported for errors at the end of input.
    end: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn or(&mut self) -> Result<Query, QueryError> {
        let mut parts = vec![self.and()?];
        while self.peek().is_some_and(|t| t.kind == TokenKind::Or) {
            self.pos += 1;
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Query::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Query, QueryError> {
        let mut parts = vec![self.unary()?];
        loop {
            match self.peek().map(|t| &t.kind) {
                Some(TokenKind::And) => {
                    self.pos += 1;
                    parts.push(self.unary()?);
                }
                // Implicit AND between adjacent terms.
                Some(
                    TokenKind::Word(_) | TokenKind::Quoted(_) | TokenKind::Not | TokenKind::Open,
                ) => {
                    parts.push(self.unary()?);
                }
                _ => break,
            }
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Query::And(parts)
        })
    }

    fn unary(&mut self) -> Result<Query, QueryError> {
        if self.peek().is_some_and(|t| t.kind == TokenKind::Not) {
            self.pos += 1;
            return Ok(Query::Not(Box::new(self.unary()?)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Query, QueryError> {
        let Some(token) = self.peek().cloned() else {
            return Err(QueryError {
                offset: self.end,
                message: "expected a term, a \"phrase\" or `(`, found the end of the query".into(),
            });
        };
        self.pos += 1;
        match token.kind {
            TokenKind::Word(w) | TokenKind::Quoted(w) => {
                let normalized = words(&w);
                if normalized.is_empty() {
                    return Err(QueryError {
                        offset: token.offset,
                        message: format!("`{w}` contains no letters or digits to search for"),
                    });
                }
                Ok(Query::Phrase(normalized))
            }
            TokenKind::Open => {
                if self.peek().is_some_and(|t| t.kind == TokenKind::Close) {
                    return Err(QueryError {
                        offset: token.offset,
                        message: "empty parentheses".into(),
                    });
                }
                let inner = self.or()?;
                match self.peek() {
                    Some(t) if t.kind == TokenKind::Close => {
                        self.pos += 1;
                        Ok(inner)
                    }
                    _ => Err(QueryError {
                        offset: token.offset,
                        message: "`(` is never closed".into(),
                    }),
                }
            }
            other => Err(QueryError {
                offset: token.offset,
                message: format!(
                    "expected a term, a \"phrase\" or `(`, found {}",
                    other.describe()
                ),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(words: &[&str]) -> Query {
        Query::Phrase(words.iter().map(|w| w.to_string()).collect())
    }

    #[test]
    fn precedence_not_binds_tighter_than_and_tighter_than_or() {
        let q = Query::parse("a b OR NOT c AND d").unwrap();
        assert_eq!(
            q,
            Query::Or(vec![
                Query::And(vec![p(&["a"]), p(&["b"])]),
                Query::And(vec![Query::Not(Box::new(p(&["c"]))), p(&["d"])]),
            ])
        );
    }

    #[test]
    fn phrases_and_case_folding() {
        let q = Query::parse(r#"(Russia OR Kremlin) AND "Xi Jinping""#).unwrap();
        assert_eq!(
            q,
            Query::And(vec![
                Query::Or(vec![p(&["russia"]), p(&["kremlin"])]),
                p(&["xi", "jinping"]),
            ])
        );
        // A hyphenated word is a phrase; lower-case `or` is a term.
        assert_eq!(
            Query::parse("xi-jinping or").unwrap(),
            Query::And(vec![p(&["xi", "jinping"]), p(&["or"])])
        );
        assert_eq!(Query::parse("Путин").unwrap(), p(&["путин"]));
    }

    #[test]
    fn errors_point_at_the_problem() {
        let cases = [
            ("(a OR b", 0, "never closed"),
            ("a OR", 4, "end of the query"),
            ("a )", 2, "unmatched"),
            ("a \"b c", 2, "unterminated"),
            ("a AND OR b", 6, "found `OR`"),
            ("()", 0, "empty parentheses"),
            ("a --- b", 2, "no letters"),
            ("", 0, "end of the query"),
        ];
        for (text, offset, needle) in cases {
            let err = Query::parse(text).unwrap_err();
            assert_eq!(err.offset, offset, "{text:?}: {err}");
            assert!(err.message.contains(needle), "{text:?}: {err}");
        }
    }
}
