"""`nnintro serve`'s HTTP face (FastAPI on uvicorn, the `serve` extra): the page, GET /runs, GET /health,
GET /plane/<run> and POST /predict/<run>. Bodies are size-limited before they are read; bad input is a 4xx JSON
{"error": one line}; the runs are read once at start and no request writes anywhere but a private temp folder.

No `from __future__ import annotations` here: FastAPI reads the endpoints' annotations (fastapi.Request) as objects."""
import json
import socket
from importlib import resources
from pathlib import Path
from typing import Any

from nnintro.commands.serve import Served, UnknownRun, find, load_runs, plane, predict_json, predict_upload
from nnintro.errors import InputError, NnintroError
from nnintro.files import strict_json

UPLOAD_LIMIT = 8 * 1024 * 1024  # an image, .npy or CSV upload
JSON_LIMIT = 64 * 1024  # a JSON row, point or small array
INSTALL_HINT = "nnintro serve needs the serve extra: pip install 'nnintro[serve]' (or pip install -e \".[serve]\")"


class RequestError(Exception):
    """A request the API refuses: its HTTP status and one line for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _fastapi() -> Any:
    try:
        import fastapi
    except ImportError as err:
        raise InputError(INSTALL_HINT) from err
    return fastapi


async def _limited_body(request: Any, limit: int) -> bytes:
    """The body, refused with 413 once it passes limit (a declared length is checked before reading anything)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise RequestError(413, f"the request body is {declared} bytes; at most {limit:,} are accepted here")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(413, f"the request body is over {limit:,} bytes, the most accepted here")
        chunks.append(chunk)
    return b"".join(chunks)


async def _uploaded_file(request: Any, body: bytes) -> tuple[str | None, bytes]:
    """The multipart field `file` of a body already read (parsed by Starlette from a replay of those bytes)."""
    from starlette.datastructures import UploadFile
    from starlette.requests import Request

    async def replay() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(request.scope, replay).form(max_files=1, max_fields=16)
    except Exception as err:  # Starlette reports a malformed multipart body in several ways
        raise RequestError(400, f"the multipart body cannot be read ({str(getattr(err, 'detail', err))[:120]})") from err
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise RequestError(400, "missing the multipart form field 'file' (an image, a .npy array or a CSV file)")
    return upload.filename, await upload.read()


def create_app(served: dict[str, Served]) -> Any:
    """The FastAPI application over runs already loaded (tests use it in-process)."""
    fastapi = _fastapi()
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse, JSONResponse
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException

    app = fastapi.FastAPI(title="nnintro serve", description="Trained nnintro runs answering inputs; each answer is "
                          "what `nnintro predict --json` prints for the same input.")
    page = resources.files("nnintro.web").joinpath("page.html").read_text(encoding="utf-8")

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    @app.exception_handler(RequestError)
    async def refused(_request: Any, err: RequestError) -> JSONResponse:
        return error(err.status, str(err))

    @app.exception_handler(NnintroError)
    async def bad_input(_request: Any, err: NnintroError) -> JSONResponse:
        return error(404 if isinstance(err, UnknownRun) else 400, str(err))

    @app.exception_handler(RequestValidationError)
    async def bad_parameter(_request: Any, err: RequestValidationError) -> JSONResponse:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()) if part not in ("query", "path"))
        return error(422, f"{where}: {first.get('msg', 'invalid')}")

    @app.exception_handler(HTTPException)
    async def http_error(_request: Any, err: HTTPException) -> JSONResponse:
        return error(err.status_code, str(err.detail))

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> str:
        return page

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "runs": len(served)}

    @app.get("/runs")
    async def runs() -> list[dict[str, Any]]:
        return [item.description for item in served.values()]

    @app.get("/plane/{run}")
    async def plane_of(run: str) -> dict[str, Any]:
        return await run_in_threadpool(plane, find(served, run))

    @app.post("/predict/{run}")
    async def predict(run: str, request: fastapi.Request, top_k: int = fastapi.Query(3, ge=1, le=10_000),
                      invert: bool = False, center: bool = False, show_input: bool = False) -> list[dict[str, Any]]:
        """An image, .npy or CSV file as the multipart field `file`, or a JSON row, point or array."""
        item = find(served, run)
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "application/json":
            body = await _limited_body(request, JSON_LIMIT)
            try:
                parsed = json.loads(body)
            except ValueError as err:
                raise RequestError(400, f"the body is not valid JSON ({err})") from err
            return strict_json(await run_in_threadpool(predict_json, item, parsed, top_k))
        if content_type == "multipart/form-data":
            filename, content = await _uploaded_file(request, await _limited_body(request, UPLOAD_LIMIT))
            return strict_json(await run_in_threadpool(predict_upload, item, filename, content, top_k, invert, center,
                                                       show_input))
        raise RequestError(415, f"content type '{content_type or 'none'}' is not read here: send a file as the "
                                "multipart form field 'file', or JSON (application/json)")

    return app


def _check_port(host: str, port: int) -> None:
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as err:
        raise InputError(f"--host {host} --port {port}: cannot listen there ({err.strerror or err}); "
                         f"choose another --port") from err


def serve(paths: list[Path], host: str = "127.0.0.1", port: int = 8000, say: Any = print) -> None:
    """Load the runs, print the URL and serve until Ctrl-C."""
    _fastapi()
    try:
        import uvicorn
    except ImportError as err:
        raise InputError(INSTALL_HINT) from err
    _check_port(host, port)  # before loading any model: a busy port is said at once
    served = load_runs(paths)
    app = create_app(served)
    for item in served.values():
        test = item.description["test"]
        score = f", test {test['metric']} {test['value']:.4g}" if test else ""
        say(f"serving {item.name} ({item.description['dataset']}, {item.description['model']}{score})")
    shown = f"[{host}]" if ":" in host else host
    say(f"open http://{shown}:{port}/  (API docs: /docs; Ctrl-C stops)")
    uvicorn.run(app, host=host, port=port, log_level="warning")
