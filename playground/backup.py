"""Backups while the server runs, and restoring one into an empty data directory.

An archive (tar.gz, written mode 0600, atomically) holds:

    manifest.json                 format, when, which engine, the last migration of each app
    database.sqlite3              SQLite: a copy made with SQLite's online backup API (one
                                  read transaction: a consistent snapshot while runs checkpoint)
    database.sql                  PostgreSQL: `pg_dump` (plain SQL; one snapshot as well)
    keys/field_encryption_key     what decrypts the provider keys (FIELD_ENCRYPTION_KEY or
                                  the generated file in DATA_DIR), unless --without-keys
    keys/secret_key               SECRET_KEY (sessions, signed values), likewise

Whoever holds an archive with its keys can read every provider key in it: store it like
the keys themselves, or back up with --without-keys and keep the keys elsewhere.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

FORMAT = 1
KEY_FILES = ("field_encryption_key", "secret_key")


class BackupError(Exception):
    pass


def engine() -> str:
    name = str(settings.DATABASES["default"]["ENGINE"])
    if name.endswith("sqlite3"):
        return "sqlite"
    if name.endswith("postgresql"):
        return "postgresql"
    raise BackupError(f"no backup for the database engine {name}")


def key_material() -> dict[str, str]:
    """What decrypts this installation's secrets, as it is configured right now."""
    from cryptography.fernet import Fernet

    from playground.settings import private_secret

    field = settings.FIELD_ENCRYPTION_KEY or private_secret(
        settings.FIELD_ENCRYPTION_KEY_PATH, lambda: Fernet.generate_key().decode()
    )
    return {"field_encryption_key": field, "secret_key": str(settings.SECRET_KEY)}


def last_migrations() -> dict[str, str]:
    from django.db.migrations.recorder import MigrationRecorder

    latest: dict[str, str] = {}
    for app, name in MigrationRecorder(connection).applied_migrations():
        if name > latest.get(app, ""):
            latest[app] = name
    return latest


def pg_environment() -> dict[str, str]:
    """libpq's variables for pg_dump/psql, from the Django database settings."""
    db = settings.DATABASES["default"]
    env = dict(os.environ)
    for var, value in (("PGHOST", db.get("HOST")), ("PGPORT", db.get("PORT")), ("PGUSER", db.get("USER")),
                       ("PGPASSWORD", db.get("PASSWORD")), ("PGDATABASE", db.get("NAME"))):
        if value:
            env[var] = str(value)
    options: Any = db.get("OPTIONS") or {}
    for option, var in (("sslmode", "PGSSLMODE"), ("sslrootcert", "PGSSLROOTCERT"), ("sslcert", "PGSSLCERT"),
                        ("sslkey", "PGSSLKEY"), ("connect_timeout", "PGCONNECT_TIMEOUT")):
        if option in options:
            env[var] = str(options[option])
    return env


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    info.mtime = int(datetime.now(UTC).timestamp())
    tar.addfile(info, io.BytesIO(data))


def backup(path: Path, *, with_keys: bool = True) -> dict[str, Any]:
    """Write the archive to `path`; returns its manifest."""
    path = path.resolve()
    kind = engine()
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(),
        "engine": kind,
        "migrations": last_migrations(),
        "keys": with_keys,
    }
    with tempfile.TemporaryDirectory(prefix="playground-backup-") as work:
        if kind == "sqlite":
            database = Path(work) / "database.sqlite3"
            source = sqlite3.connect(f"file:{settings.DATABASES['default']['NAME']}?mode=ro", uri=True)
            target = sqlite3.connect(database)
            try:
                # pages=-1: the whole database in one step, under one read transaction.
                source.backup(target, pages=-1)
            finally:
                target.close()
                source.close()
        else:
            database = Path(work) / "database.sql"
            result = subprocess.run(
                ["pg_dump", "--no-owner", "--no-privileges", "--format=plain", "--file", str(database)],
                env=pg_environment(), capture_output=True, text=True, timeout=3600,
            )
            if result.returncode != 0:
                raise BackupError(f"pg_dump failed: {result.stderr.strip()}")
        fd, partial = tempfile.mkstemp(prefix=".backup-", dir=path.parent)
        os.close(fd)
        os.chmod(partial, 0o600)
        try:
            with tarfile.open(partial, "w:gz") as tar:
                _add(tar, "manifest.json", json.dumps(manifest, indent=2).encode())
                tar.add(database, arcname=database.name, filter=_private)
                if with_keys:
                    for name, value in key_material().items():
                        _add(tar, f"keys/{name}", value.encode())
            os.replace(partial, path)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
    return manifest


