"""The kinds of emergency the kiosk recognises, and the fixed first-aid words shown for each.

These words are clinical content: a patient or relative reads them while waiting for the call to
connect, so each kind says only what is widely agreed first aid for it (NHS "When to call 999",
Resuscitation Council UK, St John Ambulance and British Red Cross first-aid pages, and the NICE
"traffic light" system for feverish under-5s), written conservatively. Where a kind can involve a
collapse, the words say what to do when someone is not breathing normally: the call handler's CPR
instructions, never "sit upright" (that is for a person who is awake).

Reviewed 2026-12-07. A change here changes what patients read: it needs a test and a version bump.
"""

from __future__ import annotations

from dataclasses import dataclass

VERSION = 2

CPR = ("If they collapse or stop breathing normally, put the phone on speaker: the call handler "
       "will tell you how to do CPR.")


@dataclass(frozen=True)
class Kind:
    """One kind of emergency: its id, the plain words for it, and the first aid to show."""

    id: str
    label: str
    advice: str


KINDS: tuple[Kind, ...] = (
    Kind("cardiac", "possible heart attack",
         "Sit down and rest while you wait, and do not drive yourself. The call handler may tell you "
         "to chew an aspirin: only do so if they say so. " + CPR),
    Kind("stroke", "possible stroke",
         "Note the time the symptoms started. Do not give them anything to eat, drink or swallow. "
         "Stay with them. " + CPR),
    Kind("bleeding", "severe bleeding",
         "Press firmly on the wound with a clean cloth or pad and keep pressing. If something is stuck "
         "in the wound, leave it and press around it. Lie them down if they feel faint."),
    Kind("breathing", "difficulty breathing or choking",
         "If someone is choking and cannot cough, give up to 5 firm back blows between the shoulder "
         "blades, then up to 5 abdominal thrusts (for a baby under 1, back blows then chest thrusts). "
         "If they are awake and struggling to breathe, help them sit upright and use their reliever "
         "inhaler if they have one. " + CPR),
    Kind("anaphylaxis", "severe allergic reaction",
         "If they have an adrenaline auto-injector (such as an EpiPen), use it now in the outer thigh. "
         "Lie them down with their legs raised, or sit them up if breathing is hard. If they are no "
         "better after 5 minutes, use a second injector if there is one. " + CPR),
    Kind("suicide", "thoughts of suicide or self-harm",
         "You are not alone, and help is there right now. Please stay with someone you trust, or ask "
         "a member of staff here to sit with you. If you have taken something or hurt yourself, say "
         "so when you call."),
    Kind("overdose", "overdose or poisoning",
         "Do not make them sick. Keep the packet, bottle or container to show. Give nothing to eat or "
         "drink unless the call handler says so. If they become drowsy, lay them on their side. " + CPR),
    Kind("seizure", "seizure",
         "Do not hold them down or put anything in their mouth. Move hard objects away, cushion their "
         "head and note the time it started. When the shaking stops, lay them on their side. " + CPR),
    Kind("unconscious", "collapse or unconsciousness",
         "If they are not breathing normally, put the phone on speaker: the call handler will tell "
         "you how to do CPR. If they are breathing, lay them on their side and stay with them."),
    Kind("sepsis_meningitis", "possible sepsis or meningitis",
         "Do not wait for a rash or for more symptoms to appear. Tell the call handler that you think "
         "it could be sepsis or meningitis. " + CPR),
    Kind("head_injury", "serious head injury",
         "Keep them still and do not leave them alone. Do not give them alcohol or anything to make "
         "them sleep. If they may have hurt their neck, do not move them unless they are in danger. "
         + CPR),
    Kind("burns", "serious burn",
         "Cool the burn under cool or lukewarm running water for 20 minutes. Remove jewellery and "
         "clothing near it unless stuck to the skin, then cover it loosely with cling film or a clean "
         "plastic bag. For an electrical injury, switch off the power before you touch them."),
    Kind("pregnancy", "possible pregnancy emergency",
         "Call {number} or your maternity unit straight away. Lie on your left side if you can, and "
         "have your maternity notes ready. Tell them how many weeks pregnant you are."),
    Kind("infant_child", "a seriously unwell baby or child",
         "Do not wait to see if it gets better. Keep them with you, in light clothing, and tell the "
         "call handler their age. " + CPR),
    Kind("diabetic", "possible diabetic emergency",
         "If their blood sugar is low and they can swallow safely, give a sugary drink, sweets or "
         "glucose tablets now. If they are drowsy or cannot swallow, give nothing by mouth and lay "
         "them on their side. Keep their meter and medicines with you. " + CPR),
    Kind("headache", "sudden severe headache",
         "Sit or lie down somewhere quiet and do not drive. Tell the call handler that the headache "
         "came on suddenly. " + CPR),
    Kind("testicular", "possible twisted testicle (torsion)",
         "This needs a hospital straight away: an operation within hours can save the testicle. Do "
         "not wait to see if it passes, and do not eat or drink in case an operation is needed."),
    Kind("abdomen", "severe abdominal problem",
         "Do not eat or drink anything until a doctor has seen you, in case you need an operation. "
         "Lie still in the position that is most comfortable. " + CPR),
    Kind("abuse", "danger at home",
         "If you are in danger now, call {number}. If you cannot talk safely, tell a member of staff "
         "here: they can take you to a private room and help you call."),
    Kind("eye", "serious eye problem",
         "For a chemical in the eye, rinse it with plenty of clean running water for at least 20 "
         "minutes straight away. If something is stuck in the eye, do not rub it or try to take it "
         "out."),
    Kind("heat_cold", "heatstroke, hypothermia or near-drowning",
         "For heat, move them somewhere cool, take off extra clothing, and cool their skin with water "
         "and a fan. For cold, move them somewhere warm, take off wet clothes and wrap them in "
         "blankets; give warm drinks only if they are fully awake. " + CPR),
    Kind("major_trauma", "serious injury",
         "If they may have hurt their neck or back, do not move them unless they are in danger. Press "
         "firmly on any bleeding wound, and keep them warm. " + CPR),
    Kind("emergency", "medical emergency",
         "Stay where you are and tell someone nearby. " + CPR),
)

BY_ID: dict[str, Kind] = {k.id: k for k in KINDS}
CATEGORIES: dict[str, str] = {k.id: k.label for k in KINDS}

URGENT_MESSAGE = ("This may need a nurse or doctor soon. Please tell a member of staff now, before "
                  "you wait any longer.")


def message_for(category: str, emergency_number: str) -> str:
    """The fixed emergency message for a kind: the same words every time, with the local number."""
    kind = BY_ID.get(category, BY_ID["emergency"])
    advice = kind.advice.replace("{number}", emergency_number)
    return (f"This may be an emergency ({kind.label}). Call {emergency_number} now, or ask a member of "
            f"staff to call for you. {advice} This assistant cannot help with emergencies.")
