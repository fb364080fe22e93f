//! The `post-release` trigger: see [`deploy_tasks::triggers::post_release`].

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(deploy_tasks::triggers::post_release(&args).code());
}
