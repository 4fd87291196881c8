//! Parser for DiskSim 4.0 parameter files: turns tokens into a tree of named blocks with
//! `key = value` parameters, and offers typed accessors whose errors name the file, the
//! line and the key.
//!
//! Grammar (what DiskSim's `valid/` files use):
//! ```text
//! file      := item*
//! item      := "source" WORD
//!            | "instantiate" "[" WORD ("," WORD)* "]" "as" WORD
//!            | "topology" node
//!            | WORD WORD? block                      (type, optional name)
//! node      := WORD WORD "[" (node ("," node)*)? "]"
//! block     := "{" (param ("," param)* ","?)? "}"
//! param     := WORD+ "=" value                       (key words joined by one space)
//! value     := "[" (value ("," value)* ","?)? "]"
//!            | "source" WORD | WORD block | WORD      (number or string)
//! ```
//! This module knows nothing about disks: it owns syntax and typed access only.

use super::lexer::{tokenize, Token, TokenKind};
use super::{DiskSimError, DiskSimErrorKind};

/// A parsed file.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The file's name (as given to [`parse`]).
    pub file: String,
    /// Top-level statements in file order.
    pub items: Vec<Item>,
}

/// A top-level statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// `type [name] { ... }`.
    Block(Block),
    /// `source FILE`.
    Source {
        /// The file named.
        path: String,
        /// Line of the statement.
        line: usize,
    },
    /// `instantiate [ names ] as TYPE`.
    Instantiate {
        /// Instance names.
        names: Vec<String>,
        /// The block name they are instances of.
        type_name: String,
        /// Line of the statement.
        line: usize,
    },
    /// `topology ...`.
    Topology(TopologyNode),
}

/// `type name [ children ]` in a `topology` statement.
#[derive(Debug, Clone, PartialEq)]
pub struct TopologyNode {
    /// Component type (`disksim_bus`, `disksim_disk`, ...).
    pub type_name: String,
    /// Instance name.
    pub name: String,
    /// Components attached below it.
    pub children: Vec<TopologyNode>,
    /// Line of the node.
    pub line: usize,
}

/// `type [name] { params }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// The file it was read from (for error messages).
    pub file: String,
    /// Block type (`disksim_disk`, `dm_layout_g1`, ...).
    pub type_name: String,
    /// Name, for top-level blocks.
    pub name: Option<String>,
    /// Parameters in file order.
    pub params: Vec<Param>,
    /// Line of the block's type word.
    pub line: usize,
}

/// `key = value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// The name, words joined by single spaces.
    pub key: String,
    /// The value.
    pub value: Value,
    /// Line of the name.
    pub line: usize,
}

/// A parameter value with the line it starts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    /// What the value is.
    pub kind: ValueKind,
    /// Line it starts on.
    pub line: usize,
}

/// The kinds of parameter values.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueKind {
    /// An integer literal.
    Int(i64),
    /// A float literal.
    Float(f64),
    /// Any other single word.
    Word(String),
    /// `source FILE`: the value is another file's top-level block.
    Source(String),
    /// A nested `type { ... }` block.
    Block(Block),
    /// `[ v, ... ]`.
    List(Vec<Value>),
}

impl ValueKind {
    /// The value's type as error messages name it.
    pub fn type_name(&self) -> &'static str {
        match self {
            ValueKind::Int(_) => "integer",
            ValueKind::Float(_) => "float",
            ValueKind::Word(_) => "string",
            ValueKind::Source(_) => "source reference",
            ValueKind::Block(_) => "block",
            ValueKind::List(_) => "list",
        }
    }
}

/// Parse a whole file.
pub fn parse(file: &str, text: &str) -> Result<Document, DiskSimError> {
    let tokens = tokenize(file, text)?;
    let mut parser = Parser {
        file,
        tokens,
        pos: 0,
    };
    let mut items = Vec::new();
    while parser.peek().is_some() {
        items.push(parser.item()?);
    }
    Ok(Document {
        file: file.to_string(),
        items,
    })
}

