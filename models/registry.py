"""One MLflow tracking store and model registry, reached through its own client.

Nothing here reads or moves MLflow's process-wide state (the global tracking and
registry URIs, the active experiment, the active run): every call goes through
`self.client`, built from explicit URIs, so a training run, a serving probe and a test
can each talk to their own store in one process. Models are stored the way
`mlflow.<flavor>.log_model` stores them (a logged model of the run, its run params and
metrics linked, registered as a version), so the MLflow UI shows the same runs, models
and versions.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

if TYPE_CHECKING:
    from mlflow.entities import LoggedModel
    from mlflow.models import Model

    from smartpay.settings import Settings

SaveModel = Callable[[str, "Model"], None]


def sqlite_artifact_root(tracking_uri: str) -> str | None:
    """Artifacts of a local SQLite store live beside its file; a server picks its own."""
    if not tracking_uri.startswith("sqlite:///"):
        return None
    return (Path(tracking_uri.removeprefix("sqlite:///")).parent / "artifacts").as_uri()


def ensure_sqlite_folder(tracking_uri: str) -> None:
    """Create the folder of a local SQLite store (SQLite will not)."""
    if tracking_uri.startswith("sqlite:///"):
        Path(tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True,
                                                                   exist_ok=True)


def local_path(uri: str) -> Path | None:
    """The folder behind a local artifact URI, read in place; None for remote stores.
    (A download would copy it to a temporary folder nobody removes, and MLflow's
    progress bar would start tqdm's never-ending monitor thread.)"""
    from urllib.parse import unquote, urlparse

    parsed = urlparse(uri)
    if parsed.scheme not in ("", "file") or parsed.netloc not in ("", "localhost"):
        return None
    path = Path(unquote(parsed.path))
    return path if path.exists() else None


class MlflowRegistry:
    """One registered model and its experiment in one tracking store (a local SQLite
    store's folder is created with the object)."""

    model_name: ClassVar[str]
    experiment_name: ClassVar[str]

    def __init__(self, tracking_uri: str, registry_uri: str | None = None) -> None:
        from mlflow import MlflowClient

        ensure_sqlite_folder(tracking_uri)
        self.tracking_uri = tracking_uri
        # Explicit even when equal: left out, MLflow would read MLFLOW_REGISTRY_URI.
        self.registry_uri = registry_uri or tracking_uri
        self.client = MlflowClient(tracking_uri=tracking_uri,
                                   registry_uri=self.registry_uri)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Self:
        """The registry of the profile's tracking store (`Settings.tracking_uri`)."""
        from smartpay.settings import get_settings

        return cls((settings or get_settings()).tracking_uri)

    def experiment_id(self) -> str:
        """The model's experiment, created on first use (artifacts beside SQLite)."""
        from mlflow.exceptions import MlflowException

        found = self.client.get_experiment_by_name(self.experiment_name)
        if found is not None:
            return found.experiment_id
        try:
            return self.client.create_experiment(
                self.experiment_name,
                artifact_location=sqlite_artifact_root(self.tracking_uri))
        except MlflowException:  # created by another process in the meantime
            return self.client.get_experiment_by_name(self.experiment_name).experiment_id

    @contextmanager
    def run(self, run_name: str | None = None) -> Iterator[str]:
        """A run of the experiment, open for the block: FINISHED after it, FAILED if
        the block raised. Tagged with user, source and git commit like `start_run`."""
        from mlflow.tracking.context.registry import resolve_tags

        run = self.client.create_run(self.experiment_id(), run_name=run_name,
                                     tags=resolve_tags({}))
        run_id = run.info.run_id
        try:
            yield run_id
        except BaseException:
            self.client.set_terminated(run_id, "FAILED")
            raise
        self.client.set_terminated(run_id, "FINISHED")

    def log_batch(self, run_id: str, params: dict | None = None,
                  metrics: dict[str, float] | None = None,
                  tags: dict[str, str] | None = None) -> None:
        """Params, metrics (step 0, now) and tags of a run in one call."""
        from mlflow.entities import Metric, Param, RunTag

        now = int(time.time() * 1000)
        self.client.log_batch(
            run_id, metrics=[Metric(k, float(v), now, 0) for k, v in (metrics or {}).items()],
            params=[Param(k, str(v)) for k, v in (params or {}).items()],
            tags=[RunTag(k, str(v)) for k, v in (tags or {}).items()])

    def log_model(self, run_id: str, save: SaveModel, name: str = "model") -> str:
        """Store a model as a logged model of the run; its id. `save(path, mlflow_model)`
        writes it locally with a flavor's `save_model(path, mlflow_model=...)`."""
        from mlflow.entities import LoggedModelOutput

        run = self.client.get_run(run_id)
        model = self.client.create_logged_model(
            run.info.experiment_id, name=name, source_run_id=run_id,
            params={k: str(v) for k, v in run.data.params.items()})
        try:
            self.client.log_outputs(run_id, [LoggedModelOutput(model.model_id, step=0)])
            self._link_metrics(run_id, model.model_id, run.data.metrics)
            with tempfile.TemporaryDirectory() as tmp, \
                    self._artifact_repo(model.artifact_location) as repo:
                local = str(Path(tmp) / name)
                save(local, self._mlflow_model(model, run_id))
                repo.log_artifacts(local)
        except BaseException:
            self.client.finalize_logged_model(model.model_id, "FAILED")
            raise
        self.client.finalize_logged_model(model.model_id, "READY")
        return model.model_id

    @staticmethod
    def _mlflow_model(model: LoggedModel, run_id: str) -> Model:
        from mlflow.models import Model

        return Model(artifact_path=model.artifact_location, run_id=run_id,
                     model_uuid=model.model_id, model_id=model.model_id)

    def _link_metrics(self, run_id: str, model_id: str, metrics: dict[str, float]) -> None:
        """The run's metrics shown on the logged model's page too (as `log_model` does)."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(run_id, metrics=[
            Metric(k, v, now, 0, run_id=run_id, model_id=model_id)
            for k, v in metrics.items()])

    def register(self, model_id: str, tags: dict[str, str] | None = None) -> str:
        """A new version of the registered model from a logged model; its number."""
        from mlflow.exceptions import MlflowException

        model = self.client.get_logged_model(model_id)
        try:
            self.client.create_registered_model(self.model_name)
        except MlflowException as exc:
            if exc.error_code not in ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"):
                raise
        # The concrete artifact location as source: a `models:/<id>` source makes the
        # SQLite registry look the model up through the process-wide tracking URI.
        mv = self.client.create_model_version(
            self.model_name, source=model.artifact_location, run_id=model.source_run_id,
            tags=tags, model_id=model_id)
        self._note_version(model, str(mv.version))
        return str(mv.version)

    def _note_version(self, model: LoggedModel, version: str) -> None:
        """The logged model's list of registered versions (the UI links them)."""
        key = "mlflow.modelVersions"
        known = json.loads(model.tags.get(key, "[]"))
        known.append({"name": self.model_name, "version": version})
        self.client.set_logged_model_tags(model.model_id, {key: json.dumps(known)})

    def version_for_alias(self, alias: str) -> str | None:
        """The version behind `alias`, or None if the alias (or the model) is unset."""
        from mlflow.exceptions import MlflowException

        try:
            return str(self.client.get_model_version_by_alias(self.model_name,
                                                              alias).version)
        except MlflowException:
            return None

    def set_alias(self, alias: str, version: str) -> None:
        """Point `alias` at `version` (one registry call: all or nothing)."""
        self.client.set_registered_model_alias(self.model_name, alias, version)

    def model_folder(self, version: str) -> Path:
        """A local folder holding the version's MLmodel and files. Resolved through
        this client to a concrete URI first: MLflow resolves `models:/` URIs through
        the process-wide registry URI."""

        uri = self.client.get_model_version_download_uri(self.model_name, version)
        local = local_path(uri)
        if local is not None:
            return local
        with self._artifact_repo(uri) as repo:
            return Path(repo.download_artifacts("", tempfile.mkdtemp(prefix="mlflow-")))

    def mlmodel(self, version: str) -> Model:
        """The version's MLmodel: flavors, signature, metadata."""
        from mlflow.models import Model

        return Model.load(str(self.model_folder(version)))

    def run_of(self, version: str) -> str:
        """The MLflow run that produced a model version."""
        return self.client.get_model_version(self.model_name, version).run_id

    def read_artifact(self, version: str, artifact: str, read: Callable[[Path], Any]) -> Any:
        """`read(local_path)` of an artifact of the run behind a version."""
        return self.read_run_artifact(self.run_of(version), artifact, read)

    def read_run_artifact(self, run_id: str, artifact: str,
                          read: Callable[[Path], Any]) -> Any:
        """`read(local_path)` of an artifact of a run: in place for a local store, else
        downloaded through a repository whose transfer threads are stopped after."""
        uri = self.client.get_run(run_id).info.artifact_uri
        root = local_path(uri)
        if root is not None:
            return read(root / artifact)
        with tempfile.TemporaryDirectory() as tmp, self._artifact_repo(uri) as repo:
            return read(Path(repo.download_artifacts(artifact, tmp)))

    @contextmanager
    def _artifact_repo(self, uri: str) -> Iterator[Any]:
        """MLflow's artifact repository for `uri`, its transfer threads stopped after
        the block (MLflow's own helpers leave an idle pool behind each repository)."""
        from mlflow.store.artifact.artifact_repository_registry import (
            get_artifact_repository)

        repo = get_artifact_repository(uri, tracking_uri=self.tracking_uri,
                                       registry_uri=self.registry_uri)
        try:
            yield repo
        finally:
            # HTTP repositories add a second pool for chunked downloads, made on use.
            for pool in (repo.thread_pool, getattr(repo, "_chunk_thread_pool", None)):
                if pool is not None:
                    pool.shutdown(wait=True)
