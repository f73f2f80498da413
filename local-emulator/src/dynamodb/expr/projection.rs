//! Projection expressions: `a, b.c, l[2], #n[0].x`.
//!
//! The result keeps only the named paths. Nested maps keep only the selected keys;
//! selected list elements are returned as a list in index order with the gaps closed
//! (`l[1], l[3]` of `[a,b,c,d]` is `[b,d]`), as DynamoDB does. Paths absent from the
//! item are skipped.

use std::collections::BTreeMap;

use crate::dynamodb::types::{AttrValue, Item};
use crate::error::AwsJsonError;

use super::Projection;
use super::lexer::Kind;
use super::parser::{Category, Parser};
use super::path::{Path, PathElem, check_clashes};

/// Parses `path (',' path)*`.
pub fn parse(p: &mut Parser<'_>) -> Result<Vec<Path>, AwsJsonError> {
    let mut paths = Vec::new();
    loop {
        if !p.at_path() {
            return Err(p.syntax_error());
        }
        paths.push(p.path()?);
        if p.eat(Kind::Comma).is_none() {
            break;
        }
    }
    p.expect_end()?;
    let refs: Vec<&Path> = paths.iter().collect();
    if let Err(msg) = check_clashes(&refs) {
        p.note(Category::Paths, msg);
    }
    p.finish()?;
    Ok(paths)
}

/// The selected parts of one value, before lists are compacted.
#[derive(Debug)]
enum Node {
    Leaf(AttrValue),
    Map(BTreeMap<String, Node>),
    List(BTreeMap<usize, Node>),
}

impl Node {
    fn into_value(self) -> AttrValue {
        match self {
            Node::Leaf(v) => v,
            Node::Map(m) => AttrValue::M(m.into_iter().map(|(k, n)| (k, n.into_value())).collect()),
            Node::List(l) => AttrValue::L(l.into_values().map(Node::into_value).collect()),
        }
    }
}

/// Inserts `value` (found at `rest` below a node) into the selection tree.
fn insert(node: &mut Node, rest: &[PathElem], value: AttrValue) {
    let Some((first, tail)) = rest.split_first() else {
        *node = Node::Leaf(value);
        return;
    };
    let child = match (node, first) {
        (Node::Map(map), PathElem::Name(k)) => {
            map.entry(k.clone()).or_insert_with(|| empty_for(tail))
        }
        (Node::List(list), PathElem::Index(i)) => list.entry(*i).or_insert_with(|| empty_for(tail)),
        // Overlapping or conflicting paths are rejected at parse time.
        _ => return,
    };
    insert(child, tail, value);
}

fn empty_for(rest: &[PathElem]) -> Node {
    match rest.first() {
        Some(PathElem::Index(_)) => Node::List(BTreeMap::new()),
        _ => Node::Map(BTreeMap::new()),
    }
}

impl Projection {
    /// Keeps only the projected paths of `item`.
    pub fn apply(&self, item: &Item) -> Item {
        let mut root: BTreeMap<String, Node> = BTreeMap::new();
        for path in &self.paths {
            let Some(value) = path.get(item) else {
                continue;
            };
            let Some((PathElem::Name(top), rest)) = path.0.split_first() else {
                continue;
            };
            let node = root.entry(top.clone()).or_insert_with(|| empty_for(rest));
            insert(node, rest, value.clone());
        }
        root.into_iter().map(|(k, n)| (k, n.into_value())).collect()
    }

    /// The projected paths.
    pub fn paths(&self) -> &[Path] {
        &self.paths
    }

    /// Top-level attribute names the projection reads (for index projections).
    pub fn top_level_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for path in &self.paths {
            if !names.iter().any(|n| n == path.top()) {
                names.push(path.top().to_owned());
            }
        }
        names
    }
}
