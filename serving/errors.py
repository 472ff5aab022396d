"""Errors shared by the gRPC and REST front ends (a module of its own, so `python -m serving.server` and
`serving.rest` see one class)."""
import grpc


class RequestError(Exception):
    """An error that maps onto a gRPC status code."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code = code
        self.message = message
