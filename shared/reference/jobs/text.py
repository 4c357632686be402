"""Words of a job as people type them: folded, brought to the masculine singular, then stemmed.

Why two steps: the Snowball French stemmer (``snowballstemmer``, the reference algorithm) removes
plural and many derivational endings but treats gender unevenly (« boulangère » → ``boulanger``
while « boulanger » → ``boulang``; « coiffeuse » → ``coiffeux``). Job titles are written in both
genders, so the feminine endings of job nouns are first mapped to their masculine form by a short,
explicit table, and only then stemmed. The same function runs on the indexed titles and on the
typed text, so the two always agree.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache

import snowballstemmer

STOP_WORDS = frozenset({
    "a", "au", "aux", "d", "de", "des", "du", "en", "et", "l", "la", "le", "les", "ou", "par", "pour",
    "sur", "un", "une", "dans", "avec", "chez", "h", "f", "hf", "fh", "m", "x", "je", "nous", "cherche",
    "cherchons", "recherche", "recherchons", "besoin", "poste", "postes", "profil", "metier", "metiers",
    "tout", "toute", "toutes", "tous",  # « homme à tout faire » read « toutes armes » (a combattant)
    # The words of a sentence around the job (« un apprenti boulanger pour notre boutique »): « notre » was
    # said a typo of « notaire ». Not « son » (technicien son) nor « on » (journaliste on line).
    "notre", "nos", "votre", "vos", "leur", "leurs", "mon", "ma", "mes", "ses", "ce", "cet", "cette", "ces",
    "qui", "que", "il", "ils", "elle", "elles", "vous", "est", "sont", "sommes", "avons", "pouvons", "peut",
    "souhaite", "souhaitons", "souhaiterions", "voudrions", "aimerions", "avez", "eleve", "eleves",
})
# Words of a request that say how the company takes someone on, not which job: « apprenti électricien »,
# « stagiaire en cuisine » (read as « apprêteur » and « cuisiniste » when matched). Dropped from typed
# text only: titles keep them (« moniteur en centre de formation d'apprentis »).
REQUEST_WORDS = frozenset({
    "apprenti", "apprentie", "apprentis", "apprenties", "apprentissage", "stagiaire", "stagiaires", "stage",
    "stages", "alternant", "alternante", "alternants", "alternantes", "alternance", "pfmp", "cdi", "cdd",
    "interim", "interimaire", "embauche", "embaucher", "recrute", "recrutons", "recrutement", "urgent",
    "quelqu", "renfort", "renforts",  # « quelqu'un en cuisine », « renfort en salle »
    "accueillir", "accueillons", "accueille", "accueillerons",  # « accueillir un stagiaire »: not the accueil trade
})
# Words for the person, not the trade (« homme d'entretien », « fille de salle », « femme de chambre »): a
# title's trade is the rest of it. The index weighs them as a role word (« agent »), never above.
PERSON_WORDS = frozenset({"homme", "hommes", "femme", "femmes", "fille", "filles", "garcon", "garcons", "dame",
                          "dames"})
# Diploma words name a formation, not a job: kept apart so that « CAP boulanger » resolves like
# « boulanger » and then prefers the CAP among the boulanger formations.
DIPLOMA_WORDS = {
    "cap": "CAP", "capa": "CAPA", "bac": "BAC PRO", "bacpro": "BAC PRO", "bp": "BP", "bts": "BTS", "btsa": "BTSA",
    "mc": "MC", "cs": "CS", "bma": "BMA", "dma": "DMA", "bpa": "BPA",
}
DIPLOMA_FILLER = frozenset({"pro", "professionnel", "professionnelle", "brevet", "mention", "complementaire",
                            "certificat", "aptitude"})

# Feminine ending -> masculine ending, longest first (applied once, to words of 5 letters or more).
_GENDER = (
    ("trices", "teur"), ("trice", "teur"), ("euses", "eur"), ("euse", "eur"), ("iennes", "ien"),
    ("ienne", "ien"), ("eennes", "een"), ("onnes", "on"), ("onne", "on"), ("ieres", "ier"), ("iere", "ier"),
    ("eres", "er"), ("ere", "er"), ("ives", "if"), ("ive", "if"), ("antes", "ant"), ("ante", "ant"),
    ("entes", "ent"), ("ente", "ent"), ("ees", "e"), ("ee", "e"),
)
_WORD = re.compile(r"[a-z0-9]+")
# Gendered and inclusive spellings of job ads: « électricien(ne) », « employé(e) », « vendeur.se »,
# « conducteur·rice », « salarié·e·s »: the ending in parentheses or after a dot is dropped, and the word is
# read as written before it (its masculine). They were read as a word of their own (« ne », « rice »),
# said a typo, and « un(e) cuisinier(e) » lost the cook.
_GENDER_ENDING = re.compile(
    r"(?<=[a-z])(?:[(\u00b7\u2022\u22c5\u2027.](?:e|ne|le|se|te|re|x|euse|rice|trice|ere|iere|ienne|enne|ice)?s?\)?s?)+"
    r"(?![a-z])")
# A prefix joined by a hyphen makes one word, as it is also written (« agro-alimentaire » and
# « agroalimentaire », « télé-conseiller » and « téléconseiller »): the two spellings were two texts.
_PREFIX_HYPHEN = re.compile(r"\b(agro|bio|[ée]lectro|thermo|hydro|a[ée]ro|t[ée]l[ée])-(?=\w)", re.IGNORECASE)
# A sigle written with dots (« M.E.L.E.C », « A.S.H »): its letters, one word.
_DOTTED = re.compile(r"\b(?:[a-z]\.)+[a-z]\b\.?")
# A Snowball stemmer keeps the word it works on in its own fields: two threads stemming at once (the
# catalog answers « what does this job mean » on FastAPI's thread pool) mixed their words, and ``stem``'s
# cache then kept the wrong key for good (« électriciennes » read as « boulanger »). The lock is taken on
# a cache miss only.
_stemmer = snowballstemmer.stemmer("french")
_stemmer_lock = threading.Lock()


def fold(text: str) -> str:
    """Lower case, no accents, ligatures opened (« œuvre » → ``oeuvre``), hyphens and apostrophes as spaces."""
    text = text.replace("œ", "oe").replace("Œ", "oe").replace("æ", "ae").replace("Æ", "ae")
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.lower().replace("-", " ").replace("'", " ").replace("’", " ").split())


def words(text: str) -> list[str]:
    """Folded words, in order (stop words kept: callers decide); gendered endings dropped."""
    folded = _DOTTED.sub(lambda m: m.group(0).replace(".", ""), fold(_PREFIX_HYPHEN.sub(r"\1", text)))
    return _WORD.findall(_GENDER_ENDING.sub(" ", folded))


@lru_cache(maxsize=200_000)
def masculine(word: str) -> str:
    """« boulangères » → ``boulanger``; « électriciennes » → ``electricien`` (folded input)."""
    if len(word) >= 5:
        for fem, masc in _GENDER:
            if word.endswith(fem) and len(word) - len(fem) >= 3:
                return word[: len(word) - len(fem)] + masc
    if len(word) > 4 and word.endswith(("s", "x")) and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """The matching key of one folded word: masculine singular, then Snowball French."""
    if word.isdigit():
        return word
    word = masculine(word)
    with _stemmer_lock:
        key = _stemmer.stemWord(word)
    # Snowball sometimes drops « -iste » (cuisiniste → cuisin, machiniste → machin, garagiste → garag) and so
    # reads a trade's object as the trade of its seller: « cuisine » as cuisiniste, « conducteur de machine »
    # as a bus « conducteur machiniste ». The -iste keeps its key; the two stay related (see ``related``).
    if word.endswith("iste") and not key.endswith("ist"):
        key += "ist"
    return key


def clear_word_caches() -> None:
    """Empty the caches of ``masculine`` and ``stem`` (pure functions): after building an index, so its
    words do not stay in memory twice (they fill again with the words of requests)."""
    masculine.cache_clear()
    stem.cache_clear()


def content_words(text: str) -> list[str]:
    """Folded words that carry meaning (stop words dropped)."""
    return [w for w in words(text) if w not in STOP_WORDS]


def stems(text: str) -> list[str]:
    """Matching keys of the meaningful words of ``text``, in order, without repeats."""
    out: list[str] = []
    for w in content_words(text):
        s = stem(w)
        if s and s not in out:
            out.append(s)
    return out


def related(a: str, b: str) -> bool:
    """Two stems of one family: « boulang » (boulanger) and « boulanger » (boulangerie), « menuisi » and
    « menuiser ». One is a prefix of the other, and the shorter has at least 5 letters; the longer adds
    at most 3. Loose on purpose: callers weight it well below an exact stem."""
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    return len(short) >= 5 and long_.startswith(short) and len(long_) - len(short) <= 3
