//! Typed access to parsed DiskSim blocks: look parameters up by name (case-insensitive,
//! spaces collapsed) and read them as numbers, integers, words, lists or sub-blocks, with
//! errors that name the file, the line and the key. Owns no syntax (see `syntax`).

use super::syntax::{Block, Document, Item, Param, Value, ValueKind};
use super::{DiskSimError, DiskSimErrorKind};

/// Normalise a key for comparison: ASCII case folded, runs of spaces collapsed.
fn same_key(a: &str, b: &str) -> bool {
    let mut x = a.split_whitespace();
    let mut y = b.split_whitespace();
    loop {
        match (x.next(), y.next()) {
            (None, None) => return true,
            (Some(p), Some(q)) if p.eq_ignore_ascii_case(q) => {}
            _ => return false,
        }
    }
}

impl Document {
    /// Top-level blocks of the given type, in file order.
    pub fn blocks_of_type<'a>(&'a self, type_name: &'a str) -> impl Iterator<Item = &'a Block> {
        self.items.iter().filter_map(move |item| match item {
            Item::Block(b) if b.type_name.eq_ignore_ascii_case(type_name) => Some(b),
            _ => None,
        })
    }

    /// The top-level block named `name` (any type).
    pub fn block_named(&self, name: &str) -> Option<&Block> {
        self.items.iter().find_map(|item| match item {
            Item::Block(b) if b.name.as_deref() == Some(name) => Some(b),
            _ => None,
        })
    }
}

impl Block {
    fn error(&self, line: usize, kind: DiskSimErrorKind) -> DiskSimError {
        DiskSimError::new(&self.file, line, kind)
    }

    fn label(&self) -> String {
        match &self.name {
            Some(n) => format!("{} {}", self.type_name, n),
            None => self.type_name.clone(),
        }
    }

    /// The parameter called `key`, if present (names compare case-insensitively).
    pub fn get(&self, key: &str) -> Option<&Param> {
        self.params.iter().find(|p| same_key(&p.key, key))
    }

    /// The parameter called `key`, or an error naming the block and its line.
    pub fn require(&self, key: &str) -> Result<&Param, DiskSimError> {
        self.get(key).ok_or_else(|| {
            self.error(
                self.line,
                DiskSimErrorKind::MissingKey {
                    block: self.label(),
                    key: key.to_string(),
                },
            )
        })
    }

    fn wrong_type(&self, param: &Param, expected: &'static str) -> DiskSimError {
        self.error(
            param.line,
            DiskSimErrorKind::WrongType {
                key: param.key.clone(),
                expected,
                found: param.value.kind.type_name(),
            },
        )
    }

    /// An error about `key`'s value, at the line of the parameter.
    pub fn invalid(&self, key: &str, reason: impl Into<String>) -> DiskSimError {
        let line = self.get(key).map(|p| p.line).unwrap_or(self.line);
        self.error(
            line,
            DiskSimErrorKind::InvalidValue {
                key: key.to_string(),
                reason: reason.into(),
            },
        )
    }

    /// An error saying `key`'s value is valid DiskSim but not modelled here.
    pub fn unsupported(&self, key: &str, reason: impl Into<String>) -> DiskSimError {
        let line = self.get(key).map(|p| p.line).unwrap_or(self.line);
        self.error(
            line,
            DiskSimErrorKind::Unsupported {
                key: key.to_string(),
                reason: reason.into(),
            },
        )
    }

    /// A number (integer or float literal).
    pub fn f64(&self, key: &str) -> Result<f64, DiskSimError> {
        let p = self.require(key)?;
        value_f64(&p.value).ok_or_else(|| self.wrong_type(p, "number"))
    }

    /// A number if present.
    pub fn opt_f64(&self, key: &str) -> Result<Option<f64>, DiskSimError> {
        match self.get(key) {
            None => Ok(None),
            Some(p) => value_f64(&p.value)
                .map(Some)
                .ok_or_else(|| self.wrong_type(p, "number")),
        }
    }

    /// An integer literal.
    pub fn i64(&self, key: &str) -> Result<i64, DiskSimError> {
        let p = self.require(key)?;
        match p.value.kind {
            ValueKind::Int(i) => Ok(i),
            _ => Err(self.wrong_type(p, "integer")),
        }
    }

    /// An integer literal if present.
    pub fn opt_i64(&self, key: &str) -> Result<Option<i64>, DiskSimError> {
        match self.get(key) {
            None => Ok(None),
            Some(_) => self.i64(key).map(Some),
        }
    }

    /// A non-negative integer that fits `u32`.
    pub fn u32(&self, key: &str) -> Result<u32, DiskSimError> {
        let v = self.i64(key)?;
        u32::try_from(v).map_err(|_| self.invalid(key, format!("{v} is not in 0..=4294967295")))
    }

    /// A non-negative integer.
    pub fn u64(&self, key: &str) -> Result<u64, DiskSimError> {
        let v = self.i64(key)?;
        u64::try_from(v).map_err(|_| self.invalid(key, format!("{v} is negative")))
    }

    /// A bare word (string).
    pub fn word(&self, key: &str) -> Result<&str, DiskSimError> {
        let p = self.require(key)?;
        match &p.value.kind {
            ValueKind::Word(w) => Ok(w),
            _ => Err(self.wrong_type(p, "string")),
        }
    }

    /// A bare word if present.
    pub fn opt_word(&self, key: &str) -> Result<Option<&str>, DiskSimError> {
        match self.get(key) {
            None => Ok(None),
            Some(_) => self.word(key).map(Some),
        }
    }

    /// A list.
    pub fn list(&self, key: &str) -> Result<&[Value], DiskSimError> {
        let p = self.require(key)?;
        match &p.value.kind {
            ValueKind::List(items) => Ok(items),
            _ => Err(self.wrong_type(p, "list")),
        }
    }

    /// A list of numbers.
    pub fn f64_list(&self, key: &str) -> Result<Vec<f64>, DiskSimError> {
        let items = self.list(key)?;
        items
            .iter()
            .map(|v| {
                value_f64(v).ok_or_else(|| {
                    self.error(
                        v.line,
                        DiskSimErrorKind::WrongType {
                            key: key.to_string(),
                            expected: "list of numbers",
                            found: v.kind.type_name(),
                        },
                    )
                })
            })
            .collect()
    }

    /// A list of non-negative integers.
    pub fn u64_list(&self, key: &str) -> Result<Vec<u64>, DiskSimError> {
        let items = self.list(key)?;
        items
            .iter()
            .map(|v| match v.kind {
                ValueKind::Int(i) if i >= 0 => Ok(i as u64),
                ValueKind::Int(i) => Err(self.error(
                    v.line,
                    DiskSimErrorKind::InvalidValue {
                        key: key.to_string(),
                        reason: format!("{i} is negative"),
                    },
                )),
                _ => Err(self.error(
                    v.line,
                    DiskSimErrorKind::WrongType {
                        key: key.to_string(),
                        expected: "list of integers",
                        found: v.kind.type_name(),
                    },
                )),
            })
            .collect()
    }

    /// A 0/1 flag.
    pub fn flag(&self, key: &str) -> Result<bool, DiskSimError> {
        match self.i64(key)? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(self.invalid(key, format!("{v} is not 0 or 1"))),
        }
    }
}

/// A numeric value as f64.
pub fn value_f64(v: &Value) -> Option<f64> {
    match v.kind {
        ValueKind::Int(i) => Some(i as f64),
        ValueKind::Float(f) => Some(f),
        _ => None,
    }
}
