//! Named term groups: the config's `[aliases]` table, defined once and used
//! in any topic's query as `@name` (an OR of the group's terms).

use super::term::Term;
use std::collections::BTreeMap;

/// Every alias of the config, by name.
#[derive(Clone, Debug, Default)]
pub struct Aliases {
    groups: BTreeMap<String, Vec<Term>>,
}

/// Why an alias definition was refused: `item` is the index of the list
/// item at fault, or `None` when the name or the list itself is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AliasError {
    pub item: Option<usize>,
    pub message: String,
}

impl Aliases {
    /// Adds the group `name`, whose items are terms as `Term::alias_item`
    /// reads them (`word`, `several words` = a phrase, `word*`, `"exact"`).
    pub fn define<S: AsRef<str>>(&mut self, name: &str, items: &[S]) -> Result<(), AliasError> {
        if !is_valid_name(name) {
            return Err(AliasError {
                item: None,
                message: format!("invalid alias name {name:?}: use letters, digits, '_' and '-'"),
            });
        }
        if items.is_empty() {
            return Err(AliasError {
                item: None,
                message: format!("alias {name:?} is empty"),
            });
        }
        let terms = items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                Term::alias_item(item.as_ref()).map_err(|message| AliasError {
                    item: Some(i),
                    message: format!("alias {name:?}: {message}"),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.groups.insert(name.to_owned(), terms);
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<&[Term]> {
        self.groups.get(name).map(Vec::as_slice)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.groups.keys().map(String::as_str)
    }
}

pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defines_groups_and_locates_bad_items() {
        let mut a = Aliases::default();
        a.define("china", &["china", "xi jinping", "китай*", "\"си\""])
            .unwrap();
        assert_eq!(a.get("china").map(<[Term]>::len), Some(4));
        assert!(a.get("russia").is_none());
        let err = a.define("bad", &["ok", "a*b"]).unwrap_err();
        assert_eq!(err.item, Some(1));
        assert!(err.message.contains("alias \"bad\""), "{err:?}");
        assert_eq!(a.define("no spaces", &["x"]).unwrap_err().item, None);
        assert!(a.define("empty", &[] as &[&str]).is_err());
        assert_eq!(a.names().collect::<Vec<_>>(), ["china"]);
    }
}
