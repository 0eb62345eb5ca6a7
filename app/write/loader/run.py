"""Running a load: read JSON Lines (plain, `.gz`, or `-` for stdin), validate every record with
the API's own rules, write in batches through `write_batch` (one transaction each), and keep a
checkpoint after each committed batch so a re-run resumes after the last one.

Re-running without the checkpoint is also safe: records identical to the stored state append
no change, so a file loaded twice publishes nothing new.
"""

from __future__ import annotations

import gzip
import hashlib
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import IO, cast

import asyncpg
import orjson
from pydantic import ValidationError

from app.store.content import ContentStore
from app.store.files import write_atomic
from app.write.changeset import Contradicts, Doc
from app.write.loader.blobs import BlobFolder, BlobMismatch, bring_in
from app.write.loader.results import Limits, interpret
from app.write.record_docs import doc_from_record
from app.write.records import Record
from app.write.writer import write_batch

__all__ = ["LoadSummary", "load_files", "checkpoint_path"]


@dataclass
class LoadSummary:
    lines: int = 0
    loaded: int = 0  # result lines whose records were written (or already current)
    resources: int = 0  # records written: one per file, plus one per fileset
    changed: int = 0
    unchanged: int = 0
    resumed: int = 0  # lines skipped because a checkpoint said they were committed
    skipped: Counter[str] = field(default_factory=Counter)
    rejected: list[tuple[str, int, str]] = field(default_factory=list)  # (file, line, reason)
    # with --blobs: resources whose bytes were copied in, were already stored, had no blob
    blobs_copied: int = 0
    blobs_stored: int = 0
    blobs_missing: int = 0


