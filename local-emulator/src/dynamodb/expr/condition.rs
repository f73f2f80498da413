//! Condition / filter / key-condition grammar and its static checks.
//!
//! ```text
//! or         := and ( OR and )*
//! and        := not ( AND not )*
//! not        := NOT not | comparison
//! comparison := atom [ cmp atom | BETWEEN atom AND atom | IN '(' atom (',' atom)* ')' ]
//! atom       := '(' or ')' | name '(' atom (',' atom)* ')' | path | :value
//! ```
//! Precedence is NOT > AND > OR as in DynamoDB. A parenthesis can open either a
//! condition group or a parenthesized operand (`(a) = :v`), so atoms parse to a
//! [`Node`] that is one or the other and the surrounding rule decides — no
//! backtracking, so hostile input stays linear.

use crate::dynamodb::types::{AttrValue, compare_scalar};
use crate::error::AwsJsonError;

use super::lexer::Kind;
use super::parser::{Category, Parser};
use super::path::Path;

/// Words that are operators in this grammar and never start an operand.
const KEYWORDS: [&str; 5] = ["AND", "OR", "NOT", "BETWEEN", "IN"];

/// Most values an `IN` list may hold.
pub const MAX_IN_OPERANDS: usize = 100;

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// A value-producing operand.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// An attribute of the item.
    Path(Path),
    /// An `ExpressionAttributeValues` entry.
    Value(AttrValue),
    /// `size(operand)`.
    Size(Box<Operand>),
}

impl Operand {
    /// The type known before evaluation (values and `size`), for static checks.
    fn static_type(&self) -> Option<&'static str> {
        match self {
            Operand::Path(_) => None,
            Operand::Value(v) => Some(v.type_name()),
            Operand::Size(_) => Some("N"),
        }
    }
}

/// A boolean condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    /// `a <op> b`
    Compare(CmpOp, Operand, Operand),
    /// `a BETWEEN lo AND hi`
    Between(Operand, Operand, Operand),
    /// `a IN (b, c, …)`
    In(Operand, Vec<Operand>),
    /// `x AND y`
    And(Box<Cond>, Box<Cond>),
    /// `x OR y`
    Or(Box<Cond>, Box<Cond>),
    /// `NOT x`
    Not(Box<Cond>),
    /// `attribute_exists(path)`
    Exists(Path),
    /// `attribute_not_exists(path)`
    NotExists(Path),
    /// `attribute_type(path, :t)`
    Type(Operand, Operand),
    /// `begins_with(a, b)`
    BeginsWith(Operand, Operand),
    /// `contains(a, b)`
    Contains(Operand, Operand),
}

