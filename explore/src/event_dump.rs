//! The whole event log of one run as text (`dmsim explore --events FILE`): every input the
//! engine took and every output it gave, with its virtual time, and notes where each segment
//! and the liveness phase begin and at each power loss and clean restart. What a user reads
//! to see how a failing seed got where it did; the failure message keeps only the last few
//! events.
//!
//! One line per event: `TIME_NS in EVENT` or `TIME_NS out EVENT` (the event's `Debug`
//! form), notes as `# TIME_NS NOTE`, and last `# end: VERDICT`. The text is a function of the spec alone (virtual
//! time, no addresses, no wall clock): two dumps of one spec are byte-identical.
//!
//! The file is written beside its final name and renamed there only when complete, so a
//! failed write leaves nothing behind.

use dmsim_engine::io::{Input, Output};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Lines a dump holds at most (about 2 GB of text): a run that spins stops being logged
/// there, with a note saying so.
pub const EVENT_LINES_MAX: u64 = 10_000_000;

/// See the module documentation.
pub struct EventDump {
    out: BufWriter<File>,
    /// Where the dump is written, and where it goes when finished.
    partial: PathBuf,
    path: PathBuf,
    lines: u64,
    /// The first write error; the dump stops writing at it.
    error: Option<std::io::Error>,
}

impl EventDump {
    /// Starts a dump bound for `path`, headed by `title`.
    pub fn create(path: &Path, title: &str) -> Result<EventDump, String> {
        let file_name = path
            .file_name()
            .ok_or_else(|| format!("{}: not a file name", path.display()))?;
        let mut partial_name = std::ffi::OsString::from(".");
        partial_name.push(file_name);
        partial_name.push(".partial");
        let partial = path.with_file_name(partial_name);
        let file = File::create(&partial).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut dump = EventDump {
            out: BufWriter::new(file),
            partial,
            path: path.to_path_buf(),
            lines: 0,
            error: None,
        };
        dump.line(format_args!("# {title}"));
        dump.line(format_args!(
            "# one event per line: TIME_NS in|out EVENT; notes: # TIME_NS NOTE; last: # end: VERDICT"
        ));
        Ok(dump)
    }

    pub fn input(&mut self, now_ns: u64, input: &Input) {
        self.line(format_args!("{now_ns} in {input:?}"));
    }

    pub fn output(&mut self, now_ns: u64, output: &Output) {
        self.line(format_args!("{now_ns} out {output:?}"));
    }

    pub fn note(&mut self, now_ns: u64, note: &str) {
        self.line(format_args!("# {now_ns} {note}"));
    }

    /// The last line: how the run ended.
    pub fn end(&mut self, verdict: &str) {
        self.line(format_args!("# end: {verdict}"));
    }

    fn line(&mut self, text: std::fmt::Arguments) {
        if self.error.is_some() || self.lines > EVENT_LINES_MAX {
            return;
        }
        self.lines += 1;
        let result = if self.lines > EVENT_LINES_MAX {
            writeln!(self.out, "# the log stops here: {EVENT_LINES_MAX} lines")
        } else {
            writeln!(self.out, "{text}")
        };
        if let Err(e) = result {
            self.error = Some(e);
        }
    }

    /// Flushes the dump and puts it at its path: the lines written, or why it failed (the
    /// partial file is then removed).
    pub fn finish(mut self) -> Result<u64, String> {
        let flushed = match self.error.take() {
            Some(e) => Err(e),
            None => self.out.flush(),
        };
        let placed = flushed.and_then(|()| std::fs::rename(&self.partial, &self.path));
        match placed {
            Ok(()) => Ok(self.lines.min(EVENT_LINES_MAX)),
            Err(e) => {
                let _ = std::fs::remove_file(&self.partial);
                Err(format!("{}: {e}", self.path.display()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dmsim_engine::io::Control;

    #[test]
    fn a_finished_dump_holds_every_line_and_no_partial_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.txt");
        let mut dump = EventDump::create(&path, "seed 1").unwrap();
        dump.input(5, &Input::Control(Control::TargetMessage("do_sync".into())));
        dump.note(7, "power loss 1");
        assert_eq!(dump.finish(), Ok(4), "two header lines, an input, a note");
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "# seed 1");
        assert_eq!(lines[2], "5 in Control(TargetMessage(\"do_sync\"))");
        assert_eq!(lines[3], "# 7 power loss 1");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("events.txt")]);
    }

    #[test]
    fn a_dump_that_cannot_be_placed_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.txt");
        let dump = EventDump::create(&path, "seed 1").unwrap();
        // A directory where the dump should go: the rename fails.
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("x"), b"x").unwrap();
        let error = dump.finish().unwrap_err();
        assert!(error.starts_with(&path.display().to_string()), "{error}");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("events.txt")]);
    }
}
