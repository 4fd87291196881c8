//! All-or-nothing writing of a set of output files into one directory.
//!
//! Owns the output hygiene rule: a reader never sees a half-written file, and a failed call
//! leaves nothing of its own behind. Every file is first written to a hidden temporary name in
//! the destination directory (same filesystem, so the final rename is atomic); only when all
//! files of the batch are staged are they renamed into place. On any error, or if the batch is
//! dropped without committing, staged temporaries are removed, files already renamed by this
//! batch are removed, and the directory is removed if this batch created it.
//!
//! It deliberately does not fsync: the promise is about what readers see, not about surviving a
//! power cut. Temporary names carry the process id, so two processes writing the same directory
//! do not trample each other's temporaries (the last rename wins).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::ReportError;

/// A set of files being written into one directory (see the module doc).
#[derive(Debug)]
pub(crate) struct OutputBatch {
    dir: PathBuf,
    created_dir: bool,
    staged: Vec<Staged>,
    committed: bool,
}

#[derive(Debug)]
struct Staged {
    temp_path: PathBuf,
    final_path: PathBuf,
}

impl OutputBatch {
    /// Starts a batch writing into `dir`, creating it (and missing parents) if needed.
    pub(crate) fn begin(dir: &Path) -> Result<Self, ReportError> {
        let existed = dir.exists();
        if existed {
            if !dir.is_dir() {
                return Err(ReportError::io(
                    dir,
                    "use as output directory",
                    std::io::Error::new(
                        std::io::ErrorKind::AlreadyExists,
                        "exists and is not a directory",
                    ),
                ));
            }
        } else {
            fs::create_dir_all(dir)
                .map_err(|source| ReportError::io(dir, "create output directory", source))?;
        }
        Ok(OutputBatch {
            dir: dir.to_path_buf(),
            created_dir: !existed,
            staged: Vec::new(),
            committed: false,
        })
    }

    /// The final path `file_name` will have in the output directory.
    pub(crate) fn final_path(&self, file_name: &str) -> PathBuf {
        self.dir.join(file_name)
    }

    /// Stages `bytes` as `file_name`.
    pub(crate) fn stage_bytes(&mut self, file_name: &str, bytes: &[u8]) -> Result<(), ReportError> {
        self.stage_with(file_name, |temp_path| {
            let mut file = fs::File::create(temp_path)
                .map_err(|source| ReportError::io(temp_path, "create", source))?;
            file.write_all(bytes)
                .map_err(|source| ReportError::io(temp_path, "write", source))
        })
    }

    /// Stages `file_name` by letting `write` create the file at the temporary path it is
    /// given. The temporary path keeps `file_name`'s extension, for writers that infer the
    /// format from it.
    pub(crate) fn stage_with(
        &mut self,
        file_name: &str,
        write: impl FnOnce(&Path) -> Result<(), ReportError>,
    ) -> Result<(), ReportError> {
        assert!(
            !file_name.is_empty() && !file_name.contains(['/', '\\']),
            "output file names are plain names"
        );
        assert!(
            self.staged
                .iter()
                .all(|s| s.final_path != self.dir.join(file_name)),
            "file {file_name} staged twice"
        );
        let temp_path = self.dir.join(temp_name(file_name));
        // Register before writing so a partial temporary is cleaned up on failure.
        self.staged.push(Staged {
            temp_path: temp_path.clone(),
            final_path: self.dir.join(file_name),
        });
        write(&temp_path)
    }

    /// Renames every staged file into place and returns the final paths, in staging order.
    pub(crate) fn commit(mut self) -> Result<Vec<PathBuf>, ReportError> {
        for (renamed, staged) in self.staged.iter().enumerate() {
            if let Err(source) = fs::rename(&staged.temp_path, &staged.final_path) {
                let error = ReportError::io(&staged.final_path, "rename into place", source);
                for done in &self.staged[..renamed] {
                    let _ = fs::remove_file(&done.final_path);
                }
                return Err(error); // Drop removes the remaining temporaries.
            }
        }
        self.committed = true;
        Ok(self.staged.iter().map(|s| s.final_path.clone()).collect())
    }
}

impl Drop for OutputBatch {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        for staged in &self.staged {
            // Best effort: the file may never have been created.
            let _ = fs::remove_file(&staged.temp_path);
        }
        if self.created_dir {
            // Only succeeds if empty, so nothing of anyone else's is removed.
            let _ = fs::remove_dir(&self.dir);
        }
    }
}

/// Hidden temporary name for `file_name`, keeping its extension.
fn temp_name(file_name: &str) -> String {
    let process = std::process::id();
    match file_name.rsplit_once('.') {
        Some((stem, extension)) => format!(".{stem}.tmp-{process}.{extension}"),
        None => format!(".{file_name}.tmp-{process}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn commit_renames_everything_into_place() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("out");
        let mut batch = OutputBatch::begin(&dir).unwrap();
        batch.stage_bytes("a.json", b"{}").unwrap();
        batch.stage_bytes("b.svg", b"<svg/>").unwrap();
        assert_eq!(entries(&dir).len(), 2, "temporaries exist before commit");
        assert!(entries(&dir).iter().all(|name| name.starts_with('.')));
        let written = batch.commit().unwrap();
        assert_eq!(written, vec![dir.join("a.json"), dir.join("b.svg")]);
        assert_eq!(entries(&dir), vec!["a.json", "b.svg"]);
        assert_eq!(fs::read(dir.join("b.svg")).unwrap(), b"<svg/>");
    }

    #[test]
    fn failure_removes_temporaries_and_created_dir() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("out");
        {
            let mut batch = OutputBatch::begin(&dir).unwrap();
            batch.stage_bytes("a.json", b"{}").unwrap();
            let error = batch
                .stage_with("b.png", |path| {
                    fs::write(path, b"partial").unwrap();
                    Err(ReportError::io(
                        path,
                        "write",
                        std::io::Error::other("boom"),
                    ))
                })
                .unwrap_err();
            assert!(error.to_string().contains(".b.tmp-"), "{error}");
        }
        assert!(!dir.exists(), "created directory left behind");
    }

    #[test]
    fn existing_dir_is_kept_on_failure() {
        let root = tempfile::tempdir().unwrap();
        fs::write(root.path().join("keep.txt"), b"x").unwrap();
        {
            let mut batch = OutputBatch::begin(root.path()).unwrap();
            batch.stage_bytes("a.json", b"{}").unwrap();
        }
        assert_eq!(entries(root.path()), vec!["keep.txt"]);
    }

    #[test]
    fn directory_under_a_file_is_an_error_naming_it() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("plain-file");
        fs::write(&file, b"x").unwrap();
        let dir = file.join("out");
        let error = OutputBatch::begin(&dir).unwrap_err().to_string();
        assert!(error.contains(&dir.display().to_string()), "{error}");
        let error = OutputBatch::begin(&file).unwrap_err().to_string();
        assert!(error.contains("not a directory"), "{error}");
    }

    #[test]
    fn temp_names_keep_extension_and_are_hidden() {
        let name = temp_name("hit_ratio.png");
        assert!(name.starts_with(".hit_ratio.tmp-"));
        assert!(name.ends_with(".png"));
        assert!(temp_name("README").starts_with(".README.tmp-"));
    }
}
