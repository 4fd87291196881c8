//! DiskSim 4.0 drive description → [`HddParams`], with a report of what is not modelled.
//!
//! Owns finding the drive in its files and the mapping from DiskSim parameter names and
//! units (milliseconds, 0/1 flags, numbered schemes) to this model's parameters:
//! [`geometry`] (the `dm_layout_g1` zones, every sparing scheme, slips and defects),
//! [`mechanics`] (`dm_mech_g1`: seek curves, head switch, write settle, spindle) and
//! [`disk`] (the `disksim_disk` controller, cache and queue). It does not parse (see
//! `syntax`) and does not simulate.
//!
//! Finding the drive: when `NAME.parv` exists, the disk is the one its `topology`
//! places (its instance's type names the `disksim_disk` block, looked up in the `.parv`
//! and the files it `source`s), and the bus right above it gives the bus transfer time;
//! otherwise the first `disksim_disk` block of `NAME.diskspecs` is taken.
//!
//! Every parameter of the blocks read is accounted for. Values this model reproduces are
//! used; values that cannot change DiskSim's timing in the configuration at hand are
//! accepted silently — statistics and printing flags, "Avg sectors per cylinder" (an
//! external scheduler's hint), "Calc sector by sector" (a speed-up without effect on
//! results), "Block count" and "Number of cylinders" (DiskSim recomputes both from the
//! zones), seek parameters DiskSim ignores for the seek type used, "Rangesize for
//! sparing" outside scheme 8, the scheduler block of a drive that queues one request, and
//! the neutral value of each option listed in [`disk`]. Everything else becomes an
//! [`UnmodelledParameter`] in [`DiskSimImport::unmodelled`]. Of the `.parv` only the
//! topology, the bus above the disk and the controller above that bus are read (the
//! validation replay issues one request at a time, so drivers, logical organisations and
//! workload generators play no part).

mod disk;
mod geometry;
mod mechanics;

use super::audit::{Audit, UnmodelledParameter};
use super::syntax::{parse, Block, Document, Item, TopologyNode, ValueKind};
use super::{DiskSimError, DiskSimErrorKind};
use crate::hdd::HddParams;
use std::path::Path;

/// Where the importer finds files named by `NAME.diskspecs`, `source` statements and
/// `Full seek curve` parameters.
pub trait SourceFiles {
    /// The text of `file_name`, or `Ok(None)` if there is no such file.
    fn read(&self, file_name: &str) -> Result<Option<String>, DiskSimError>;
}

/// Files in a directory.
struct DirSources<'a>(&'a Path);

impl SourceFiles for DirSources<'_> {
    fn read(&self, file_name: &str) -> Result<Option<String>, DiskSimError> {
        let path = self.0.join(file_name);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(DiskSimError::new(
                &path.display().to_string(),
                0,
                DiskSimErrorKind::Io {
                    reason: e.to_string(),
                },
            )),
        }
    }
}

/// Files held in memory as (name, text) pairs (e.g. `include_str!`-ed presets).
#[derive(Debug, Clone, Copy)]
pub struct InMemoryFiles<'a>(pub &'a [(&'a str, &'a str)]);

impl SourceFiles for InMemoryFiles<'_> {
    fn read(&self, file_name: &str) -> Result<Option<String>, DiskSimError> {
        Ok(self
            .0
            .iter()
            .find(|(name, _)| *name == file_name)
            .map(|(_, text)| text.to_string()))
    }
}

/// An imported drive.
#[derive(Debug, Clone, PartialEq)]
pub struct DiskSimImport {
    /// The model's parameters.
    pub params: HddParams,
    /// Parameters whose DiskSim behaviour the model does not reproduce, in file order
    /// (empty when the model covers every parameter of the drive).
    pub unmodelled: Vec<UnmodelledParameter>,
}

/// Import drive `name` from directory `dir` (see the module documentation).
pub fn import(dir: &Path, name: &str) -> Result<DiskSimImport, DiskSimError> {
    import_from(&DirSources(dir), name)
}

