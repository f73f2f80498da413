//! Document paths (`a.b[3].c`, `#n[0]`) with names already resolved, reading them out
//! of items, and the overlap/conflict rules DynamoDB applies to sets of paths.

use std::fmt;

use crate::dynamodb::types::{AttrValue, Item};

/// One step of a document path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathElem {
    /// A map key (or the top-level attribute name).
    Name(String),
    /// A list index.
    Index(usize),
}

/// A document path; the first element is always a [`PathElem::Name`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Path(pub Vec<PathElem>);

impl Path {
    /// The top-level attribute name.
    pub fn top(&self) -> &str {
        match self.0.first() {
            Some(PathElem::Name(name)) => name,
            _ => "",
        }
    }

    /// Whether the path is just a top-level attribute.
    pub fn is_top_level(&self) -> bool {
        self.0.len() == 1
    }

    /// The value at this path, if the item has one.
    pub fn get<'a>(&self, item: &'a Item) -> Option<&'a AttrValue> {
        let mut elems = self.0.iter();
        let mut current = match elems.next()? {
            PathElem::Name(name) => item.get(name)?,
            PathElem::Index(_) => return None,
        };
        for elem in elems {
            current = step(current, elem)?;
        }
        Some(current)
    }
}

/// One step into a value.
pub fn step<'a>(value: &'a AttrValue, elem: &PathElem) -> Option<&'a AttrValue> {
    match (value, elem) {
        (AttrValue::M(map), PathElem::Name(name)) => map.get(name),
        (AttrValue::L(list), PathElem::Index(i)) => list.get(*i),
        _ => None,
    }
}

impl fmt::Display for Path {
    /// AWS's rendering in overlap messages: `[a, b, [3]]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, elem) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match elem {
                PathElem::Name(name) => f.write_str(name)?,
                PathElem::Index(ix) => write!(f, "[{ix}]")?,
            }
        }
        f.write_str("]")
    }
}

/// How two paths relate when used in one expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clash {
    /// One is a prefix of the other (or they are equal).
    Overlap,
    /// At some position one steps into a map and the other into a list.
    Conflict,
}

/// Whether `a` and `b` overlap or conflict (DynamoDB forbids both within one update or
/// projection expression).
pub fn clash(a: &Path, b: &Path) -> Option<Clash> {
    for (x, y) in a.0.iter().zip(&b.0) {
        match (x, y) {
            (PathElem::Name(p), PathElem::Name(q)) if p == q => {}
            (PathElem::Index(p), PathElem::Index(q)) if p == q => {}
            (PathElem::Name(_), PathElem::Name(_)) | (PathElem::Index(_), PathElem::Index(_)) => {
                return None;
            }
            _ => return Some(Clash::Conflict),
        }
    }
    Some(Clash::Overlap)
}

/// Checks every pair of paths, in order, returning AWS's message for the first clash.
pub fn check_clashes(paths: &[&Path]) -> Result<(), String> {
    for (i, later) in paths.iter().enumerate() {
        for earlier in &paths[..i] {
            if let Some(kind) = clash(earlier, later) {
                let word = match kind {
                    Clash::Overlap => "overlap",
                    Clash::Conflict => "conflict",
                };
                return Err(format!(
                    "Two document paths {word} with each other; must remove or rewrite one of these paths; path one: {earlier}, path two: {later}"
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(elems: &[&str]) -> Path {
        Path(
            elems
                .iter()
                .map(|e| match e.parse::<usize>() {
                    Ok(i) => PathElem::Index(i),
                    Err(_) => PathElem::Name((*e).to_owned()),
                })
                .collect(),
        )
    }

    #[test]
    fn paths_render_like_aws_error_messages() {
        assert_eq!(p(&["a", "b", "3", "c"]).to_string(), "[a, b, [3], c]");
    }

    #[test]
    fn prefix_paths_overlap_and_map_list_mixes_conflict() {
        assert_eq!(clash(&p(&["a"]), &p(&["a", "b"])), Some(Clash::Overlap));
        assert_eq!(
            clash(&p(&["a", "b"]), &p(&["a", "b"])),
            Some(Clash::Overlap)
        );
        assert_eq!(clash(&p(&["a", "b"]), &p(&["a", "c"])), None);
        assert_eq!(clash(&p(&["a", "1"]), &p(&["a", "2"])), None);
        assert_eq!(
            clash(&p(&["a", "1"]), &p(&["a", "b"])),
            Some(Clash::Conflict)
        );
    }

    #[test]
    fn clash_messages_name_both_paths() {
        let (a, ab) = (p(&["a"]), p(&["a", "b"]));
        assert_eq!(
            check_clashes(&[&a, &ab]).unwrap_err(),
            "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a, b]"
        );
    }
}
