//! Who owns what the plugin creates under `DOKKU_LIB_ROOT`.
//!
//! On a Dokku host the triggers run as the `dokku` user, but `install.sh`, `dokku
//! plugin:install` and an operator's `dokku deploy-tasks:*` may run as root. A directory or file
//! that root creates there would stay root's, and the next deploy could not append its history,
//! take its lock or record its containers. So, when the effective uid is 0, every directory and
//! file the plugin creates under `DOKKU_LIB_ROOT` is given to a reference owner: the `dokku`
//! user and its primary group when that user exists, else the owner of `DOKKU_LIB_ROOT` itself.
//! Any other user can only create files of its own, and nothing is changed for it.
//!
//! Guarantees: only what this process created is given away (never a directory or file that
//! existed before), only under `DOKKU_LIB_ROOT`, and never through a symbolic link.
//!
//! Everything is created for its owner alone (directories 0700, files 0600, as Dokku's own
//! properties are 0600): the plugin's triggers and commands all run as that owner, or as root.
//! A file is opened without following a symbolic link in its last component, so that a link
//! planted where the plugin keeps a file never makes root write elsewhere. Links further up
//! are followed: operators may link `/var/lib/dokku` itself elsewhere.
//!
//! The `dokku` user is looked up in `/etc/passwd`, where `adduser` puts it, and not with
//! `getpwnam`: the plugin's binaries are static, and a static glibc's `getpwnam` loads the NSS
//! modules of `/etc/nsswitch.conf` with `dlopen`, which crashes the process when a user is not in
//! the `files` source and another module (`systemd`) is asked.

use std::cell::OnceCell;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::bounded_read;

/// The mode of a directory the plugin creates: its owner's alone.
const DIR_MODE: u32 = 0o700;
/// The mode of a file the plugin creates: its owner's alone.
const FILE_MODE: u32 = 0o600;

/// The user Dokku's triggers run as.
pub const DOKKU_USER: &str = "dokku";

/// A user and group to give files to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub uid: u32,
    pub gid: u32,
}

/// How to create directories and files under one `DOKKU_LIB_ROOT` so that they stay usable by
/// the user deploys run as. The reference owner is looked up once, when first needed.
#[derive(Debug, Clone)]
pub struct Ownership {
    lib_root: PathBuf,
    owner: OnceCell<Option<Owner>>,
}

impl Ownership {
    /// For what is created under `lib_root`: given to the reference owner when this process runs
    /// as root, left as created otherwise.
    pub fn under(lib_root: &Path) -> Ownership {
        Ownership {
            lib_root: lib_root.to_path_buf(),
            owner: OnceCell::new(),
        }
    }

    /// For what is created under `lib_root`, given to `owner` (`None`: left as created) whoever
    /// this process runs as.
    pub fn with_owner(lib_root: &Path, owner: Option<Owner>) -> Ownership {
        Ownership {
            lib_root: lib_root.to_path_buf(),
            owner: OnceCell::from(owner),
        }
    }

    /// The owner what this creates is given to; `None` when it is left as created.
    pub fn owner(&self) -> Option<Owner> {
        *self.owner.get_or_init(|| {
            // SAFETY: geteuid has no preconditions and cannot fail.
            if unsafe { libc::geteuid() } != 0 {
                return None;
            }
            reference_owner(Path::new("/etc/passwd"), DOKKU_USER, &self.lib_root)
        })
    }

    /// Creates `dir` and whichever of its parents are missing, and gives each one it created
    /// under `DOKKU_LIB_ROOT` to the owner, outermost first (not only the last one, as
    /// `create_dir_all` and a `chown` of `dir` would).
    pub fn create_dir_all(&self, dir: &Path) -> Result<()> {
        let missing: Vec<&Path> = dir
            .ancestors()
            .take_while(|ancestor| !ancestor.as_os_str().is_empty() && !ancestor.is_dir())
            .collect();
        for path in missing.into_iter().rev() {
            match std::fs::DirBuilder::new().mode(DIR_MODE).create(path) {
                Ok(()) => self.give(path)?,
                // A concurrent run made it, and gives it.
                Err(error) if error.kind() == ErrorKind::AlreadyExists && path.is_dir() => {}
                Err(error) => {
                    return Err(error).with_context(|| format!("creating {}", path.display()))
                }
            }
        }
        Ok(())
    }

