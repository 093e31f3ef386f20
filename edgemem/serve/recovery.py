"""Finishing what a crash cut off, before the server says it is ready.

A kill -9 or a power cut during ``/api/session/end`` left sessions with ``ended: null`` forever:
their facts were never consolidated (one patient had 4 sessions, 3 summaries and 0 long-term
memories, so the penicillin allergy was missing from their prompt), and the audit log had starts
without ends. At start the server ends every session that never ended (``MemoryService.
finish_sessions``: idempotent, marked pending before it begins) and writes the audit entry each
such session lacks, also for an end that completed in the memory but died before its audit line.
"""

from __future__ import annotations

import logging
from typing import Any

from ..privacy.audit import AuditError, AuditLog

log = logging.getLogger("edgemem.serve")


def finish_sessions(memory: Any, home: Any) -> dict[str, int]:
    """End the sessions a crash left open and complete the audit log (memory thread)."""
    counts = {"finished": 0, "interrupted_ends": 0, "audit_ends_added": 0}
    if memory is None or not hasattr(memory, "finish_sessions"):
        return counts
    audit = AuditLog(home)
    started: list[str] = []
    ended: set[str] = set()
    try:
        for e in audit.entries():
            sid = e.get("session")
            if not isinstance(sid, str):
                continue
            if e.get("action") == "session_start":
                started.append(sid)
            elif e.get("action") == "session_end":
                ended.add(sid)
    except OSError as e:
        log.warning("could not read the audit log to complete it: %s", e)
    for user, sid, began in memory.finish_sessions():
        counts["finished"] += 1
        counts["interrupted_ends"] += int(began)
        if sid not in ended:
            _record(audit, user, sid, began)
            ended.add(sid)
            counts["audit_ends_added"] += 1
    for sid in dict.fromkeys(started):
        if sid in ended:
            continue
        state = memory.session_state(sid)
        if state is not None and state[1]:  # ended in the memory, its audit line lost
            _record(audit, state[0], sid, True)
            counts["audit_ends_added"] += 1
    if counts["finished"] or counts["audit_ends_added"]:
        log.info("finished %d session(s) a crash had left open (%d mid-end); %d audit end(s) added",
                 counts["finished"], counts["interrupted_ends"], counts["audit_ends_added"])
    return counts


def _record(audit: AuditLog, user: str, sid: str, interrupted: bool) -> None:
    try:
        audit.record("session_end", user=user, actor="recovery", session=sid, interrupted=interrupted)
    except AuditError as e:
        log.warning("%s", e)
