//! Finding a token of a parsed statement again in its text, for semantic errors found
//! after parsing (`undefined function foo()`, a time string that is not a time): the text
//! is walked with the parser's own literal rules, so that strings, quoted identifiers and
//! regexes are skipped whole and a name inside them is never taken for the token.

use super::combinators::is_ident_char;
use super::literal::{ident, regex_lit, string_lit};
use crate::error::{Position, Token};

/// The byte offset in `statement` of the first occurrence of `token`, if any.
pub(crate) fn find_token(statement: &str, token: &Token) -> Option<usize> {
    let mut i = 0;
    // Whether a `/` here starts a regex rather than dividing: not after an operand.
    let mut after_operand = false;
    while let Some(c) = statement.get(i..).and_then(|r| r.chars().next()) {
        let rest = statement.get(i..)?;
        let (len, operand) = match c {
            '\'' => {
                let (after, value) = string_lit(rest).ok()?;
                if *token == Token::String(value) {
                    return Some(i);
                }
                (rest.len() - after.len(), true)
            }
            '"' => {
                let (after, name) = ident(rest).ok()?;
                if *token == Token::Word(name.clone()) || is_call(token, &name, after) {
                    return Some(i);
                }
                (rest.len() - after.len(), true)
            }
            '/' if !after_operand => {
                let (after, pattern) = regex_lit(rest).ok()?;
                if *token == Token::Regex(pattern) {
                    return Some(i);
                }
                (rest.len() - after.len(), true)
            }
            c if is_ident_char(c) => {
                let len = rest.find(|c| !is_ident_char(c)).unwrap_or(rest.len());
                let word = rest.get(..len)?;
                let after = rest.get(len..)?;
                let same_word = matches!(token, Token::Word(w) if w.eq_ignore_ascii_case(word));
                if same_word || is_call(token, word, after) {
                    return Some(i);
                }
                // A keyword such as FROM or WHERE is followed by operands, not an operator.
                (len, !is_keyword(word))
            }
            c if c.is_whitespace() => (c.len_utf8(), after_operand),
            ')' => (1, true),
            c => (c.len_utf8(), false),
        };
        after_operand = operand;
        i += len;
    }
    None
}

fn is_call(token: &Token, name: &str, after: &str) -> bool {
    matches!(token, Token::Call(f) if f.eq_ignore_ascii_case(name))
        && after.trim_start().starts_with('(')
}

fn is_keyword(word: &str) -> bool {
    crate::ast::RESERVED
        .iter()
        .any(|k| k.eq_ignore_ascii_case(word))
}

/// Line and column (1-based, the column in chars) of byte `offset` of `text`.
pub(crate) fn position(text: &str, offset: usize) -> Position {
    let before = text.get(..offset).unwrap_or(text);
    let line_start = before.rfind('\n').map_or(0, |p| p + 1);
    Position {
        line: before.matches('\n').count() + 1,
        column: before.get(line_start..).unwrap_or("").chars().count() + 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_tokens_outside_literals() {
        let q = "SELECT \"foo\", 'foo(' AS x, foo (a) / b / c FROM m WHERE host =~ /foo(/ AND time > 'foo'";
        assert_eq!(find_token(q, &Token::Call("FOO".into())), Some(27));
        assert_eq!(find_token(q, &Token::Word("foo".into())), Some(7));
        assert_eq!(find_token(q, &Token::String("foo".into())), Some(82));
        assert_eq!(find_token(q, &Token::Regex("foo(".into())), Some(64));
        assert_eq!(find_token(q, &Token::Call("bar".into())), None);
        assert_eq!(
            find_token("SELECT a / b FROM m", &Token::Word("b".into())),
            Some(11)
        );
        // Text that does not lex ends the search without a position.
        assert_eq!(find_token("SELECT 'open", &Token::Word("x".into())), None);
    }

    #[test]
    fn positions_count_lines_and_chars() {
        let t = "SELECT a\nFROM é WHERE x";
        assert_eq!(position(t, 0), Position { line: 1, column: 1 });
        assert_eq!(position(t, 14), Position { line: 2, column: 6 });
    }
}
