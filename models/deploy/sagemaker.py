"""`fraud-detector@<alias>` on a SageMaker endpoint through boto3.

`package` writes `model.tar.gz` (the booster as `xgboost-model`, the name SageMaker's
XGBoost container reads, and the feature order and thresholds our inference image
reads); `plan` names every resource and request (pure data, what --dry-run prints);
`apply` uploads the package to S3 and creates model, endpoint configuration, endpoint
and a target-tracking autoscaling policy.
"""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from models.deploy.inference_server import BOOSTER_FILE, METADATA_FILE
from models.fraud.predictor import FraudPredictor
from smartpay.errors import SmartPayError
from smartpay.settings import AwsSettings


class DeployError(SmartPayError):
    """A deployment that cannot be made as configured; names the setting."""


def package(predictor: FraudPredictor, out: Path) -> Path:
    """`out/model.tar.gz` holding the booster and its metadata at the archive root."""
    meta = {"features": predictor.features,
            "thresholds": predictor.thresholds.model_dump(), "version": predictor.version}
    files = {BOOSTER_FILE: bytes(predictor.booster.save_raw("json")),
             METADATA_FILE: json.dumps(meta, indent=2).encode()}
    out.mkdir(parents=True, exist_ok=True)
    path = out / "model.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@dataclass(frozen=True)
class Plan:
    """Every name and request of one deployment."""

    model_name: str
    endpoint_config_name: str
    endpoint_name: str
    model_data_url: str
    create_model: dict[str, Any]
    create_endpoint_config: dict[str, Any]
    create_endpoint: dict[str, Any]
    register_scalable_target: dict[str, Any]
    put_scaling_policy: dict[str, Any]

    def as_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def plan(version: str, aws: AwsSettings, endpoint_name: str = "fraud-detector") -> Plan:
    """The resources for `fraud-detector` version `version` (no call made)."""
    for field in ("sagemaker_role_arn", "sagemaker_image_uri"):
        if not getattr(aws, field):
            raise DeployError(f"SMARTPAY_AWS__{field.upper()}: required to deploy to "
                              "SageMaker")
    model = f"fraud-detector-v{version}"
    config = f"{model}-config"
    data = f"s3://{aws.artifacts_bucket}/sagemaker/{model}/model.tar.gz"
    resource = f"endpoint/{endpoint_name}/variant/AllTraffic"
    return Plan(
        model, config, endpoint_name, data,
        create_model={"ModelName": model, "ExecutionRoleArn": aws.sagemaker_role_arn,
                      "PrimaryContainer": {"Image": aws.sagemaker_image_uri,
                                           "ModelDataUrl": data, "Mode": "SingleModel"}},
        create_endpoint_config={"EndpointConfigName": config, "ProductionVariants": [{
            "VariantName": "AllTraffic", "ModelName": model,
            "InstanceType": aws.sagemaker_instance_type,
            "InitialInstanceCount": aws.sagemaker_min_instances,
            "InitialVariantWeight": 1.0}]},
        create_endpoint={"EndpointName": endpoint_name, "EndpointConfigName": config},
        register_scalable_target={
            "ServiceNamespace": "sagemaker", "ResourceId": resource,
            "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
            "MinCapacity": aws.sagemaker_min_instances,
            "MaxCapacity": aws.sagemaker_max_instances},
        put_scaling_policy={
            "PolicyName": f"{endpoint_name}-invocations", "ServiceNamespace": "sagemaker",
            "ResourceId": resource,
            "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": {
                "TargetValue": aws.sagemaker_invocations_per_instance,
                "PredefinedMetricSpecification": {
                    "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
                "ScaleInCooldown": 300, "ScaleOutCooldown": 60}})


def clients(aws: AwsSettings) -> dict[str, Any]:
    """boto3 clients for s3, sagemaker and application-autoscaling."""
    import boto3

    session = boto3.session.Session(region_name=aws.region)
    return {name: session.client(name, endpoint_url=aws.endpoint_url or None)
            for name in ("s3", "sagemaker", "application-autoscaling")}


def apply(p: Plan, archive: Path, c: dict[str, Any]) -> dict[str, str]:
    """Upload the package and create the resources; their ARNs."""
    bucket, key = p.model_data_url.removeprefix("s3://").split("/", 1)
    _ensure_bucket(c["s3"], bucket)
    c["s3"].upload_file(str(archive), bucket, key)
    sm = c["sagemaker"]
    arns = {"model": sm.create_model(**p.create_model)["ModelArn"],
            "endpoint_config": sm.create_endpoint_config(
                **p.create_endpoint_config)["EndpointConfigArn"],
            "endpoint": sm.create_endpoint(**p.create_endpoint)["EndpointArn"]}
    scaling = c["application-autoscaling"]
    scaling.register_scalable_target(**p.register_scalable_target)
    arns["scaling_policy"] = scaling.put_scaling_policy(
        **p.put_scaling_policy)["PolicyARN"]
    return arns


def _ensure_bucket(s3, bucket: str) -> None:
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        region = s3.meta.region_name
        extra = ({} if region == "us-east-1" else
                 {"CreateBucketConfiguration": {"LocationConstraint": region}})
        s3.create_bucket(Bucket=bucket, **extra)
