"""The `.env` file: settings in one place, read once at start.

`ENV_FILE` names the file; without it, `.env` in the working directory is read if
there is one. Each `NAME=value` it holds becomes an environment variable unless
the real environment already has NAME, so a variable set by the shell, systemd or
the container always wins, and `NAME_FILE` (a secret mounted as a file) keeps
working: `settings.env` reads NAME_FILE first, from either source.

Our own parser rather than python-dotenv: the format needed is small (comments,
`export`, quotes), and python-dotenv expands `${VAR}` in values by default, which
would silently change a secret or password that contains a `$`. Here a value is
taken literally, except for `\\n`, `\\"` and `\\\\` inside double quotes.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")
_DOUBLE_ESCAPES = {"n": "\n", '"': '"', "\\": "\\", "t": "\t"}


class EnvFileError(ValueError):
    pass


def parse(text: str, source: str = ".env") -> dict[str, str]:
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise EnvFileError(f"{source}, line {number}: expected NAME=value")
        name, raw = match.groups()
        values[name] = _value(raw, f"{source}, line {number}")
    return values


def _value(raw: str, where: str) -> str:
    if raw[:1] == "'":
        end = raw.find("'", 1)
        if end < 0:
            raise EnvFileError(f"{where}: unclosed single quote")
        _only_comment_after(raw[end + 1 :], where)
        return raw[1:end]
    if raw[:1] == '"':
        out, i = [], 1
        while i < len(raw):
            ch = raw[i]
            if ch == "\\" and i + 1 < len(raw):
                out.append(_DOUBLE_ESCAPES.get(raw[i + 1], "\\" + raw[i + 1]))
                i += 2
                continue
            if ch == '"':
                _only_comment_after(raw[i + 1 :], where)
                return "".join(out)
            out.append(ch)
            i += 1
        raise EnvFileError(f"{where}: unclosed double quote")
    # Unquoted: a " #" starts a comment (a "#" inside a value, as in a URL fragment, does not).
    return re.split(r"\s+#", raw, maxsplit=1)[0].strip()


def _only_comment_after(rest: str, where: str) -> None:
    rest = rest.strip()
    if rest and not rest.startswith("#"):
        raise EnvFileError(f"{where}: unexpected text after the closing quote")


def env_file_path(environ: os._Environ[str] | dict[str, str] | None = None) -> Path | None:
    environ = os.environ if environ is None else environ
    if named := environ.get("ENV_FILE"):
        path = Path(named)
        if not path.is_file():
            raise EnvFileError(f"ENV_FILE names {named}, which is not a file")
        return path
    path = Path.cwd() / ".env"
    return path if path.is_file() else None


def load(environ: os._Environ[str] | dict[str, str] | None = None) -> dict[str, str]:
    """Read the env file into `environ` (os.environ by default) without overriding
    anything set there; returns what it took from the file.

    A setting given in the real environment in either form (NAME or NAME_FILE)
    is taken whole from there: the file's other form of it is ignored too.
    """
    environ = os.environ if environ is None else environ
    path = env_file_path(environ)
    if path is None:
        return {}
    real = set(environ)
    taken: dict[str, str] = {}
    for name, value in parse(path.read_text(), str(path)).items():
        base = name.removesuffix("_FILE")
        if name in real or base in real or f"{base}_FILE" in real:
            continue
        environ[name] = value
        taken[name] = value
    return taken
