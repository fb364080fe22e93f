//! The `pre-deploy` trigger: see [`deploy_tasks::triggers::pre_deploy`].

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(deploy_tasks::triggers::pre_deploy(&args).code());
}
