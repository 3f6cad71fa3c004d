"""Is a Ray cluster answering at an address? Asked before Ray is started and before anything is written, in
at most `timeout` seconds, so an unreachable `--ray-address` is one line in seconds instead of Ray's own
warnings after ~30 s of retries (issue 25).

A TCP connect settles a closed port or a host that drops packets. Then the server is asked what Ray asks
first, in gRPC: a Ray Client server (ray://) its PING, a head node (HOST:PORT) its cluster id. A proxy, a web
server or another service that accepts the connection would otherwise leave Ray Client retrying for
5 + 10 + 15 s, or Ray's GCS client printing its own warnings for minutes.
"""

from __future__ import annotations

import socket
import time
import uuid


def probe(address: str, host: str, port: int, timeout: float) -> str | None:
    """None when something Ray-like answers at host:port within `timeout` s, else why not (one phrase)."""
    deadline = time.monotonic() + timeout
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as e:
        why = "timed out" if isinstance(e, TimeoutError) else (e.strerror or type(e).__name__)
        return f"nothing answers at {host}:{port} within {timeout:g} s ({why})"
    try:
        import grpc
        from ray.core.generated import (
            gcs_service_pb2,
            gcs_service_pb2_grpc,
            ray_client_pb2,
            ray_client_pb2_grpc,
        )
    except ImportError:  # no Ray here: the runner will say so
        return None
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    channel = grpc.insecure_channel(target)
    left = max(0.2, deadline - time.monotonic())
    try:
        if address.startswith("ray://"):  # the Ray Client server's own health check
            request = ray_client_pb2.ClusterInfoRequest(type=ray_client_pb2.ClusterInfoType.PING)
            ray_client_pb2_grpc.RayletDriverStub(channel).ClusterInfo(
                request, timeout=left, metadata=[("client_id", uuid.uuid4().hex)])
        else:  # a GCS address: the first thing Ray asks it (its C++ client retries for minutes otherwise)
            gcs_service_pb2_grpc.NodeInfoGcsServiceStub(channel).GetClusterId(
                gcs_service_pb2.GetClusterIdRequest(), timeout=left)
    except grpc.RpcError as e:
        code = e.code() if callable(getattr(e, "code", None)) else None
        # A Ray server may refuse a request it will not serve (a cluster with token authentication:
        # UNAUTHENTICATED), which Ray itself then reports; a proxy or another service has no such method
        # (UNIMPLEMENTED), a web server or a dead end never answers in gRPC (UNAVAILABLE, DEADLINE_EXCEEDED).
        if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNIMPLEMENTED):
            what = "Ray Client server" if address.startswith("ray://") else "Ray head (GCS)"
            return f"{host}:{port} accepts connections but no {what} answers there ({code.name})"
    finally:
        channel.close()
    return None