/// Import drive `name` from `files` (see [`import`]).
pub fn import_from(files: &dyn SourceFiles, name: &str) -> Result<DiskSimImport, DiskSimError> {
    let mut audit = Audit::default();
    let system = find_disk(files, name)?;
    let disk = system.disk();

    let model_param = disk.require("Model")?;
    let model_doc;
    let model: &Block = match &model_param.value.kind {
        ValueKind::Source(file) => {
            // A missing model file is named where it is referenced, not as "file:0".
            if files.read(file)?.is_none() {
                return Err(DiskSimError::new(
                    &disk.file,
                    model_param.line,
                    DiskSimErrorKind::Io {
                        reason: format!("the disk's Model file '{file}' not found"),
                    },
                ));
            }
            model_doc = load(files, file)?;
            model_doc
                .blocks_of_type("dm_disk")
                .next()
                .ok_or_else(|| not_found(file, "a 'dm_disk' block"))?
        }
        ValueKind::Block(b) if b.type_name.eq_ignore_ascii_case("dm_disk") => b,
        other => {
            return Err(DiskSimError::new(
                &disk.file,
                model_param.line,
                DiskSimErrorKind::WrongType {
                    key: "Model".into(),
                    expected: "'source FILE' or a dm_disk block",
                    found: other.type_name(),
                },
            ))
        }
    };

    let bus_ms = system.bus_transfer_ms(&mut audit)?;
    let geometry = geometry::geometry(model, &mut audit)?;
    let mechanics = mechanics::mechanics(model, files, &mut audit)?;
    let (controller, bus, cache, queue) = disk::controller_and_cache(disk, bus_ms, &mut audit)?;
    audit.unknown_keys(
        model,
        &[
            "Number of data surfaces",
            "Number of cylinders",
            "Block count",
            "Layout Model",
            "Mechanical Model",
        ],
    );
    let params = HddParams {
        geometry,
        mechanics: Box::new(mechanics),
        controller: Box::new(controller),
        bus,
        cache,
        queue,
    };
    params.validate().map_err(|e| {
        DiskSimError::new(
            &model.file,
            model.line,
            DiskSimErrorKind::InvalidValue {
                key: "(derived parameters)".into(),
                reason: e.to_string(),
            },
        )
    })?;
    // The layout's own checks (slips that outnumber spares, remaps onto data, ...).
    crate::hdd::layout::Layout::new(&params.geometry).map_err(|e| {
        DiskSimError::new(
            &model.file,
            model.line,
            DiskSimErrorKind::InvalidValue {
                key: "Layout Model".into(),
                reason: e.to_string(),
            },
        )
    })?;
    Ok(DiskSimImport {
        params,
        unmodelled: audit.into_reports(),
    })
}

fn load(files: &dyn SourceFiles, file: &str) -> Result<Document, DiskSimError> {
    match files.read(file)? {
        Some(text) => parse(file, &text),
        None => Err(DiskSimError::new(
            file,
            0,
            DiskSimErrorKind::Io {
                reason: "no such file".into(),
            },
        )),
    }
}

fn not_found(file: &str, what: &str) -> DiskSimError {
    DiskSimError::new(
        file,
        0,
        DiskSimErrorKind::NotFound {
            what: what.to_string(),
        },
    )
}

/// The documents describing the drive's system and where its disk block is.
struct System {
    /// The `.parv` (if any) first, then the files it sources, depth first.
    docs: Vec<Document>,
    /// (document, item) index of the `disksim_disk` block.
    disk_at: (usize, usize),
    /// The type names of the bus and controller right above the disk in the topology.
    bus_type: Option<String>,
    ctlr_type: Option<String>,
}

