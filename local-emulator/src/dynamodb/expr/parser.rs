//! The recursive-descent machinery shared by every expression kind: a token cursor
//! that renders AWS's syntax errors, the semantic-error collector, and document-path
//! parsing with placeholder resolution and the reserved-word check.
//!
//! AWS reports a syntax error as soon as it sees one, but semantic problems (reserved
//! words, undefined placeholders, bad operand types, …) only after the whole
//! expression parsed, and then in a fixed order of kinds regardless of position in
//! the text. The parser therefore records the first message of each [`Category`] and
//! [`Parser::finish`] picks the first non-empty one in the order the expression kind
//! uses (taken from dynalite's grammars, which were checked against DynamoDB).

use crate::dynamodb::errors::validation;
use crate::error::AwsJsonError;

use super::ExprInputs;
use super::lexer::{Kind, Token, tokenize};
use super::path::{Path, PathElem};
use super::reserved::is_reserved;

/// Longest expression DynamoDB accepts, in bytes.
pub const MAX_EXPRESSION_BYTES: usize = 4096;
/// Deepest parenthesis nesting the parser follows (bounds recursion on hostile input).
const MAX_NESTING: usize = 64;
/// Most operators and functions one expression may use (DynamoDB's documented limit).
pub const MAX_OPERATORS: usize = 300;
/// Most elements a document path may have.
pub const MAX_PATH_DEPTH: usize = 32;
/// Largest list index DynamoDB accepts (a 32-bit signed integer).
const MAX_LIST_INDEX: usize = 2_147_483_647;

/// Kinds of semantic error, reported in a per-expression order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// `((x))`.
    Parens,
    /// A function name that does not exist.
    UnknownFunction,
    /// A function where a condition or operand of another kind belongs.
    MisusedFunction,
    /// A bare reserved word in a path.
    Reserved,
    /// A clause used twice in an update.
    Section,
    /// `#n` not defined.
    UndefinedName,
    /// `:v` not defined.
    UndefinedValue,
    /// Wrong operand count.
    OperandCount,
    /// Same path on both sides.
    Distinct,
    /// Overlapping or conflicting paths.
    Paths,
    /// Wrong operand type, non-path where a path is needed, bad BETWEEN bounds, …
    Operand,
}

/// The expression kind being parsed: names the request member in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExprKind {
    /// `ConditionExpression`.
    Condition,
    /// `FilterExpression`.
    Filter,
    /// `KeyConditionExpression`.
    KeyCondition,
    /// `UpdateExpression`.
    Update,
    /// `ProjectionExpression`.
    Projection,
}

impl ExprKind {
    /// The request member name.
    pub fn member(self) -> &'static str {
        match self {
            ExprKind::Condition => "ConditionExpression",
            ExprKind::Filter => "FilterExpression",
            ExprKind::KeyCondition => "KeyConditionExpression",
            ExprKind::Update => "UpdateExpression",
            ExprKind::Projection => "ProjectionExpression",
        }
    }

    fn order(self) -> &'static [Category] {
        use Category::*;
        match self {
            ExprKind::Update => &[
                Reserved,
                UnknownFunction,
                Section,
                UndefinedName,
                UndefinedValue,
                Paths,
                OperandCount,
                Operand,
            ],
            _ => &[
                Parens,
                UnknownFunction,
                MisusedFunction,
                Reserved,
                UndefinedName,
                UndefinedValue,
                OperandCount,
                Distinct,
                Paths,
                Operand,
            ],
        }
    }
}

/// A validation error whose message is prefixed with `Invalid <Member>: `.
pub fn invalid(kind: ExprKind, msg: &str) -> AwsJsonError {
    validation(format!("Invalid {}: {msg}", kind.member()))
}

/// Token cursor plus error collection for one expression.
#[derive(Debug)]
pub struct Parser<'a> {
    source: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
    operators: usize,
    /// Which expression this is.
    pub kind: ExprKind,
    /// Placeholders of the request.
    pub inputs: &'a mut ExprInputs,
    errors: Vec<(Category, String)>,
}

