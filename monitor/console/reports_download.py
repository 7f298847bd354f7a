"""The compliance report for a period, as `monitor report` writes it, handed to the browser."""

from __future__ import annotations

import io
import tempfile
import zipfile
from datetime import date, datetime
from pathlib import Path

from starlette.responses import Response

from monitor.errors import InputError
from monitor.reports.compliance import build, write
from monitor.services import Context

TYPES = {"html": "text/html; charset=utf-8", "json": "application/json", "csv": "application/zip"}


def download(context: Context, *, start: date, end: date, fmt: str, now: datetime) -> Response:
    if fmt not in TYPES:
        raise InputError("format", "", f"expected csv, json or html, got {fmt!r}")
    report = build(context, start=start, end=end, now=now, pre_closing_days=None)
    stem = f"monitor-report-{start}-{end}"
    # The writer is the CLI's; its files go to a private directory that is gone before the answer leaves.
    with tempfile.TemporaryDirectory(prefix="monitor-console-") as folder:
        written = write(report, fmt, Path(folder) / f"{stem}.{fmt}")
        if fmt == "csv":  # the loans, the exceptions and the changes: three files, one download
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for path in written:
                    archive.write(path, path.name)
            body, name = buffer.getvalue(), f"{stem}.zip"
        else:
            body, name = written[0].read_bytes(), f"{stem}.{fmt}"
    return Response(body, media_type=TYPES[fmt], headers={"content-disposition": f'attachment; filename="{name}"'})