/// Find drive `name`: through `NAME.parv`'s topology if there is one, else the first
/// `disksim_disk` block of `NAME.diskspecs`.
fn find_disk(files: &dyn SourceFiles, name: &str) -> Result<System, DiskSimError> {
    let parv_name = format!("{name}.parv");
    let Some(text) = files.read(&parv_name)? else {
        let specs_name = format!("{name}.diskspecs");
        let doc = load(files, &specs_name)?;
        let item = first_disk_block(&doc)
            .ok_or_else(|| not_found(&specs_name, "a 'disksim_disk' block"))?;
        return Ok(System {
            docs: vec![doc],
            disk_at: (0, item),
            bus_type: None,
            ctlr_type: None,
        });
    };
    let mut docs = vec![parse(&parv_name, &text)?];
    let mut next = 0;
    while next < docs.len() {
        let sourced: Vec<(String, usize)> = docs[next]
            .items
            .iter()
            .filter_map(|item| match item {
                Item::Source { path, line } => Some((path.clone(), *line)),
                _ => None,
            })
            .collect();
        for (path, line) in sourced {
            if docs.iter().any(|d| d.file == path) {
                continue;
            }
            let text = files.read(&path)?.ok_or_else(|| {
                DiskSimError::new(
                    &docs[next].file,
                    line,
                    DiskSimErrorKind::Io {
                        reason: format!("sourced file '{path}' not found"),
                    },
                )
            })?;
            docs.push(parse(&path, &text)?);
        }
        next += 1;
    }
    let parv = &docs[0];
    let type_of = |instance: &str| -> Option<String> {
        docs.iter()
            .flat_map(|d| &d.items)
            .find_map(|item| match item {
                Item::Instantiate {
                    names, type_name, ..
                } if names.iter().any(|n| n == instance) => Some(type_name.clone()),
                _ => None,
            })
    };
    // (disk node, its parent bus, the bus's parent controller)
    fn walk<'a>(
        node: &'a TopologyNode,
        parents: &mut Vec<&'a TopologyNode>,
        out: &mut Option<(
            &'a TopologyNode,
            Option<&'a TopologyNode>,
            Option<&'a TopologyNode>,
        )>,
    ) {
        if out.is_some() {
            return;
        }
        if node.type_name.eq_ignore_ascii_case("disksim_disk") {
            let bus = parents.last().copied();
            let ctlr = parents.len().checked_sub(2).map(|i| parents[i]);
            *out = Some((node, bus, ctlr));
            return;
        }
        parents.push(node);
        for c in &node.children {
            walk(c, parents, out);
        }
        parents.pop();
    }
    let mut found = None;
    for item in &parv.items {
        if let Item::Topology(node) = item {
            walk(node, &mut Vec::new(), &mut found);
        }
    }
    let Some((disk_node, bus_node, ctlr_node)) = found else {
        return Err(not_found(&parv_name, "a 'disksim_disk' in the topology"));
    };
    let disk_type = type_of(&disk_node.name).ok_or_else(|| {
        DiskSimError::new(
            &parv_name,
            disk_node.line,
            DiskSimErrorKind::NotFound {
                what: format!("an 'instantiate' of disk '{}'", disk_node.name),
            },
        )
    })?;
    let disk_at = docs
        .iter()
        .enumerate()
        .find_map(|(d, doc)| {
            doc.items.iter().position(|item| {
                matches!(item, Item::Block(b) if b.type_name.eq_ignore_ascii_case("disksim_disk")
                    && b.name.as_deref() == Some(disk_type.as_str()))
            })
            .map(|i| (d, i))
        })
        .ok_or_else(|| {
            not_found(
                &parv_name,
                &format!("the 'disksim_disk {disk_type}' block (in it or the files it sources)"),
            )
        })?;
    let typed = |node: Option<&TopologyNode>, kind: &str| {
        node.filter(|n| n.type_name.eq_ignore_ascii_case(kind))
            .and_then(|n| type_of(&n.name))
    };
    Ok(System {
        bus_type: typed(bus_node, "disksim_bus"),
        ctlr_type: typed(ctlr_node, "disksim_ctlr"),
        docs,
        disk_at,
    })
}

