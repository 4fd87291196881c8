//! Accounting for every parameter the importer meets: each one is either used, known to
//! have no effect on timing, neutral at its value, or reported as an
//! [`UnmodelledParameter`] — never silently dropped.
//!
//! Owns the report type, the collector the importer fills, and the check that flags
//! parameters a block holds but the importer does not know. The decisions (what is used,
//! what is neutral) are the importer's.

use super::syntax::{Block, Param, Value, ValueKind};
use serde::Serialize;

/// A DiskSim parameter whose value changes DiskSim's timing in a way this model does not
/// reproduce (or a parameter the importer does not know). Field names are part of the
/// `validate-disksim --json` schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnmodelledParameter {
    /// The block holding it: its type, and name if it has one (`disksim_disk HP_C3323A`).
    pub block: String,
    /// The parameter's name as written.
    pub name: String,
    /// Its value as written (lists and blocks abbreviated).
    pub value: String,
    /// What the model does instead.
    pub reason: String,
    /// `file:line` of the parameter.
    pub location: String,
}

/// Collects unmodelled parameters in the order the importer meets them.
#[derive(Debug, Default)]
pub(super) struct Audit {
    found: Vec<UnmodelledParameter>,
}

impl Audit {
    /// Report `param` of `block`.
    pub fn report(&mut self, block: &Block, param: &Param, reason: impl Into<String>) {
        self.found.push(UnmodelledParameter {
            block: label(block),
            name: param.key.clone(),
            value: render(&param.value),
            reason: reason.into(),
            location: format!("{}:{}", block.file, param.line),
        });
    }

    /// Report `key` of `block` if the block holds it.
    pub fn report_key(&mut self, block: &Block, key: &str, reason: impl Into<String>) {
        if let Some(p) = block.get(key) {
            self.report(block, p, reason);
        }
    }

    /// Report every parameter of `block` whose name is not in `known`.
    pub fn unknown_keys(&mut self, block: &Block, known: &[&str]) {
        for p in &block.params {
            if !known.iter().any(|k| same_key(k, &p.key)) {
                self.report(
                    block,
                    p,
                    "not a parameter the importer knows; ignored".to_string(),
                );
            }
        }
    }

    /// The collected reports.
    pub fn into_reports(self) -> Vec<UnmodelledParameter> {
        self.found
    }
}

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

/// A block's type and name, as reports and errors name it.
pub(super) fn label(block: &Block) -> String {
    match &block.name {
        Some(n) => format!("{} {}", block.type_name, n),
        None => block.type_name.clone(),
    }
}

/// A value as written, lists shortened to their first entries.
fn render(v: &Value) -> String {
    match &v.kind {
        ValueKind::Int(i) => i.to_string(),
        ValueKind::Float(f) => f.to_string(),
        ValueKind::Word(w) => w.clone(),
        ValueKind::Source(f) => format!("source {f}"),
        ValueKind::Block(b) => format!("{} {{ ... }}", b.type_name),
        ValueKind::List(items) => {
            let shown: Vec<String> = items.iter().take(4).map(render).collect();
            if items.len() > 4 {
                format!("[{}, ... ({} values)]", shown.join(", "), items.len())
            } else {
                format!("[{}]", shown.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disksim::syntax::parse;

    #[test]
    fn unknown_keys_are_reported_with_their_value_and_place() {
        let doc = parse(
            "x.diskspecs",
            "disksim_disk D {\n  Known = 1,\n  Mystery knob = [1, 2, 3, 4, 5]\n}\n",
        )
        .unwrap();
        let block = doc.blocks_of_type("disksim_disk").next().unwrap();
        let mut audit = Audit::default();
        audit.unknown_keys(block, &["known"]);
        let r = audit.into_reports();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].block, "disksim_disk D");
        assert_eq!(r[0].name, "Mystery knob");
        assert_eq!(r[0].value, "[1, 2, 3, 4, ... (5 values)]");
        assert_eq!(r[0].location, "x.diskspecs:3");
    }
}
