"""Submissions acknowledged while another process holds the DuckDB file, kept on disk until the
app can store them.

DuckDB lets one process at a time write a file. While a command holds it (``clientroi import``
copies a million rows in one transaction, about ten seconds), the app cannot store a response.
Rather than keep a tired person waiting on "Envoyer" for that long, the app writes the
response to ``<database>.spool/`` (one file per submission key, 0600 in a 0700 folder, written
to a temporary name, flushed to the disk and renamed, so that a file is there whole or not at
all) and shows the receipt: the answer is as durable as a committed row. The app stores every
spooled response as soon as it has the file again, in its own transaction, by the same rules as
a direct submission (idempotent on the submission key, a duplicate flagged against the rows
stored before it), then removes the file; a file left by a crash is stored at the next start.

A spooled file holds exactly the row that would have been stored, and the e-mail when one was
given (the database holds it too: the folder is the owner's only).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

SPOOL_SUFFIX = ".spool"
FORMAT = 1

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Spooled:
    """One spooled submission: the row of ``responses``, its e-mail and reminder choice."""

    path: Path
    row: dict[str, Any]
    email: str | None
    remind: bool

    @property
    def submission_key(self) -> str:
        return self.row["submission_key"]


def spool_folder(db_path: str | os.PathLike) -> Path:
    return Path(f"{db_path}{SPOOL_SUFFIX}")


def _encode(value: Any) -> Any:
    # datetime before date: a datetime is a date too
    if isinstance(value, datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, date):
        return {"date": value.isoformat()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"a spooled row holds no {type(value).__name__}")


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if "datetime" in value:
            return datetime.fromisoformat(value["datetime"])
        return date.fromisoformat(value["date"])
    return value


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _private_folder(folder: Path) -> None:
    """``folder``, made if need be, readable by the owner only (0700)."""
    folder.mkdir(mode=0o700, exist_ok=True)
    if folder.stat().st_mode & 0o077:
        folder.chmod(0o700)


def _write_whole(target: Path, text: str) -> None:
    """Write ``target`` whole or not at all: a temporary name, flushed to the disk, renamed,
    and the folder flushed (0600)."""
    folder = target.parent
    temporary = folder / f".{target.stem}.{os.getpid()}.tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    _fsync_folder(folder)


def put(folder: Path, row: dict[str, Any], email: str | None, remind: bool) -> Path:
    """Write one submission durably; returns its file. The same submission key twice (a double
    click) is one file."""
    _private_folder(folder)
    name = hashlib.sha256(row["submission_key"].encode()).hexdigest()[:32]
    target = folder / f"{name}.json"
    document = {
        "format": FORMAT,
        "row": {column: _encode(value) for column, value in row.items()},
        "email": email,
        "remind": bool(remind),
    }
    _write_whole(target, json.dumps(document, ensure_ascii=False, sort_keys=True))
    return target


def _read_all(place: Path, make: Callable[[Path, dict[str, Any]], Any], what: str) -> list:
    """``make(path, document)`` of each ``*.json`` document of ``place`` in this format; a
    file removed meanwhile (stored by another thread) is skipped, and one that cannot be read
    is kept for the operator (never deleted unread, logged) and not in the way of the others."""
    if not place.is_dir():
        return []
    found = []
    for path in place.glob("*.json"):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            if document.get("format") != FORMAT:
                raise ValueError(f"unknown spool format {document.get('format')!r}")
            found.append(make(path, document))
        except FileNotFoundError:
            continue
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            log.error("%s %s cannot be read, left in place: %s", what, path, exc)
    return found


def pending(folder: Path) -> list[Spooled]:
    """The spooled submissions, oldest submission first (temporary files left by a crash
    before their rename are not submissions: the person was never shown a receipt)."""

    def spooled(path: Path, document: dict[str, Any]) -> Spooled:
        row = {column: _decode(value) for column, value in document["row"].items()}
        return Spooled(path, row, document["email"], bool(document["remind"]))

    found = _read_all(folder, spooled, "spooled file")
    found.sort(key=lambda s: (s.row["submitted_at"], s.submission_key))
    return found


def remove(spooled: Spooled) -> None:
    """Forget a spooled file once its row is committed (or found already stored)."""
    with contextlib.suppress(FileNotFoundError):
        spooled.path.unlink()
    _fsync_folder(spooled.path.parent)


# --- drafts kept while the file is held -------------------------------------------------------
# A form's draft that the app could not write (the file held) is kept as its latest write, one
# file per draft in ``<spool>/drafts/``, written as a submission is (whole or not at all,
# flushed, 0600): the person moved on to the next step, so what they typed must survive the
# app stopping before the file is free. The app writes it to the database once it can (its
# next start included), then removes the file.

DRAFTS = "drafts"


def _drafts_folder(folder: Path) -> Path:
    return folder / DRAFTS


def put_draft(folder: Path, draft_hash: str, document: dict[str, Any]) -> Path:
    """Keep one draft's latest write durably (``document``: JSON, with its ``sequence``);
    returns its file, which replaces the draft's earlier one."""
    _private_folder(folder)
    _private_folder(_drafts_folder(folder))
    target = _drafts_folder(folder) / f"{draft_hash}.json"
    text = json.dumps({"format": FORMAT, **document}, ensure_ascii=False, sort_keys=True)
    _write_whole(target, text)
    return target


def pending_drafts(folder: Path) -> list[dict[str, Any]]:
    """The draft writes kept on disk, in the order they were asked for (a file that cannot
    be read is left in place for the operator, and logged)."""

    def draft(path: Path, document: dict[str, Any]) -> dict[str, Any]:
        int(document["sequence"])
        return document

    found = _read_all(_drafts_folder(folder), draft, "kept draft")
    found.sort(key=lambda document: int(document["sequence"]))
    return found


def remove_draft(folder: Path, draft_hash: str, sequence: int) -> None:
    """Forget a draft's kept write once a write of it as new or newer (``sequence``) is
    committed; a newer one kept meanwhile stays."""
    path = _drafts_folder(folder) / f"{draft_hash}.json"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return
    except ValueError:  # unreadable: the operator's (pending_drafts logs it)
        return
    if int(document.get("sequence", sequence + 1)) <= sequence:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        _fsync_folder(path.parent)
