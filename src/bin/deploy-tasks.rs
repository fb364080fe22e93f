//! The operators' commands, `dokku deploy-tasks:*`: see [`deploy_tasks::commands::main`].

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(deploy_tasks::commands::main(&args));
}
