"""A small medical lexicon for the deterministic extractor.

Not a terminology: a few hundred words patients actually say at a kiosk, grouped the way the
executive needs them (medications, allergens, conditions with a chronic flag, symptoms). Multi-word
entries are matched before their parts ("lower back pain" before "pain"). Canonical forms are the
first spelling in each entry, so "tylenol" and "acetaminophen" update the same memory.
"""

from __future__ import annotations

import bisect
import re
from functools import lru_cache

# canonical: [synonyms...]
MEDICATIONS: dict[str, list[str]] = {
    "ibuprofen": ["advil", "motrin", "nurofen"],
    "acetaminophen": ["paracetamol", "tylenol", "panadol"],
    "aspirin": [], "naproxen": ["aleve"], "diclofenac": ["voltaren"],
    "amoxicillin": [], "penicillin": [], "azithromycin": ["z-pack"], "doxycycline": [],
    "ciprofloxacin": [], "cephalexin": [], "clindamycin": [], "antibiotics": ["antibiotic"],
    "metformin": [], "insulin": [], "glipizide": [],
    "lisinopril": [], "amlodipine": [], "losartan": [], "metoprolol": [], "atenolol": [],
    "hydrochlorothiazide": [], "furosemide": ["lasix"],
    "atorvastatin": ["lipitor"], "simvastatin": [], "rosuvastatin": ["crestor"], "statins": ["statin"],
    "warfarin": ["coumadin"], "apixaban": ["eliquis"], "clopidogrel": ["plavix"],
    "levothyroxine": ["synthroid"], "prednisone": [], "hydrocortisone": [], "steroids": ["steroid"],
    "omeprazole": ["prilosec"], "pantoprazole": [], "ranitidine": [], "antacids": ["antacid", "tums"],
    "sertraline": ["zoloft"], "fluoxetine": ["prozac"], "escitalopram": ["lexapro"], "citalopram": [],
    "bupropion": ["wellbutrin"], "antidepressants": ["antidepressant"],
    "alprazolam": ["xanax"], "lorazepam": ["ativan"], "diazepam": ["valium"],
    "gabapentin": [], "pregabalin": ["lyrica"], "tramadol": [], "codeine": [], "oxycodone": [],
    "morphine": [], "opioids": ["opioid"], "painkillers": ["painkiller", "pain killers", "pain medication"],
    "albuterol": ["salbutamol", "ventolin"], "inhaler": ["inhalers"], "montelukast": ["singulair"],
    "cetirizine": ["zyrtec"], "loratadine": ["claritin"], "antihistamines": ["antihistamine", "benadryl", "diphenhydramine"],
    "sumatriptan": ["imitrex"], "melatonin": [], "zolpidem": ["ambien"],
    "birth control": ["the pill", "contraceptive", "contraceptives"],
    "vitamin d": [], "iron supplements": ["iron supplement", "iron tablets"], "multivitamin": ["vitamins"],
    "allopurinol": [], "colchicine": [], "methotrexate": [], "hydroxychloroquine": [],
    "nitroglycerin": [], "digoxin": [], "spironolactone": [], "tamsulosin": [], "finasteride": [],
    "ondansetron": ["zofran"], "loperamide": ["imodium"], "laxatives": ["laxative"],
    "ramipril": [], "enalapril": [], "valsartan": [], "candesartan": [], "bisoprolol": [], "propranolol": [],
    "sitagliptin": ["januvia"], "empagliflozin": ["jardiance"], "dapagliflozin": [], "semaglutide": ["ozempic"],
    "budesonide": [], "fluticasone": ["flonase"], "tiotropium": [], "liothyronine": [], "thyronorm": [],
    "famotidine": ["pepcid"], "esomeprazole": ["nexium"], "topiramate": [], "rizatriptan": [],
    "celecoxib": ["celebrex"], "meloxicam": [], "lidocaine": ["lidocaine patch"], "trazodone": [],
    "venlafaxine": [], "duloxetine": ["cymbalta"], "mirtazapine": [], "quetiapine": [], "lithium": [],
    "levetiracetam": ["keppra"], "lamotrigine": [], "valproate": ["depakote"], "carbamazepine": [],
    "rivaroxaban": ["xarelto"], "ezetimibe": [], "nitrofurantoin": [], "metronidazole": [],
    "cough syrup": [], "decongestants": ["decongestant", "pseudoephedrine", "sudafed"],
    "eye drops": [], "nasal spray": [], "cream": ["ointment"],
}

