-- First start of the compose PostgreSQL: the MLflow registry gets a database of its own
-- beside `smartpay` (ledger and Feast registry), so each is dumped and restored on its
-- own (docs/operations/backup.md).
CREATE DATABASE mlflow OWNER smartpay;
