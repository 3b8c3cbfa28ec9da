"""A stand-in for SageMaker's runtime API that forwards `InvokeEndpoint` to a locally
served model (moto's own invoke returns canned bodies, which would prove nothing).

boto3's `sagemaker-runtime` client, given this server's URL as `endpoint_url`, sends
`POST /endpoints/<name>/invocations`; the body goes on unchanged to the model server
registered for `<name>` and its answer comes back as the endpoint's.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from harness.server import serve_asgi


def app(targets: Mapping[str, str]):
    """The ASGI app: endpoint name -> base URL of a container honouring /invocations."""
    import httpx
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def invoke(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in targets:
            return Response(f'{{"message": "Endpoint {name} not found."}}', 400,
                            headers={"x-amzn-ErrorType": "ValidationError"})
        async with httpx.AsyncClient(timeout=30) as client:
            got = await client.post(f"{targets[name]}/invocations",
                                    content=await request.body(), headers={
                                        "Content-Type": request.headers.get(
                                            "content-type", "application/json")})
        return Response(got.content, got.status_code, headers={
            "Content-Type": got.headers.get("content-type", "text/plain"),
            "x-Amzn-Invoked-Production-Variant": "AllTraffic"})

    return Starlette(routes=[Route("/endpoints/{name}/invocations", invoke,
                                   methods=["POST"])])


@contextmanager
def running_runtime(targets: Mapping[str, str]) -> Iterator[str]:
    """Serve the stand-in on a free port; yield its URL."""
    with serve_asgi(app(targets), name="sagemaker-runtime") as url:
        yield url