struct Parser<'a> {
    file: &'a str,
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn peek_kind(&self, offset: usize) -> Option<&TokenKind> {
        self.tokens.get(self.pos + offset).map(|t| &t.kind)
    }

    fn last_line(&self) -> usize {
        self.tokens.last().map(|t| t.line).unwrap_or(1)
    }

    fn error(&self, line: usize, message: String) -> DiskSimError {
        DiskSimError::new(self.file, line, DiskSimErrorKind::Syntax { message })
    }

    fn next(&mut self, expecting: &str) -> Result<Token, DiskSimError> {
        match self.tokens.get(self.pos) {
            Some(t) => {
                self.pos += 1;
                Ok(t.clone())
            }
            None => Err(self.error(
                self.last_line(),
                format!("unexpected end of file, expected {expecting}"),
            )),
        }
    }

    fn expect(&mut self, kind: TokenKind, context: &str) -> Result<Token, DiskSimError> {
        let t = self.next(&kind.describe())?;
        if t.kind == kind {
            Ok(t)
        } else {
            Err(self.error(
                t.line,
                format!(
                    "expected {} {context}, found {}",
                    kind.describe(),
                    t.kind.describe()
                ),
            ))
        }
    }

    fn word(&mut self, what: &str) -> Result<(String, usize), DiskSimError> {
        let t = self.next(what)?;
        match t.kind {
            TokenKind::Word(w) => Ok((w, t.line)),
            other => Err(self.error(
                t.line,
                format!("expected {what}, found {}", other.describe()),
            )),
        }
    }

    /// The items of a `[a, b, …]` list whose `[` was just consumed, up to and including the
    /// closing `]`; `context` names the list in errors.
    fn bracketed_list<T>(
        &mut self,
        context: &str,
        mut item: impl FnMut(&mut Self) -> Result<T, DiskSimError>,
    ) -> Result<Vec<T>, DiskSimError> {
        let mut items = Vec::new();
        loop {
            if self.peek_kind(0) == Some(&TokenKind::RightBracket) {
                self.pos += 1;
                return Ok(items);
            }
            items.push(item(self)?);
            let t = self.next("',' or ']'")?;
            match t.kind {
                TokenKind::Comma => {}
                TokenKind::RightBracket => return Ok(items),
                other => {
                    return Err(self.error(
                        t.line,
                        format!(
                            "expected ',' or ']' in {context}, found {}",
                            other.describe()
                        ),
                    ))
                }
            }
        }
    }

    fn item(&mut self) -> Result<Item, DiskSimError> {
        let (first, line) = self.word("a block type or statement")?;
        match first.as_str() {
            "source" => {
                let (path, _) = self.word("a file name after 'source'")?;
                Ok(Item::Source { path, line })
            }
            "instantiate" => {
                self.expect(TokenKind::LeftBracket, "after 'instantiate'")?;
                let names =
                    self.bracketed_list("instance list", |p| Ok(p.word("an instance name")?.0))?;
                let (as_word, as_line) = self.word("'as'")?;
                if as_word != "as" {
                    return Err(self.error(as_line, format!("expected 'as', found '{as_word}'")));
                }
                let (type_name, _) = self.word("a type name after 'as'")?;
                Ok(Item::Instantiate {
                    names,
                    type_name,
                    line,
                })
            }
            "topology" => Ok(Item::Topology(self.topology_node()?)),
            _ => {
                let name = match self.peek_kind(0) {
                    Some(TokenKind::Word(_)) => Some(self.word("a block name")?.0),
                    _ => None,
                };
                let block = self.block(first, name, line)?;
                Ok(Item::Block(block))
            }
        }
    }

    fn topology_node(&mut self) -> Result<TopologyNode, DiskSimError> {
        let (type_name, line) = self.word("a component type in the topology")?;
        let (name, _) = self.word("a component name in the topology")?;
        self.expect(TokenKind::LeftBracket, "after a topology component")?;
        let children = self.bracketed_list("topology", |p| p.topology_node())?;
        Ok(TopologyNode {
            type_name,
            name,
            children,
            line,
        })
    }

    fn block(
        &mut self,
        type_name: String,
        name: Option<String>,
        line: usize,
    ) -> Result<Block, DiskSimError> {
        let open = self.next("'{'")?;
        if open.kind != TokenKind::LeftBrace {
            return Err(self.error(
                open.line,
                format!(
                    "expected '{{' to open block '{type_name}', found {}",
                    open.kind.describe()
                ),
            ));
        }
        let mut params = Vec::new();
        loop {
            match self.peek_kind(0) {
                None => {
                    return Err(self.error(
                        self.last_line(),
                        format!(
                        "unexpected end of file inside block '{type_name}' opened at line {line}"
                    ),
                    ))
                }
                Some(TokenKind::RightBrace) => {
                    self.pos += 1;
                    break;
                }
                _ => {}
            }
            params.push(self.param(&type_name)?);
            match self.next("',' or '}'")? {
                Token {
                    kind: TokenKind::Comma,
                    ..
                } => {}
                Token {
                    kind: TokenKind::RightBrace,
                    ..
                } => break,
                t => {
                    let key = &params.last().map(|p| p.key.clone()).unwrap_or_default();
                    return Err(self.error(
                        t.line,
                        format!(
                            "expected ',' or '}}' after the value of '{key}', found {}",
                            t.kind.describe()
                        ),
                    ));
                }
            }
        }
        Ok(Block {
            file: self.file.to_string(),
            type_name,
            name,
            params,
            line,
        })
    }

    fn param(&mut self, block_type: &str) -> Result<Param, DiskSimError> {
        let mut key_words: Vec<String> = Vec::new();
        let mut line = 0;
        loop {
            let t = self.next("'='")?;
            match t.kind {
                TokenKind::Word(w) => {
                    if key_words.is_empty() {
                        line = t.line;
                    }
                    key_words.push(w);
                }
                TokenKind::Equals if !key_words.is_empty() => break,
                other => {
                    let message = if key_words.is_empty() {
                        format!(
                            "expected a parameter name in block '{block_type}', found {}",
                            other.describe()
                        )
                    } else {
                        format!(
                            "expected '=' after parameter name '{}', found {}",
                            key_words.join(" "),
                            other.describe()
                        )
                    };
                    return Err(self.error(t.line, message));
                }
            }
        }
        let key = key_words.join(" ");
        let value = self.value(&key)?;
        Ok(Param { key, value, line })
    }

    fn value(&mut self, key: &str) -> Result<Value, DiskSimError> {
        let t = self.next(&format!("a value for '{key}'"))?;
        let line = t.line;
        let kind = match t.kind {
            TokenKind::LeftBracket => {
                let context = format!("the list of '{key}'");
                let items = self.bracketed_list(&context, |p| p.value(key))?;
                ValueKind::List(items)
            }
            TokenKind::Word(w) => {
                if self.peek_kind(0) == Some(&TokenKind::LeftBrace) {
                    ValueKind::Block(self.block(w, None, line)?)
                } else if w == "source" && matches!(self.peek_kind(0), Some(TokenKind::Word(_))) {
                    ValueKind::Source(self.word("a file name")?.0)
                } else if let Ok(i) = w.parse::<i64>() {
                    ValueKind::Int(i)
                } else if let Some(f) = parse_float(&w) {
                    ValueKind::Float(f)
                } else {
                    ValueKind::Word(w)
                }
            }
            other => {
                return Err(self.error(
                    line,
                    format!("expected a value for '{key}', found {}", other.describe()),
                ))
            }
        };
        Ok(Value { kind, line })
    }
}