ALLERGENS: dict[str, list[str]] = {
    "penicillin": [], "amoxicillin": [], "sulfa drugs": ["sulfa", "sulfonamides"], "aspirin": [],
    "ibuprofen": [], "nsaids": ["nsaid"], "codeine": [], "latex": [], "peanuts": ["peanut"],
    "tree nuts": ["nuts", "nut"], "shellfish": ["shrimp"], "fish": [], "eggs": ["egg"], "milk": ["dairy", "lactose"],
    "wheat": ["gluten"], "soy": [], "bee stings": ["bees", "bee sting", "wasp"], "pollen": ["hay fever"],
    "dust mites": ["dust"], "cats": ["cat"], "dogs": ["dog"], "mold": [], "iodine": ["contrast dye"],
}

# canonical: (chronic?, synonyms)
CONDITIONS: dict[str, tuple[bool, list[str]]] = {
    "diabetes": (True, ["type 2 diabetes", "type 1 diabetes", "diabetic", "high blood sugar"]),
    "hypertension": (True, ["high blood pressure"]),
    "asthma": (True, ["asthmatic"]), "copd": (True, ["emphysema", "chronic bronchitis"]),
    "heart disease": (True, ["coronary artery disease", "heart condition", "heart failure"]),
    "atrial fibrillation": (True, ["afib", "a-fib", "irregular heartbeat", "arrhythmia"]),
    "high cholesterol": (True, ["cholesterol"]), "hypothyroidism": (True, ["underactive thyroid", "thyroid"]),
    "hyperthyroidism": (True, ["overactive thyroid"]),
    "arthritis": (True, ["osteoarthritis", "rheumatoid arthritis"]), "gout": (True, []),
    "epilepsy": (True, ["seizures", "seizure disorder"]), "migraine": (True, ["migraines"]),
    "depression": (True, ["depressed"]), "anxiety": (True, ["anxiety disorder", "panic attacks", "anxious"]),
    "bipolar disorder": (True, ["bipolar"]), "adhd": (True, []),
    "kidney disease": (True, ["chronic kidney disease", "kidney failure"]),
    "liver disease": (True, ["cirrhosis", "hepatitis"]), "cancer": (True, ["tumor", "tumour"]),
    "hiv": (True, []), "multiple sclerosis": (True, []), "parkinson's disease": (True, ["parkinson's"]),
    "osteoporosis": (True, []), "sleep apnea": (True, []), "ibs": (True, ["irritable bowel syndrome"]),
    "crohn's disease": (True, ["crohn's", "ulcerative colitis", "colitis"]),
    "gerd": (True, ["acid reflux", "reflux", "heartburn"]), "psoriasis": (True, []), "eczema": (True, []),
    "anemia": (True, ["anaemia"]), "fibromyalgia": (True, []), "chronic pain": (True, []),
    "pregnancy": (False, ["pregnant"]), "breastfeeding": (False, ["breast feeding", "breast-feeding"]), "flu": (False, ["influenza"]), "cold": (False, ["common cold"]),
    "covid": (False, ["covid-19", "coronavirus"]), "pneumonia": (False, []), "bronchitis": (False, []),
    "sinusitis": (False, ["sinus infection"]), "strep throat": (False, []), "uti": (False, ["urinary tract infection", "bladder infection"]),
    "infection": (False, ["infected"]), "food poisoning": (False, []), "concussion": (False, []),
    "sprain": (False, ["sprained"]), "fracture": (False, ["broken bone", "broke my"]), "insomnia": (False, []),
    "allergies": (False, ["allergy"]), "dehydration": (False, ["dehydrated"]), "stroke": (False, []),
    "heart attack": (False, []), "appendicitis": (False, []), "kidney stones": (False, ["kidney stone"]),
    "tonsillitis": (False, []), "ear infection": (False, []), "conjunctivitis": (False, ["pink eye"]),
}

