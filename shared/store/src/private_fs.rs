//! Files of the embedded engines hold customers' data: readable by this user only (directories
//! 0700, files 0600), whatever the process umask.

use std::io;
use std::path::Path;

/// Creates `dir` and its missing parents with mode 0700, and narrows `dir` itself to 0700 if it
/// already existed.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)?;
    restrict(dir, 0o700)
}

/// Narrows an existing file's mode to 0600 (a no-op where modes do not exist).
pub fn restrict_file(path: &Path) -> io::Result<()> {
    restrict(path, 0o600)
}

#[cfg(unix)]
fn restrict(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn restrict(_path: &Path, _mode: u32) -> io::Result<()> {
    Ok(())
}

#[cfg(all(test, unix, feature = "embedded"))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777
    }

    #[test]
    fn directories_and_files_are_private_even_when_they_existed() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = root.path().join("a/b");
        create_dir(&dir).expect("create");
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&root.path().join("a")), 0o700);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        create_dir(&dir).expect("again");
        assert_eq!(mode(&dir), 0o700, "an existing directory is narrowed");
        let file = dir.join("f");
        std::fs::write(&file, b"x").expect("write");
        restrict_file(&file).expect("restrict");
        assert_eq!(mode(&file), 0o600);
    }

    #[tokio::test]
    async fn the_embedded_engines_files_are_private() {
        use crate::blobs::{Blobs, DirBlobs};
        let root = tempfile::tempdir().expect("tempdir");
        let data = root.path().join("data");
        std::fs::create_dir(&data).expect("mkdir");
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let _db = crate::sqlite::Database::open(
            data.join("mostrador.db"),
            crate::sqlite::RowKey::ephemeral(),
        )
        .expect("db");
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join("mostrador.db")), 0o600);
        let blobs = DirBlobs::open(data.join("blobs")).expect("blobs");
        blobs
            .put(
                "merchants/M1/cfdi/A.xml",
                bytes::Bytes::from_static(b"<x/>"),
                "text/xml",
            )
            .await
            .expect("put");
        assert_eq!(mode(&data.join("blobs")), 0o700);
        assert_eq!(mode(&data.join("blobs/merchants/M1/cfdi")), 0o700);
        assert_eq!(mode(&data.join("blobs/merchants/M1/cfdi/A.xml")), 0o600);
    }
}
