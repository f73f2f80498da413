//! Update expression grammar and static checks.
//!
//! ```text
//! update   := clause+                       (each of SET/REMOVE/ADD/DELETE at most once)
//! clause   := SET path '=' value (',' …)* | REMOVE path (',' path)*
//!           | ADD path :v (',' …)*         | DELETE path :v (',' …)*
//! value    := '(' value ')' | operand [ ('+' | '-') operand ]
//! operand  := '(' operand ')' | if_not_exists(path, operand)
//!           | list_append(operand, operand) | path | :v
//! ```
//! All paths of one expression must be pairwise free of overlap and conflict.

use crate::dynamodb::types::AttrValue;
use crate::error::AwsJsonError;

use super::lexer::Kind;
use super::parser::{Category, Parser};
use super::path::{Path, check_clashes};

/// An operand of a SET value.
#[derive(Debug, Clone, PartialEq)]
pub enum UpdateOperand {
    /// An attribute of the item (before the update).
    Path(Path),
    /// An `ExpressionAttributeValues` entry.
    Value(AttrValue),
    /// `if_not_exists(path, fallback)`.
    IfNotExists(Path, Box<UpdateOperand>),
    /// `list_append(a, b)`.
    ListAppend(Box<UpdateOperand>, Box<UpdateOperand>),
}

impl UpdateOperand {
    fn static_type(&self) -> Option<&'static str> {
        match self {
            UpdateOperand::Value(v) => Some(v.type_name()),
            _ => None,
        }
    }
}

/// The right-hand side of a SET action.
#[derive(Debug, Clone, PartialEq)]
pub enum SetValue {
    /// A single operand.
    Operand(UpdateOperand),
    /// `a + b` (numbers).
    Plus(UpdateOperand, UpdateOperand),
    /// `a - b` (numbers).
    Minus(UpdateOperand, UpdateOperand),
}

/// One action of an update.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// `SET path = value`
    Set(Path, SetValue),
    /// `REMOVE path`
    Remove(Path),
    /// `ADD path :v`
    Add(Path, AttrValue),
    /// `DELETE path :v`
    Delete(Path, AttrValue),
}

impl Action {
    /// The path the action writes.
    pub fn path(&self) -> &Path {
        match self {
            Action::Set(p, _) | Action::Remove(p) | Action::Add(p, _) | Action::Delete(p, _) => p,
        }
    }
}

const CLAUSES: [&str; 4] = ["SET", "REMOVE", "ADD", "DELETE"];

/// Parses a whole update expression into its actions (in textual order).
pub fn parse(p: &mut Parser<'_>) -> Result<Vec<Action>, AwsJsonError> {
    let mut actions = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    loop {
        let Some(clause) = CLAUSES.into_iter().find(|c| p.at_keyword(c)) else {
            return Err(p.syntax_error());
        };
        p.bump();
        if seen.contains(&clause) {
            p.note(
                Category::Section,
                format!("The \"{clause}\" section can only be used once in an update expression;"),
            );
        }
        seen.push(clause);
        loop {
            actions.push(action(p, clause)?);
            if p.eat(Kind::Comma).is_none() {
                break;
            }
        }
        if p.at_end() {
            break;
        }
    }
    let paths: Vec<&Path> = actions.iter().map(Action::path).collect();
    if let Err(msg) = check_clashes(&paths) {
        p.note(Category::Paths, msg);
    }
    p.finish()?;
    Ok(actions)
}

/// A path that is not a clause keyword (`SET a = :v, REMOVE` is a syntax error).
fn target(p: &mut Parser<'_>) -> Result<Path, AwsJsonError> {
    if CLAUSES.iter().any(|c| p.at_keyword(c)) || !p.at_path() {
        return Err(p.syntax_error());
    }
    p.path()
}

fn action(p: &mut Parser<'_>, clause: &str) -> Result<Action, AwsJsonError> {
    let path = target(p)?;
    match clause {
        "SET" => {
            p.expect(Kind::Eq)?;
            let value = set_value(p)?;
            Ok(Action::Set(path, value))
        }
        "REMOVE" => Ok(Action::Remove(path)),
        _ => {
            let token = p.expect(Kind::ValueRef)?;
            let value = p.value_ref(token);
            check_add_delete(p, clause, &value);
            if clause == "ADD" {
                Ok(Action::Add(path, value))
            } else {
                Ok(Action::Delete(path, value))
            }
        }
    }
}

