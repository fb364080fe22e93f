# Flux-Orbit post-deploy hook: a failure is only a warning.
echo "post-deploy.sh in $PWD"
exit "${POST_DEPLOY_EXIT:-0}"
