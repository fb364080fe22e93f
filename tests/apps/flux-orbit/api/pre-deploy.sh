# The hook of the project folder `api`, used when PROJECT_PATH=api.
echo "api/pre-deploy.sh in $PWD"
echo api/pre-deploy.sh >> /app/predeploy-order
