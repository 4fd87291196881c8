//! Tokenizer for DiskSim 4.0 parameter files (`.diskspecs`, `.model`, `.parv`).
//!
//! The syntax has only six punctuation characters (`{ } [ ] = ,`), `#` comments to the end
//! of a line, and "words": maximal runs of any other non-space characters. Parameter names
//! contain spaces and symbols ("Rotation speed (in rpms)"); the parser rebuilds them from
//! consecutive words. This module owns tokens and their line numbers; it does not know
//! what a parameter is.

use super::{DiskSimError, DiskSimErrorKind};

/// One token and the 1-based line it starts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub kind: TokenKind,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TokenKind {
    LeftBrace,
    RightBrace,
    LeftBracket,
    RightBracket,
    Equals,
    Comma,
    Word(String),
}

impl TokenKind {
    /// How the token reads in an error message.
    pub fn describe(&self) -> String {
        match self {
            TokenKind::LeftBrace => "'{'".to_string(),
            TokenKind::RightBrace => "'}'".to_string(),
            TokenKind::LeftBracket => "'['".to_string(),
            TokenKind::RightBracket => "']'".to_string(),
            TokenKind::Equals => "'='".to_string(),
            TokenKind::Comma => "','".to_string(),
            TokenKind::Word(w) => format!("'{w}'"),
        }
    }
}

fn is_punctuation(c: char) -> bool {
    matches!(c, '{' | '}' | '[' | ']' | '=' | ',' | '#')
}

/// Split `text` into tokens. Fails only on control characters other than whitespace, which
/// no DiskSim file contains and which usually mean a binary file was named by mistake.
pub fn tokenize(file: &str, text: &str) -> Result<Vec<Token>, DiskSimError> {
    let mut tokens = Vec::new();
    for (index, raw_line) in text.lines().enumerate() {
        let line = index + 1;
        let content = match raw_line.find('#') {
            Some(hash) => &raw_line[..hash],
            None => raw_line,
        };
        let mut chars = content.char_indices().peekable();
        while let Some(&(start, c)) = chars.peek() {
            if c.is_whitespace() {
                chars.next();
                continue;
            }
            if c.is_control() {
                return Err(DiskSimError::new(
                    file,
                    line,
                    DiskSimErrorKind::Syntax {
                        message: format!("unexpected control character U+{:04X}", c as u32),
                    },
                ));
            }
            let punctuation = match c {
                '{' => Some(TokenKind::LeftBrace),
                '}' => Some(TokenKind::RightBrace),
                '[' => Some(TokenKind::LeftBracket),
                ']' => Some(TokenKind::RightBracket),
                '=' => Some(TokenKind::Equals),
                ',' => Some(TokenKind::Comma),
                _ => None,
            };
            if let Some(kind) = punctuation {
                chars.next();
                tokens.push(Token { kind, line });
                continue;
            }
            let mut end = start;
            while let Some(&(i, c)) = chars.peek() {
                if c.is_whitespace() || is_punctuation(c) || c.is_control() {
                    break;
                }
                end = i + c.len_utf8();
                chars.next();
            }
            tokens.push(Token {
                kind: TokenKind::Word(content[start..end].to_string()),
                line,
            });
        }
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<TokenKind> {
        tokenize("t", text)
            .unwrap()
            .into_iter()
            .map(|t| t.kind)
            .collect()
    }

    #[test]
    fn keys_with_symbols_split_into_words_and_comments_vanish() {
        let toks = tokenize("t", "a {\n Rotation speed (in rpms) = 5400, # rpm\n}\n").unwrap();
        let kinds: Vec<&TokenKind> = toks.iter().map(|t| &t.kind).collect();
        assert_eq!(kinds.len(), 10);
        assert_eq!(toks[2].kind, TokenKind::Word("Rotation".into()));
        assert_eq!(toks[2].line, 2);
        assert_eq!(toks[5].kind, TokenKind::Word("rpms)".into()));
        assert_eq!(toks[6].kind, TokenKind::Equals);
        assert_eq!(toks[9].kind, TokenKind::RightBrace);
        assert_eq!(toks[9].line, 3);
    }

    #[test]
    fn file_names_and_numbers_are_single_words() {
        assert_eq!(
            words("Model = source hp_c2247a_validate.model,"),
            vec![
                TokenKind::Word("Model".into()),
                TokenKind::Equals,
                TokenKind::Word("source".into()),
                TokenKind::Word("hp_c2247a_validate.model".into()),
                TokenKind::Comma,
            ]
        );
        assert_eq!(words("-1.000000]")[0], TokenKind::Word("-1.000000".into()));
    }

    #[test]
    fn control_characters_are_refused_with_their_line() {
        let err = tokenize("f.model", "a\nb \u{1} c").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.to_string().starts_with("f.model:2:"), "{err}");
    }
}
