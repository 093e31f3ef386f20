"""Child process for the session-end SIGKILL test: what the server does at start and at each end.

At start it runs the server's recovery (``edgemem.serve.recovery.finish_sessions``) and prints
``READY``; then, forever: a session (audit ``session_start``), one to three patient turns
(``ACK <user> <turn id>`` after each ``add_turn``), ``BEGIN end``, ``end_session``, the audit
``session_end``, ``END``. The parent kills it with SIGKILL at a random moment inside an end.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from edgemem.home import Home  # noqa: E402
from edgemem.memory.service import MemoryService  # noqa: E402
from edgemem.privacy import data_key  # noqa: E402
from edgemem.privacy.audit import record  # noqa: E402
from edgemem.serve.recovery import finish_sessions  # noqa: E402
from privacy_helpers import HashEmbedder  # noqa: E402

USERS = ("p-ann", "p-ben", "p-cat")
FACTS = ["I am allergic to penicillin", "I take metformin every morning", "my knee hurts when I climb stairs",
         "I have type 2 diabetes", "I take lisinopril for blood pressure", "please keep answers short"]


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main() -> None:
    home = Home(Path(sys.argv[1])).ensure()
    rnd = random.Random(int(sys.argv[2]))
    round_no = int(sys.argv[3])
    svc = MemoryService(home, HashEmbedder(), data_key.load_data_codec(home))
    counts = finish_sessions(svc, home)
    say(f"RECOVERED {counts['finished']} {counts['interrupted_ends']} {counts['audit_ends_added']}")
    say("READY")
    n = 0
    while True:
        user = rnd.choice(USERS)
        sid = svc.start_session(user)
        record(home, "session_start", user=user, actor="kiosk", session=sid)
        # Every visit states the allergy first: after any crash it must end up a long-term memory.
        for i in range(rnd.randint(1, 3)):
            tid = f"r{round_no}-{n}"
            n += 1
            text = (FACTS[0] if i == 0 else rnd.choice(FACTS)) + f" ({tid})"
            svc.add_turn(user, sid, "user", text, turn_id=tid)
            say(f"ACK {user} {tid}")
        say("BEGIN end")
        svc.end_session(user, sid)
        record(home, "session_end", user=user, actor="kiosk", session=sid)
        say(f"END {user} {sid}")


if __name__ == "__main__":
    main()
