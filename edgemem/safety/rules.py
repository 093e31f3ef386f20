"""The red-flag rules: regular expressions over normalized clauses (see ``normalize.py``).

Each category lists *triggers* — phrasings of an emergency happening — written against the
canonical form (lower case, contractions expanded, "cannot", digits for numbers). Context that
turns a trigger into a look-alike (negation, a resolved or long-past episode, a hypothetical or an
education question) is judged in ``detector.py``, not here, so every rule stays a plain
description of the emergency. Rules lean towards flagging: a missed emergency costs a life, a
false alarm costs a patient one extra sentence to read.
"""

from __future__ import annotations

import re

G1 = r"(?:\S+ ){0,1}"
G2 = r"(?:\S+ ){0,2}"
G3 = r"(?:\S+ ){0,3}"
G4 = r"(?:\S+ ){0,4}"
G6 = r"(?:\S+ ){0,6}"
POSS = r"(?:my|his|her|their|our|the|a|your|its)"
WHO = r"(?:i|he|she|they|we|you|it|my \S+|his \S+|her \S+|our \S+|the \S+|someone|somebody|baby|child|kid|son|daughter|husband|wife|mum|mom|dad|father|mother|grandma|grandpa|friend|partner)"
BREATHE = r"(?:breathe|breathing|breathes|breathed)"
CANNOT = r"(?:cannot|can barely|can hardly|could not|could barely|unable to|struggling to|struggle to|hard to|difficult to|not able to|having trouble|trouble|difficulty|having difficulty|hardly|barely|problems?|finding it hard to)"
NOT_STOP = r"(?:will not|does not|did not|cannot|is not|has not|would not|wont|keeps? not) (?:stop|stopping|stopped|slow|slowing)"
PILLS = (r"(?:pills?|tablets?|capsules?|meds|medication|medicines?|paracetamol|acetaminophen|tylenol|"
         r"ibuprofen|advil|aspirin|sleeping pills?|painkillers?|pain killers?|antidepressants?|"
         r"insulin|opioids?|oxycodone|codeine|morphine|fentanyl|heroin|methadone|benzos?|"
         r"diazepam|valium|xanax|lithium|iron pills?|vitamins?|digoxin|warfarin|co codamol|blood thinners?|"
         r"thinners|anticoagulants?|beta blockers?|statins?|antibiotics|antihistamines|melatonin|gummies|heart pills)")
POISONS = (r"(?:bleach|antifreeze|anti freeze|detergent|dishwasher (?:liquid|detergent|powder|gel)|washing up liquid|"
           r"fabric softener|liquid (?:soap|detergent)|cleaner|caustic soda|laundry pods?|dishwasher tablets?|"
           r"drain cleaner|oven cleaner|cleaning (?:fluid|liquid|products?|spray)|rat poison|"
           r"weed ?killer|pesticides?|insecticide|poison|button batter(?:y|ies)|batter(?:y|ies)|"
           r"magnets?|lamp oil|paraffin|petrol|gasoline|kerosene|methanol|windscreen wash|"
           r"white spirit|turpentine|lye|acid|chemicals?|mushrooms? from the (?:garden|woods|forest)|"
           r"wild mushrooms?|berries from|e ?cig(?:arette)? liquid|nicotine liquid|vape liquid)")

