"""An in-memory fake of the service's ``/files`` and ``/batches`` routes for MockTransport tests.

It keeps state like the service: an upload gets a file id, a batch walks
``validating -> in_progress -> finalizing -> completed`` one step per ``GET`` (or stays
``in_progress`` for ``hold_polls`` polls), its output and error files are written from the
input lines by ``answer`` (a function of the request body returning ``(status, body)`` or
raising ``LineError`` for an error-file row). Counters say how many uploads and creates it saw.

Example:
    >>> fake = FakeJobsServer()
    >>> client = fake.sync_client()
    >>> client.upload_file(b'{"custom_id": "a"}', filename="x.jsonl").purpose
    'batch'
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
from collections.abc import Callable
from typing import Any

import httpx

from compactifai import AsyncCompactifAIClient, CompactifAIClient
from tests.helpers import BASE_URL


class LineError(Exception):
    """Raised by an ``answer`` function: the row goes to the error file with this code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def echo_answer(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """A chat completion whose content repeats the last user message."""
    messages = body.get("messages") or [{"content": body.get("prompt")}]
    text = messages[-1].get("content")
    return 200, {
        "id": "chatcmpl-x",
        "object": "chat.completion",
        "created": 1,
        "model": body["model"],
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": f"echo: {text}"},
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }


def parse_multipart(request: httpx.Request) -> tuple[dict[str, str], dict[str, tuple[str, bytes]]]:
    """The fields and files of a multipart/form-data request."""
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.content)
    fields: dict[str, str] = {}
    files: dict[str, tuple[str, bytes]] = {}
    for part in message.iter_parts():  # type: ignore[attr-defined]
        name = part.get_param("name", header="content-disposition")
        filename = part.get_filename()
        payload = part.get_payload(decode=True) or b""
        if filename is not None:
            files[name] = (filename, payload)
        else:
            fields[name] = payload.decode()
    return fields, files


