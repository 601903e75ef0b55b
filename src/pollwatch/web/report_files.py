"""The forensics reports under ``/reports/``, served so that they look exactly as the file.

The app's policy (:data:`pollwatch.web.security.SECURITY_HEADERS`) allows styles from its
own files only, which would strip a report of its inline styles and its figures. Each
report page gets its own Content-Security-Policy instead
(:func:`pollwatch.forensics.report.html.content_security_policy`): exactly the page's own
styles, by hash, and no script at all. The security middleware keeps a policy a response
already carries, and adds the other headers as for every page.
"""

from __future__ import annotations

from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

__all__ = ["ReportFiles"]


class ReportFiles(StaticFiles):
    """Static report files, each HTML page with the policy its own styles need."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if isinstance(response, FileResponse) and str(response.path).endswith(".html"):
            from pollwatch.forensics.report.html import content_security_policy

            page = await run_in_threadpool(Path(response.path).read_text, "utf-8")
            response.headers["content-security-policy"] = content_security_policy(page)
        return response
