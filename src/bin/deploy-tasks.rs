//! The plugin's multi-call binary. Run as `libexec/deploy-tasks`, it is the operators' commands,
//! `dokku deploy-tasks:*` ([`deploy_tasks::operator_commands::main`]); run through a link named
//! after a trigger (`post-release-builder -> libexec/deploy-tasks`), or as
//! `deploy-tasks --trigger NAME ARGS...`, it is that trigger ([`deploy_tasks::triggers::run`]).

use std::path::Path;

fn main() {
    let called_as = std::env::args_os()
        .next()
        .and_then(|arg0| {
            Path::new(&arg0)
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    let args = deploy_tasks::arguments::text_or_exit(1);
    if let Some(code) = deploy_tasks::triggers::run(&called_as, &args) {
        std::process::exit(code.code());
    }
    if let [flag, staged, installed] = args.as_slice() {
        if flag == "--exchange" {
            // install.sh's swap of the plugin's tree: not an operator's command.
            if let Err(error) = exchange(Path::new(staged), Path::new(installed)) {
                eprintln!(" !     deploy-tasks: cannot exchange {staged} and {installed}: {error}");
                std::process::exit(1);
            }
            std::process::exit(0);
        }
    }
    if let [flag, name, rest @ ..] = args.as_slice() {
        if flag == "--trigger" {
            match deploy_tasks::triggers::run(name, rest) {
                Some(code) => std::process::exit(code.code()),
                None => {
                    eprintln!(" !     deploy-tasks: no trigger named `{name}`");
                    std::process::exit(2);
                }
            }
        }
    }
    std::process::exit(deploy_tasks::operator_commands::main(&args));
}

/// Exchanges two paths in one rename (`renameat2` with `RENAME_EXCHANGE`): at no moment is
/// either missing, so a trigger that plugn starts during an upgrade finds a whole tree.
fn exchange(first: &Path, second: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let path = |path: &Path| {
        std::ffi::CString::new(path.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))
    };
    let (first, second) = (path(first)?, path(second)?);
    // SAFETY: both are valid NUL-terminated paths that live across the call; AT_FDCWD makes
    // them relative to the working directory, as any path given on the command line is.
    let done = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            first.as_ptr(),
            libc::AT_FDCWD,
            second.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if done == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