/// What an atom parsed to.
#[derive(Debug)]
enum Node {
    Cond(Cond, Option<&'static str>),
    Operand(Operand),
}

/// A node plus whether it is exactly one parenthesized group (for redundant parens).
#[derive(Debug)]
struct Parsed {
    node: Node,
    wrapped: bool,
}

impl Parsed {
    fn plain(node: Node) -> Parsed {
        Parsed {
            node,
            wrapped: false,
        }
    }
}

/// Parses a whole condition expression.
pub fn parse(p: &mut Parser<'_>) -> Result<Cond, AwsJsonError> {
    let parsed = or(p)?;
    p.expect_end()?;
    let cond = to_cond(p, parsed.node)?;
    p.finish()?;
    Ok(cond)
}

fn or(p: &mut Parser<'_>) -> Result<Parsed, AwsJsonError> {
    let mut left = and(p)?;
    while p.at_keyword("OR") {
        let lhs = to_cond(p, left.node)?;
        p.bump();
        p.count_operator()?;
        let right = and(p)?;
        let rhs = to_cond(p, right.node)?;
        left = Parsed::plain(Node::Cond(Cond::Or(Box::new(lhs), Box::new(rhs)), None));
    }
    Ok(left)
}

fn and(p: &mut Parser<'_>) -> Result<Parsed, AwsJsonError> {
    let mut left = not(p)?;
    while p.at_keyword("AND") {
        let lhs = to_cond(p, left.node)?;
        p.bump();
        p.count_operator()?;
        let right = not(p)?;
        let rhs = to_cond(p, right.node)?;
        left = Parsed::plain(Node::Cond(Cond::And(Box::new(lhs), Box::new(rhs)), None));
    }
    Ok(left)
}

fn not(p: &mut Parser<'_>) -> Result<Parsed, AwsJsonError> {
    if p.at_keyword("NOT") {
        p.bump();
        p.count_operator()?;
        p.enter()?;
        let inner = not(p)?;
        p.leave();
        let cond = to_cond(p, inner.node)?;
        return Ok(Parsed::plain(Node::Cond(Cond::Not(Box::new(cond)), None)));
    }
    comparison(p)
}

fn comparison_op(kind: Kind) -> Option<CmpOp> {
    Some(match kind {
        Kind::Eq => CmpOp::Eq,
        Kind::Ne => CmpOp::Ne,
        Kind::Lt => CmpOp::Lt,
        Kind::Le => CmpOp::Le,
        Kind::Gt => CmpOp::Gt,
        Kind::Ge => CmpOp::Ge,
        _ => return None,
    })
}

fn comparison(p: &mut Parser<'_>) -> Result<Parsed, AwsJsonError> {
    let first = atom(p)?;
    let operator_follows = p.peek_kind().and_then(comparison_op).is_some()
        || p.at_keyword("BETWEEN")
        || p.at_keyword("IN");
    let wrapped = first.wrapped;
    let left = match first.node {
        Node::Operand(op) => op,
        Node::Cond(_, Some(function)) if operator_follows => {
            misused(p, function);
            Operand::Value(AttrValue::Null)
        }
        node => return Ok(Parsed { node, wrapped }),
    };
    if let Some(op) = p.peek_kind().and_then(comparison_op) {
        p.bump();
        p.count_operator()?;
        let right = operand(p)?;
        check_distinct(p, op.symbol(), &left, &right);
        if !matches!(op, CmpOp::Eq | CmpOp::Ne) {
            check_orderable(p, op.symbol(), &[&left, &right]);
        }
        return Ok(Parsed::plain(Node::Cond(
            Cond::Compare(op, left, right),
            None,
        )));
    }
    if p.at_keyword("BETWEEN") {
        p.bump();
        p.count_operator()?;
        let low = operand(p)?;
        if !p.at_keyword("AND") {
            return Err(p.syntax_error());
        }
        p.bump();
        let high = operand(p)?;
        check_orderable(p, "BETWEEN", &[&left, &low, &high]);
        check_between(p, &low, &high);
        return Ok(Parsed::plain(Node::Cond(
            Cond::Between(left, low, high),
            None,
        )));
    }
    if p.at_keyword("IN") {
        p.bump();
        p.count_operator()?;
        p.expect(Kind::LParen)?;
        let mut list = vec![operand(p)?];
        while p.eat(Kind::Comma).is_some() {
            list.push(operand(p)?);
        }
        p.expect(Kind::RParen)?;
        for candidate in &list {
            check_distinct(p, "IN", &left, candidate);
        }
        if list.len() > MAX_IN_OPERANDS {
            p.note(
                Category::OperandCount,
                format!(
                    "The IN operator is provided with too many operands; number of operands: {}",
                    list.len()
                ),
            );
        }
        return Ok(Parsed::plain(Node::Cond(Cond::In(left, list), None)));
    }
    Ok(Parsed {
        node: Node::Operand(left),
        wrapped,
    })
}

fn misused(p: &mut Parser<'_>, function: &str) {
    p.note(
        Category::MisusedFunction,
        format!(
            "The function is not allowed to be used this way in an expression; function: {function}"
        ),
    );
}

/// An atom that must be an operand (comparison side, function argument).
fn operand(p: &mut Parser<'_>) -> Result<Operand, AwsJsonError> {
    let parsed = atom(p)?;
    match parsed.node {
        Node::Operand(op) => Ok(op),
        Node::Cond(_, Some(function)) => {
            misused(p, function);
            Ok(Operand::Value(AttrValue::Null))
        }
        Node::Cond(_, None) => Err(p.syntax_error()),
    }
}

/// A node where a condition is required.
fn to_cond(p: &mut Parser<'_>, node: Node) -> Result<Cond, AwsJsonError> {
    match node {
        Node::Cond(cond, _) => Ok(cond),
        Node::Operand(Operand::Size(_)) => {
            misused(p, "size");
            Ok(Cond::Exists(Path(Vec::new())))
        }
        Node::Operand(_) => Err(p.syntax_error()),
    }
}

fn atom(p: &mut Parser<'_>) -> Result<Parsed, AwsJsonError> {
    let token = p.peek().ok_or_else(|| p.syntax_error())?;
    match token.kind {
        Kind::LParen => {
            p.bump();
            p.enter()?;
            let inner = or(p)?;
            p.expect(Kind::RParen)?;
            p.leave();
            if inner.wrapped {
                p.note(
                    Category::Parens,
                    "The expression has redundant parentheses;",
                );
            }
            Ok(Parsed {
                node: inner.node,
                wrapped: true,
            })
        }
        Kind::Ident
            if KEYWORDS
                .iter()
                .any(|k| p.text(token).eq_ignore_ascii_case(k)) =>
        {
            Err(p.syntax_error())
        }
        Kind::Ident if p.peek2().is_some_and(|t| t.kind == Kind::LParen) => function(p),
        Kind::Ident | Kind::NameRef => Ok(Parsed::plain(Node::Operand(Operand::Path(p.path()?)))),
        Kind::ValueRef => {
            p.bump();
            let value = p.value_ref(token);
            Ok(Parsed::plain(Node::Operand(Operand::Value(value))))
        }
        _ => Err(p.syntax_error()),
    }
}

fn function(p: &mut Parser<'_>) -> Result<Parsed, AwsJsonError> {
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
    let (canonical, arity): (&'static str, usize) = match name {
        "attribute_exists" => ("attribute_exists", 1),
        "attribute_not_exists" => ("attribute_not_exists", 1),
        "attribute_type" => ("attribute_type", 2),
        "begins_with" => ("begins_with", 2),
        "contains" => ("contains", 2),
        "size" => ("size", 1),
        "if_not_exists" | "list_append" => {
            p.note(
                Category::UnknownFunction,
                format!("The function is not allowed in a condition expression; function: {name}"),
            );
            return Ok(Parsed::plain(unknown_function()));
        }
        _ => {
            p.note(
                Category::UnknownFunction,
                format!("Invalid function name; function: {name}"),
            );
            return Ok(Parsed::plain(unknown_function()));
        }
    };
    if args.len() != arity {
        p.note(
            Category::OperandCount,
            format!(
                "Incorrect number of operands for operator or function; operator or function: {canonical}, number of operands: {}",
                args.len()
            ),
        );
        return Ok(Parsed::plain(placeholder(canonical)));
    }
    let mut args = args.into_iter();
    let (Some(first), second) = (args.next(), args.next()) else {
        return Ok(Parsed::plain(placeholder(canonical)));
    };
    if let Some(second) = &second {
        check_distinct(p, canonical, &first, second);
    }
    let requires_path = |p: &mut Parser<'_>, op: &Operand| {
        if !matches!(op, Operand::Path(_)) {
            p.note(
                Category::Operand,
                format!(
                    "Operator or function requires a document path; operator or function: {canonical}"
                ),
            );
        }
    };
    let node = match (canonical, first, second) {
        ("size", arg, None) => {
            if let Some(t @ ("N" | "BOOL" | "NULL")) = arg.static_type() {
                p.note(Category::Operand, wrong_type(canonical, t));
            }
            Node::Operand(Operand::Size(Box::new(arg)))
        }
        ("attribute_exists" | "attribute_not_exists", arg, None) => {
            requires_path(p, &arg);
            let path = match arg {
                Operand::Path(path) => path,
                _ => Path(Vec::new()),
            };
            if canonical == "attribute_exists" {
                Node::Cond(Cond::Exists(path), Some(canonical))
            } else {
                Node::Cond(Cond::NotExists(path), Some(canonical))
            }
        }
        ("attribute_type", path, Some(type_arg)) => {
            requires_path(p, &path);
            check_type_name(p, &type_arg);
            Node::Cond(Cond::Type(path, type_arg), Some(canonical))
        }
        ("begins_with", a, Some(b)) => {
            for t in [a.static_type(), b.static_type()].into_iter().flatten() {
                if t != "S" && t != "B" {
                    p.note(Category::Operand, wrong_type(canonical, t));
                }
            }
            Node::Cond(Cond::BeginsWith(a, b), Some(canonical))
        }
        ("contains", a, Some(b)) => Node::Cond(Cond::Contains(a, b), Some(canonical)),
        _ => placeholder(canonical),
    };
    Ok(Parsed::plain(node))
}