/// ADD takes a number or a set; DELETE only a set.
fn check_add_delete(p: &mut Parser<'_>, clause: &str, value: &AttrValue) {
    let long_name = match value {
        AttrValue::S(_) => "STRING",
        AttrValue::N(_) if clause == "ADD" => return,
        AttrValue::N(_) => "NUMBER",
        AttrValue::B(_) => "BINARY",
        AttrValue::Null => "NULL",
        AttrValue::Bool(_) => "BOOLEAN",
        AttrValue::L(_) => "LIST",
        AttrValue::M(_) => "MAP",
        AttrValue::Ss(_) | AttrValue::Ns(_) | AttrValue::Bs(_) => return,
    };
    // An undefined placeholder already produced its own error.
    if matches!(value, AttrValue::Null) && p.has(Category::UndefinedValue) {
        return;
    }
    p.note(
        Category::Operand,
        format!(
            "Incorrect operand type for operator or function; operator: {clause}, operand type: {long_name}"
        ),
    );
}

fn set_value(p: &mut Parser<'_>) -> Result<SetValue, AwsJsonError> {
    // `SET a = (b + :c)`: a parenthesized whole value.
    if p.peek_kind() == Some(Kind::LParen) && !starts_plain_operand_group(p) {
        p.bump();
        p.enter()?;
        let inner = set_value(p)?;
        p.expect(Kind::RParen)?;
        p.leave();
        return Ok(inner);
    }
    let left = operand(p)?;
    let op = match p.peek_kind() {
        Some(Kind::Plus) => "+",
        Some(Kind::Minus) => "-",
        _ => return Ok(SetValue::Operand(left)),
    };
    p.bump();
    p.count_operator()?;
    let right = operand(p)?;
    for t in [left.static_type(), right.static_type()]
        .into_iter()
        .flatten()
    {
        if t != "N" {
            p.note(Category::Operand, wrong_type(op, t));
        }
    }
    Ok(if op == "+" {
        SetValue::Plus(left, right)
    } else {
        SetValue::Minus(left, right)
    })
}

/// Whether a `(` opens a parenthesized *operand* that an arithmetic operator may follow
/// (`(a) + :b`) rather than a parenthesized whole value: scan to the matching `)`.
fn starts_plain_operand_group(p: &Parser<'_>) -> bool {
    p.closing_paren_followed_by(&[Kind::Plus, Kind::Minus])
}

fn wrong_type(function: &str, t: &str) -> String {
    format!(
        "Incorrect operand type for operator or function; operator or function: {function}, operand type: {t}"
    )
}

fn operand(p: &mut Parser<'_>) -> Result<UpdateOperand, AwsJsonError> {
    let token = p.peek().ok_or_else(|| p.syntax_error())?;
    match token.kind {
        Kind::LParen => {
            p.bump();
            p.enter()?;
            let inner = operand(p)?;
            p.expect(Kind::RParen)?;
            p.leave();
            Ok(inner)
        }
        Kind::ValueRef => {
            p.bump();
            Ok(UpdateOperand::Value(p.value_ref(token)))
        }
        Kind::Ident if p.peek2().is_some_and(|t| t.kind == Kind::LParen) => function(p),
        _ => Ok(UpdateOperand::Path(target(p)?)),
    }
}

fn function(p: &mut Parser<'_>) -> Result<UpdateOperand, AwsJsonError> {
    let name_token = p.bump().ok_or_else(|| p.syntax_error())?;
    let name = p.text(name_token);
    p.expect(Kind::LParen)?;
    p.count_operator()?;
    p.enter()?;
    let mut args = vec![operand(p)?];
    while p.eat(Kind::Comma).is_some() {
        args.push(operand(p)?);
    }
    p.expect(Kind::RParen)?;
    p.leave();
    let placeholder = UpdateOperand::Value(AttrValue::Null);
    match name {
        "if_not_exists" | "list_append" => {}
        "attribute_exists"
        | "attribute_not_exists"
        | "attribute_type"
        | "begins_with"
        | "contains"
        | "size" => {
            p.note(
                Category::UnknownFunction,
                format!("The function is not allowed in an update expression; function: {name}"),
            );
            return Ok(placeholder);
        }
        _ => {
            p.note(
                Category::UnknownFunction,
                format!("Invalid function name; function: {name}"),
            );
            return Ok(placeholder);
        }
    }
    if args.len() != 2 {
        p.note(
            Category::OperandCount,
            format!(
                "Incorrect number of operands for operator or function; operator or function: {name}, number of operands: {}",
                args.len()
            ),
        );
        return Ok(placeholder);
    }
    let mut args = args.into_iter();
    let (Some(first), Some(second)) = (args.next(), args.next()) else {
        return Ok(placeholder);
    };
    if name == "if_not_exists" {
        return match first {
            UpdateOperand::Path(path) => Ok(UpdateOperand::IfNotExists(path, Box::new(second))),
            _ => {
                p.note(
                    Category::Operand,
                    "Operator or function requires a document path; operator or function: if_not_exists",
                );
                Ok(placeholder)
            }
        };
    }
    for t in [first.static_type(), second.static_type()]
        .into_iter()
        .flatten()
    {
        if t != "L" {
            p.note(Category::Operand, wrong_type("list_append", t));
        }
    }
    Ok(UpdateOperand::ListAppend(Box::new(first), Box::new(second)))
}
