"""Word lists and phrase forms of the synthetic smoking-status notes (:mod:`.smoking`).

Phrase forms are ``str.format`` templates; :func:`nercurve.synthetic.smoking.fill` fills
their fields (``{amount}``, ``{years}``, ``{year}``, ``{weeks}``, ``{months}``, ``{py}``,
``{few}``, ``{relative}``, ``{pronoun}``, ``{age}``) from the note's random stream. Each
smoking class has *plain* forms, which state the status the way most notes do, and *hard*
forms: negation that does not concern tobacco, a recent quit (which the i2b2 2006
guidelines count as current smoking), pack-years in a former smoker's note, a hyphenated
"non-smoker", a status stated only through what has stopped.
"""

from __future__ import annotations

CLASSES = ("CURRENT", "PAST", "NEVER", "UNKNOWN")

SMOKING_PLAIN: dict[str, tuple[str, ...]] = {
    "CURRENT": (
        "Current smoker, {amount}.",
        "Smokes {amount}.",
        "{pronoun} smokes {amount} and has done so for {years} years.",
        "Tobacco: current, {amount}.",
        "Active smoker with a {py} pack-year history.",
        "Continues to smoke {amount}.",
        "Cigarettes: {amount}, ongoing.",
        "Smoker, {amount} for the last {years} years.",
        "Tobacco use: yes, {amount}.",
        "Reports smoking {amount}.",
    ),
    "PAST": (
        "Former smoker, quit {years} years ago.",
        "Ex-smoker ({py} pack-years), quit in {year}.",
        "Remote history of tobacco use.",
        "Quit smoking {years} years ago.",
        "Past smoker; stopped in {year}.",
        "Tobacco: former, {py} pack-years.",
        "Former {amount} smoker, quit {years} years ago.",
        "History of tobacco use, quit in {year}.",
    ),
    "NEVER": (
        "Never smoker.",
        "Denies tobacco use.",
        "No history of tobacco use.",
        "Tobacco: never.",
        "Lifelong nonsmoker.",
        "{pronoun} has never smoked.",
        "Denies any history of smoking.",
        "Never used tobacco.",
    ),
    "UNKNOWN": (),
}

SMOKING_HARD: dict[str, tuple[str, ...]] = {
    "CURRENT": (
        "Quit smoking {weeks} weeks ago; before that {amount} for {years} years.",
        "Stopped smoking {months} months ago after {years} years of {amount}.",
        "Reports cutting down, still smoking {few} cigarettes a day.",
        "Denies alcohol or illicit drug use but smokes {amount}.",
        "Has tried to quit several times without success; currently {amount}.",
        "Uses a nicotine patch but still has {few} cigarettes daily.",
        "Smokes cigars most evenings.",
        "{py} pack-year history and not yet able to quit.",
    ),
    "PAST": (
        "Does not currently smoke; smoked {amount} for {years} years until {year}.",
        "No tobacco use since {year}.",
        "Smoked heavily in early adulthood, none for the past {years} years.",
        "{pronoun} quit smoking after a myocardial infarction in {year}.",
        "{py} pack-year history, quit {years} years ago.",
        "Denies current tobacco use; a former {amount} smoker.",
        "Has not smoked in {years} years.",
    ),
    "NEVER": (
        "Non-smoker.",
        "Denies tobacco, alcohol or illicit drug use.",
        "Does not smoke and does not drink.",
        "Never smoked cigarettes or used other tobacco products.",
        "No smoking history; drinks a glass of wine on weekends.",
        "Not a smoker, never has been.",
        "{pronoun} does not smoke.",
    ),
    "UNKNOWN": (
        "Smoking history could not be obtained.",
        "Social history unobtainable; the patient was intubated on arrival.",
        "Tobacco use not documented.",
        "Substance use history deferred.",
    ),
}

#: Mentions of smoking that say nothing about the patient's own status.
DISTRACTORS = (
    "{relative} was a heavy smoker and died of lung cancer at {age}.",
    "{relative} smokes {amount} at home.",
    "{relative} smoked for many years.",
    "Exposed to secondhand smoke at work.",
    "The family was counselled that nobody should smoke near the oxygen equipment.",
)