def checkpoint_path(data_dir: Path, source: Path) -> Path:
    """One checkpoint per input file, keyed by its absolute path, size and mtime."""
    st = source.stat()
    key = hashlib.sha256(f"{source.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()
    return data_dir / "loader" / f"{key[:32]}.line"


def _open(name: str) -> tuple[IO[bytes], IO[bytes]]:
    """(line source, raw handle for progress by bytes read)."""
    if name == "-":
        return sys.stdin.buffer, sys.stdin.buffer
    raw = open(name, "rb")  # noqa: SIM115 - closed by the caller
    if name.endswith(".gz"):
        return cast(IO[bytes], gzip.GzipFile(fileobj=raw)), raw
    return raw, raw


def _write_checkpoint(path: Path, line: int) -> None:
    write_atomic(path, str(line).encode())


# A result line is a few kB; one this long is not a result (or a gzip stream without a
# newline): it is rejected with its number, read no further than this.
MAX_LINE = 16 * 1024 * 1024


class _TooLong(bytes):
    """Marks a line cut at MAX_LINE: its remainder was skipped."""


def _records(stream: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    max_line = MAX_LINE
    number = 0
    while True:
        line = stream.readline(max_line + 1)
        if not line:
            return
        number += 1
        if len(line) > max_line and not line.endswith(b"\n"):
            while (rest := stream.readline(1024 * 1024)) and not rest.endswith(b"\n"):
                pass  # skip to the end of the line, a bounded piece at a time
            yield number, _TooLong(b"")
        elif line.strip():
            yield number, line


async def _attach_blobs(docs: list[Doc], folder: BlobFolder, store: ContentStore,
                        summary: LoadSummary) -> None:
    """Point each document with a sha-1 at its bytes in the store, copying them in from the
    blob folder when they are not there yet. A blob that does not match its record raises
    before any document is pointed at bytes, and the caller rejects the whole line."""
    found: list[tuple[Doc, str | None, Path | None]] = []
    for doc in docs:
        sha1, sha256 = doc.fixity.sha1, doc.fixity.sha256
        if doc.deleted or doc.content_key is not None or not sha1:
            continue
        if sha256 and store.exists(sha256):
            found.append((doc, sha256, None))  # content-addressed: already here
            continue
        path = folder.find(sha1)
        if path is None:
            summary.blobs_missing += 1
            continue
        found.append((doc, None, path))
    keys = []
    for doc, key, path in found:
        if path is not None:
            key = (await bring_in(store, doc, path)).key
        keys.append(key)
    for (doc, _, path), key in zip(found, keys, strict=True):
        doc.content_key = key
        if path is None:
            summary.blobs_stored += 1
        else:
            summary.blobs_copied += 1


async def load_files(
    conn: asyncpg.Connection,
    names: list[str],
    *,
    collection: str,
    data_dir: Path,
    base_url: str,
    page_size: int,
    seal_after: timedelta,
    limits: Limits = Limits(),
    batch_size: int = 5_000,
    resume: bool = True,
    progress: Callable[[int, int], None] = lambda lines, nbytes: None,
    blobs: Path | None = None,
    content_dir: Path | None = None,
) -> LoadSummary:
    summary = LoadSummary()
    store = ContentStore(content_dir or data_dir / "content")
    folder = BlobFolder(blobs) if blobs is not None else None
    prefix = f"{base_url}/content/"
    for name in names:
        stream, raw = _open(name)
        checkpoint = checkpoint_path(data_dir, Path(name)) if name != "-" else None
        done_to = 0
        if checkpoint and resume and checkpoint.is_file():
            done_to = int(checkpoint.read_text() or 0)
        batch: list[Doc] = []
        batch_lines: list[int] = []  # the input line of each doc in `batch`
        lines_in_batch = 0
        last_line = 0

        async def flush(checkpoint: Path | None, last_line: int, source: str = name) -> None:
            nonlocal batch, batch_lines, lines_in_batch
            while batch:
                try:
                    result = await write_batch(conn, batch, page_size=page_size,
                                               seal_after=seal_after)
                except Contradicts as exc:
                    # a line that contradicts bytes stored here is rejected, not the load
                    bad: dict[int, str] = {}
                    for found in exc.found:
                        bad.setdefault(batch_lines[found.index], found.detail)
                    summary.rejected.extend((source, line, why) for line, why in bad.items())
                    lines_in_batch -= len(bad)
                    kept = [i for i, line in enumerate(batch_lines) if line not in bad]
                    batch = [batch[i] for i in kept]
                    batch_lines = [batch_lines[i] for i in kept]
                    continue
                summary.changed += result.changed
                summary.unchanged += result.unchanged
                summary.resources += len(batch)
                break
            summary.loaded += lines_in_batch
            if checkpoint:
                _write_checkpoint(checkpoint, last_line)
            batch, batch_lines, lines_in_batch = [], [], 0

        try:
            for number, line in _records(stream):
                summary.lines += 1
                last_line = number
                if number <= done_to:
                    summary.resumed += 1
                    continue
                if isinstance(line, _TooLong):
                    summary.rejected.append((name, number, f"line longer than {MAX_LINE} bytes"))
                    continue
                try:
                    outcome = interpret(orjson.loads(line), collection, limits)
                except orjson.JSONDecodeError as exc:
                    summary.rejected.append((name, number, f"malformed JSON: {exc}"))
                    continue
                except (TypeError, AttributeError, ValueError) as exc:
                    # a field of the wrong JSON type (`"terminal": "x"`, a string `size`):
                    # this line is rejected, the load goes on
                    summary.rejected.append((name, number, f"unexpected field type: {exc}"))
                    continue
                if outcome.skipped:
                    summary.skipped[outcome.skipped] += 1
                    continue
                if outcome.rejected:
                    summary.rejected.append((name, number, outcome.rejected))
                    continue
                try:
                    docs = [doc_from_record(Record.model_validate(r), content_prefix=prefix,
                                            store=store) for r in outcome.records]
                except ValidationError as exc:
                    err = exc.errors(include_url=False)[0]
                    where = ".".join(str(p) for p in err["loc"])
                    summary.rejected.append((name, number, f"{where}: {err['msg']}"))
                    continue
                if folder is not None:
                    try:
                        await _attach_blobs(docs, folder, store, summary)
                    except BlobMismatch as exc:
                        summary.rejected.append((name, number, str(exc)))
                        continue
                batch.extend(docs)
                batch_lines.extend([number] * len(docs))
                lines_in_batch += 1
                if len(batch) >= batch_size:
                    await flush(checkpoint, last_line)
                progress(summary.lines, raw.tell() if raw is not sys.stdin.buffer else 0)
            await flush(checkpoint, last_line)
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()
                raw.close()
    return summary
