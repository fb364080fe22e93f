//! The plugin's multi-call binary. Run as `libexec/deploy-tasks`, it is the operators' commands,
//! `dokku deploy-tasks:*` ([`deploy_tasks::operator_commands::main`]); run through a link named
//! after a trigger (`post-release-builder -> libexec/deploy-tasks`), or as
//! `deploy-tasks --trigger NAME ARGS...`, it is that trigger ([`deploy_tasks::triggers::run`]).

use std::path::Path;

fn main() {
    let mut args = std::env::args();
    let called_as = args
        .next()
        .and_then(|arg0| {
            Path::new(&arg0)
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    let args: Vec<String> = args.collect();
    if let Some(code) = deploy_tasks::triggers::run(&called_as, &args) {
        std::process::exit(code.code());
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