#: Statements that only current smokers' notes carry (in the discharge instructions).
CESSATION = (
    "Smoking cessation was discussed at length.",
    "Referred to the smoking cessation clinic.",
    "Started on a nicotine patch 21 mg daily.",
    "Counselled to stop smoking.",
)

AMOUNTS = (
    "1 ppd", "1/2 ppd", "2 ppd", "one pack per day", "half a pack a day", "a pack a day",
    "10 cigarettes a day", "20 cigarettes daily", "about a pack a day", "1.5 packs per day",
)
RELATIVES = ("Father", "Mother", "Her husband", "His wife", "A brother", "Her son", "Grandfather")

SERVICES = ("Cardiology", "Medicine", "Pulmonary", "General Surgery", "Neurology", "Oncology")
COMPLAINTS = (
    "chest pain radiating to the left arm", "shortness of breath on exertion",
    "a productive cough and fever", "worsening leg swelling", "palpitations and dizziness",
    "abdominal pain and nausea", "a syncopal episode at home", "right-sided weakness",
    "fatigue and weight loss", "an exacerbation of chronic obstructive pulmonary disease",
    "substernal pressure at rest", "new atrial fibrillation",
)
DURATIONS = ("for two days", "for one week", "since the morning of admission",
             "for three weeks", "intermittently for a month", "for several hours")
FINDINGS = (
    "An ECG showed sinus rhythm without acute ST changes.",
    "Chest radiograph showed a right lower lobe infiltrate.",
    "Troponin was mildly elevated.",
    "Echocardiogram showed an ejection fraction of {ef}%.",
    "CT of the head showed no acute hemorrhage.",
    "Laboratory studies were notable for a white count of {wbc}.",
    "Oxygen saturation was {sat}% on room air.",
    "BNP was elevated at {bnp}.",
)
HISTORY = (
    "hypertension", "type 2 diabetes mellitus", "hyperlipidemia", "coronary artery disease",
    "congestive heart failure", "atrial fibrillation", "chronic kidney disease stage 3",
    "hypothyroidism", "osteoarthritis", "gastroesophageal reflux disease", "depression",
    "chronic obstructive pulmonary disease", "peripheral vascular disease", "asthma",
    "prior stroke", "obstructive sleep apnea",
)
MEDICATIONS = (
    "aspirin 81 mg daily", "metoprolol 25 mg twice daily", "lisinopril 10 mg daily",
    "atorvastatin 40 mg nightly", "metformin 500 mg twice daily", "furosemide 40 mg daily",
    "levothyroxine 75 mcg daily", "omeprazole 20 mg daily", "warfarin as directed",
    "albuterol inhaler as needed", "tiotropium 18 mcg daily", "insulin glargine 20 units",
    "amlodipine 5 mg daily", "sertraline 50 mg daily", "apixaban 5 mg twice daily",
)
COURSE = (
    "{pronoun} was treated with intravenous diuretics with good response.",
    "{pronoun} underwent cardiac catheterization with placement of a drug-eluting stent.",
    "Antibiotics were started and {pronoun_lower} defervesced within 48 hours.",
    "Rate control was achieved with beta blockade.",
    "{pronoun} was monitored on telemetry without events.",
    "Physical therapy evaluated {object} and recommended home exercises.",
    "Pain was controlled with oral medication.",
    "Steroids and nebulizers were given with improvement in wheezing.",
)
ALCOHOL = (
    "Drinks {drinks} beers per week.", "Denies alcohol use.", "Occasional alcohol.",
    "Drinks socially.", "No alcohol or drug use.", "Drinks a glass of wine with dinner.",
)
LIVING = (
    "Lives with {partner} in an apartment.", "Lives alone.", "Retired {job}.",
    "Works as a {job}.", "Lives with family and is independent in daily activities.",
    "Married with two children.",
)
JOBS = ("teacher", "mechanic", "nurse", "accountant", "truck driver", "electrician", "chef",
        "postal worker", "engineer", "farmer")
FAMILY = (
    "Father with a myocardial infarction at {age}.", "Mother with type 2 diabetes.",
    "No family history of premature coronary disease.", "Sister with breast cancer.",
    "Noncontributory.", "Brother with hypertension.",
)
FOLLOW_UP = (
    "Follow up with the primary care physician in one week.",
    "Follow up in cardiology clinic in two weeks.",
    "Return for any chest pain, shortness of breath or fever.",
    "Repeat laboratory studies in one week.",
)
