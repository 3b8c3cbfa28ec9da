"""Deployment of the models beyond this process: the team's MLflow tracking server and
the fraud detector on SageMaker. Plans are pure data; a few named steps call out."""
