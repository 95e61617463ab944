"""Raw payload archive (issue #18): old payload bytes move to compressed files; every row and hash stays.

``archive`` takes raw payloads received before the cut-off (the earlier of ``before`` and now minus the
retention) that are not quarantined and still hold their bytes, a batch at a time. Each batch is
written to one gzip JSON-lines file (one line per payload: id, source, kind, sha256, received_at and the
body in base64), fsync'd, renamed into place and read back and checked against every payload's sha256
*before* the database changes; then one transaction empties the rows' ``body``, names the file in
``archive_file`` and appends an audit record with the file's sha256 and the sha256 of its manifest
(the sorted "id sha256" lines). A process killed at any point leaves each payload either still in the
table or in a checked file its row names: a file written but not committed is written again (same
name, same contents) by the next run. The audit chain never referred to payload rows' bytes, only to
their hashes, which stay in ``raw_payloads.sha256`` and ``orders.payload_sha256``.

``restore`` reads one payload back from its file, checks it against the recorded sha256 and puts it
back in the table (audited); ``read_archived`` only reads it (the story's detail).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from app.domain import clock
from app.domain.actor import Actor
from app.domain.errors import BusinessError, NotFound
from app.services import audit, permissions
from app.services.unit_of_work import UnitOfWork
from app.settings import Settings

ACTION = "payloads.archive"
BATCH = 2000

_TAKE = sa.text(
    "SELECT id, source, kind, sha256, received_at, body FROM raw_payloads"
    " WHERE archived_at IS NULL AND received_at < :cutoff AND status = 'parsed' AND NOT (id = ANY(:bad))"
    " ORDER BY received_at, id LIMIT :n FOR UPDATE SKIP LOCKED")
_MARK = sa.text(
    "UPDATE raw_payloads SET body = ''::bytea, archived_at = now(), archive_file = :file"
    " WHERE id = ANY(:ids) AND archived_at IS NULL")


def folder_of(settings: Settings) -> Path:
    """Where archive files go (setting ``payload_archive_dir``, else ``payload-archive`` in the data folder)."""
    return Path(settings.payload_archive_dir) if settings.payload_archive_dir else settings.data_dir / "payload-archive"


@dataclass
class ArchiveFile:
    name: str
    count: int
    sha256: str


@dataclass
class ArchiveRun:
    cutoff: datetime
    archived: int = 0
    size: int = 0
    skipped: int = 0
    files: list[ArchiveFile] = field(default_factory=list)


def cutoff(before: datetime, retention_days: int) -> datetime:
    """The earlier of ``before`` and now minus the retention: nothing younger than the retention moves."""
    return min(before, clock.now() - timedelta(days=retention_days))


def _line(row: Any) -> bytes:
    return json.dumps({"id": row.id, "source": row.source, "kind": row.kind, "sha256": row.sha256,
                       "received_at": row.received_at.isoformat(),
                       "body": base64.b64encode(bytes(row.body)).decode("ascii")}).encode() + b"\n"


def _write(path: Path, lines: list[bytes]) -> str:
    """Write the file durably under a temporary name, rename it into place; returns its sha256."""
    part = path.with_name(path.name + ".part")
    with open(part, "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:  # mtime 0: the same batch gives the same bytes
            gz.writelines(lines)
        raw.flush()
        os.fsync(raw.fileno())
    os.replace(part, path)
    if hasattr(os, "O_DIRECTORY"):  # the rename itself survives a power cut (POSIX)
        fd = os.open(path.parent, os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _entries(path: Path) -> dict[int, dict[str, Any]]:
    with gzip.open(path, "rb") as gz:
        return {entry["id"]: entry for entry in map(json.loads, gz)}


def _checked(entry: dict[str, Any] | None) -> bytes | None:
    if entry is None:
        return None
    body = base64.b64decode(entry["body"])
    return body if hashlib.sha256(body).hexdigest() == entry["sha256"] else None


def archive(uows: Callable[[], UnitOfWork], actor: Actor, *, before: datetime, retention_days: int, folder: Path,
            batch: int = BATCH, on_step: Callable[[str, str], None] = lambda step, name: None) -> ArchiveRun:
    """Move payload bytes older than the cut-off into archive files, one batch per file and transaction.

    ``on_step(step, file)`` is told "written" (file checked, database not yet changed) and "committed".

    Raises:
        NotPermitted: the actor's role lacks ``payloads.archive`` (checked before anything is read).
    """
    run = ArchiveRun(cutoff(before, retention_days))
    with uows() as uow:
        permissions.require(uow, actor, ACTION)
    folder.mkdir(parents=True, exist_ok=True)
    bad: list[int] = []  # bytes that do not match their hash: left in the table, counted once, not asked for again
    while True:
        with uows() as uow:
            permissions.require(uow, actor, ACTION)  # in the transaction that writes, as every service does
            rows = uow.session.execute(_TAKE, {"cutoff": run.cutoff, "n": batch, "bad": bad}).all()
            if not rows:
                run.skipped = len(bad)
                return run
            good = [r for r in rows if hashlib.sha256(bytes(r.body)).hexdigest() == r.sha256]
            kept = {r.id for r in good}
            bad += [r.id for r in rows if r.id not in kept]
            if not good:
                continue
            name = f"payloads-{clock.local(good[0].received_at):%Y%m}-{good[0].id}-{good[-1].id}.jsonl.gz"
            path = folder / name
            file_sha = _write(path, [_line(r) for r in good])
            held = _entries(path)
            if any(_checked(held.get(r.id)) != bytes(r.body) for r in good):  # read back before anything changes
                raise BusinessError("PAYLOAD_ARCHIVE_UNREADABLE", file=name, id=good[0].id)
            on_step("written", name)
            manifest = "".join(f"{r.id} {r.sha256}\n" for r in sorted(good, key=lambda r: r.id))
            uow.session.execute(_MARK, {"file": name, "ids": [r.id for r in good]})
            audit.record(uow.session, actor, ACTION, "payload_archive", name, basis=None, before=None, after={
                "file": name, "file_sha256": file_sha, "count": len(good), "first_id": min(r.id for r in good),
                "last_id": max(r.id for r in good), "manifest_sha256": hashlib.sha256(manifest.encode()).hexdigest(),
                "cutoff": run.cutoff})
            uow.commit()
        on_step("committed", name)
        run.archived += len(good)
        run.size += sum(len(r.body) for r in good)
        run.files.append(ArchiveFile(name, len(good), file_sha))


def _archived(uow: UnitOfWork, payload_id: int, *, lock: bool = False) -> Any:
    row = uow.session.execute(sa.text(
        "SELECT id, sha256, archive_file FROM raw_payloads WHERE id = :i" + (" FOR UPDATE" if lock else "")),
        {"i": payload_id}).first()
    if row is None:
        raise NotFound(what="raw_payload", key=str(payload_id))
    if row.archive_file is None:
        raise BusinessError("PAYLOAD_NOT_ARCHIVED", id=payload_id)
    return row


def _from_file(folder: Path, row: Any) -> bytes:
    path = folder / row.archive_file
    try:
        entry = _entries(path).get(row.id)
    except (OSError, EOFError, ValueError):  # missing, truncated or not gzip/JSON
        entry = None
    if entry is None:
        raise BusinessError("PAYLOAD_ARCHIVE_UNREADABLE", file=row.archive_file, id=row.id)
    body = _checked(entry)
    if body is None or entry["sha256"] != row.sha256:
        raise BusinessError("PAYLOAD_ARCHIVE_MISMATCH", file=row.archive_file, id=row.id)
    return body


def read_archived(uow: UnitOfWork, actor: Actor, payload_id: int, folder: Path) -> bytes:
    """The archived bytes of one payload, checked against its sha256 (the table is not changed)."""
    with uow:
        permissions.require(uow, actor, ACTION)
        row = _archived(uow, payload_id)
    return _from_file(folder, row)


def restore(uow: UnitOfWork, actor: Actor, payload_id: int, folder: Path) -> str:
    """Put one archived payload's bytes back in the table (checked against its sha256); returns the file's name.

    Raises:
        NotPermitted, NotFound, BusinessError (PAYLOAD_NOT_ARCHIVED / _UNREADABLE / _MISMATCH): nothing changed.
    """
    with uow:
        permissions.require(uow, actor, ACTION)
        row = _archived(uow, payload_id, lock=True)
        body = _from_file(folder, row)
        uow.session.execute(sa.text("UPDATE raw_payloads SET body = :b, archived_at = NULL, archive_file = NULL"
                                    " WHERE id = :i"), {"b": body, "i": payload_id})
        audit.record(uow.session, actor, "payloads.restore", "raw_payload", str(payload_id), basis=None,
                     before={"archive_file": row.archive_file}, after={"sha256": row.sha256})
        uow.commit()
    return row.archive_file