SYMPTOMS: dict[str, list[str]] = {
    "headache": ["headaches", "head ache", "head hurts", "head pain"],
    "lower back pain": ["low back pain", "lower back"], "back pain": ["backache", "back ache", "back hurts"],
    "chest pain": ["chest tightness", "tight chest", "chest hurts"], "stomach pain": ["stomach ache", "stomachache",
    "abdominal pain", "belly pain", "tummy ache", "stomach hurts", "stomach cramps"],
    "neck pain": ["stiff neck"], "joint pain": ["joints hurt", "joint ache"], "knee pain": ["knee hurts"],
    "shoulder pain": [], "muscle pain": ["muscle aches", "body aches", "sore muscles", "aches"],
    "sore throat": ["throat hurts", "scratchy throat"], "toothache": ["tooth pain"], "ear pain": ["earache"],
    "fever": ["temperature", "feverish", "chills"], "cough": ["coughing", "dry cough"],
    "shortness of breath": ["short of breath", "breathless", "trouble breathing", "difficulty breathing"],
    "wheezing": [], "runny nose": ["stuffy nose", "congestion", "blocked nose", "sneezing"],
    "fatigue": ["tired", "tiredness", "exhausted", "exhaustion", "no energy", "low energy", "weakness", "weak"],
    "dizziness": ["dizzy", "lightheaded", "light-headed", "vertigo"], "nausea": ["nauseous", "queasy"],
    "vomiting": ["throwing up", "vomit"], "diarrhea": ["diarrhoea", "loose stools"], "constipation": ["constipated"],
    "bloating": ["bloated", "gas"], "rash": ["hives", "itchy skin", "itching", "itchy"], "swelling": ["swollen"],
    "insomnia": ["trouble sleeping", "can't sleep", "cannot sleep", "sleepless", "sleep problems"],
    "palpitations": ["heart racing", "racing heart", "pounding heart"], "numbness": ["numb", "tingling", "pins and needles"],
    "blurred vision": ["blurry vision", "vision problems"], "weight loss": ["losing weight"], "weight gain": ["gaining weight"],
    "loss of appetite": ["no appetite", "not hungry"], "night sweats": ["sweating"], "stress": ["stressed"],
    "sadness": ["feeling down", "feeling low"], "memory problems": ["forgetful", "forgetting things"],
    "pain": ["hurts", "hurting", "sore", "ache", "aching"], "bleeding": ["blood in"], "cramps": ["cramping"],
    "frequent urination": ["peeing a lot", "urinating often"], "burning urination": ["burning when i pee"],
}

CHRONIC = frozenset(k for k, (chronic, _) in CONDITIONS.items() if chronic)


def _table(groups: dict[str, list[str]]) -> list[tuple[str, str]]:
    pairs = []
    for canon, syns in groups.items():
        pairs.append((canon, canon))
        pairs.extend((s, canon) for s in syns)
    # Longest first, so "lower back pain" wins over "back pain" over "pain".
    return sorted(pairs, key=lambda p: -len(p[0]))


@lru_cache(maxsize=None)
def _compiled(kind: str) -> tuple[re.Pattern[str], dict[str, str]]:
    groups = {
        "medication": MEDICATIONS,
        "allergen": ALLERGENS,
        "condition": {k: v[1] for k, v in CONDITIONS.items()},
        "symptom": SYMPTOMS,
    }[kind]
    pairs = _table(groups)
    mapping = {surface: canon for surface, canon in pairs}
    pattern = re.compile(r"(?<![a-z0-9])(" + "|".join(re.escape(s) for s, _ in pairs) + r")(?![a-z0-9])")
    return pattern, mapping


# Drug-name endings (INN stems): an unknown word ending like this after "take"/"on"/"prescribed"
# is almost surely a medication ("ramipril", "candesartan"), so the extractor need not know them all.
DRUG_SUFFIX = re.compile(r"(?<![a-z])([a-z]{3,}(?:pril|sartan|olol|dipine|statin|prazole|tidine|cillin|mycin|"
                         r"oxacin|cycline|azepam|azolam|triptan|gliptin|gliflozin|formin|glutide|thyronine|"
                         r"setron|lukast|sone|olone|parin|xaban|gatran|oxetine|aline|pramine|tiapine|"
                         r"idone|pam|fen|mab|nib|vir|azole))(?![a-z])")


def find(kind: str, text: str) -> list[tuple[str, int, int]]:
    """(canonical term, start, end) of every lexicon term of ``kind`` in folded ``text``."""
    pattern, mapping = _compiled(kind)
    found = [(mapping[m.group(1)], m.start(), m.end()) for m in pattern.finditer(text)]
    if kind == "medication":
        # Lexicon matches do not overlap, so the only span that can cover a position is the last
        # one starting at or before it: a bisection, not a scan (a scan made long turns quadratic).
        taken = sorted((a, b) for _, a, b in found)
        starts = [a for a, _ in taken]
        for m in DRUG_SUFFIX.finditer(text):
            i = bisect.bisect_right(starts, m.start()) - 1
            covered = i >= 0 and taken[i][0] <= m.start() < taken[i][1]
            if not covered and m.group(1) not in _NOT_DRUGS:
                found.append((m.group(1), m.start(), m.end()))
        found.sort(key=lambda x: x[1])
    return found


_NOT_DRUGS = frozenset("reason person season lesson response sponsor pressure responsible mission "
                       "permission prison poison comparison decision vision division version "
                       "someone anyone everyone alone phone stone bone tone zone done gone none "
                       "exam spam program diagram instagram team dream stream cream scream beam".split())
