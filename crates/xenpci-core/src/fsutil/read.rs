//! Reading a configuration file as text, bounded in size, before an edit.

use std::path::Path;

use super::error::WriteError;
use crate::bounded_read;

/// Reads `path` as UTF-8 text (a regular file of at most [`bounded_read::CONFIG_LIMIT`] bytes);
/// `None` when it does not exist.
pub fn read_text(path: &Path) -> Result<Option<String>, WriteError> {
    let Some(bytes) = bounded_read::read(path, bounded_read::CONFIG_LIMIT)? else {
        return Ok(None);
    };
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|e| WriteError::NotText {
            path: path.to_path_buf(),
            offset: e.utf8_error().valid_up_to(),
        })
}