    /// Opens `path` with `options` (which must allow writing or appending), creating the file
    /// when it is missing and then giving it to the owner; a file that existed keeps its owner.
    /// The parent directory must exist. Anything but a regular file there (a link, a FIFO, a
    /// directory, a device) is refused, without waiting: the open does not block, and the kind
    /// is checked on the open file. (`O_NONBLOCK` changes nothing for a regular file.)
    pub fn create_or_open(&self, path: &Path, options: &OpenOptions) -> Result<File> {
        let mut options = options.clone();
        options
            .mode(FILE_MODE)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY);
        let not_ours = |kind: &str| {
            anyhow::anyhow!(
                "{} is {kind}, where the plugin keeps a file of its own: remove it",
                path.display()
            )
        };
        loop {
            let mut create = options.clone();
            create.create_new(true);
            match create.open(path) {
                Ok(file) => {
                    self.give(path)?;
                    return Ok(file);
                }
                Err(error) if error.kind() == ErrorKind::AlreadyExists => {}
                Err(error) => {
                    return Err(error).with_context(|| format!("creating {}", path.display()))
                }
            }
            let mut existing = options.clone();
            existing.create(false);
            match existing.open(path) {
                Ok(file) => {
                    let kind = file
                        .metadata()
                        .with_context(|| format!("reading {}", path.display()))?
                        .file_type();
                    if !kind.is_file() {
                        return Err(not_ours(bounded_read::kind_of(kind)));
                    }
                    return Ok(file);
                }
                // Renamed or removed since (a history rotation): create it after all.
                Err(error) if error.kind() == ErrorKind::NotFound => {}
                Err(error) if error.raw_os_error() == Some(libc::ELOOP) => {
                    return Err(not_ours("a symbolic link"))
                }
                // A FIFO no one reads (opened for writing without blocking), or a directory.
                Err(error) if error.raw_os_error() == Some(libc::ENXIO) => {
                    return Err(not_ours("a FIFO or a device"))
                }
                Err(error) if error.raw_os_error() == Some(libc::EISDIR) => {
                    return Err(not_ours("a directory"))
                }
                Err(error) => {
                    return Err(error).with_context(|| format!("opening {}", path.display()))
                }
            }
        }
    }

    /// Writes `contents` into `path`, replacing what it held, creating the file and its missing
    /// parent directories and giving what it created to the owner.
    pub fn write(&self, path: &Path, contents: impl AsRef<[u8]>) -> Result<()> {
        if let Some(dir) = path.parent() {
            self.create_dir_all(dir)?;
        }
        let mut file = self.create_or_open(
            path,
            OpenOptions::new().write(true).truncate(true).create(true),
        )?;
        file.write_all(contents.as_ref())
            .with_context(|| format!("writing {}", path.display()))
    }

    /// Gives `path`, which this process has just created some other way (a temporary directory,
    /// say), to the owner. Does nothing outside `DOKKU_LIB_ROOT` or when not running as root.
    pub fn give(&self, path: &Path) -> Result<()> {
        let Some(owner) = self.owner() else {
            return Ok(());
        };
        if !path.starts_with(&self.lib_root) {
            return Ok(());
        }
        std::os::unix::fs::lchown(path, Some(owner.uid), Some(owner.gid)).with_context(|| {
            format!(
                "giving {} to {}:{} (the owner of what deploys use)",
                path.display(),
                owner.uid,
                owner.gid
            )
        })
    }
}

/// The owner what root creates under `lib_root` gets: `user` (uid and primary gid) from the
/// passwd file when it has that user, else whoever owns `lib_root`; `None` when neither is
/// known (no such user, and no `lib_root` yet).
pub fn reference_owner(passwd: &Path, user: &str, lib_root: &Path) -> Option<Owner> {
    std::fs::read_to_string(passwd)
        .ok()
        .and_then(|text| owner_in_passwd(&text, user))
        .or_else(|| {
            let metadata = std::fs::metadata(lib_root).ok()?;
            Some(Owner {
                uid: metadata.uid(),
                gid: metadata.gid(),
            })
        })
}

