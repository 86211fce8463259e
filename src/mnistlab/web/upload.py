"""The image file of an upload: the raw request body, or the one file of a multipart/form-data form.

``curl -F file=@digit.png``, ``requests.post(url, files={"file": f})`` and an HTML form send
multipart/form-data; ``curl --data-binary @digit.png`` sends the file itself. Both are taken here, in
memory: the form is parsed by python-multipart's streaming parser over the body already read (bounded by
the server's upload limit), so nothing is ever spooled to a temporary file (Starlette's ``request.form()``
spools files over 1 MB to disk, and is not used). The server calls :func:`file_bytes` off its event loop.
"""

from __future__ import annotations

from mnistlab.errors import MnistlabError

FORM_OVERHEAD = 64 * 1024  # bytes a form may add around its file (boundaries, part headers, other fields)
MAX_PARTS = 16  # parts of a form beyond this are refused (a form of thousands of tiny fields)
FILE_TYPES = ("image/", "application/octet-stream")


class UploadError(MnistlabError):
    """A request body that holds no usable file; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400):
        self.status = status
        super().__init__(message)


def is_form(content_type: str) -> bool:
    return content_type.strip().lower().startswith("multipart/form-data")


def file_bytes(body: bytes, content_type: str, max_bytes: int) -> bytes:
    """The uploaded file's bytes: ``body`` itself, or the single file part of a multipart form.

    A file part is one with a ``filename`` or with an ``image/*`` or ``application/octet-stream`` type,
    whatever its field name; text fields beside it are ignored.

    Raises:
        UploadError: a malformed form, none or several files, a file over ``max_bytes`` (413).
    """
    if not is_form(content_type):
        return body
    from python_multipart.multipart import MultipartParser, parse_options_header

    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary or len(boundary) > 200:
        raise UploadError("multipart/form-data without a valid boundary")
    # The parser steps through every occurrence of the boundary in Python: a file of millions of them costs
    # seconds of CPU. A form of at most MAX_PARTS parts holds at most MAX_PARTS + 1 (RFC 2046: a part never
    # contains its boundary), counted here at C speed.
    if body.count(b"\r\n--" + boundary) > MAX_PARTS:
        raise UploadError(f"malformed multipart/form-data (its boundary occurs over {MAX_PARTS + 1} times)")
    parts: list[dict] = []
    state = {"field": b"", "value": b""}

    def on_part_begin():
        if len(parts) >= MAX_PARTS:
            raise UploadError(f"a form of more than {MAX_PARTS} parts")
        parts.append({"headers": {}, "data": bytearray()})

    def on_header_field(data, start, end):
        state["field"] += data[start:end]

    def on_header_value(data, start, end):
        state["value"] += data[start:end]

    def on_header_end():
        parts[-1]["headers"][state["field"].strip().lower()] = state["value"].strip()
        state["field"], state["value"] = b"", b""

    def on_part_data(data, start, end):
        part = parts[-1]["data"]
        part += data[start:end]
        if len(part) > max_bytes:
            raise UploadError(f"upload too large: the file is over the limit of {max_bytes:,} bytes", 413)

    parser = MultipartParser(boundary, {"on_part_begin": on_part_begin, "on_header_field": on_header_field,
                                        "on_header_value": on_header_value, "on_header_end": on_header_end,
                                        "on_part_data": on_part_data})
    try:
        parser.write(body)
        parser.finalize()
    except UploadError:
        raise
    except Exception as e:  # noqa: BLE001 - python-multipart raises its own and ValueError for a bad form
        raise UploadError(f"malformed multipart/form-data ({str(e).splitlines()[0][:100] if str(e) else e})") \
            from None
    files = [p for p in parts if _is_file(p["headers"])]
    if not files:
        raise UploadError("the form holds no file: send the image as a file field (curl -F file=@digit.png)")
    if len(files) > 1:
        raise UploadError(f"the form holds {len(files)} files: send one image per request")
    return bytes(files[0]["data"])


def _is_file(headers: dict[bytes, bytes]) -> bool:
    from python_multipart.multipart import parse_options_header

    _, disposition = parse_options_header(headers.get(b"content-disposition", b""))
    kind = headers.get(b"content-type", b"").decode("latin-1").lower()
    return b"filename" in disposition or kind.startswith(FILE_TYPES)
