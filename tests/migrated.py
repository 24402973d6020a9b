"""A migrated SQLite database for the test servers, made once and copied.

Every real server the tests start (the browser harness, the API gateway, the
scale-out deployments) begins with `manage.py migrate` over a fresh DATA_DIR:
a Django start and every migration, 2 s of CPU and 5–15 s on a busy machine,
once per server and per test worker. The result is the same file each time,
so it is made once per change of the migrations (by whichever process needs it
first: the file is built aside and renamed into place) and copied.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATABASE_NAME = "playground.sqlite3"  # settings: DATA_DIR / "playground.sqlite3"


def _fingerprint() -> str:
    import axes
    import django

    digest = hashlib.sha256(f"{django.__version__} {getattr(axes, '__version__', '')} {sys.version}".encode())
    for path in sorted((ROOT / "playground" / "migrations").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:20]


def template() -> Path:
    """The migrated database file (shared by test sessions and workers)."""
    path = Path(tempfile.gettempdir()) / f"playground-migrated-{_fingerprint()}.sqlite3"
    if path.is_file():
        return path
    work = Path(tempfile.mkdtemp(prefix="playground-migrating-"))
    try:
        env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SQLITE_PATH", "REDIS_URL"}}
        env.update(DATA_DIR=str(work), DJANGO_SETTINGS_MODULE="playground.settings", SECRET_KEY="migrating")
        done = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
        )
        if done.returncode:
            raise RuntimeError(f"manage.py migrate failed:\n{done.stdout}\n{done.stderr}")
        # WAL mode: fold the log into the file, so the one file is the whole database.
        with sqlite3.connect(work / DATABASE_NAME) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        aside = path.with_name(f"{path.name}.{os.getpid()}")
        shutil.copyfile(work / DATABASE_NAME, aside)
        os.replace(aside, path)  # atomic; a concurrent builder made the same file
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return path


def migrate(data_dir: Path) -> None:
    """What `manage.py migrate` makes in DATA_DIR `data_dir`, copied from the template."""
    data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template(), data_dir / DATABASE_NAME)