/// The uid and gid of `user` in `/etc/passwd` text (`name:password:uid:gid:...`).
fn owner_in_passwd(passwd: &str, user: &str) -> Option<Owner> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        if fields.next()? != user {
            return None;
        }
        let _password = fields.next()?;
        let uid = fields.next()?.parse().ok()?;
        let gid = fields.next()?.parse().ok()?;
        Some(Owner { uid, gid })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Who the tests give files to: an unprivileged uid nobody has when running as root (as CI
    /// does); otherwise this user, the only one a chown may name, which still proves the calls
    /// reach what they should and no further.
    fn test_owner() -> Owner {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } == 0 {
            Owner {
                uid: 12345,
                gid: 12345,
            }
        } else {
            // SAFETY: as above; getegid cannot fail either.
            unsafe {
                Owner {
                    uid: libc::geteuid(),
                    gid: libc::getegid(),
                }
            }
        }
    }

    fn owner_of(path: &Path) -> Owner {
        let metadata = std::fs::symlink_metadata(path).unwrap();
        Owner {
            uid: metadata.uid(),
            gid: metadata.gid(),
        }
    }

    #[test]
    fn finds_the_dokku_user_in_passwd() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\n\
                      dokku-admin:x:1001:1001::/home/x:/bin/sh\n\
                      dokku:x:1000:998:dokku:/home/dokku:/bin/bash\n";
        assert_eq!(
            owner_in_passwd(passwd, "dokku"),
            Some(Owner {
                uid: 1000,
                gid: 998
            })
        );
        assert_eq!(owner_in_passwd("root:x:0:0::/:/bin/sh\n", "dokku"), None);
        assert_eq!(owner_in_passwd("dokku:x:bad:1::/:/bin/sh\n", "dokku"), None);
    }

    #[test]
    fn the_reference_is_the_dokku_user_else_the_owner_of_the_lib_root() {
        let dir = tempfile::tempdir().unwrap();
        let passwd = dir.path().join("passwd");
        std::fs::write(&passwd, "dokku:x:1000:998::/home/dokku:/bin/bash\n").unwrap();
        let lib_root = dir.path().join("lib");
        std::fs::create_dir(&lib_root).unwrap();
        assert_eq!(
            reference_owner(&passwd, "dokku", &lib_root),
            Some(Owner {
                uid: 1000,
                gid: 998
            })
        );
        std::fs::write(&passwd, "root:x:0:0::/root:/bin/sh\n").unwrap();
        assert_eq!(
            reference_owner(&passwd, "dokku", &lib_root),
            Some(owner_of(&lib_root))
        );
        assert_eq!(
            reference_owner(&dir.path().join("no-passwd"), "dokku", &lib_root),
            Some(owner_of(&lib_root))
        );
        assert_eq!(
            reference_owner(&passwd, "dokku", &dir.path().join("no-lib")),
            None
        );
    }

    #[test]
    fn every_directory_created_under_the_lib_root_is_given_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let before = owner_of(dir.path());
        let lib_root = dir.path().join("missing-parent").join("lib");
        let ownership = Ownership::with_owner(&lib_root, Some(test_owner()));
        let data = lib_root.join("data").join("deploy-tasks").join("app");
        ownership.create_dir_all(&data).unwrap();
        assert!(data.is_dir());
        // Above the lib root: created, and left as created.
        assert_eq!(owner_of(&dir.path().join("missing-parent")), before);
        for path in data
            .ancestors()
            .take_while(|path| path.starts_with(&lib_root))
        {
            assert_eq!(owner_of(path), test_owner(), "{}", path.display());
        }
        // Existing directories keep their owner.
        let existing = lib_root.join("config");
        std::fs::create_dir(&existing).unwrap();
        let theirs = owner_of(&existing);
        ownership
            .create_dir_all(&existing.join("deploy-tasks"))
            .unwrap();
        assert_eq!(owner_of(&existing), theirs);
        assert_eq!(owner_of(&existing.join("deploy-tasks")), test_owner());
        ownership.create_dir_all(&data).unwrap();
    }

    #[test]
    fn a_created_file_is_given_and_an_existing_one_keeps_its_owner() {
        let dir = tempfile::tempdir().unwrap();
        let ownership = Ownership::with_owner(dir.path(), Some(test_owner()));
        let path = dir.path().join("data").join("history.jsonl");
        ownership.write(&path, "one\n").unwrap();
        assert_eq!(owner_of(&path), test_owner());
        assert_eq!(owner_of(&dir.path().join("data")), test_owner());
        let mut options = OpenOptions::new();
        options.append(true);
        let mut file = ownership.create_or_open(&path, &options).unwrap();
        file.write_all(b"two\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one\ntwo\n");

        let existing = dir.path().join("existing");
        std::fs::write(&existing, "kept").unwrap();
        let theirs = owner_of(&existing);
        ownership.create_or_open(&existing, &options).unwrap();
        ownership.write(&existing, "replaced").unwrap();
        assert_eq!(owner_of(&existing), theirs);
        assert_eq!(std::fs::read_to_string(&existing).unwrap(), "replaced");
    }

    #[test]
    fn nothing_outside_the_lib_root_and_nothing_without_an_owner_is_given() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::write(&outside, "").unwrap();
        let before = owner_of(&outside);
        let ownership = Ownership::with_owner(&dir.path().join("lib"), Some(test_owner()));
        ownership.give(&outside).unwrap();
        assert_eq!(owner_of(&outside), before);

        let unchanged = Ownership::with_owner(dir.path(), None);
        let created = dir.path().join("a").join("b");
        unchanged.create_dir_all(&created).unwrap();
        assert_eq!(owner_of(&created), before);
    }

    #[test]
    fn a_symbolic_link_is_given_itself_never_its_target() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, "").unwrap();
        let before = owner_of(&target);
        let lib_root = dir.path().join("lib");
        std::fs::create_dir(&lib_root).unwrap();
        let link = lib_root.join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        Ownership::with_owner(&lib_root, Some(test_owner()))
            .give(&link)
            .unwrap();
        assert_eq!(owner_of(&target), before);
        assert_eq!(owner_of(&link), test_owner());
    }

    #[test]
    fn what_is_created_is_its_owners_alone_and_a_planted_link_is_never_followed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let ownership = Ownership::with_owner(dir.path(), None);
        let path = dir.path().join("data").join("history.jsonl");
        ownership.write(&path, "one\n").unwrap();
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir.path().join("data")), 0o700);

        let target = dir.path().join("passwd");
        std::fs::write(&target, "root:x:0:0::/root:/bin/sh\n").unwrap();
        let link = dir.path().join("data").join("lock");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let mut append = OpenOptions::new();
        append.append(true);
        for error in [
            ownership.create_or_open(&link, &append).unwrap_err(),
            ownership.write(&link, "planted\n").unwrap_err(),
        ] {
            assert!(error.to_string().contains("is a symbolic link"), "{error}");
        }
        assert_eq!(
            std::fs::read_to_string(&target).unwrap(),
            "root:x:0:0::/root:/bin/sh\n"
        );
    }
    #[test]
    fn a_fifo_or_a_directory_in_place_of_a_file_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let ownership = Ownership::with_owner(dir.path(), None);
        let fifo = dir.path().join("lock");
        let name = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: `name` is a NUL-terminated path that outlives the call.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        let directory = dir.path().join("history.jsonl");
        std::fs::create_dir(&directory).unwrap();
        let (mut write, mut read_append) = (OpenOptions::new(), OpenOptions::new());
        write.write(true);
        read_append.read(true).append(true);
        for (path, options) in [
            (&fifo, &write),
            (&fifo, &read_append),
            (&directory, &write),
            (&directory, &read_append),
        ] {
            let error = ownership.create_or_open(path, options).unwrap_err();
            assert!(
                error
                    .to_string()
                    .contains("where the plugin keeps a file of its own"),
                "{}: {error}",
                path.display()
            );
        }
        assert!(ownership.write(&fifo, "x").is_err());
    }
}
