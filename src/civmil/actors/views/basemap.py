"""The offline basemap file (CIVMIL_BASEMAP), served to signed-in readers' maps.

The browser's PMTiles reader asks for the parts of the archive it needs with HTTP Range requests
(the header and directories, then each tile), so this view answers a single byte range with 206
Partial Content. The file is served here rather than as a static file: only signed-in users may
fetch it, and a mission replaces it (a rebuild, a dropped-in extract) without collecting static
files again.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.utils.http import quote_etag
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from civmil.core.acting import actor_of

CONTENT_TYPE = "application/vnd.pmtiles"
#: Ranges up to this size (a tile, a directory) are read at once; larger ones are streamed.
SMALL_RANGE = 1024 * 1024
#: ``bytes=first-last``, ``bytes=first-`` or ``bytes=-suffix`` (one range; a list of ranges is answered whole).
#: ASCII digits, at most 19 (a file's size fits): a longer number is no range this file can have.
_RANGE = re.compile(r"^bytes=([0-9]{0,19})-([0-9]{0,19})$", re.ASCII)


class _Slice:
    """The next ``length`` bytes of an open file, read in blocks (a range may be large); closes the file."""

    def __init__(self, handle: BinaryIO, length: int) -> None:
        self.handle, self.left = handle, length

    def read(self, size: int = -1) -> bytes:
        size = self.left if size < 0 else min(size, self.left)
        data = self.handle.read(size) if size > 0 else b""
        self.left -= len(data)
        return data

    def close(self) -> None:
        self.handle.close()


def basemap_path() -> Path | None:
    """The basemap file when there is one; maps draw the areas alone otherwise."""
    path = Path(settings.CIVMIL_BASEMAP)
    return path if path.is_file() else None


class _Unsatisfiable(Exception):
    """The range asked for lies beyond the end of the file (416)."""


def _byte_range(header: str, size: int) -> tuple[int, int] | None:
    """``(first, last)`` of a single range, or None to answer the whole file (RFC 9110, section 14)."""
    match = _RANGE.match(header.replace(" ", ""))
    if not match or (not match[1] and not match[2]):
        return None
    if not match[1]:
        suffix = int(match[2])
        if suffix == 0:
            raise _Unsatisfiable
        return max(0, size - suffix), size - 1
    first = int(match[1])
    last = int(match[2]) if match[2] else size - 1
    if match[2] and last < first:
        return None  # not a valid range: ignored, as RFC 9110 says
    if first >= size:
        raise _Unsatisfiable
    return first, min(last, size - 1)


@require_safe
def basemap_file(request: HttpRequest) -> HttpResponseBase:
    """The basemap archive, whole or one byte range of it; signed-in readers only (401 otherwise)."""
    if not actor_of(request).is_authenticated:
        return JsonResponse({"detail": _("Sign in to see the basemap.")}, status=401)
    path = basemap_path()
    if path is None:
        return JsonResponse({"detail": _("There is no basemap: build one with `civmil basemap build`.")}, status=404)
    stat = path.stat()
    size = stat.st_size
    etag = quote_etag(f"{stat.st_mtime_ns:x}-{size:x}")
    response: HttpResponseBase
    try:
        wanted = _byte_range(request.headers.get("Range", ""), size)
    except _Unsatisfiable:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
    else:
        if request.headers.get("If-Range") not in (None, etag):
            wanted = None  # the file changed since the reader's first part: it gets the new file whole
        handle = path.open("rb")
        if wanted is None:
            response = FileResponse(handle, content_type=CONTENT_TYPE)
        else:
            first, last = wanted
            handle.seek(first)
            length = last - first + 1
            if length <= SMALL_RANGE:
                with handle:
                    response = HttpResponse(handle.read(length), status=206, content_type=CONTENT_TYPE)
            else:
                response = FileResponse(_Slice(handle, length), status=206, content_type=CONTENT_TYPE)
                response["Content-Length"] = str(length)
            response["Content-Range"] = f"bytes {first}-{last}/{size}"
    response["Accept-Ranges"] = "bytes"
    response["ETag"] = etag
    # Each reader's own copy; the PMTiles reader notices a rebuilt file by its changed ETag.
    response["Cache-Control"] = "private, no-cache"
    return response
