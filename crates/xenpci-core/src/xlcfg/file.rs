//! Editing an xl.cfg file on disk: read it (UTF-8, refused when xl itself would refuse it), apply
//! a lossless [`Document`] edit, and either show the diff (dry run) or write it through the one
//! checked write path ([`fsutil::lock_file`]: locked, re-read and refused when the file changed
//! since it was read, backed up, atomic). `xenpci xlcfg add-pci|remove-pci|set` and the flows
//! both write xl.cfg files this way.

use std::path::{Path, PathBuf};

use crate::fsutil::{self, WriteError};

use super::{Document, EditError};

/// Why an xl.cfg file could not be edited.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Reading, locking or writing failed (the file is unchanged).
    #[error(transparent)]
    Write(#[from] WriteError),
    /// The file does not exist.
    #[error("cannot read {path}: no such file")]
    Missing {
        /// The file.
        path: PathBuf,
    },
    /// xl itself would refuse the file.
    #[error("{path} is not a valid xl.cfg (xl itself would refuse it); fix it first:\n{report}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// libxlutil's report.
        report: String,
    },
    /// The edit itself was refused.
    #[error("cannot edit {path}: {source}")]
    Edit {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: EditError,
    },
}

/// What an edit did (or would do, for a dry run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edited {
    /// The edit in words ("added pci entry '…'").
    pub what: String,
    /// Unified diff of the file (empty when nothing changes).
    pub diff: String,
    /// Whether the file was written.
    pub written: bool,
    /// The backup of the old content, when written.
    pub backup: Option<PathBuf>,
}

/// Reads an existing xl.cfg as text.
pub fn read(path: &Path) -> Result<String, FileError> {
    fsutil::read_text(path)?.ok_or_else(|| FileError::Missing {
        path: path.to_path_buf(),
    })
}

/// Parses `text` (read from `path`) as xl does, refusing what xl would refuse.
pub fn parse(path: &Path, text: &str) -> Result<Document, FileError> {
    Document::parse(text).map_err(|e| FileError::Invalid {
        path: path.to_path_buf(),
        report: e.report(&path.display().to_string()).trim_end().to_string(),
    })
}

/// Applies `change` to the xl.cfg at `path`. A dry run only reads; otherwise the file's lock is
/// held from the read to the write, and a file edited by something else in between (an editor
/// does not take xenpci's lock) is not overwritten.
pub fn edit(
    path: &Path,
    dry_run: bool,
    change: impl FnOnce(&mut Document) -> Result<String, EditError>,
) -> Result<Edited, FileError> {
    // A missing file is reported as such before its lock is taken (the lock needs its
    // directory).
    read(path)?;
    let lock = if dry_run {
        None
    } else {
        Some(fsutil::lock_file(path)?)
    };
    let old = read(path)?;
    let mut doc = parse(path, &old)?;
    let what = change(&mut doc).map_err(|source| FileError::Edit {
        path: path.to_path_buf(),
        source,
    })?;
    let new = doc.to_string();
    let diff = fsutil::unified_diff(&path.display().to_string(), &old, &new);
    let mut out = Edited {
        what,
        diff,
        written: false,
        backup: None,
    };
    if let Some(l) = lock.filter(|_| new != old) {
        out.backup = l.replace(Some(&old), &new)?;
        out.written = true;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xlcfg::xl_spec_parser;

    const SRC: &str = "# guest\nname = 'vm'\npci = [ '01:00.0' ]  # NIC\nmemory = 512\n";

    fn given(text: &str) -> (tempfile::TempDir, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("vm.cfg");
        std::fs::write(&p, text).unwrap();
        (d, p)
    }

    #[test]
    fn edit_writes_with_a_backup_and_keeps_other_lines() {
        let (_d, p) = given(SRC);
        let e = edit(&p, false, |d| {
            d.set_key("pci_permissive", "1").map(|_| "set".into())
        })
        .unwrap();
        assert!(e.written);
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            format!("{SRC}pci_permissive = 1\n")
        );
        assert_eq!(std::fs::read_to_string(e.backup.unwrap()).unwrap(), SRC);
        assert!(e.diff.contains("+pci_permissive = 1"), "{}", e.diff);
    }

    #[test]
    fn dry_run_and_no_op_write_nothing() {
        let (_d, p) = given(SRC);
        let e = edit(&p, true, |d| {
            d.add_pci("02:00.0", &xl_spec_parser).map(|_| "add".into())
        })
        .unwrap();
        assert!(!e.written && e.diff.contains("02:00.0"));
        let e = edit(&p, false, |_| Ok("nothing".into())).unwrap();
        assert!(!e.written && e.diff.is_empty() && e.backup.is_none());
        assert_eq!(std::fs::read_to_string(&p).unwrap(), SRC);
    }

    #[test]
    fn a_file_xl_refuses_is_not_edited() {
        let (_d, p) = given("PCI = [ '01:00.0' ]\n");
        let e = edit(&p, false, |_| Ok(String::new())).unwrap_err();
        assert!(
            e.to_string()
                .contains("is not a valid xl.cfg (xl itself would refuse it)"),
            "{e}"
        );
        let e = edit(&p.with_file_name("none.cfg"), true, |_| Ok(String::new())).unwrap_err();
        assert!(matches!(e, FileError::Missing { .. }), "{e}");
    }
}
