//! Reading a file whose size and kind someone else decides (a definition file in an image, a
//! copy on the host) without trusting either: never more than a limit plus one byte in memory,
//! so that a parser can still say the file is too large, and never a wait on something that is
//! not a regular file (a FIFO, a device, a directory).

use std::fs::OpenOptions;
use std::io::{ErrorKind, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use anyhow::{anyhow, Context, Result};

/// What an archive's first entry, or a path, holds where a file was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// A regular file's bytes, at most the limit plus one: more than the limit means it is
    /// larger.
    File(Vec<u8>),
    /// A symbolic link, with its target as written.
    Link(String),
    /// Anything else, said as a message would say it (`a directory`, `a FIFO`).
    Other(&'static str),
}

/// A regular file on the host, at most `limit + 1` bytes of it; `None` when nothing is at
/// `path`. A symbolic link in its last component is refused, not followed: the files read
/// this way are written as regular files by Dokku and by the plugin, so a link there was put
/// by someone else. So is anything but a regular file, without waiting for it: the open does
/// not block (a FIFO with no writer would block it past every signal), and the file's kind
/// is checked on the open file before the first read.
pub fn host_file(path: &Path, limit: usize) -> Result<Option<Vec<u8>>> {
    let opened = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path);
    let file = match opened {
        Ok(file) => file,
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(None),
        Err(error) if error.raw_os_error() == Some(libc::ELOOP) => {
            return Err(not_a_file(path, "a symbolic link"))
        }
        Err(error) => return Err(error).with_context(|| format!("opening {}", path.display())),
    };
    let kind = file
        .metadata()
        .with_context(|| format!("reading {}", path.display()))?
        .file_type();
    if !kind.is_file() {
        return Err(not_a_file(path, kind_of(kind)));
    }
    let mut bytes = Vec::new();
    file.take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(Some(bytes))
}

/// [`host_file`] for a file that must be there: its absence is an error, and so is a size past
/// `limit`, said with `fix`, what to do about it.
pub fn required_host_file(path: &Path, limit: usize, fix: &str) -> Result<Vec<u8>> {
    let bytes = host_file(path, limit)?
        .with_context(|| format!("{} is gone: deploy again", path.display()))?;
    if bytes.len() > limit {
        anyhow::bail!("{} is over {limit} bytes: {fix}", path.display());
    }
    Ok(bytes)
}

fn not_a_file(path: &Path, kind: &str) -> anyhow::Error {
    anyhow!(
        "{} is {kind}, not a regular file: replace it with the file itself, or remove it",
        path.display()
    )
}

/// What a file of `kind` is, as a message says it (`a directory`, `a FIFO`).
pub(crate) fn kind_of(kind: std::fs::FileType) -> &'static str {
    if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_symlink() {
        "a symbolic link"
    } else {
        "not a file"
    }
}