fn first_disk_block(doc: &Document) -> Option<usize> {
    doc.items.iter().position(
        |item| matches!(item, Item::Block(b) if b.type_name.eq_ignore_ascii_case("disksim_disk")),
    )
}

impl System {
    fn disk(&self) -> &Block {
        match &self.docs[self.disk_at.0].items[self.disk_at.1] {
            Item::Block(b) => b,
            _ => unreachable!("disk_at points at a block"),
        }
    }

    fn block_named(&self, type_name: &str, name: &str) -> Option<&Block> {
        self.docs
            .iter()
            .flat_map(|d| &d.items)
            .find_map(|item| match item {
                Item::Block(b)
                    if b.type_name.eq_ignore_ascii_case(type_name)
                        && b.name.as_deref() == Some(name) =>
                {
                    Some(b)
                }
                _ => None,
            })
    }

    /// Per-block (read, write) transfer time in ms of the bus the disk hangs on; None when
    /// the files describe no such bus. Audits that bus and the controller above it.
    fn bus_transfer_ms(&self, audit: &mut Audit) -> Result<Option<(f64, f64)>, DiskSimError> {
        if let Some(ctlr) = self
            .ctlr_type
            .as_deref()
            .and_then(|t| self.block_named("disksim_ctlr", t))
        {
            // Type 1 is the pass-through controller DiskSim validates drives behind.
            if ctlr.opt_i64("type")? != Some(1) {
                audit.report_key(
                    ctlr,
                    "type",
                    "only a pass-through controller (type 1) is modelled; its own cache \
                     and overheads are not",
                );
            }
            if ctlr.opt_f64("Bulk sector transfer time")?.unwrap_or(0.0) != 0.0 {
                audit.report_key(
                    ctlr,
                    "Bulk sector transfer time",
                    "the controller's transfer time is not applied",
                );
            }
            audit.unknown_keys(
                ctlr,
                &[
                    "type",
                    "Scale for delays",
                    "Bulk sector transfer time",
                    "Maximum queue length",
                    "Print stats",
                ],
            );
        }
        let Some(bus) = self
            .bus_type
            .as_deref()
            .and_then(|t| self.block_named("disksim_bus", t))
        else {
            return Ok(None);
        };
        if bus.opt_f64("Arbitration time")?.unwrap_or(0.0) != 0.0 {
            audit.report_key(
                bus,
                "Arbitration time",
                "bus arbitration is not modelled (one disk, no contention)",
            );
        }
        audit.unknown_keys(
            bus,
            &[
                "type",
                "Arbitration type",
                "Arbitration time",
                "Read block transfer time",
                "Write block transfer time",
                "Print stats",
            ],
        );
        Ok(Some((
            bus.f64("Read block transfer time")?,
            bus.f64("Write block transfer time")?,
        )))
    }
}

/// Milliseconds (DiskSim's time unit) to integer nanoseconds; must be finite and >= 0.
fn ms_to_ns(block: &Block, key: &str, ms: f64) -> Result<u64, DiskSimError> {
    if !ms.is_finite() || ms < 0.0 {
        return Err(block.invalid(key, format!("{ms} is not a non-negative time")));
    }
    Ok((ms * 1e6).round() as u64)
}

/// `key` (in ms, scaled by `scale`) in nanoseconds.
fn time_ns(block: &Block, key: &str, scale: f64) -> Result<u64, DiskSimError> {
    let ms = block.f64(key)?;
    ms_to_ns(block, key, ms * scale)
}

/// A sub-block parameter.
fn sub_block<'a>(block: &'a Block, key: &str) -> Result<&'a Block, DiskSimError> {
    let p = block.require(key)?;
    match &p.value.kind {
        ValueKind::Block(b) => Ok(b),
        other => Err(DiskSimError::new(
            &block.file,
            p.line,
            DiskSimErrorKind::WrongType {
                key: key.to_string(),
                expected: "block",
                found: other.type_name(),
            },
        )),
    }
}
