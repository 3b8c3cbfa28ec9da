"""Online-learned router state in MLflow, so a restart loses at most one interval.

Each served router version gets one run in the `gateway-router` experiment, tagged
`run_role=router-online` and `router_version=<version>`; every checkpoint is an
artifact `checkpoints/step-<learned>.npz` of it (a `RouterPolicy.snapshot()`), and the
learned count is logged as the metric `online_learned`. The newest step wins.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from models.registry import MlflowRegistry

ROLE = "router-online"
FOLDER = "checkpoints"


class CheckpointStore:
    """Checkpoints of served router versions in one registry's tracking store."""

    def __init__(self, registry: MlflowRegistry) -> None:
        self.registry = registry
        self.client = registry.client

    def _run_id(self, version: str, create: bool) -> str | None:
        found = self.client.search_runs(
            [self.registry.experiment_id()],
            filter_string=f"tags.run_role = '{ROLE}' and tags.router_version = '{version}'",
            order_by=["attributes.start_time ASC"], max_results=1)
        if found:
            return found[0].info.run_id
        if not create:
            return None
        run = self.client.create_run(self.registry.experiment_id(),
                                     run_name=f"online {version}",
                                     tags={"run_role": ROLE, "router_version": version})
        # Finished at once: it is a folder of checkpoints, not a job that runs.
        self.client.set_terminated(run.info.run_id, "FINISHED")
        return run.info.run_id

    def save(self, version: str, blob: bytes, step: int) -> None:
        """Store one snapshot of `version` taken after `step` learned outcomes."""
        run_id = self._run_id(version, create=True)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"step-{step:012d}.npz"
            path.write_bytes(blob)
            self.client.log_artifact(run_id, str(path), artifact_path=FOLDER)
        self.client.log_metric(run_id, "online_learned", step,
                               timestamp=int(time.time() * 1000), step=step)

    def latest(self, version: str) -> tuple[int, bytes] | None:
        """(step, snapshot) of the newest checkpoint of `version`, or None."""
        run_id = self._run_id(version, create=False)
        if run_id is None:
            return None
        names = [f.path for f in self.client.list_artifacts(run_id, FOLDER)
                 if f.path.endswith(".npz")]
        if not names:
            return None
        newest = max(names)
        step = int(Path(newest).stem.removeprefix("step-"))
        return step, self.registry.read_run_artifact(run_id, newest, Path.read_bytes)