/// Stand-in for a call of an unknown function: usable as a condition or (as a misused
/// function, a lower-ranked error) as an operand, so only the function error shows.
fn unknown_function() -> Node {
    Node::Cond(Cond::Exists(Path(Vec::new())), Some("unknown"))
}

/// Stand-in node after an error was recorded (the expression is rejected anyway).
fn placeholder(function: &'static str) -> Node {
    if function == "size" {
        Node::Operand(Operand::Size(Box::new(Operand::Value(AttrValue::Null))))
    } else {
        Node::Cond(Cond::Exists(Path(Vec::new())), Some(function))
    }
}

fn wrong_type(function: &str, t: &str) -> String {
    format!(
        "Incorrect operand type for operator or function; operator or function: {function}, operand type: {t}"
    )
}

/// The type names `attribute_type` accepts.
pub const TYPE_NAMES: [&str; 10] = ["S", "N", "B", "BOOL", "NULL", "L", "M", "SS", "NS", "BS"];

fn check_type_name(p: &mut Parser<'_>, arg: &Operand) {
    match arg {
        Operand::Value(AttrValue::S(name)) => {
            if !TYPE_NAMES.contains(&name.as_str()) {
                p.note(
                    Category::Operand,
                    format!(
                        "Invalid attribute type name found; type: {name}, valid types: {{B,NULL,SS,BOOL,L,BS,N,NS,S,M}}"
                    ),
                );
            }
        }
        other => {
            let shown = other
                .static_type()
                .unwrap_or("{NS,SS,L,BS,N,M,B,BOOL,NULL,S}");
            p.note(Category::Operand, wrong_type("attribute_type", shown));
        }
    }
}