impl<'a> Parser<'a> {
    /// Tokenizes `source`, rejecting empty and oversized expressions first.
    pub fn new(
        source: &'a str,
        kind: ExprKind,
        inputs: &'a mut ExprInputs,
    ) -> Result<Parser<'a>, AwsJsonError> {
        if source.is_empty() {
            return Err(invalid(kind, "The expression can not be empty;"));
        }
        if source.len() > MAX_EXPRESSION_BYTES {
            return Err(invalid(
                kind,
                "Expression size has exceeded the maximum allowed size;",
            ));
        }
        Ok(Parser {
            source,
            tokens: tokenize(source),
            pos: 0,
            depth: 0,
            operators: 0,
            kind,
            inputs,
            errors: Vec::new(),
        })
    }

    /// The next token, if any.
    pub fn peek(&self) -> Option<Token> {
        self.tokens.get(self.pos).copied()
    }

    /// The token after the next one.
    pub fn peek2(&self) -> Option<Token> {
        self.tokens.get(self.pos + 1).copied()
    }

    /// The next token's kind.
    pub fn peek_kind(&self) -> Option<Kind> {
        self.peek().map(|t| t.kind)
    }

    /// Whether the input is exhausted.
    pub fn at_end(&self) -> bool {
        self.pos >= self.tokens.len()
    }

    /// A token's text.
    pub fn text(&self, token: Token) -> &'a str {
        token.text(self.source)
    }

    /// Consumes the next token.
    pub fn bump(&mut self) -> Option<Token> {
        let token = self.peek();
        if token.is_some() {
            self.pos += 1;
        }
        token
    }

    /// Whether the next token is the (case-insensitive) keyword `word`.
    pub fn at_keyword(&self, word: &str) -> bool {
        self.peek()
            .is_some_and(|t| t.kind == Kind::Ident && self.text(t).eq_ignore_ascii_case(word))
    }

    /// Consumes the next token if it is of `kind`.
    pub fn eat(&mut self, kind: Kind) -> Option<Token> {
        if self.peek_kind() == Some(kind) {
            self.bump()
        } else {
            None
        }
    }

    /// Consumes a token of `kind` or fails with a syntax error at the next token.
    pub fn expect(&mut self, kind: Kind) -> Result<Token, AwsJsonError> {
        self.eat(kind).ok_or_else(|| self.syntax_error())
    }

    /// Fails unless all input was consumed.
    pub fn expect_end(&self) -> Result<(), AwsJsonError> {
        if self.at_end() {
            Ok(())
        } else {
            Err(self.syntax_error())
        }
    }

    /// AWS's syntax error at the next token: the token itself (or `<EOF>`) and the source
    /// text from the previous token to the one after it.
    pub fn syntax_error(&self) -> AwsJsonError {
        let near_start = self
            .pos
            .checked_sub(1)
            .and_then(|i| self.tokens.get(i))
            .map_or(0, |t| t.start);
        let (token, near_end) = match self.peek() {
            Some(bad) => (
                self.text(bad),
                self.tokens
                    .get(self.pos + 1)
                    .map_or(self.source.len(), |t| t.end),
            ),
            None => ("<EOF>", self.source.len()),
        };
        let near = self.source.get(near_start..near_end).unwrap_or("");
        invalid(
            self.kind,
            &format!("Syntax error; token: \"{token}\", near: \"{near}\""),
        )
    }

    /// With the next token a `(`: whether the token after its matching `)` is one of
    /// `kinds` (a bounded look-ahead that saves backtracking).
    pub fn closing_paren_followed_by(&self, kinds: &[Kind]) -> bool {
        let mut depth = 0usize;
        for (i, token) in self.tokens.iter().enumerate().skip(self.pos) {
            match token.kind {
                Kind::LParen => depth += 1,
                Kind::RParen => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return self
                            .tokens
                            .get(i + 1)
                            .is_some_and(|next| kinds.contains(&next.kind));
                    }
                }
                _ => {}
            }
        }
        false
    }

    /// Enters a parenthesized group, failing on pathological nesting.
    pub fn enter(&mut self) -> Result<(), AwsJsonError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(self.syntax_error());
        }
        Ok(())
    }

    /// Counts one operator or function against [`MAX_OPERATORS`].
    pub fn count_operator(&mut self) -> Result<(), AwsJsonError> {
        self.operators += 1;
        if self.operators > MAX_OPERATORS {
            return Err(invalid(
                self.kind,
                &format!(
                    "The expression contains too many operators; operator count: {}",
                    self.operators
                ),
            ));
        }
        Ok(())
    }

    /// Leaves a parenthesized group.
    pub fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Records a semantic error (only the first per category is kept).
    pub fn note(&mut self, category: Category, msg: impl Into<String>) {
        if !self.errors.iter().any(|(c, _)| *c == category) {
            self.errors.push((category, msg.into()));
        }
    }

    /// Whether a semantic error of `category` was recorded.
    pub fn has(&self, category: Category) -> bool {
        self.errors.iter().any(|(c, _)| *c == category)
    }

    /// The first recorded semantic error in this expression kind's order.
    pub fn finish(&self) -> Result<(), AwsJsonError> {
        for category in self.kind.order() {
            if let Some((_, msg)) = self.errors.iter().find(|(c, _)| c == category) {
                return Err(invalid(self.kind, msg));
            }
        }
        Ok(())
    }

    /// Resolves `:v`, recording an error (and answering NULL) when undefined.
    pub fn value_ref(&mut self, token: Token) -> crate::dynamodb::types::AttrValue {
        let name = self.text(token);
        match self.inputs.resolve_value(name) {
            Some(v) => v,
            None => {
                self.note(
                    Category::UndefinedValue,
                    format!(
                        "An expression attribute value used in expression is not defined; attribute value: {name}"
                    ),
                );
                crate::dynamodb::types::AttrValue::Null
            }
        }
    }

    /// One path element name: a bare identifier (checked against reserved words) or a
    /// `#name` placeholder (resolved).
    fn path_name(&mut self) -> Result<String, AwsJsonError> {
        let token = self.peek().ok_or_else(|| self.syntax_error())?;
        match token.kind {
            Kind::Ident => {
                self.bump();
                let name = self.text(token);
                if is_reserved(name) {
                    self.note(
                        Category::Reserved,
                        format!("Attribute name is a reserved keyword; reserved keyword: {name}"),
                    );
                }
                Ok(name.to_owned())
            }
            Kind::NameRef => {
                self.bump();
                let name = self.text(token);
                match self.inputs.resolve_name(name) {
                    Some(resolved) => Ok(resolved),
                    None => {
                        self.note(
                            Category::UndefinedName,
                            format!(
                                "An expression attribute name used in the document path is not defined; attribute name: {name}"
                            ),
                        );
                        Ok(name.to_owned())
                    }
                }
            }
            _ => Err(self.syntax_error()),
        }
    }

    /// Whether the next token can start a path.
    pub fn at_path(&self) -> bool {
        matches!(self.peek_kind(), Some(Kind::Ident | Kind::NameRef))
    }

    /// `name ( '.' name | '[' digits ']' )*`
    pub fn path(&mut self) -> Result<Path, AwsJsonError> {
        let mut elems = vec![PathElem::Name(self.path_name()?)];
        loop {
            match self.peek_kind() {
                Some(Kind::Dot) => {
                    self.bump();
                    elems.push(PathElem::Name(self.path_name()?));
                }
                Some(Kind::LBracket) => {
                    self.bump();
                    let token = self.peek().ok_or_else(|| self.syntax_error())?;
                    if token.kind != Kind::Number {
                        return Err(self.syntax_error());
                    }
                    let digits = self.text(token);
                    let index = digits
                        .parse::<usize>()
                        .ok()
                        .filter(|i| *i <= MAX_LIST_INDEX)
                        .ok_or_else(|| {
                            invalid(
                                self.kind,
                                &format!(
                                    "List index is not within the allowable range; index: [{digits}]"
                                ),
                            )
                        })?;
                    self.bump();
                    self.expect(Kind::RBracket)?;
                    elems.push(PathElem::Index(index));
                }
                _ => {
                    if elems.len() > MAX_PATH_DEPTH {
                        return Err(invalid(
                            self.kind,
                            &format!(
                                "The document path has too many nesting levels; nesting levels: {}",
                                elems.len()
                            ),
                        ));
                    }
                    return Ok(Path(elems));
                }
            }
        }
    }
}
