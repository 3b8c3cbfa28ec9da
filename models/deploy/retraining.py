"""Scheduled retraining of the fraud detector as a SageMaker Pipeline, built with the
`sagemaker` SDK (v3, `sagemaker.mlops.workflow`) and upserted through its session.

features -> train -> evaluate -> gate -> register: each step is a Processing job in our
image running one `smartpay` lifecycle command. Train registers a challenger without
gating it (`retrain fraud --no-gate`); evaluate writes the gate's verdict `gate.json`
(`promote fraud --check --report ...`, moving nothing); the gate is a ConditionStep on
its `promote` field, running register (`promote fraud`, which moves `@champion`) only
when the challenger passed and failing the execution otherwise. Only the definition
and its upsert are exercised against moto; the commands are tested on their own, not
inside SageMaker (see docs/deploy-aws.md).
"""

from __future__ import annotations

from smartpay.settings import AwsSettings

PIPELINE_NAME = "fraud-detector-retraining"
_REPORT = "/opt/ml/processing/evaluation"


def session(aws: AwsSettings):
    """A PipelineSession on boto3 clients at `aws.endpoint_url` (AWS when empty)."""
    import boto3
    from sagemaker.core.workflow.pipeline_context import PipelineSession

    boto = boto3.session.Session(region_name=aws.region)
    endpoint = aws.endpoint_url or None
    return PipelineSession(boto_session=boto,
                           sagemaker_client=boto.client("sagemaker", endpoint_url=endpoint),
                           default_bucket=aws.artifacts_bucket)


def _processor(aws: AwsSettings, sess, command: list[str]):
    from sagemaker.core.processing import Processor

    return Processor(role=aws.sagemaker_role_arn, image_uri=aws.sagemaker_image_uri,
                     instance_count=1, instance_type=aws.sagemaker_instance_type,
                     entrypoint=["smartpay", *command], sagemaker_session=sess)


def _step(name: str, aws: AwsSettings, sess, command: list[str], **kw):
    from sagemaker.mlops.workflow.steps import ProcessingStep

    return ProcessingStep(name, step_args=_processor(aws, sess, command).run(
        outputs=kw.pop("outputs", None)), **kw)


def pipeline(aws: AwsSettings, sess):
    """The retraining pipeline (a definition; nothing is created until upsert)."""
    from sagemaker.core.shapes import ProcessingOutput, ProcessingS3Output
    from sagemaker.core.workflow.conditions import ConditionEquals
    from sagemaker.core.workflow.functions import JsonGet
    from sagemaker.core.workflow.properties import PropertyFile
    from sagemaker.mlops.workflow.condition_step import ConditionStep
    from sagemaker.mlops.workflow.fail_step import FailStep
    from sagemaker.mlops.workflow.pipeline import Pipeline

    report = PropertyFile(name="gate", output_name="evaluation", path="gate.json")
    out = ProcessingOutput(output_name="evaluation", s3_output=ProcessingS3Output(
        s3_uri=f"s3://{aws.artifacts_bucket}/retraining/evaluation", local_path=_REPORT,
        s3_upload_mode="EndOfJob"))
    features = _step("features", aws, sess, ["features", "build"])
    train = _step("train", aws, sess, ["retrain", "fraud", "--no-gate", "--json"],
                  depends_on=[features])
    evaluate = _step("evaluate", aws, sess,
                     ["promote", "fraud", "--check", "--report", f"{_REPORT}/gate.json"],
                     depends_on=[train], outputs=[out], property_files=[report])
    register = _step("register", aws, sess, ["promote", "fraud", "--json"])
    gate = ConditionStep(
        name="gate", conditions=[ConditionEquals(
            left=JsonGet(step_name=evaluate.name, property_file=report,
                         json_path="promote"), right=True)],
        if_steps=[register],
        else_steps=[FailStep(name="refused", error_message="the challenger did not "
                             "pass the promotion gate; champion unchanged")])
    return Pipeline(name=PIPELINE_NAME, steps=[features, train, evaluate, gate],
                    sagemaker_session=sess)


def upsert(aws: AwsSettings) -> str:
    """Create or update the pipeline in SageMaker; its ARN."""
    sess = session(aws)
    return pipeline(aws, sess).upsert(role_arn=aws.sagemaker_role_arn)["PipelineArn"]
