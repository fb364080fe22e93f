# Flux-Orbit pre-deploy hook: runs after app.json's predeploy, committed into the image.
if [[ -n "${BASH_VERSION:-}" ]]; then shell=bash; else shell=sh; fi
echo "pre-deploy.sh in $PWD with $shell"
echo pre-deploy.sh >> /app/predeploy-order
if [ -n "${PRE_DEPLOY_SLEEP:-}" ]; then sleep "$PRE_DEPLOY_SLEEP"; fi
exit "${PRE_DEPLOY_EXIT:-0}"
