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
from app.write.changeset import Doc
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
) -> LoadSummary:
    summary = LoadSummary()
    store = ContentStore(data_dir / "content")
    prefix = f"{base_url}/content/"
    for name in names:
        stream, raw = _open(name)
        checkpoint = checkpoint_path(data_dir, Path(name)) if name != "-" else None
        done_to = 0
        if checkpoint and resume and checkpoint.is_file():
            done_to = int(checkpoint.read_text() or 0)
        batch: list[Doc] = []
        lines_in_batch = 0
        last_line = 0

        async def flush(checkpoint: Path | None, last_line: int) -> None:
            nonlocal batch, lines_in_batch
            if batch:
                result = await write_batch(conn, batch, page_size=page_size, seal_after=seal_after)
                summary.changed += result.changed
                summary.unchanged += result.unchanged
                summary.resources += len(batch)
            summary.loaded += lines_in_batch
            if checkpoint:
                _write_checkpoint(checkpoint, last_line)
            batch, lines_in_batch = [], 0

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
                batch.extend(docs)
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