/// A float literal as C's `strtod` would read a whole token; words such as "inf" or
/// "nan" stay words.
fn parse_float(word: &str) -> Option<f64> {
    let looks_numeric = word
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'))
        && word.chars().any(|c| c.is_ascii_digit());
    if !looks_numeric {
        return None;
    }
    word.parse::<f64>().ok().filter(|f| f.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
# a comment line
dm_disk D {
   Number of data surfaces = 2,
   Layout Model = dm_layout_g1 {
      Zones = [ dm_layout_g1_zone { slips = [ 1, 2 ], defects = [] }, ],
   },
   Model = source other.model,
   HPL seek equation values = [ 300, 3.81, -1.000000 ],
   Access time type = trackSwitchPlusRotation
} # end
source x.diskspecs
instantiate [ disk0, disk1 ] as D
topology disksim_bus bus0 [ disksim_disk disk0 [], disksim_disk disk1 [] ]
";

    #[test]
    fn parses_nested_blocks_lists_sources_and_statements() {
        let doc = parse("s.model", SAMPLE).unwrap();
        assert_eq!(doc.items.len(), 4);
        let d = doc.blocks_of_type("dm_disk").next().unwrap();
        assert_eq!(d.name.as_deref(), Some("D"));
        assert_eq!(d.line, 2);
        assert_eq!(d.u32("number of  DATA surfaces").unwrap(), 2);
        let layout = match &d.require("Layout Model").unwrap().value.kind {
            ValueKind::Block(b) => b,
            other => panic!("{other:?}"),
        };
        let zones = layout.list("Zones").unwrap();
        assert_eq!(zones.len(), 1);
        let zone = match &zones[0].kind {
            ValueKind::Block(b) => b,
            other => panic!("{other:?}"),
        };
        assert_eq!(zone.u64_list("slips").unwrap(), vec![1, 2]);
        assert!(zone.u64_list("defects").unwrap().is_empty());
        assert_eq!(
            d.require("Model").unwrap().value.kind,
            ValueKind::Source("other.model".into())
        );
        assert_eq!(
            d.f64_list("HPL seek equation values").unwrap(),
            vec![300.0, 3.81, -1.0]
        );
        assert_eq!(
            d.word("Access time type").unwrap(),
            "trackSwitchPlusRotation"
        );
        assert!(
            matches!(&doc.items[2], Item::Instantiate { names, type_name, .. }
            if names.len() == 2 && type_name == "D")
        );
        match &doc.items[3] {
            Item::Topology(node) => {
                assert_eq!(node.name, "bus0");
                assert_eq!(node.children.len(), 2);
                assert_eq!(node.children[1].name, "disk1");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn missing_key_names_block_key_and_line() {
        let doc = parse("s.model", SAMPLE).unwrap();
        let d = doc.blocks_of_type("dm_disk").next().unwrap();
        let err = d.f64("Head switch time").unwrap_err();
        assert_eq!(err.line, 2);
        let text = err.to_string();
        assert!(
            text.contains("s.model:2") && text.contains("Head switch time"),
            "{text}"
        );
    }

    #[test]
    fn wrong_type_names_the_key_and_its_line() {
        let doc = parse("s.model", SAMPLE).unwrap();
        let d = doc.blocks_of_type("dm_disk").next().unwrap();
        let err = d.f64("Access time type").unwrap_err();
        assert_eq!(err.line, 9);
        assert!(matches!(
            err.kind,
            DiskSimErrorKind::WrongType {
                expected: "number",
                found: "string",
                ..
            }
        ));
        let err = d.i64("HPL seek equation values").unwrap_err();
        assert_eq!(err.line, 8);
    }

    #[test]
    fn syntax_errors_point_at_the_offending_line() {
        let cases: &[(&str, usize, &str)] = &[
            ("b {\n a = 1\n b = 2\n}", 3, "expected ',' or '}'"),
            ("b {\n a 1,\n}", 2, "expected '='"),
            (
                "b {\n a = 1,\n",
                2,
                "unexpected end of file inside block 'b'",
            ),
            ("b {\n a = [1, 2\n}", 3, "expected ',' or ']'"),
            ("b {\n = 3\n}", 2, "expected a parameter name"),
            ("b c d {\n}", 1, "expected '{' to open block"),
            ("instantiate [ a ] like B", 1, "expected 'as'"),
        ];
        for (text, line, needle) in cases {
            let err = parse("bad.model", text).unwrap_err();
            assert_eq!(err.line, *line, "{text:?}: {err}");
            assert!(err.to_string().contains(needle), "{text:?}: {err}");
            assert!(err.to_string().starts_with("bad.model:"), "{err}");
        }
    }
}
