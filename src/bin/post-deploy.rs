//! The `post-deploy` trigger: see [`deploy_tasks::triggers::post_deploy`].

fn main() {
    let args = deploy_tasks::arguments::text_or_exit(1);
    std::process::exit(deploy_tasks::triggers::post_deploy(&args).code());
}