class FakeJobsServer:
    """The fake service (see the module docstring)."""

    def __init__(
        self,
        answer: Callable[[dict[str, Any]], tuple[int, dict[str, Any]]] = echo_answer,
        *,
        hold_polls: int = 0,
        end_status: str = "completed",
        answered_before_end: int | None = None,
        validation_errors: list[dict[str, Any]] | None = None,
        reverse_output: bool = True,
        write_unanswered: bool = False,
    ) -> None:
        self.answer = answer
        self.hold_polls = hold_polls
        #: "completed", "expired" or "cancelled": how a batch ends once it has run.
        self.end_status = end_status
        #: With an end other than completed: how many lines were answered before it.
        self.answered_before_end = answered_before_end
        self.validation_errors = validation_errors
        #: Output lines in reverse input order (the service promises no order).
        self.reverse_output = reverse_output
        #: Unanswered rows of an expired/cancelled batch as error lines (the local server's way).
        self.write_unanswered = write_unanswered
        self.files: dict[str, dict[str, Any]] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.order: list[str] = []
        self.uploads = 0
        self.creates = 0
        self.requests: list[httpx.Request] = []
        self.direct_bodies: list[dict[str, Any]] = []
        #: Called with each request before it is answered (to fail on purpose).
        self.before: Callable[[httpx.Request], httpx.Response | None] | None = None

    # -- clients

    def sync_client(self, **kwargs: Any) -> CompactifAIClient:
        kwargs.setdefault("max_retries", 0)
        client = CompactifAIClient(api_key="sk-test-123456", base_url=BASE_URL, **kwargs)
        client._pipeline._client = httpx.Client(
            transport=httpx.MockTransport(self), headers=client._pipeline._base_headers
        )
        client._pipeline._sleep = lambda s: None
        return client

    def async_client(self, **kwargs: Any) -> AsyncCompactifAIClient:
        kwargs.setdefault("max_retries", 0)
        client = AsyncCompactifAIClient(
            api_key="sk-test-123456",
            base_url=BASE_URL,
            http_client=httpx.AsyncClient(transport=httpx.MockTransport(self)),
            **kwargs,
        )

        async def no_sleep(_: float) -> None:
            return None

        client._pipeline._sleep = no_sleep
        return client

    def line_bodies(self) -> list[dict[str, Any]]:
        """The bodies of every uploaded batch input line, in upload order."""
        return [
            json.loads(line)["body"]
            for f in self.files.values()
            if f["purpose"] == "batch"
            for line in f["content"].splitlines()
        ]

    # -- routing

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        if self.before is not None:
            early = self.before(request)
            if early is not None:
                return early
        path = request.url.path.removeprefix("/v1")
        method = request.method
        if method == "POST" and path == "/chat/completions":  # a direct call, to compare
            body = json.loads(request.content)
            self.direct_bodies.append(body)
            status, answer = self.answer(body)
            return _json(answer, status)
        if method == "POST" and path == "/files":
            return self._upload(request)
        match = re.fullmatch(r"/files/([^/]+)/content", path)
        if method == "GET" and match:
            found = self.files.get(match[1])
            if found is None:
                return _json({"detail": "File not found"}, 404)
            return httpx.Response(
                200, content=found["content"], headers={"content-type": "application/octet-stream"}
            )
        if method == "POST" and path == "/batches":
            return self._create(json.loads(request.content))
        if method == "GET" and path == "/batches":
            return self._list(request)
        match = re.fullmatch(r"/batches/([^/]+)(/cancel)?", path)
        if match:
            batch = self.batches.get(match[1])
            if batch is None:
                return _json({"detail": "Not Found"}, 404)
            if method == "POST" and match[2]:
                return self._cancel(batch)
            if method == "GET" and not match[2]:
                return self._poll(batch)
        return _json({"detail": "Not Found"}, 404)

    def _upload(self, request: httpx.Request) -> httpx.Response:
        fields, files = parse_multipart(request)
        filename, content = files["file"]
        self.uploads += 1
        file_id = f"file-{len(self.files) + 1}"
        self.files[file_id] = {
            "content": content,
            "filename": filename,
            "purpose": fields["purpose"],
        }
        return _json(
            {
                "id": file_id,
                "object": "file",
                "bytes": len(content),
                "created_at": 1,
                "filename": filename,
                "purpose": fields["purpose"],
            }
        )

    def _create(self, body: dict[str, Any]) -> httpx.Response:
        self.creates += 1
        if body["input_file_id"] not in self.files:
            return _json(
                {
                    "error": {
                        "message": "no such file",
                        "type": "invalid_request_error",
                        "code": None,
                    }
                },
                400,
            )
        batch_id = f"batch_{len(self.batches) + 1}"
        lines = self.files[body["input_file_id"]]["content"].decode().splitlines()
        batch: dict[str, Any] = {
            "id": batch_id,
            "object": "batch",
            "endpoint": body["endpoint"],
            "input_file_id": body["input_file_id"],
            "completion_window": "24h",
            "status": "validating",
            "created_at": 1,
            "metadata": body.get("metadata"),
            "request_counts": {
                "total": len([x for x in lines if x.strip()]),
                "completed": 0,
                "failed": 0,
            },
            "output_file_id": None,
            "error_file_id": None,
            "_polls": 0,
            "_cancel": False,
        }
        self.batches[batch_id] = batch
        self.order.insert(0, batch_id)  # newest first, as OpenAI lists them
        return _json(_public(batch))

    def _list(self, request: httpx.Request) -> httpx.Response:
        after = request.url.params.get("after")
        limit = int(request.url.params.get("limit", 20))
        ids = self.order
        if after is not None:
            ids = ids[ids.index(after) + 1 :]
        page = [_public(self.batches[i]) for i in ids[:limit]]
        return _json(
            {
                "object": "list",
                "data": page,
                "has_more": len(ids) > limit,
                "first_id": page[0]["id"] if page else None,
                "last_id": page[-1]["id"] if page else None,
            }
        )

    def _cancel(self, batch: dict[str, Any]) -> httpx.Response:
        if batch["status"] not in ("completed", "failed", "expired", "cancelled"):
            batch["status"] = "cancelling"
            batch["_cancel"] = True
            batch["cancelling_at"] = 2
        return _json(_public(batch))

    def _poll(self, batch: dict[str, Any]) -> httpx.Response:
        status = batch["status"]
        if status == "validating":
            if self.validation_errors is not None:
                batch["status"] = "failed"
                batch["errors"] = {"object": "list", "data": self.validation_errors}
            else:
                batch["status"] = "in_progress"
        elif status == "in_progress":
            batch["_polls"] += 1
            if batch["_polls"] > self.hold_polls:
                batch["status"] = "finalizing"
        elif status == "finalizing":
            self._finish(batch, self.end_status)
        elif status == "cancelling":
            self._finish(batch, "cancelled")
        return _json(_public(batch))

    def _finish(self, batch: dict[str, Any], end: str) -> None:
        lines = [
            json.loads(x)
            for x in self.files[batch["input_file_id"]]["content"].decode().splitlines()
            if x.strip()
        ]
        answered = len(lines) if end == "completed" else (self.answered_before_end or 0)
        out: list[str] = []
        err: list[str] = []
        for n, line in enumerate(lines[:answered]):
            try:
                status, body = self.answer(line["body"])
            except LineError as exc:
                err.append(
                    json.dumps(
                        {
                            "id": f"br_{n}",
                            "custom_id": line["custom_id"],
                            "response": None,
                            "error": {"code": exc.code, "message": exc.message},
                        }
                    )
                )
                continue
            record = {
                "id": f"br_{n}",
                "custom_id": line["custom_id"],
                "response": {"status_code": status, "request_id": f"req_{n}", "body": body},
                "error": None,
            }
            (out if status < 400 else err).append(json.dumps(record))
        if self.write_unanswered:
            code = {"expired": "batch_expired", "cancelled": "batch_cancelled"}.get(end)
            for line in lines[answered:]:
                err.append(
                    json.dumps(
                        {
                            "id": "br_x",
                            "custom_id": line["custom_id"],
                            "response": None,
                            "error": {"code": code, "message": f"batch {end}"},
                        }
                    )
                )
        if self.reverse_output:
            out.reverse()
            err.reverse()
        counts = batch["request_counts"]
        counts["completed"] = sum(1 for x in out)
        counts["failed"] = len(err)
        for kind, rows in (("output_file_id", out), ("error_file_id", err)):
            if rows:
                file_id = f"file-{len(self.files) + 1}"
                self.files[file_id] = {
                    "content": ("\n".join(rows) + "\n").encode(),
                    "filename": f"{batch['id']}_{kind}.jsonl",
                    "purpose": "batch_output",
                }
                batch[kind] = file_id
        batch["status"] = end
        batch["usage"] = {
            "input_tokens": 3 * len(out),
            "output_tokens": 2 * len(out),
            "total_tokens": 5 * len(out),
        }


def _public(batch: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in batch.items() if not k.startswith("_")}


def _json(payload: Any, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=payload)