def _private(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.mode = 0o600
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


@dataclass
class Archive:
    manifest: dict[str, Any]
    database: bytes
    keys: dict[str, str]


def read_archive(path: Path) -> Archive:
    try:
        with tarfile.open(path, "r:gz") as tar:
            members = {m.name: m for m in tar.getmembers() if m.isfile()}
            if "manifest.json" not in members:
                raise BackupError(f"{path} is not a playground backup (no manifest.json)")

            def read(name: str) -> bytes:
                f = tar.extractfile(members[name])
                assert f is not None
                return f.read()

            manifest = json.loads(read("manifest.json"))
            if manifest.get("format") != FORMAT:
                raise BackupError(f"backup format {manifest.get('format')} is not {FORMAT}")
            db_name = "database.sqlite3" if manifest["engine"] == "sqlite" else "database.sql"
            keys = {n: read(f"keys/{n}").decode() for n in KEY_FILES if f"keys/{n}" in members}
            return Archive(manifest, read(db_name), keys)
    except (tarfile.TarError, OSError, KeyError, ValueError) as error:
        raise BackupError(f"{path} cannot be read as a backup: {error}") from None


def data_dir_in_use(data_dir: Path) -> list[str]:
    """What in DATA_DIR would be overwritten. `secret_key` alone does not count: loading
    the settings (this very command) generates it when SECRET_KEY is not set."""
    if not data_dir.exists():
        return []
    return sorted(p.name for p in data_dir.iterdir() if p.name != "secret_key")


def postgres_in_use() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1"
        )
        return [row[0] for row in cursor.fetchall()]


def restore(path: Path, *, force: bool = False) -> dict[str, Any]:
    """Restore `path` into the configured data directory and database."""
    archive = read_archive(path)
    kind = engine()
    if archive.manifest["engine"] != kind:
        raise BackupError(f"the backup is of {archive.manifest['engine']}, this installation runs {kind}")
    data_dir = Path(settings.DATA_DIR)
    if kind == "sqlite":
        database = Path(str(settings.DATABASES["default"]["NAME"]))
        in_use = data_dir_in_use(data_dir)
        if database.exists() and database.name not in in_use:
            in_use.append(str(database))
    else:
        in_use = [f"table {t}" for t in postgres_in_use()]
        if not settings.FIELD_ENCRYPTION_KEY:
            in_use += data_dir_in_use(data_dir)
    if in_use and not force:
        raise BackupError(
            f"not empty: {', '.join(in_use[:8])}{' …' if len(in_use) > 8 else ''}; restore into an empty data "
            "directory and database, or pass --force to replace what is there"
        )
    configured = [k.strip() for k in (settings.FIELD_ENCRYPTION_KEY or "").split(",") if k.strip()]
    backed_up = archive.keys.get("field_encryption_key", "")
    if configured and backed_up and backed_up.split(",")[0].strip() not in configured:
        raise BackupError(
            "FIELD_ENCRYPTION_KEY is set and is not the key of this backup: the restored provider keys "
            "could not be decrypted. Set FIELD_ENCRYPTION_KEY to the backup's key (or add it after yours)"
        )
    connection.close()
    data_dir.mkdir(parents=True, exist_ok=True)
    if kind == "sqlite":
        for suffix in ("-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
        database.parent.mkdir(parents=True, exist_ok=True)
        partial = database.with_name(database.name + ".restoring")
        partial.write_bytes(archive.database)
        os.chmod(partial, 0o600)
        os.replace(partial, database)
    else:
        _restore_postgres(archive.database, force=force)
    # Keys go to the files the settings read when the environment does not name them.
    if backed_up and not configured:
        _write_private(settings.FIELD_ENCRYPTION_KEY_PATH, backed_up)
    if (secret := archive.keys.get("secret_key")) and not os.environ.get("SECRET_KEY") \
            and not os.environ.get("SECRET_KEY_FILE"):
        _write_private(data_dir / "secret_key", secret)
    from playground import crypto

    crypto._fernet.cache_clear()
    interrupted = _interrupt_streaming_turns()
    return {**archive.manifest, "interrupted": interrupted}


def _write_private(path: Path, value: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".restoring")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value)
    os.replace(partial, path)


def _restore_postgres(sql: bytes, *, force: bool) -> None:
    env = pg_environment()
    with tempfile.NamedTemporaryFile(suffix=".sql") as dump:
        dump.write(sql)
        dump.flush()
        commands = []
        if force:
            commands += ["-c", "DROP SCHEMA public CASCADE", "-c", "CREATE SCHEMA public"]
        result = subprocess.run(
            ["psql", "--no-psqlrc", "--quiet", "-v", "ON_ERROR_STOP=1", "--single-transaction",
             *commands, "-f", dump.name],
            env=env, capture_output=True, text=True, timeout=3600,
        )
    if result.returncode != 0:
        raise BackupError(f"psql failed: {result.stderr.strip()}")


def _interrupt_streaming_turns() -> int:
    """Turns that streamed when the copy was made belong to a process the copy does not
    have: mark them interrupted, with the text checkpointed, as a restart would."""
    from playground.models import Turn

    connection.close()
    return Turn.objects.filter(status=Turn.Status.STREAMING).update(status=Turn.Status.INTERRUPTED)