/// Ordering operators need scalars: a constant list, map, set, boolean or null is refused
/// up front ("operator or function: <, operand type: LIST").
fn check_orderable(p: &mut Parser<'_>, operator: &str, operands: &[&Operand]) {
    for operand in operands {
        let Operand::Value(v) = operand else {
            continue;
        };
        let shown = match v {
            AttrValue::S(_) | AttrValue::N(_) | AttrValue::B(_) => continue,
            AttrValue::Bool(_) => "BOOLEAN",
            AttrValue::Null => "NULL",
            AttrValue::L(_) => "LIST",
            AttrValue::M(_) => "MAP",
            other => other.type_name(),
        };
        // An undefined placeholder reads as NULL and has its own, earlier error.
        if matches!(v, AttrValue::Null) && p.has(Category::UndefinedValue) {
            continue;
        }
        p.note(Category::Operand, wrong_type(operator, shown));
    }
}

fn check_distinct(p: &mut Parser<'_>, operator: &str, a: &Operand, b: &Operand) {
    if let (Operand::Path(x), Operand::Path(y)) = (a, b)
        && x == y
    {
        p.note(
            Category::Distinct,
            format!(
                "The first operand must be distinct from the remaining operands for this operator or function; operator: {operator}, first operand: {x}"
            ),
        );
    }
}

fn render(v: &AttrValue) -> String {
    let body = match v {
        AttrValue::S(s) => s.clone(),
        AttrValue::N(n) => n.to_string(),
        other => other.to_json().to_string(),
    };
    format!("AttributeValue: {{{}:{body}}}", v.type_name())
}

fn check_between(p: &mut Parser<'_>, low: &Operand, high: &Operand) {
    let (Operand::Value(lo), Operand::Value(hi)) = (low, high) else {
        return;
    };
    if lo.type_name() != hi.type_name() {
        p.note(
            Category::Operand,
            format!(
                "The BETWEEN operator requires same data type for lower and upper bounds; lower bound operand: {}, upper bound operand: {}",
                render(lo),
                render(hi)
            ),
        );
    } else if compare_scalar(lo, hi) == Some(std::cmp::Ordering::Greater) {
        p.note(
            Category::Operand,
            format!(
                "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: {}, upper bound operand: {}",
                render(lo),
                render(hi)
            ),
        );
    }
}

/// Appends the top-level names of every path in `cond` to `names` (no duplicates).
pub fn collect_names(cond: &Cond, names: &mut Vec<String>) {
    fn push(path: &Path, names: &mut Vec<String>) {
        let top = path.top();
        if !top.is_empty() && !names.iter().any(|n| n == top) {
            names.push(top.to_owned());
        }
    }
    fn operand(op: &Operand, names: &mut Vec<String>) {
        match op {
            Operand::Path(path) => push(path, names),
            Operand::Size(inner) => operand(inner, names),
            Operand::Value(_) => {}
        }
    }
    match cond {
        Cond::Compare(_, a, b)
        | Cond::Type(a, b)
        | Cond::BeginsWith(a, b)
        | Cond::Contains(a, b) => {
            operand(a, names);
            operand(b, names);
        }
        Cond::Between(a, b, c) => {
            for op in [a, b, c] {
                operand(op, names);
            }
        }
        Cond::In(a, list) => {
            operand(a, names);
            for op in list {
                operand(op, names);
            }
        }
        Cond::And(a, b) | Cond::Or(a, b) => {
            collect_names(a, names);
            collect_names(b, names);
        }
        Cond::Not(a) => collect_names(a, names),
        Cond::Exists(path) | Cond::NotExists(path) => push(path, names),
    }
}
