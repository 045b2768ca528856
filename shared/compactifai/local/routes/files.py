"""``POST /v1/files``, ``GET /v1/files/{file_id}`` and ``GET /v1/files/{file_id}/content``.

An upload is multipart: ``file`` (the bytes) and ``purpose``. Files are kept in the server's
SQLite file (with usage), so they survive a restart, and are visible only to the key that
uploaded them. A missing field is FastAPI's 422; an unknown id a bare 404 ``detail``.
"""

from __future__ import annotations

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ..errors import bad_request
from ..limits import FILES_PATH, MAX_FILE_BYTES, too_large
from ._common import json_response, state_of, user_id
from ._shapes import DetailError, detail_errors

__all__ = ["FILE_PURPOSES", "file_content", "retrieve_file", "upload_file"]

#: The purposes OpenAI's file API knows; ``batch`` is the one batches read.
FILE_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")


def _missing(name: str) -> dict[str, object]:
    return {"type": "missing", "loc": ["body", name], "msg": "Field required", "input": None}


@detail_errors
async def upload_file(request: Request) -> Response:
    """POST /v1/files (multipart ``file`` + ``purpose``): the FileObject."""
    state = state_of(request)
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise DetailError.invalid([_missing("file"), _missing("purpose")])
    try:
        form = await request.form(max_files=1, max_fields=20)
    except HTTPException as exc:
        raise bad_request(f"the multipart body could not be read: {exc.detail}") from exc
    try:
        upload = form.get("file")
        purpose = form.get("purpose")
        problems = []
        if not isinstance(upload, UploadFile):
            problems.append(_missing("file"))
        if not isinstance(purpose, str) or not purpose.strip():
            problems.append(_missing("purpose"))
        if problems:
            raise DetailError.invalid(problems)
        assert isinstance(upload, UploadFile) and isinstance(purpose, str)
        purpose = purpose.strip()
        if purpose not in FILE_PURPOSES:
            raise bad_request(
                f"purpose {purpose!r} is not one of {', '.join(FILE_PURPOSES)} "
                "(a batch input file uses 'batch')",
                param="purpose",
            )
        content = await upload.read()
        filename = upload.filename or "upload"
    finally:
        await form.close()
    if len(content) > MAX_FILE_BYTES:
        raise too_large(FILES_PATH, len(content))
    if not content:
        raise bad_request(f"the uploaded file {filename!r} is empty", param="file")
    obj = state.jobs.add_file(user_id(request), filename, purpose, content)
    return json_response(obj)


def _file_id(request: Request) -> str:
    return str(request.path_params["file_id"])


def _no_file(file_id: str) -> DetailError:
    return DetailError.not_found(f"No file with id '{file_id}' (upload one with POST /v1/files)")


@detail_errors
async def retrieve_file(request: Request) -> Response:
    """GET /v1/files/{file_id}: the FileObject."""
    file_id = _file_id(request)
    obj = state_of(request).jobs.file(user_id(request), file_id)
    if obj is None:
        raise _no_file(file_id)
    return json_response(obj)


@detail_errors
async def file_content(request: Request) -> Response:
    """GET /v1/files/{file_id}/content: the raw bytes."""
    file_id = _file_id(request)
    content = state_of(request).jobs.file_content(user_id(request), file_id)
    if content is None:
        raise _no_file(file_id)
    return Response(content, media_type="application/octet-stream")
