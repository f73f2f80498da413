//! Tokens of DynamoDB's expression languages.
//!
//! All five expression kinds (condition, filter, key condition, update, projection)
//! share one lexer: identifiers, `#name` and `:value` placeholders, list indexes, and
//! punctuation. Keywords are identifiers here (`AND`, `SET`, … are case-insensitive
//! and only keywords where the grammar expects them). A character no token can start
//! becomes a one-character [`Kind::Unknown`] token so the parser reports it as AWS does,
//! as `Syntax error; token: "<c>", near: "…"`. Every token keeps its byte span so errors
//! can quote the source text around it.

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `[A-Za-z][A-Za-z0-9_]*`.
    Ident,
    /// `#` followed by `[A-Za-z0-9_]+`.
    NameRef,
    /// `:` followed by `[A-Za-z0-9_]+`.
    ValueRef,
    /// `[0-9]+` (list indexes).
    Number,
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
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `[`
    LBracket,
    /// `]`
    RBracket,
    /// `,`
    Comma,
    /// `.`
    Dot,
    /// `+`
    Plus,
    /// `-`
    Minus,
    /// Anything else (one character).
    Unknown,
}

/// One token: its kind and byte span in the expression text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    /// What it is.
    pub kind: Kind,
    /// Byte offset of its first character.
    pub start: usize,
    /// Byte offset just past its last character.
    pub end: usize,
}

impl Token {
    /// The token's text.
    pub fn text<'a>(&self, source: &'a str) -> &'a str {
        source.get(self.start..self.end).unwrap_or("")
    }
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Splits `source` into tokens, skipping whitespace.
pub fn tokenize(source: &str) -> Vec<Token> {
    let bytes = source.as_bytes();
    let mut tokens = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let b = bytes[pos];
        let start = pos;
        if b.is_ascii_whitespace() {
            pos += 1;
            continue;
        }
        let word_end = |from: usize| {
            let mut end = from;
            while end < bytes.len() && is_word(bytes[end]) {
                end += 1;
            }
            end
        };
        let (kind, end) = match b {
            // A bare name starts with a letter: `_x` is a syntax error at `_` in DynamoDB.
            b'a'..=b'z' | b'A'..=b'Z' => (Kind::Ident, word_end(pos + 1)),
            b'0'..=b'9' => {
                let mut end = pos + 1;
                while end < bytes.len() && bytes[end].is_ascii_digit() {
                    end += 1;
                }
                (Kind::Number, end)
            }
            b'#' | b':' => {
                let end = word_end(pos + 1);
                if end == pos + 1 {
                    (Kind::Unknown, pos + 1)
                } else if b == b'#' {
                    (Kind::NameRef, end)
                } else {
                    (Kind::ValueRef, end)
                }
            }
            b'=' => (Kind::Eq, pos + 1),
            b'<' => match bytes.get(pos + 1) {
                Some(b'>') => (Kind::Ne, pos + 2),
                Some(b'=') => (Kind::Le, pos + 2),
                _ => (Kind::Lt, pos + 1),
            },
            b'>' => match bytes.get(pos + 1) {
                Some(b'=') => (Kind::Ge, pos + 2),
                _ => (Kind::Gt, pos + 1),
            },
            b'(' => (Kind::LParen, pos + 1),
            b')' => (Kind::RParen, pos + 1),
            b'[' => (Kind::LBracket, pos + 1),
            b']' => (Kind::RBracket, pos + 1),
            b',' => (Kind::Comma, pos + 1),
            b'.' => (Kind::Dot, pos + 1),
            b'+' => (Kind::Plus, pos + 1),
            b'-' => (Kind::Minus, pos + 1),
            _ => {
                // One whole (possibly multi-byte) character.
                let len = source
                    .get(pos..)
                    .and_then(|rest| rest.chars().next())
                    .map_or(1, char::len_utf8);
                (Kind::Unknown, pos + len)
            }
        };
        tokens.push(Token { kind, start, end });
        pos = end;
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(source: &str) -> Vec<(Kind, &str)> {
        tokenize(source)
            .iter()
            .map(|t| (t.kind, t.text(source)))
            .collect()
    }

    #[test]
    fn lexer_splits_paths_placeholders_and_operators() {
        assert_eq!(
            kinds("a.b[3] <> :v AND #n>=:w"),
            vec![
                (Kind::Ident, "a"),
                (Kind::Dot, "."),
                (Kind::Ident, "b"),
                (Kind::LBracket, "["),
                (Kind::Number, "3"),
                (Kind::RBracket, "]"),
                (Kind::Ne, "<>"),
                (Kind::ValueRef, ":v"),
                (Kind::Ident, "AND"),
                (Kind::NameRef, "#n"),
                (Kind::Ge, ">="),
                (Kind::ValueRef, ":w"),
            ]
        );
    }

    #[test]
    fn lexer_turns_stray_characters_into_unknown_tokens() {
        assert_eq!(
            kinds("a ! é # _x"),
            vec![
                (Kind::Ident, "a"),
                (Kind::Unknown, "!"),
                (Kind::Unknown, "é"),
                (Kind::Unknown, "#"),
                (Kind::Unknown, "_"),
                (Kind::Ident, "x"),
            ]
        );
    }
}
