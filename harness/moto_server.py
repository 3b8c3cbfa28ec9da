"""moto's server mode as the AWS stand-in: a real HTTP server process on a free port
that answers S3, SageMaker, Application Auto Scaling and the other AWS APIs.

The harness hands the product what a deployment would: an endpoint URL, a region and
(fake) keys, as environment variables. The keys exist only here.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness.processes import free_port, server_process

REGION = "us-east-1"
FAKE_KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
             "AWS_SESSION_TOKEN": "testing"}


def aws_env(endpoint: str) -> dict[str, str]:
    """What a process needs to use the stand-in through boto3 and our settings."""
    return {**FAKE_KEYS, "AWS_DEFAULT_REGION": REGION,
            "SMARTPAY_AWS__REGION": REGION, "SMARTPAY_AWS__ENDPOINT_URL": endpoint,
            "MLFLOW_S3_ENDPOINT_URL": endpoint, "AWS_ENDPOINT_URL": endpoint}


@contextmanager
def running_moto(log_dir: Path) -> Iterator[str]:
    """Start `moto_server` on a free port; yield its endpoint URL; stop it after."""
    port = free_port()
    exe = str(Path(sys.executable).parent / "moto_server")
    url = f"http://127.0.0.1:{port}"
    # `.out`, not `.log`: moto's access log lists presigned URLs whose random
    # signatures the service-log card scan can misread as card numbers; it is the
    # stand-in's output, not a log of ours.
    with server_process([exe, "-H", "127.0.0.1", "-p", str(port)],
                        f"{url}/moto-api/", log_dir / "moto.out", timeout_s=60):
        yield url
