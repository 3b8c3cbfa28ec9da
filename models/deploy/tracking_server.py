"""The team's MLflow tracking server: PostgreSQL as backend store, S3 as artifact store.

`mlflow server --artifacts-destination s3://...` proxies artifacts: clients send them
over HTTP to the server, which writes them to S3 through boto3 (its endpoint from
`MLFLOW_S3_ENDPOINT_URL` when the store is S3-compatible rather than AWS).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from urllib.parse import urlparse

from smartpay.errors import SmartPayError
from smartpay.settings import Settings


class TrackingServerError(SmartPayError):
    """The tracking server cannot start as configured."""


def backend_store_uri(settings: Settings) -> str:
    """The PostgreSQL database of runs and registry (`tracking.backend_store_uri`, or
    the prod server's database `mlflow`)."""
    if settings.tracking.backend_store_uri:
        return settings.tracking.backend_store_uri
    if not settings.postgres_url:
        raise TrackingServerError("SMARTPAY_TRACKING__BACKEND_STORE_URI: set it (or "
                                  "SMARTPAY_POSTGRES_URL) to a PostgreSQL URL")
    return settings.postgres_url.rsplit("/", 1)[0] + "/mlflow"


def command(settings: Settings) -> list[str]:
    """The `mlflow server` command line for the settings."""
    t = settings.tracking
    mlflow = shutil.which("mlflow") or str(Path(sys.executable).parent / "mlflow")
    return [mlflow, "server", "--backend-store-uri", backend_store_uri(settings),
            "--artifacts-destination", t.artifacts_destination, "--serve-artifacts",
            "--host", t.host, "--port", str(t.port), "--workers", str(t.workers)]


def environment(settings: Settings) -> dict[str, str]:
    """Variables the server process needs beyond the caller's own."""
    env = {"AWS_DEFAULT_REGION": settings.aws.region}
    endpoint = settings.tracking.s3_endpoint_url or settings.aws.endpoint_url
    if endpoint:
        env["MLFLOW_S3_ENDPOINT_URL"] = endpoint
    return env


def bucket_of(settings: Settings) -> str:
    """The S3 bucket of the artifacts destination."""
    url = urlparse(settings.tracking.artifacts_destination)
    if url.scheme != "s3" or not url.netloc:
        raise TrackingServerError("SMARTPAY_TRACKING__ARTIFACTS_DESTINATION: expected "
                                  f"s3://bucket/prefix, got {url.geturl()!r}")
    return url.netloc


def ensure_bucket(settings: Settings) -> str:
    """Create the artifacts bucket if it is missing (boto3); its name."""
    import boto3
    from botocore.exceptions import ClientError

    bucket = bucket_of(settings)
    s3 = boto3.client("s3", region_name=settings.aws.region, endpoint_url=(
        settings.tracking.s3_endpoint_url or settings.aws.endpoint_url or None))
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        config = ({} if settings.aws.region == "us-east-1" else
                  {"CreateBucketConfiguration": {"LocationConstraint": settings.aws.region}})
        s3.create_bucket(Bucket=bucket, **config)
    return bucket
