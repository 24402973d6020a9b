"""Static files with hashed names, compressed copies and long-lived caching.

`collectstatic` (run by `make run`) copies static/ into STATIC_ROOT as
`app.<hash>.css` plus `.gz` and `.br` copies, and writes a manifest. Pages then
link the hashed names, which ServeStatic sends with `Cache-Control: immutable`
for a year: an upgrade changes the names, so no browser keeps stale JS.

Before anything was collected (a fresh checkout, a test server started without
it) the pages link the plain names and the sources are served from static/
uncached, so nothing breaks and nothing stale is kept either.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from django.conf import settings
from servestatic.asgi import ServeStaticASGI  # type: ignore[import-untyped]
from servestatic.storage import CompressedManifestStaticFilesStorage  # type: ignore[import-untyped]

MANIFEST = "staticfiles.json"
# Django's manifest storage puts 12 hex digits of the content's MD5 before the extension.
HASHED_NAME = re.compile(r"\.[0-9a-f]{12}\.[^./]+$")
# A name without a hash (a file linked by its plain name) may change under the same URL.
PLAIN_MAX_AGE = 60


class StaticStorage(CompressedManifestStaticFilesStorage):  # type: ignore[misc]
    def stored_name(self, name: str) -> str:
        if not self.hashed_files:  # nothing collected yet: the plain name, served from static/
            return name
        return str(super().stored_name(name))

    def url_converter(self, name: str, hashed_files: Any, template: str | None = None) -> Any:
        """Rewrite `url(…)` references to hashed names, leaving one to a file that is not
        shipped as written: vendored stylesheets list font formats we do not vendor
        (KaTeX's ttf and woff beside woff2), and Django would refuse the whole collection."""
        convert = super().url_converter(name, hashed_files, template)

        def tolerant(match: re.Match[str]) -> str:
            try:
                return str(convert(match))
            except ValueError:
                return match.group(0)

        return tolerant


def collected(root: Path) -> bool:
    return (root / MANIFEST).is_file()


def is_hashed(path: str, url: str) -> bool:
    return bool(HASHED_NAME.search(url))


def serve_static(application: Any) -> ServeStaticASGI:
    """The HTTP app with the static files in front: collected ones if any, else the sources."""
    root = Path(settings.STATIC_ROOT)
    prefix = "/" + settings.STATIC_URL.strip("/") + "/"
    if collected(root):
        # Hashed names get ServeStatic's "max-age=315360000, public, immutable".
        return ServeStaticASGI(application, root=root, prefix=prefix, max_age=PLAIN_MAX_AGE,
                               immutable_file_test=is_hashed)
    return ServeStaticASGI(application, root=settings.STATICFILES_DIRS[0], prefix=prefix, max_age=0,
                           autorefresh=True)
