"""Router pipelines: replay/evaluation of every policy and offline training."""