/// The first entry of a tar archive read from `archive`, with at most `limit + 1` bytes of a
/// file's content; `None` for an empty archive. Nothing past that is read: an archive of a
/// whole file system costs one header. PAX and GNU long names and link targets are read as
/// the `tar` crate reads them; their records are bounded by what a file system holds (a path,
/// a link target, an extended attribute), as the archive comes from a container engine.
pub fn first_entry(archive: impl Read, limit: usize) -> std::io::Result<Option<Found>> {
    let mut archive = tar::Archive::new(archive);
    let Some(entry) = archive.entries()?.next() else {
        return Ok(None);
    };
    let mut entry = entry?;
    let kind = entry.header().entry_type();
    let found = if kind.is_file() {
        let mut bytes = Vec::new();
        (&mut entry)
            .take(limit as u64 + 1)
            .read_to_end(&mut bytes)?;
        Found::File(bytes)
    } else if kind.is_symlink() {
        let target = entry.link_name()?.ok_or_else(|| {
            std::io::Error::new(ErrorKind::InvalidData, "a symbolic link with no target")
        })?;
        Found::Link(target.to_string_lossy().into_owned())
    } else if kind.is_dir() {
        Found::Other("a directory")
    } else if kind.is_fifo() {
        Found::Other("a FIFO")
    } else if kind.is_character_special() {
        Found::Other("a character device")
    } else if kind.is_block_special() {
        Found::Other("a block device")
    } else if kind.is_hard_link() {
        Found::Other("a hard link")
    } else {
        Found::Other("not a file")
    };
    Ok(Some(found))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn archive_of(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        build(&mut builder);
        builder.into_inner().unwrap()
    }

    fn header(kind: tar::EntryType, size: u64) -> tar::Header {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_size(size);
        header.set_mode(0o644);
        header
    }

    #[test]
    fn a_file_is_read_up_to_one_byte_over_the_limit() {
        let archive = archive_of(|builder| {
            let content = [b'x'; 100];
            let mut file = header(tar::EntryType::Regular, 100);
            builder
                .append_data(&mut file, "app.json", &content[..])
                .unwrap();
        });
        assert_eq!(
            first_entry(&archive[..], 10).unwrap(),
            Some(Found::File(vec![b'x'; 11]))
        );
        assert_eq!(
            first_entry(&archive[..], 1000).unwrap(),
            Some(Found::File(vec![b'x'; 100]))
        );
    }

    #[test]
    fn a_link_with_a_long_target_or_name_is_a_link() {
        let target = format!("/{}/app.json", "deep/".repeat(40));
        let name = format!("{}.json", "n".repeat(150));
        let archive = archive_of(|builder| {
            let mut link = header(tar::EntryType::Symlink, 0);
            builder.append_link(&mut link, &name, &target).unwrap();
        });
        assert_eq!(
            first_entry(&archive[..], 10).unwrap(),
            Some(Found::Link(target))
        );
    }

    #[test]
    fn a_directory_or_fifo_is_named_and_an_empty_archive_is_nothing() {
        for (kind, said) in [
            (tar::EntryType::Directory, "a directory"),
            (tar::EntryType::Fifo, "a FIFO"),
            (tar::EntryType::Char, "a character device"),
        ] {
            let archive = archive_of(|builder| {
                builder
                    .append_data(&mut header(kind, 0), "Procfile", &b""[..])
                    .unwrap();
            });
            assert_eq!(
                first_entry(&archive[..], 10).unwrap(),
                Some(Found::Other(said))
            );
        }
        assert_eq!(first_entry(&[0u8; 1024][..], 10).unwrap(), None);
        assert_eq!(first_entry(&b""[..], 10).unwrap(), None);
    }

    #[test]
    fn only_the_first_entry_is_read() {
        // A reader that fails past the first entry's blocks proves nothing after them is read.
        let archive = archive_of(|builder| {
            builder
                .append_data(&mut header(tar::EntryType::Directory, 0), "app", &b""[..])
                .unwrap();
            let mut big = header(tar::EntryType::Regular, 4096);
            builder
                .append_data(&mut big, "etc/big", &[0u8; 4096][..])
                .unwrap();
        });
        let first_blocks = &archive[..512];
        assert_eq!(
            first_entry(first_blocks.chain(FailingReader), 10).unwrap(),
            Some(Found::Other("a directory"))
        );
    }

    struct FailingReader;

    impl Read for FailingReader {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("read past the first entry"))
        }
    }

    #[test]
    fn a_host_file_is_bounded_and_anything_else_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("app.json");
        std::fs::write(&file, vec![b'x'; 100]).unwrap();
        assert_eq!(host_file(&file, 10).unwrap(), Some(vec![b'x'; 11]));
        assert_eq!(host_file(&dir.path().join("missing"), 10).unwrap(), None);

        let fifo = dir.path().join("fifo");
        let name = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: `name` is a NUL-terminated path that outlives the call.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        let link = dir.path().join("link");
        symlink("/dev/zero", &link).unwrap();
        for (path, said) in [
            (&fifo, "is a FIFO"),
            (&link, "is a symbolic link"),
            (&dir.path().to_path_buf(), "is a directory"),
        ] {
            let error = host_file(path, 10).unwrap_err().to_string();
            assert!(error.contains(said), "{error}");
            assert!(error.contains(&path.display().to_string()), "{error}");
        }
        let error = host_file(Path::new("/dev/null"), 10).unwrap_err();
        assert!(error.to_string().contains("a character device"), "{error}");
    }
}
