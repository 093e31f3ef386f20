"""Build the long multi-session evaluation set ("longchat") from the held-out part of MaLP.

Why a builder and not a download: the device's memory has to be judged on what it will see at a
kiosk (one patient coming back over months, many sessions, many turns that do not matter) and on
medical facts whose turns we know exactly. No public set has both, so we weave them:

* every synthetic patient gets one held-out MaLP *profile* (personal information, symptoms,
  dialogue preference) and 15-30 *sessions*, each one a held-out MaLP *dialogue* (about 12 turns
  of doctor/patient chat, which act as realistic medical distractors), spread over months with
  timestamps;
* into chosen sessions, *fact events* are woven as extra turns: the profile's story in session 1,
  a stated answer-style preference, a medication for a chronic condition, an allergy, symptom
  onsets ("the rash started last Monday"), a medication that is later changed (a contradiction),
  a symptom mentioned in several sessions (recency), advice the doctor gave;
* every event yields questions, asked after the last session, with the ids of the turns that
  hold the evidence (and, for updates and recency, the ids of the *stale* turns that must not
  win).

Everything is drawn from ``random.Random(seed)``: the same seed and the same MaLP files give the
same bytes. Output (JSON Lines):
``turns.jsonl``  one turn per line in the format ``edgemem memory import`` reads:
                 {user, session, id, speaker, role, text, time};
``questions.jsonl`` {qid, user, type, question, answer, evidence: [turn id], stale: [turn id], time};
``meta.json``    seed, counts, the MaLP indices used.

Run: ``python -m benchmarks.data.build_longchat --out artifacts/longchat``.
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from . import malp

# ---------------------------------------------------------------------------------------------
# Lexicons. Conditions carry a synonym so that questions need not repeat the evidence's words
# (a question saying "blood sugar" about a turn saying "type 2 diabetes" is what a patient does).
CONDITIONS: list[tuple[str, str, list[str]]] = [
    ("high blood pressure", "hypertension", ["lisinopril", "amlodipine", "losartan", "ramipril"]),
    ("type 2 diabetes", "blood sugar", ["metformin", "glipizide", "sitagliptin", "empagliflozin"]),
    ("asthma", "breathing", ["a salbutamol inhaler", "a budesonide inhaler", "montelukast"]),
    ("underactive thyroid", "thyroid", ["levothyroxine", "Thyronorm", "liothyronine"]),
    ("acid reflux", "heartburn", ["omeprazole", "pantoprazole", "famotidine"]),
    ("migraines", "headaches", ["sumatriptan", "propranolol", "topiramate"]),
    ("high cholesterol", "cholesterol", ["atorvastatin", "simvastatin", "rosuvastatin"]),
    ("depression", "low mood", ["sertraline", "fluoxetine", "citalopram"]),
    ("arthritis in my knees", "knee pain", ["naproxen", "celecoxib", "diclofenac gel"]),
    ("chronic lower back pain", "back", ["ibuprofen", "naproxen", "a lidocaine patch"]),
    ("insomnia", "sleep", ["melatonin", "zolpidem", "trazodone"]),
    ("epilepsy", "seizures", ["levetiracetam", "lamotrigine", "valproate"]),
]
ALLERGENS: list[tuple[str, str]] = [
    ("penicillin", "hives all over my chest"), ("peanuts", "my throat swelling up"),
    ("latex", "itchy red skin"), ("sulfa drugs", "a blistering rash"),
    ("shellfish", "swollen lips"), ("aspirin", "wheezing"), ("bee stings", "a huge swelling"),
    ("codeine", "violent vomiting"), ("amoxicillin", "a rash on my legs"), ("eggs", "stomach cramps"),
]
# (full phrase used when telling, short name used when asking, advice the doctor gives)
SYMPTOMS: list[tuple[str, str, str]] = [
    ("itchy rash on my forearms", "rash", "use a fragrance-free moisturiser twice a day and try a mild hydrocortisone cream for a week"),
    ("dry cough", "cough", "drink warm fluids with honey, use a humidifier at night and come back if it lasts beyond three weeks"),
    ("dizzy spells when I stand up", "dizziness", "stand up slowly, drink more water and have your blood pressure checked lying and standing"),
    ("ringing in my ears", "tinnitus", "avoid loud noise, cut down on caffeine and book a hearing test"),
    ("swelling in my ankles", "ankle swelling", "keep your legs raised in the evening, reduce salt and get your kidney function tested"),
    ("tightness in my chest when I climb stairs", "chest tightness", "stop and rest when it happens and have an ECG done this week"),
    ("numbness in my fingers", "numb fingers", "take regular breaks from typing, wear a wrist splint at night and we will check your vitamin B12"),
    ("pain in my left shoulder", "shoulder pain", "apply ice for fifteen minutes after activity and do gentle pendulum exercises"),
    ("blurry vision in the evenings", "blurry vision", "see an optician soon and get your blood sugar checked"),
    ("cramps in my calves at night", "leg cramps", "stretch your calves before bed and keep well hydrated"),
    ("constant tiredness", "fatigue", "keep a regular sleep schedule and we will run blood tests for anaemia and thyroid"),
    ("nosebleeds", "nosebleeds", "pinch the soft part of your nose and lean forward, and use a saline spray to keep it moist"),
]
WHEN: list[tuple[str, int]] = [
    ("yesterday morning", 1), ("two days ago", 2), ("three days ago", 3), ("last weekend", 5),
    ("about a week ago", 7), ("ten days ago", 10), ("about two weeks ago", 14),
]
PREF_STATEMENTS = {
    "concise": ["Please keep your answers short, I prefer concise answers.",
                "Just give me the short version from now on, I don't like long explanations.",
                "I'm busy, so brief and to the point works best for me."],
    "detailed": ["I like to understand everything, so please give me detailed explanations.",
                 "Please explain things in detail, with the reasons behind your advice.",
                 "I prefer a thorough description, don't leave anything out."],
    "polite": ["Please be gentle and polite with me, I get anxious at the doctor's.",
               "I'd appreciate it if you could speak kindly and courteously, it helps me a lot.",
               "A warm, polite manner matters to me, doctor."],
}
ACKS = ["Thank you for letting me know, I've made a note of that.",
        "Understood, that is helpful to know.", "Okay, I'll keep that in mind.",
        "Thanks, I've added that to your notes.", "Good to know, thank you."]

# Question templates per event type. {c}: condition, {s}: condition synonym, {y}: symptom short.
Q_MED = ["What medication am I on for my {s}?", "Which medicine did I say I take for the {c}?"]
Q_UPDATE = ["What am I taking for my {s} these days?", "Which drug do I currently use for the {c}?"]
Q_ALLERGY = ["Is there anything I'm allergic to?", "What did I tell you I react badly to?"]
Q_ONSET = ["When did the {y} start?", "How long have I had the {y}, when did it begin?"]
Q_RECENT = ["What did I say about my {y} the last time I mentioned it?",
            "How was my {y} the most recent time we talked about it?"]
Q_ADVICE = ["What did you suggest I do about my {y}?", "What was your advice for the {y}?"]
Q_MULTI = ["Which medications have I mentioned to you over our visits?",
           "Can you list every medicine I've told you about?"]
Q_PROFILE = ["What was the problem I first came to see you about?",
             "Remind me, what health concern did I bring up at my first visit?"]
Q_PERSONAL = ["What do you know about me personally, like my age?",
              "What did I tell you about myself when we first met?"]
Q_PREF = ["How do I prefer you to talk to me?", "What kind of answers did I ask you for?"]

RECENT_STATES = ["it was a bit better", "it was worse than before", "it kept me up at night",
                 "it had almost gone", "it came back after a few good days"]


@dataclass
class Event:
    """A fact woven into one session: its user turn, an optional doctor turn, its questions."""

    session: int
    user_text: str
    assistant_text: str | None = None
    evidence_on: str = "user"  # which of the two turns holds the answer
    key: str = ""  # events that share a key are linked (update/stale, recency, multi)
    questions: list[dict[str, Any]] = field(default_factory=list)
    ids: dict[str, str] = field(default_factory=dict)  # filled when woven


def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _plan_events(rng: random.Random, n_sessions: int, profile: malp.Profile) -> list[Event]:
    """Choose this patient's facts, the sessions they are told in, and the questions on them."""
    ev: list[Event] = []
    later = list(range(1, n_sessions))

    def q(typ: str, tmpl: list[str], answer: str, **fmt: str) -> dict[str, Any]:
        return {"type": typ, "question": rng.choice(tmpl).format(**fmt), "answer": answer, "slots": fmt}

    # Session 1 (index 0): the MaLP profile's story, as the patient told it.
    if profile.symptoms:
        ev.append(Event(0, profile.symptoms, rng.choice(ACKS), key="profile",
                        questions=[q("profile", Q_PROFILE, profile.symptoms)]))
    pi = profile.personal_information
    if pi and "[insert" not in pi.lower() and any(ch.isdigit() for ch in pi):
        ev.append(Event(0, pi, rng.choice(ACKS), key="personal",
                        questions=[q("personal", Q_PERSONAL, pi)]))
    # A stated preference, in an early session.
    ev.append(Event(rng.choice(later[:4]), rng.choice(PREF_STATEMENTS[profile.preference]),
                    rng.choice(ACKS), key="preference",
                    questions=[q("preference", Q_PREF, profile.preference)]))
    conds = rng.sample(CONDITIONS, 2)
    # A medication for a chronic condition.
    c, s, meds = conds[0]
    med = rng.choice(meds)
    t = rng.choice(["I've been taking {m} for my {c} for about {n} years now.",
                    "For the {c} I'm on {m}, one dose every morning.",
                    "My GP put me on {m} because of my {c}."])
    ev.append(Event(rng.choice(later), t.format(m=med, c=c, n=rng.randint(2, 9)), rng.choice(ACKS),
                    key="med", questions=[q("single-hop", Q_MED, med, c=c, s=s)]))
    # A medication that is changed later: the older turn becomes stale.
    c2, s2, meds2 = conds[1]
    m1, m2 = rng.sample(meds2, 2)
    a = rng.choice(later[: len(later) // 2])
    b = rng.choice([x for x in later if x > a + 2] or [later[-1]])
    ev.append(Event(a, f"For my {c2} I take {m1} every day.", rng.choice(ACKS), key="upd-old"))
    t = rng.choice(["Quick update: I stopped taking {m1}, it upset my stomach, so my doctor switched me to {m2} for the {s}.",
                    "I'm not on {m1} anymore. Since last month I take {m2} instead for my {s}."])
    ev.append(Event(b, t.format(m1=m1, m2=m2, s=s2), rng.choice(ACKS), key="upd-new",
                    questions=[q("update", Q_UPDATE, m2, c=c2, s=s2)]))
    # Every medicine mentioned: an aggregation over sessions.
    ev[-1].questions.append(q("multi-session", Q_MULTI, f"{med}, {m1} (stopped), {m2}"))
    # An allergy.
    alg, reaction = rng.choice(ALLERGENS)
    t = rng.choice(["Before I forget, I'm allergic to {a}, it gives me {r}.",
                    "I can't have {a}; I had {r} the last time."])
    ev.append(Event(rng.choice(later), t.format(a=alg, r=reaction), rng.choice(ACKS), key="allergy",
                    questions=[q("single-hop", Q_ALLERGY, alg)]))
    syms = rng.sample(SYMPTOMS, 5)
    # Two symptom onsets: the answer is a date, which needs the session's time.
    for full, short, _ in syms[:2]:
        when, days = rng.choice(WHEN)
        sess = rng.choice(later)
        t = rng.choice(["The {f} started {w}.", "I've had this {f} since {w}.",
                        "I noticed some {f} {w}."])
        e = Event(sess, t.format(f=full, w=when), rng.choice(ACKS), key="onset")
        e.questions.append({**q("temporal", Q_ONSET, "", y=short), "onset_days_before": days})
        ev.append(e)
    # A symptom mentioned in three sessions: the latest mention is the answer (recency).
    full, short, _ = syms[2]
    sess3 = sorted(rng.sample(later, 3))
    states = rng.sample(RECENT_STATES, 3)
    for i, (sess, st) in enumerate(zip(sess3, states)):
        e = Event(sess, f"About the {full}: {st}.", rng.choice(ACKS), key="recent-new" if i == 2 else "recent-old")
        if i == 2:
            e.questions.append(q("recency", Q_RECENT, st, y=short))
        ev.append(e)
    # Advice the doctor gave: the evidence is the doctor's turn.
    for full, short, advice in syms[3:5]:
        e = Event(rng.choice(later), rng.choice([f"My {full} has been bothering me.",
                                                 f"I've been having {full} lately."]),
                  f"For the {short}, I suggest you {advice}.", evidence_on="assistant", key="advice",
                  questions=[q("advice", Q_ADVICE, advice, y=short)])
        ev.append(e)
    return ev


def build(seed: int = 7, patients: int = 24, min_sessions: int = 15, max_sessions: int = 30,
          folder: Path = malp.DEFAULT_DIR) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """Return (turns, questions, meta). Deterministic in ``seed`` and the MaLP files."""
    rng = random.Random(seed)
    dialogues = malp.heldout_dialogues(folder)
    profiles = malp.heldout_profiles(folder)
    if len(dialogues) < max_sessions or len(profiles) < patients:
        raise SystemExit(f"not enough held-out MaLP data: {len(dialogues)} dialogues, {len(profiles)} profiles")
    chosen_profiles = rng.sample(profiles, patients)
    turns: list[dict[str, Any]] = []
    questions: list[dict[str, Any]] = []
    used_dialogues: set[int] = set()
    t0 = datetime(2025, 1, 6, 9, 0, tzinfo=timezone.utc)
    for p_i, profile in enumerate(chosen_profiles):
        user = f"p{p_i:03d}"
        n_sessions = rng.randint(min_sessions, max_sessions)
        sess_dialogues = rng.sample(dialogues, n_sessions)
        events = _plan_events(rng, n_sessions, profile)
        start = t0 + timedelta(days=rng.randint(0, 60), hours=rng.randint(0, 8))
        times: list[datetime] = []
        cur = start
        for s in range(n_sessions):
            times.append(cur)
            cur = cur + timedelta(days=rng.randint(3, 14), hours=rng.randint(-3, 3), minutes=rng.randint(0, 59))
        for s, (d_idx, dialogue) in enumerate(sess_dialogues):
            used_dialogues.add(d_idx)
            sid = f"{user}-s{s:02d}"
            seq: list[tuple[str, str, Event | None, str]] = [(t.role, t.text, None, "") for t in dialogue]
            # Weave this session's events after assistant turns, so roles keep alternating.
            for e in [e for e in events if e.session == s]:
                slots = [i + 1 for i, x in enumerate(seq) if x[0] == "assistant" and x[2] is None]
                pos = rng.choice(slots) if slots else len(seq)
                add = [("user", e.user_text, e, "user")]
                if e.assistant_text:
                    add.append(("assistant", e.assistant_text, e, "assistant"))
                seq[pos:pos] = add
            clock = times[s]
            for n, (role, text, e, part) in enumerate(seq):
                tid = f"{sid}-t{n:03d}"
                if e is not None:
                    e.ids[part] = tid
                turns.append({"user": user, "session": sid, "id": tid,
                              "speaker": "patient" if role == "user" else "doctor",
                              "role": role, "text": text, "time": _iso(clock)})
                clock += timedelta(seconds=rng.randint(20, 90))
        ask_time = times[-1] + timedelta(days=rng.randint(2, 10))
        by_key: dict[str, list[Event]] = {}
        for e in events:
            by_key.setdefault(e.key, []).append(e)
        for e in events:
            for qq in e.questions:
                ev_ids = [e.ids[e.evidence_on]]
                stale: list[str] = []
                if qq["type"] == "update":
                    stale = [x.ids["user"] for x in by_key.get("upd-old", [])]
                elif qq["type"] == "recency":
                    stale = [x.ids["user"] for x in by_key.get("recent-old", [])]
                elif qq["type"] == "multi-session":
                    ev_ids = [x.ids["user"] for k in ("med", "upd-old", "upd-new") for x in by_key.get(k, [])]
                answer = qq["answer"]
                if qq["type"] == "temporal":
                    told = datetime.strptime(next(t["time"] for t in turns if t["id"] == ev_ids[0]),
                                             "%Y-%m-%dT%H:%M:%SZ")
                    answer = (told - timedelta(days=qq["onset_days_before"])).strftime("%Y-%m-%d")
                questions.append({"qid": f"{user}-q{len([x for x in questions if x['user'] == user]):02d}",
                                  "user": user, "type": qq["type"], "question": qq["question"],
                                  "answer": answer, "evidence": ev_ids, "stale": stale,
                                  "time": _iso(ask_time), "slots": qq.get("slots", {})})
    meta = {"seed": seed, "patients": patients, "sessions": [min_sessions, max_sessions],
            "turns": len(turns), "questions": len(questions),
            "malp_profiles": [p.index for p in chosen_profiles],
            "malp_dialogues": sorted(used_dialogues),
            "split": "held-out MaLP only (benchmarks.data.malp.is_heldout)"}
    return turns, questions, meta


# Held-out question wordings: never shown to whoever tunes the memory's rules on the templates
# above. ``paraphrase`` re-asks the same questions (same evidence) in these words, to tell a memory
# that understands questions from one that learned this builder's phrasing.
PARAPHRASES: dict[str, list[str]] = {
    "single-hop": ["Remind me which pills I use against my {s}.", "Do you have on file anything I must avoid because of a reaction?"],
    "update": ["After the change, what is the current prescription for my {s}?"],
    "multi-session": ["Give me a rundown of all the drugs that came up between us."],
    "temporal": ["On what day did the {y} first show up?"],
    "recency": ["Going by our latest chat, how is my {y} doing?"],
    "advice": ["What should I be doing for the {y}, according to you?"],
    "profile": ["Why did I originally come to this clinic?"],
    "personal": ["What are my basic details, like how old I am?"],
    "preference": ["What answer style suits me best?"],
}


def paraphrase(questions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same questions (evidence, answers, times) in the held-out wordings above."""
    out = []
    for q in questions:
        tmpls = PARAPHRASES[q["type"]]
        slots = q.get("slots") or {}
        if q["type"] == "single-hop":  # medication vs allergy questions share the type
            tmpl = tmpls[0] if "s" in slots else tmpls[1]
        else:
            tmpl = tmpls[0]
        out.append({**q, "question": tmpl.format(**slots), "qid": q["qid"] + "-para"})
    return out


def write(out: Path, turns: list[dict[str, Any]], questions: list[dict[str, Any]], meta: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "turns.jsonl", "w", encoding="utf-8") as f:
        for t in turns:
            f.write(json.dumps(t, ensure_ascii=False) + "\n")
    with open(out / "questions.jsonl", "w", encoding="utf-8") as f:
        for q in questions:
            f.write(json.dumps(q, ensure_ascii=False) + "\n")
    (out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")


def load(folder: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Read a built set back: (turns, questions)."""
    folder = Path(folder)
    turns = [json.loads(l) for l in open(folder / "turns.jsonl", encoding="utf-8") if l.strip()]
    qs = [json.loads(l) for l in open(folder / "questions.jsonl", encoding="utf-8") if l.strip()]
    return turns, qs


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path("artifacts/longchat"))
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--patients", type=int, default=24)
    ap.add_argument("--min-sessions", type=int, default=15)
    ap.add_argument("--max-sessions", type=int, default=30)
    ap.add_argument("--malp", type=Path, default=malp.DEFAULT_DIR, help="folder with dialogues.json and profiles.json")
    a = ap.parse_args(argv)
    turns, qs, meta = build(a.seed, a.patients, a.min_sessions, a.max_sessions, a.malp)
    write(a.out, turns, qs, meta)
    print(json.dumps({k: meta[k] for k in ("seed", "patients", "turns", "questions")}))


if __name__ == "__main__":
    main()
