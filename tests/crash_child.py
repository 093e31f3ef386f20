"""Child process for the SIGKILL test: ingests and consolidates forever, acknowledging each turn.

Prints ``READY``, then for every operation ``BEGIN <op>`` before and, for turns, ``ACK <user>
<turn id>`` only after ``add_turn`` returned. The parent kills it with SIGKILL at a random moment.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from edgemem.home import Home  # noqa: E402
from edgemem.memory.service import MemoryService  # noqa: E402
from edgemem.privacy import data_key  # noqa: E402
from privacy_helpers import HashEmbedder  # noqa: E402

USERS = ("p-ann", "p-ben", "p-cat")
FACTS = ["I am allergic to penicillin", "I take metformin every morning", "I stopped taking ibuprofen",
         "my knee hurts when I climb stairs", "I have type 2 diabetes", "please keep answers short",
         "I take lisinopril for blood pressure", "my back pain is better now", "I am allergic to peanuts"]


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main() -> None:
    home = Home(Path(sys.argv[1])).ensure()
    rnd = random.Random(int(sys.argv[2]))
    round_no = int(sys.argv[3])
    svc = MemoryService(home, HashEmbedder(), data_key.load_data_codec(home))
    say("READY")
    n = 0
    while True:
        user = rnd.choice(USERS)
        say("BEGIN session")
        sid = svc.start_session(user)
        for _ in range(rnd.randint(1, 6)):
            tid = f"r{round_no}-{n}"
            n += 1
            text = f"{rnd.choice(FACTS)} ({tid})"
            say("BEGIN ingest")
            svc.add_turn(user, sid, rnd.choice(["user", "user", "assistant"]), text, turn_id=tid)
            say(f"ACK {user} {tid}")
        if rnd.random() < 0.6:
            say("BEGIN consolidate")
            svc.end_session(user, sid)
            say(f"END {user} {sid}")
        if rnd.random() < 0.3:
            say("BEGIN search")
            svc.search(user, rnd.choice(FACTS), 5)


if __name__ == "__main__":
    main()