RULES: dict[str, list[str]] = {
    "cardiac": [
        r"\bchest (?:pains?|pressure|tightness|tight|heaviness|heavy|hurts?|hurting|aches?|aching|"
        r"is (?:so |really |very )?(?:tight|heavy|sore|painful|hurting|crushing|squeezing|killing me|on fire)|"
        r"feels? (?:so |really |very |like it is )?(?:tight|heavy|crushed|crushing|squeezed|squeezing|"
        r"painful|like an elephant|like a weight|like something is sitting))",
        r"\b(?:pains?|pressure|tightness|heaviness|squeezing|crushing|ache|aching|weight|stabbing) "
        r"(?:in|on|across|around|behind) " + POSS + r"? ?(?:chest|breastbone|sternum)\b",
        r"\b(?:crushing|squeezing|stabbing|sharp|severe|bad) (?:chest|pain in " + POSS + r" chest)\b",
        r"\bheart attack\b",
        r"\bheart (?:\S+ ){0,2}(?:hurts|hurting|pains?|aches|aching)\b",
        r"\b(?:clutching|holding|grabbing|gripping) (?:his|her|my|their) chest\b",
        r"\bchest (?:\S+ ){0,3}(?:pains?|pressure|discomfort|tightness|tightening|heaviness|hurts?|hurting|aches?|aching|squeezing|crushing|squeezed|crushed)\b",
        r"\b(?:tightening|tight|squeezing|pressing|crushing|heavy|weight|belt|band|vice) (?:\S+ ){0,3}(?:round|around|on|across|in|over) (?:my|his|her|their|the) chest\b",
        r"\bpains? (?:\S+ ){0,4}(?:in|on|across|around|behind) (?:\S+ ){0,4}(?:chest|breastbone|sternum)\b",
        r"\bheart (?:feels|is) (?:like (?:it is )?(?:being )?)?(?:crushed|squeezed|crushing|squeezing|being crushed|being squeezed|in a vice)\b",
        r"\bchest (?:is |feels )?(?:\S+ ){0,2}(?:burning|hurting|sore|painful)\b.*\b(?:left arm|jaw|sweat\w*|clammy|faint|short of breathe)\b",
        r"\b(?:squeezing|crushing|pressing on|sitting on|pushing on|stabbing) " + POSS + r" chest\b",
        r"\bcardiac arrest\b",
        r"\bheart (?:has )?(?:stopped|is stopping|stops)\b",
        r"\bno pulse\b|\bcannot (?:find|feel) (?:a|his|her|their) pulse\b",
        r"\bpain (?:is )?(?:spreading|radiating|going|moving|shooting|goes|spreads|runs|travels|shoots|moves) (?:down |up |in )?(?:to |into |down )?"
        + POSS + r"? ?(?:left )?(?:arm|jaw|neck|shoulder)\b",
    ],
    "stroke": [
        r"\b(?:having|had|have|has|having had|is having|just had) (?:a |another )?(?:mini )?stroke\b",
        r"\b(?:think|thinks|maybe|might be|could be|looks like|is it|signs? of|symptoms? of) (?:it is |this is |i am having |he is having |she is having )?(?:a )?stroke\b",
        r"\bstroke (?:symptoms|signs)\b",
        r"\b(?:face|mouth|smile|lip|cheek|eye|eyelid)s? (?:and (?:his |her |my )?(?:face|mouth|eye|lip|smile)s? )?(?:\S+ ){0,3}"
        r"(?:drooping|sagging|crooked|lopsided|uneven|fallen|dropped|numb|paralyzed)\b",
        r"\b(?:drooping|droopy|sagging|crooked|lopsided|uneven) (?:face|mouth|smile)\b",
        r"\b(?:half|one side) of (?:my|his|her|their|the) (?:face|body|mouth) (?:\S+ ){0,3}(?:numb|weak|droop\w*|paralyzed|dead|heavy|not moving|will not move|cannot move|tingling|frozen|fallen)\b",
        r"\bsudden(?:ly)?\b.*\b(?:double vision|(?:vision|sight) (?:went|is|became|has gone|turned|going) (?:double|blurry|black|dark|funny)|cannot (?:walk|stand|see|speak|talk)(?: straight| properly)?|numbness|paralyzed|slurr\w*|droop\w*|lost (?:my |his |her )?(?:balance|vision|sight|speech))\b",
        r"\b(?:cannot|unable to|could not|not able to) smile (?:properly|straight|on one side|evenly)\b",
        r"\b(?:mouth|face|lip|side of (?:my|his|her) (?:face|mouth)) (?:\S+ ){0,2}(?:will not|cannot|does not|is not|would not) move\b",
        r"\b(?:speech|words|talking|voice) (?:\S+ ){0,3}(?:slurred|slurring|garbled|jumbled|weird|strange|funny|wrong|odd|muddled|gibberish)\b(?=.*\b(?:suddenly|sudden|numb|weak|droop\w*|arm|face|confused)\b)",
        r"\bone side of " + POSS + r" (?:face|body|mouth) (?:is |has |went |feels |seems |has gone )?"
        r"(?:gone )?(?:numb|weak|drooping|paralyzed|dead|heavy|not working|tingling)\b",
        r"\b(?:cannot|unable to|could not|not able to) (?:lift|move|raise|feel|use) " + POSS
        + r" (?:left |right )?(?:arm|leg|hand|side)\b",
        r"\b(?:left|right) (?:arm|leg|side)(?: and (?:arm|leg|face|hand))? (?:is |are |has |have |went |feels |feel |has gone |have gone )?(?:suddenly )?(?:gone |very |really )?(?:completely )?(?:numb|weak|limp|dead|paralyzed|heavy)\b",
        r"\b(?:weakness|numbness|numb|weak|paralyzed|paralysis) (?:in |on |down )?(?:one side|" + POSS + r" (?:left|right) (?:side|arm|leg))\b",
        r"\bsudden(?:ly)? (?:\S+ )?(?:weakness|numbness|numb|weak|confused|confusion|blind|blindness|"
        r"cannot (?:see|speak|talk|understand)|trouble (?:speaking|talking|seeing)|"
        r"slurred|slurring|loss of (?:vision|sight|balance|speech)|lost (?:vision|sight|balance) |"
        r"blurred vision|double vision|severe headache|worst headache|dizzy and|paralyzed)",
        r"\b(?:speech|words|talking|voice) (?:is |are |sounds? |became |has become |suddenly |all )*(?:slurred|slurring|garbled|jumbled|coming out wrong|wrong|not making sense)\b",
        r"\b(?:slurred|slurring|slurs|garbled) (?:speech|words|his words|her words|my words|talking|when)\b",
        r"\b(?:slurring|slurs) \S+ words\b|\bis slurring\b|\bare slurring\b|\bam slurring\b",
        r"\bcannot (?:get|find) (?:my|his|her|the) words (?:out)?\b",
        r"\bworst headache (?:of|in) " + POSS + r" life\b|\bthunderclap headache\b",
        r"\bheadache (?:like|as if) (?:i|he|she) (?:was|were|had been) (?:hit|struck)\b",
        r"\b(?:lost|losing) (?:the )?(?:vision|sight) in (?:one|my|his|her) (?:eye|left eye|right eye)\b",
        r"\bfast (?:test|signs)\b.*\b(?:positive|failed|drooping)\b",
    ],
    "bleeding": [
        r"\b(?:bleeding|bleed|bleeds|blood) (?:\S+ ){0,6}" + NOT_STOP + r"\b",
        r"\b" + NOT_STOP + r" (?:\S+ )?(?:bleeding|gushing|pouring)\b",
        r"\b(?:cannot|can not) (?:stop|get) (?:the )?(?:bleeding|blood)(?: to stop)?\b",
        r"\bbleeding (?:so |very |really )?(?:heavily|badly|a lot|profusely|everywhere|non ?stop|like crazy|out|to death|from " + POSS + r" (?:head|neck|chest|stomach|belly))\b",
        r"\b(?:heavy|severe|massive|uncontrolled|uncontrollable|serious|lots of|a lot of|so much|tons of|huge amount of|too much) (?:of )?(?:bleeding|blood)\b",
        r"\b(?:spurting|gushing|pouring|pumping|squirting|spraying|streaming) (?:out )?(?:\S+ ){0,2}blood\b",
        r"\bblood (?:is |keeps )?(?:spurting|gushing|pouring|pumping|squirting|spraying|everywhere|all over)\b",
        r"\b(?:vomiting|throwing up|threw up|vomited|vomit|coughing up|coughed up|cough up|coughing|spitting up|puking|pooing|passing) (?:up )?(?:\S+ ){0,4}blood\b",
        r"\b(?:vomit|sick) (?:is |looks like )?(?:full of )?(?:blood|coffee grounds)\b|\bblood in (?:my|his|her) (?:vomit|sick)\b",
        r"\b(?:soaked|soaking|soaks) (?:through )?(?:\S+ ){0,3}(?:towels?|bandages?|pads?|tea towels?|shirt|clothes) (?:with blood|in blood)?\b(?=.*\b(?:blood|bleed|bleeding|cut|wound)\b)",
        r"\blost (?:a lot of|so much|lots of) blood\b",
        r"\b(?:stabbed|been shot|gunshot|shot in|impaled|amputated|cut off (?:my|his|her) (?:finger|hand|toe))\b",
        r"\bdeep (?:cut|wound|gash|laceration)\b.*\b(?:bleed|bleeding|blood|bone|fat)\b",
        r"\bpregnant\b.*\b(?:bleeding|blood)\b|\b(?:bleeding|blood)\b.*\bpregnant\b",
        r"\bhemorrhag\w*|\bhaemorrhag\w*",
    ],
    "breathing": [
        r"\b" + CANNOT + r" (?:to )?(?:catch " + POSS + r" )?" + BREATHE + r"\b",
        r"\b(?:cannot|can barely|can hardly|could not|unable to) (?:catch|get) " + POSS + r" breathe\b",
        r"\b(?:not|stopped|stop|stops|is not|are not|has stopped) " + BREATHE + r"\b",
        r"\b(?:shortness|short) of breathe\b",
        r"\bbreathless(?:ness)?\b",
        r"\b(?:cannot|could not|not|unable to|struggling to|hard to) (?:get|getting) (?:enough |any )?(?:air|oxygen)\b|\bair hunger\b",
        r"\b(?:breathing|breathe) (?:is |feels |sounds |has become |became )?(?:really |very |so |getting |too )?(?:hard|difficult|laboured|labored|shallow|noisy and|rattly|agonal|fast and shallow)\b",
        r"\b(?:ribs|chest|belly|skin between (?:his|her) ribs) (?:is |are )?(?:pulling|sucking|sinking) in\b",
        r"\b(?:gasping|gasp|gasps|gasped|fighting|struggling) for (?:air|breathe)\b",
        r"\b(?:choking|choked and cannot|is choking|are choking|started choking)\b",
        r"\b(?:something|food|a \S+|piece of \S+) (?:is )?(?:stuck|lodged) in " + POSS + r" (?:throat|windpipe|airway)\b",
        r"\b(?:lips|face|fingers|skin) (?:are |is |have |has |look |looks )?(?:turning |turned |going |gone |getting )?(?:blue|purple|grey|gray)\b",
        r"\b(?:turning|turned|going|gone) blue\b",
        r"\b(?:severe|bad|terrible|serious|major) asthma attack\b|\basthma attack\b",
        r"\b(?:inhaler|puffer|nebuli[sz]er) (?:\S+ ){0,2}(?:is not|not|does not|did not|isnt|will not|no longer) (?:working|helping|help|work)\b",
        r"\bwheezing (?:badly|so badly|really badly|and cannot|and struggling|so much)\b",
        r"\b(?:suffocating|drowning|drowned|near drowning)\b",
        r"\bairway (?:is )?(?:closing|blocked|swelling)\b",
    ],
    "anaphylaxis": [
        r"\banaphyla\w*",
        r"\b(?:throat|airway|tongue|lips?|mouth|face|eyes) (?:\S+ ){0,4}"
        r"(?:closing|swelling|swollen|swelled|tightening|puffing up|puffed up|blowing up|blown up|swelled up|ballooning|tight)\b",
        r"\b(?:ate|eaten|eating|stung|sting|took|taken|nuts|peanuts?|shellfish|allergic)\b.*\b(?:struggling|cannot|unable|hard|difficult|trouble|difficulty) (?:to )?swallow\w*",
        r"\btongue (?:\S+ ){0,3}(?:huge|enormous|thick|too big|massive)\b",
        r"\b(?:swollen|swelling|puffy) (?:throat|tongue|lips?|mouth|face|airway)\b",
        r"\b(?:severe|bad|serious|major|massive|strong) allergic reaction\b",
        r"\ballergic reaction\b.*\b(?:breathe|breathing|throat|swell|swelling|swollen|hives all over|dizzy|faint|wheez|vomit|tongue|lips)\w*",
        r"\b(?:breathe|breathing|throat|swell|swelling|swollen|dizzy|faint|wheez)\w*\b.*\ballergic reaction\b",
        r"\b(?:use|used|using|need|needed|needs|give|gave|giving|inject|injected|administer|administered|jab|jabbed|grab|get) "
        r"(?:\S+ ){0,3}(?:epipen|adrenaline|epinephrine|auto ?injector)\b",
        r"\ballergic to (?:\S+ ){1,3}.*\b(?:ate|eaten|eating|had some|took|taken|stung|touched|drank)\b.*\b(?:wheez\w*|tingl\w*|swell\w*|swollen|hives|throat|breathe|breathing|dizzy|faint\w*|vomit\w*|itchy all over)\b",
        r"\b(?:hives|rash|welts) (?:all over|everywhere|spreading)\b.*\b(?:breathe|breathing|throat|swell|dizzy|faint)\w*",
        r"\b(?:stung|sting|ate|eaten|eating)\b.*\b(?:throat|tongue|lips) (?:is |are )?(?:closing|swelling|swollen|tight)\b",
    ],
    "suicide": [
        r"\bsuicid\w*",
        r"\b(?:kill|killing|hang|hanging|shoot|shooting|poison|poisoning|drown|hurt|hurting|harm|harming|"
        r"cut|cutting|burn|burning|starve|end) (?:my ?self|myself|meself)\b(?! (?:shaving|cooking|chopping|by accident|accidentally|on the|on a|with the knife while|while))",
        r"\bself ?harm\w*\b",
        r"\bcutting (?:my|his|her) (?:arms?|wrists?|legs?|thighs?|skin|self)\b|\bcut (?:my|his|her) wrists?\b",
        r"\b(?:end|ending|take|taking) (?:my|my own) life\b|\bend (?:it all|everything|things) \b|\bend (?:it all|everything|things)$|\bending it all\b",
        r"\b(?:want|wanna|going|planning|plan|ready|decided|thinking about|thinking of|think about|tempted) (?:to )?(?:die|be dead|not be here|not exist|disappear forever|not wake up|end it)\b",
        r"\b(?:do not|no longer|not) (?:want|wanna|wish) to (?:live|be alive|be here anymore|wake up|exist|go on)\b",
        r"\b(?:wish|wishing) (?:i|that i) (?:was|were|had been|could be) dead\b|\bwish (?:i|that i) (?:was|were) (?:never born|not alive|gone)\b",
        r"\b(?:no|not see the|not see any|do not see the|cannot see the|cannot see any|not see a) point (?:in|of) (?:living|life|going on|being alive|carrying on|anything)\b",
        r"\blife (?:is not|is no longer|not) worth (?:living|it)\b|\b(?:would|had) rather (?:be dead|die|not be alive|not exist)\b",
        r"\b(?:planning|plan|going|want|wanna|thinking about|thinking of|decided) (?:to )?(?:overdose|od|take an overdose|take all)\b",
        r"\b(?:want|wanna|wish|like) to (?:\S+ ){0,4}(?:never|not) wake up\b",
        r"\bbetter off (?:dead|without me|if i (?:was|were) (?:gone|dead))\b",
        r"\b(?:no|nothing) (?:reason|point|left) (?:to|in) (?:live|living|go on|going on)\b|\bnothing (?:left )?to live for\b",
        r"\bcannot (?:go on|take it anymore|do this anymore|keep going) (?:like this|anymore|any more)?\b(?=.*\b(?:die|dead|end|life|live|myself|pills|anymore)\b)",
        r"\b(?:jump|jumping) (?:off|from|in front of) (?:a|the) (?:bridge|building|roof|train|cliff|balcony)\b",
        r"\b(?:take|taking|swallow|swallowing) (?:all|all of) (?:my|the|these|those) " + PILLS + r"\b",
        r"\b(?:written|wrote|writing) (?:a |my )?(?:suicide |goodbye )?note\b(?=.*\b(?:goodbye|end|die|kill|family)\b)|\bgoodbye note\b",
        r"\bsay(?:ing)? goodbye to (?:everyone|my family|you all) (?:forever|for good|before i)\b",
    ],
    "overdose": [
        r"\b(?:overdose|overdosed|overdosing|od d|od)\b(?! risk)",
        r"\b(?:took|taken|take|swallowed|ate|had|has taken|have taken|just took) (?:\S+ ){0,2}(?:too many|too much|a lot of|lots of|loads of|a whole|an entire|the whole|whole|entire|all (?:of )?(?:my|the|his|her)|a handful of|handfuls of|a bottle of|a box of|a packet of|a pack of|double|triple|extra) "
        r"(?:\S+ ){0,3}" + PILLS + r"\b",
        r"\b(?:took|taken|swallowed|ate|had|has taken|have taken|took like|took about|took around|just took) (?:like |about |around |over |maybe |at least )?(?:[1-9]\d|\d{3,}) (?:\S+ ){0,3}" + PILLS + r"\b",
        r"\b(?:took|taken|swallowed|ate|had|has taken|have taken|just took) (?:\S+ ){0,3}(?:whole|entire|full) (?:bottle|box|packet|pack|strip|blister pack|sheet)\b",
        r"\b(?:swallowed|drank|drunk|ate|eaten|drinking|swallowing|licked|chewed|sucked on|got into|has eaten|has drunk|has swallowed) (?:\S+ ){0,3}" + POISONS + r"\b",
        r"\b" + POISONS + r"\b.*\b(?:swallowed|drank|drunk|in (?:his|her|my) mouth|ingested)\b",
        r"\b(?:child|toddler|son|daughter|kid|baby|grandson|granddaughter|boy|girl|he|she)\b.*\b(?:swallowed|ate|eaten|took|taken|got into|chewed) "
        r"(?:(?:a few|some|several|lots|loads|a handful|a bunch|all|\d+) of (?:my|the|grandma s|grandmas|grandpa s|nan s|granny s|his grandmother s|her grandmother s|his grandfather s|her grandfather s|someone s|her|his) "
        r"|(?:my|grandma s|grandmas|grandpa s|nan s|granny s|his grandmother s|her grandmother s|his grandfather s|her grandfather s|someone s|a bottle of|a packet of|a box of) )(?:\S+ ){0,2}" + PILLS + r"\b",
        r"\b(?:took|taken|swallowed|ate) (?:a bunch|bunches|a load|loads|a heap|a pile|a fistful|a mouthful) of (?:\S+ ){0,3}" + PILLS + r"\b",
        r"\b(?:got into|into) (?:my|the|his|her|grandma s|grandmas) (?:pills|tablets|medicine|medication|meds|medicine cabinet)\b",
        r"\bpoisoned\b|\bpoisoning\b(?<!food poisoning)",
        r"\bcarbon monoxide\b",
        r"\b(?:too much|too many) (?:insulin|heroin|fentanyl|methadone|morphine|oxycodone|opioids|xanax)\b",
        r"\b(?:pinpoint pupils|pupils are tiny)\b",
    ],
    "unconscious": [
        r"\b(?:unconscious|unresponsive|unrousable|lifeless)\b",
        r"\b(?:is not|not|is no longer|isnt|stopped|has stopped|are not) (?:responding|responsive|waking up|conscious|moving)\b",
        r"\b(?:will not|cannot|could not|can not|wont|unable to) (?:wake|rouse|get (?:him|her|them) to wake)(?: (?:him|her|them|up|my \S+|her up|him up|them up))?\b",
        r"\b(?:passed out|passing out|blacked out|blacking out|lost consciousness|losing consciousness|knocked out|fainted|fainting|keeled over)\b",
        r"\b(?:collapsed|collapsing|has collapsed|just collapsed|fell down and|dropped to the floor)\b",
        r"\b(?:will not|does not|is not|cannot|not|can not) (?:answer|respond|react|open (?:his|her|their) eyes)(?: me| to me| to anything)?\b",
        r"\blying on the (?:floor|ground)\b.*\b(?:not|will not|cannot)\b",
    ],
    "seizure": [
        r"\b(?:seizure|seizures|seizing|convulsion|convulsions|convulsing|convulsed|fitting|epileptic fit|grand mal)\b",
        r"\b(?:having|had|has|is having) (?:a )?fit\b(?=.*\b(?:shaking|jerking|floor|eyes|foam|epilep|unconscious|seizure|rolled|stiff|twitching)\w*)",
        r"\b(?:shaking|jerking|twitching) (?:all over|uncontrollably|violently)\b(?=.*\b(?:floor|unconscious|eyes|foam|not responding|fell|collapsed)\b)",
        r"\b(?:eyes|eyes are) (?:rolled|rolling) (?:back|up)\b",
        r"\bfoaming at the mouth\b",
    ],
    "head_injury": [
        r"\bhit " + POSS + r" head\b.*\b(?:unconscious|passed out|knocked out|confused|vomit\w*|drowsy|blacked out|not making sense)\b",
        r"\b(?:hit|banged|bumped|smashed|cracked|knocked|struck|injured|hurt) " + POSS + r" head\b.*\b(?:unconscious|passed out|knocked out|confused|vomit\w*|being sick|drowsy|blacked out|not making sense|fit|seizure|clear fluid|blood from (?:his|her|my|the) (?:ear|nose)|cannot stay awake|sleepy|warfarin|blood thinners?)\b",
        r"\b(?:head injury|head wound|hit to the head|blow to the head|fell on (?:his|her|my|their) head|landed on (?:his|her|my|their) head)\b.*\b(?:unconscious|passed out|knocked out|confused|vomit\w*|being sick|drowsy|blacked out|fit|seizure|fluid|bleeding|sleepy|warfarin|thinners?)\b",
        r"\b(?:knocked|was knocked|got knocked) (?:out|unconscious)\b",
        r"\bclear (?:fluid|liquid) (?:\S+ ){0,3}(?:from|out of|coming out of) " + POSS + r" (?:ear|ears|nose)\b",
    ],
    "abuse": [
        r"\b(?:he|she|they|my (?:husband|wife|partner|boyfriend|girlfriend|ex|dad|father|mum|mom|mother|son|brother|stepdad|stepfather)) (?:\S+ ){0,2}(?:hits?|hitting|beats?|beating|beat me|punch\w*|chok\w*|strangl\w*|kick\w*|threaten\w*|hurts?|hurting) (?:me|us|my|the kids|the children)\b(?!.*\b(?:game|joke|joking|playing)\b)",
        r"\b(?:afraid|scared|frightened|terrified) (?:to go|of going) home\b",
        r"\b(?:going to|will|said (?:he|she) would|threatened to|threatening to) (?:kill|hurt|stab|shoot) (?:me|us|the kids|my)\b",
        r"\b(?:has|with|holding|got) a (?:knife|gun|weapon)\b.*\b(?:me|us|threat\w*|house|home|door|kill|hurt)\b",
        r"\b(?:domestic (?:violence|abuse)|being abused|abusing me|he abuses|she abuses|locked me in|will not let me leave)\b",
        r"\bnot safe (?:at home|to go home|in my (?:house|home))\b",
    ],
    "pregnancy": [
        r"\b(?:pregnant|pregnancy|weeks? gone|expecting)\b.*\b(?:bleeding|blood|severe pain|bad pain|waters? (?:have |has )?(?:broken|broke|went)|not moving|stopped moving|moving less|no movements?|fewer movements|less movement|blurr\w*|vision|flashing lights|swollen (?:face|hands)|fit|seizure)\b",
        r"\b(?:baby|bump) (?:\S+ ){0,3}(?:not moved|has not moved|stopped moving|not moving|moving less|less movement|fewer movements|no movements?)\b",
        r"\bwaters? (?:have |has )?(?:broken|broke|went|gone)\b",
        r"\bectopic\b",
    ],
    "diabetic": [
        r"\b(?:hypo|hypoglyc\w*|diabetic (?:coma|emergency)|dka|ketoacidosis)\b",
        r"\b(?:blood )?(?:sugars?|glucose|bg|bm|bs) (?:\S+ ){0,3}(?:very |really |dangerously |super )?(?:low|high|hi|lo)\b.*\b(?:confused|shaking|shaky|sweat\w*|drowsy|will not wake|cannot wake|not making sense|vomit\w*|being sick|fruity|ketones|passing out|passed out|cannot (?:eat|drink|swallow)|slurr\w*|aggressive)\b",
        r"\bketones (?:\S+ ){0,3}(?:high|3|4|5|6|positive|large)\b",
    ],
    "testicular": [
        r"\b(?:testicle|testicles|testes|testis|scrotum|scrotal|balls?|nuts|groin|down there|privates|nether regions)\b.*\b(?:sudden|suddenly|severe|agony|agonising|excruciating|unbearable|swollen|swelling|twisted|woke (?:me|him) up|throwing up|vomit\w*|being sick|really bad|so bad|worst)\b",
        r"\b(?:sudden|severe|agonising|excruciating|unbearable|really bad) (?:\S+ ){0,2}pain (?:\S+ ){0,3}(?:testicle|testicles|scrotum|balls?|nuts)\b",
        r"\btorsion\b",
    ],
    "headache": [
        r"\b(?:worst|most painful|most severe|worst ever) (?:\S+ ){0,3}headache\b",
        r"\bheadache (?:\S+ ){0,4}(?:worst|sudden|suddenly|out of nowhere|came on like|like (?:a|being) (?:hit|kicked|thunder|clap|bang|explosion|bat))\b",
        r"\b(?:sudden|suddenly|thunderclap|explosive|exploding) (?:\S+ ){0,3}(?:headache|pain in (?:my|his|her) head|head pain)\b",
        r"\b(?:like|as if) (?:\S+ ){0,3}(?:hit|struck|smacked|whacked|kicked) (?:\S+ ){0,3}(?:head|back of (?:my|his|her) head)\b.*\b(?:headache|pain|sudden|suddenly)\b",
    ],
    "eye": [
        r"\b(?:chemical|acid|bleach|cleaner|lye|alkali|oven cleaner|drain cleaner|ammonia|cement|lime|hair dye) (?:\S+ ){0,4}(?:in|into) " + POSS + r"? ?(?:eye|eyes)\b",
        r"\b(?:suddenly|sudden) (?:\S+ ){0,4}(?:cannot see|lost (?:my |his |her )?(?:sight|vision)|went blind|gone blind|blind|dark curtain|black curtain)\b",
        r"\b(?:lost|losing|lose) (?:the )?(?:sight|vision) (?:in|of) (?:one|my|his|her|both|the) (?:\S+ )?eyes?\b",
        r"\b(?:curtain|shadow|veil) (?:\S+ ){0,3}(?:over|across|coming down over) " + POSS + r" (?:vision|eye|sight)\b",
        r"\b(?:something|glass|metal|wire|stick|shard) (?:\S+ ){0,3}(?:stuck in|went into|pierced|in) " + POSS + r" eye\b",
    ],
    "heat_cold": [
        r"\b(?:heatstroke|heat stroke|sunstroke|hypothermi\w*|near drowning|nearly drowned|almost drowned|drowning|drowned|pulled (?:\S+ ){0,3}out of the (?:water|pool|sea|lake|river))\b(?!.*\b(?:test|prevent|avoid|signs)\b)",
        r"\b(?:stopped sweating|not sweating)\b.*\b(?:hot|heat|confused|dizzy|collapsed|faint)\b",
        r"\b(?:shivering has stopped|stopped shivering|freezing cold and (?:confused|drowsy|will not wake))\b",
    ],
    "major_trauma": [
        r"\b(?:hit by a (?:car|bus|truck|lorry|van|bike)|car (?:crash|accident)|motorbike (?:crash|accident)|run over)\b",
        r"\b(?:fell|fallen|fall) (?:\S+ ){0,3}(?:from|off|out of) (?:a |the |his |her |my )?(?:roof|ladder|balcony|window|scaffold\w*|tree|height|cliff|horse|bunk bed)\b",
        r"\bbone (?:\S+ ){0,3}(?:sticking out|poking out|through the skin|come through)\b",
        r"\b(?:stabbed|been stabbed|got stabbed|(?:been|got|was|were|is|has been) shot|gunshot|knife wound|impaled)\b(?!.*\b(?:vaccine|jab|booster|photo|picture|shot glass)\b)",
        r"\b(?:cannot feel|cannot move) (?:his|her|my|their) (?:legs|arms|body)\b.*\b(?:fell|fall|crash|hit|accident|dive|dived|neck|back)\b",
    ],
    "abdomen": [
        r"\b(?:belly|stomach|tummy|abdomen|abdominal|gut)\b.*\b(?:rigid|hard as a board|board like|like a board|rock hard)\b",
        r"\b(?:vomiting|throwing up|being sick|sick|coughing up) (?:\S+ ){0,2}(?:blood|coffee grounds|something that looks like coffee)\b",
        r"\b(?:black|tarry|tar like|maroon) (?:\S+ )?(?:poo|poop|stool|stools|faeces|feces)\b",
        r"\b(?:severe|agonising|excruciating|unbearable|worst|extreme|terrible|sudden|doubled over|screaming) (?:\S+ ){0,3}(?:belly|stomach|tummy|abdominal|abdomen) (?:pain|ache|cramps?)\b",
        r"\b(?:cannot|have not|not) (?:\S+ ){0,2}(?:pass(?:ed)? wind|fart\w*|poo\w*|open (?:my|his|her) bowels)\b.*\b(?:vomit\w*|being sick|swollen|bloated|pain)\b",
    ],
    "burns": [
        r"\b(?:burn|burns|burned|burnt|scald|scalded|scalds|scalding)\b.*\b(?:severe|severely|badly|bad|serious|blistered|blistering|blisters all over|"
        r"skin (?:is |has )?(?:peeling|coming off|came off|falling off|charred|white|black|melted|melting|leathery)|"
        r"whole|entire|all over|large|big|huge|face|chemical|acid|electrical|third degree|3rd degree|second degree|2nd degree|full thickness)\b",
        r"\bburn (?:\S+ ){0,3}(?:the size of|bigger than|larger than) (?:a|my|his|her) (?:hand|palm|plate|fist)\b|\bburn (?:\S+ ){0,8}(?:white|leathery|charred|black)\b",
        r"\b(?:severe|serious|bad|deep|large|big|huge|major|third degree|3rd degree|second degree|2nd degree|chemical|acid|electrical) (?:\S+ )?(?:burns?|scalds?)\b",
        r"\b(?:boiling|hot) (?:water|oil|fat|soup|tea|kettle|pan|coffee) (?:\S+ ){0,3}(?:all over|on (?:his|her|my|the baby s|the babys) (?:face|chest|body|legs?|arms?))\b",
        r"\b(?:clothes|clothing|hair|shirt|dress|sleeve|skirt|pyjamas|trousers|i|he|she|body) (?:\S+ ){0,2}(?:caught fire|caught on fire|on fire|in flames)\b",
        r"\bset (?:myself|himself|herself|themselves) on fire\b",
        r"\b(?:boiling|scalding|hot) (?:water|oil|fat|liquid|soup|tea|coffee|steam)\b.*\b(?:blister\w*|peeling|skin (?:came|is coming) off|all over)\b",
        r"\b(?:caustic|lye|acid|alkali|chemical|bleach|drain cleaner|oven cleaner)\b.*\b(?:burning|burnt|burned|burns)\b",
        r"\b(?:electrocuted|electric shock|electrical shock|struck by lightning)\b",
        r"\b(?:chemical|acid|bleach|lye|oven cleaner) (?:in|into|splashed in|got in) " + POSS + r" (?:eye|eyes|face)\b",
        r"\bsmoke inhalation\b|\binhaled (?:a lot of )?smoke\b",
    ],
    "infant_child": [
        r"\b(?:newborn|new born|neonate)\b.*\b(?:fever|temperature|temp|hot|burning up|very warm|38|39|40|floppy|not feeding|will not feed|blue|rash)\b",
        r"\b(?:baby|infant|newborn|he|she|son|daughter) is (?:only |just |about )?(?:[0-9]|1[0-2]) (?:days?|weeks?)\b.*\b(?:fever|temperature|temp|hot|38|39|40|floppy|not feeding|will not feed)\b",
        r"\b(?:[0-9]|1[0-2]) (?:days?|weeks?) old\b.*\b(?:fever|temperature|temp|hot|38|39|40|floppy|not feeding|will not feed)\b",
        r"\b(?:[0-3]|1p5|2p5) (?:months?|mo|mth|mths) old\b.*\b(?:fever|temperature|temp|38|39|40|floppy|hot|will not feed|not feeding|feeding poorly|limp)\b",
        r"\b(?:baby|infant|toddler|child|son|daughter|kid)\b.*\b(?:floppy|limp|lethargic and|will not wake|hard to wake|not waking|high pitched cry|bulging soft spot|bulging fontanelle)\b",
        r"\b(?:baby|infant|newborn)\b.*\b(?:fever|temperature|temp) (?:of |is |at |was |reading |reads |over |above )?(?:39|40|41|42|103|104|105|106)\b",
    ],
    "sepsis_meningitis": [
        r"\b(?:stiff neck|neck is stiff|neck is very stiff|neck stiffness|cannot (?:bend|move|touch) (?:my|his|her) (?:neck|chin to (?:my|his|her) chest))\b.*\b(?:fever|temperature|rash|headache|light|vomit\w*|confused|confusion|drowsy|spots)\b",
        r"\b(?:fever|temperature|rash|headache|vomit\w*|spots)\b.*\b(?:stiff neck|neck is stiff|neck stiffness|cannot (?:bend|move|touch) (?:my|his|her) (?:neck|chin))\b",
        r"\brash\b.*\b(?:glass|tumbler)\b|\b(?:glass|tumbler)\b.*\brash\b",
        r"\brash (?:\S+ ){0,6}(?:does not|did not|will not|not|that does not|that will not|that did not) (?:fade|go away|disappear|blanch) (?:when|under|with|if)\b(?=.*\b(?:glass|press\w*|tumbler)\b)",
        r"\b(?:non ?blanching|purple|purplish|dark red|pinprick) (?:\S+ )?(?:rash|spots|dots|blotches)\b(?=.*\b(?:fever|temperature|glass|unwell|drowsy|stiff|baby|child|fade|headache|vomit\w*)\b)",
        r"\b(?:fever|temperature|temp|drowsy|unwell|stiff neck|headache|vomit\w*)\b.*\b(?:non ?blanching|purple|purplish|pinprick) (?:\S+ )?(?:rash|spots|dots|blotches)\b",
        r"\bnon ?blanching rash\b",
        r"\bglass test\b|\btumbler test\b",
        r"\bmeningitis\b",
        r"\b(?:fever|temperature|temp) (?:of |is |at |was |reading |reads |over |above |has hit |hit |now )?(?:4[1-5](?:p\d)?|10[6-9]|11\d)\b",
    ],
    "emergency": [
        r"\b(?:call|calling|need|send|get|ring|phone|dial) (?:me |us )?(?:an|the|a|for an|for the) ambulance\b",
        r"\b(?:call|calling|dial|ring|phone) (?:911|999|112|000|111|emergency services|the emergency number)\b",
        r"\b(?:this is|it is|i have|we have|there is) (?:a|an) (?:medical )?emergency\b",
        r"\bhelp (?:me|us|him|her)? ?(?:please )?i am dying\b|\bi (?:think i )?am dying\b(?! (?:to|of (?:boredom|laughter|curiosity|embarrassment)))",
        r"\b(?:anaphylactic shock|in shock and)\b",
        r"\b(?:hit by a car|car crash and|fell from (?:a|the) (?:roof|ladder|balcony|window)|fell (?:down|off) (?:the )?(?:stairs|ladder|roof) and (?:cannot|is not|hit))\b",
    ],
}

# Checked in this order; the first match names the category. The specific causes come before the
# generic signs they produce (an allergic reaction before "trouble breathing", an overdose before
# "unconscious"), so the message gives the most useful advice.
ORDER = ("anaphylaxis", "suicide", "overdose", "abuse", "cardiac", "stroke", "pregnancy", "infant_child",
         "sepsis_meningitis", "diabetic", "testicular", "headache", "head_injury", "eye", "bleeding",
         "burns", "heat_cold", "major_trauma", "abdomen", "seizure", "unconscious", "breathing",
         "emergency")
assert sorted(ORDER) == sorted(RULES)
COMPILED: dict[str, list[re.Pattern[str]]] = {cat: [re.compile(p) for p in RULES[cat]] for cat in ORDER}
