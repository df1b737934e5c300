"""The embedded default corpus: deterministic synthetic languages named by CC-100's codes.

One shared *world* (topics, a concept lexicon with Zipfian frequencies, events of one or two clauses) is
realised by every language in its own surface forms: a lexicon derived from its family's proto-lexicon
(part of which comes from one global lexicon) by cognate retention and sound change, its own script,
word order, adjective position, morphology (suffixes or particles), articles, object marker and
conjunction. The shared world makes cross-lingual transfer possible; the surface differences make it
something a model has to learn. The labelled task (topic classification) is drawn from the same world,
with test sets that are parallel across languages. See docs/synthetic-corpus.md.

Determinism: every random draw comes from a numpy RandomState (a frozen stream, NEP 19) seeded by a
SHA-256 of (seed, purpose, language code, ...). So a language's text depends only on (config, code):
`en` is byte-identical whichever other languages are generated, and in whatever order.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from dataclasses import dataclass
from types import SimpleNamespace
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, NamedTuple, Optional, Sequence

import numpy as np

from xlmr.fields import ConfigError

from .languages import cc100_stats, known_codes

# Bump when the bytes generated for an unchanged config change (cache keys should include it).
GENERATOR_VERSION = 4

CONTACT_LANGUAGE = "en"  # the language code-switched text borrows from
_CHUNK = 2048  # sentences per RNG chunk of a corpus: a smaller corpus is a prefix of a larger one


# ============================================================================================ config
@dataclass
class SyntheticCorpusConfig:
    """Every knob of the generator. Defaults: a corpus a small model can learn from on a CPU."""

    # --- the shared world: identical for every language
    seed: int = 0  # master seed: world, proto-lexicons, languages, texts and task all derive from it
    n_topics: int = 6  # topics = task labels; every concept belongs to exactly one topic
    n_nouns: int = 120  # concepts per word class (= lexicon size of every language for that class)
    n_verbs: int = 36
    n_adjectives: int = 36
    n_places: int = 20
    n_names: int = 40  # proper names (Latin-script anchors when `anchors`)
    zipf_exponent: float = 1.0  # concept frequency ∝ 1 / rank^zipf_exponent (rank = concept id + 1)
    # True: topics own contiguous blocks of frequency ranks (topic 0 the commonest concepts), so they
    # differ in frequency profile in every language. False: random equal slices (topics exchangeable,
    # alignable from co-occurrence alone only up to a permutation; code-switching pins them).
    topic_rank_blocks: bool = False
    p_on_topic: float = 0.85  # P(a noun, adjective, place or name is drawn from the sentence's topic); verbs always are
    p_second_clause: float = 0.6  # P(a sentence has a second clause, joined by the conjunction, same topic)
    p_name_subject: float = 0.2  # P(the subject is a proper name rather than a noun phrase)
    p_plural: float = 0.35  # P(a noun phrase is plural)
    p_number: float = 0.5  # P(a plural noun phrase has a numeral)
    p_adjective: float = 0.5  # P(a noun phrase has an adjective)
    p_place: float = 0.3  # P(a clause has a place adjunct, "in"/"to" + place)
    p_doc_topic: float = 0.75  # P(a corpus sentence has its document's topic; else a uniformly drawn topic)
    # P(a content word of a non-English corpus sentence is written as the English word: web text's
    # code-switching and loanwords). Corpus text only: the task's test sets are clean translations.
    p_code_switch: float = 0.3
    # P(a corpus document of a language that the web also writes in Latin script (the bases of CC-100's
    # *_rom variants: hi, ur, bn, ta, te) is written in Latin: Hinglish, Roman Urdu). Related languages then
    # share written forms of their cognates (hi and ur share their proto-lexicon but not their scripts).
    # Corpus text only; 0 = every document in the language's own script.
    p_romanized: float = 0.0
    # --- languages: how each language realises the world
    global_share: float = 0.5  # P(a family proto-word is the global proto-word); lower = less cross-family sharing
    cognate_p: float = 0.7  # P(a language keeps its family's word (sound-changed) rather than coining a new one)
    sound_change_p: float = 0.1  # P(a phoneme is replaced, language-wide, in inherited words)
    # True: subgroups of mutually intelligible languages (hi–ur, gl–pt, cs–sk, hr–sr–bs, id–ms, da–no–sv,
    # bg–mk, nl–af; see SUBGROUPS) each descend from their family as one language, with one grammar and one
    # written standard; each member then keeps the subgroup's word with P = subgroup_cognate_p, after its own
    # light sound change. False (the default): every language descends from its family on its own. A control
    # for now: switched on, it did not lift ur (its relative hi writes in another script) and it moved the
    # default run's transfer below its bag-of-words line (docs/synthetic-corpus.md, "Subgroups").
    subgroups: bool = False
    subgroup_cognate_p: float = 0.9  # P(a member keeps its subgroup's word rather than coining a new one)
    subgroup_sound_change_p: float = 0.03  # P(a phoneme is replaced, member-wide, in its subgroup's words)
    # P(a content concept (noun, verb, adjective) of a language with a large Arabic loanword layer
    # (ARABIC_BORROWERS) is the Arabic word: ar's form, drawn independently per language and concept.
    # Perso-Arabic-script borrowers keep its Arabic spelling (their own kaf, yeh, heh), the others write its
    # sounds in their script. Dictionary estimates of the Arabic share run from about a fifth to a half of
    # the vocabulary (Persian, Urdu, Swahili). 0 = off.
    p_arabic_loan: float = 0.0
    shared_word_order: bool = False  # all languages: SVO, adjective before noun, prepositions, particles before heads
    anchors: bool = True  # digits and Latin-script proper names identical in every language
    scripts: bool = True  # own scripts and spacing; False = every language in Latin script with spaces
    # --- sizes and documents
    total_sentences: int = 1_000_000  # sentences of ALL 100 CC-100 languages together (split by CC-100 GiB)
    min_sentences: int = 2000  # floor per language, in sentences
    min_doc_sentences: int = 2  # document length, uniform in [min, max] sentences
    max_doc_sentences: int = 8
    # --- the labelled task (topic classification, TASK labels = n_topics)
    task_train_examples: int = 2000  # per language (parallel across languages too)
    task_test_examples: int = 500  # per language, parallel: row i is the same event in every language

    def __post_init__(self) -> None:
        _validate(self)


def check_config(cfg: Any) -> None:
    """Raise a one-line ConfigError (key `corpus.<field>`) unless `cfg` (the dataclass, the Hydra node or
    any object with the fields) is a valid generator config."""
    names = [f.name for f in dataclasses.fields(SyntheticCorpusConfig)]
    _validate(SimpleNamespace(**{n: getattr(cfg, n) for n in names if hasattr(cfg, n)}))


def _validate(cfg: Any) -> None:
    def bad(name: str, valid: str) -> None:
        raise ConfigError(f"corpus.{name}", getattr(cfg, name), valid)

    if cfg.n_topics < 2:
        bad("n_topics", "need at least 2 topics")
    for name in ("n_nouns", "n_verbs", "n_adjectives", "n_places", "n_names"):
        if getattr(cfg, name) < cfg.n_topics:
            bad(name, f"every topic needs a concept of each class: must be >= n_topics ({cfg.n_topics})")
    if not cfg.zipf_exponent >= 0:
        bad("zipf_exponent", "must be >= 0")
    for name in ("p_on_topic", "p_second_clause", "p_name_subject", "p_plural", "p_number", "p_adjective",
                 "p_place", "p_doc_topic", "p_code_switch", "p_romanized", "global_share", "cognate_p",
                 "sound_change_p", "subgroup_cognate_p", "subgroup_sound_change_p", "p_arabic_loan"):
        if not 0.0 <= getattr(cfg, name) <= 1.0:
            bad(name, "a probability in [0, 1]")
    if cfg.total_sentences < 0:
        bad("total_sentences", "must be >= 0")
    if cfg.min_sentences < 1:
        bad("min_sentences", "must be >= 1")
    if cfg.min_doc_sentences < 1:
        bad("min_doc_sentences", "must be >= 1")
    if cfg.max_doc_sentences < cfg.min_doc_sentences:
        bad("max_doc_sentences", f"must be >= min_doc_sentences ({cfg.min_doc_sentences})")
    if cfg.task_train_examples < 0 or cfg.task_test_examples < 0:
        bad("task_train_examples" if cfg.task_train_examples < 0 else "task_test_examples", "must be >= 0")


def _as_config(cfg: Any) -> SyntheticCorpusConfig:
    """Accept the dataclass, a subclass (the Hydra schema adds `name`) or any object with the fields."""
    if type(cfg) is SyntheticCorpusConfig:
        return cfg
    names = [f.name for f in dataclasses.fields(SyntheticCorpusConfig)]
    return SyntheticCorpusConfig(**{n: getattr(cfg, n) for n in names if hasattr(cfg, n)})


def _key(cfg: SyntheticCorpusConfig) -> tuple:
    return tuple((f.name, getattr(cfg, f.name)) for f in dataclasses.fields(SyntheticCorpusConfig))


def _rng(*parts: Any) -> np.random.RandomState:
    """An independent, stable stream per purpose: seeded by SHA-256 (never Python's salted hash())."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8")).digest()
    return np.random.RandomState(np.frombuffer(digest[:16], dtype="<u4"))


# ============================================================================================ typology
class LanguageType(NamedTuple):
    code: str
    family: str
    script: str  # writing system (see _WRITERS)
    order: str  # constituent order: SVO, SOV, VSO, VOS
    adj_after: bool  # adjective after the noun
    morph: str  # iso (isolating: particles), agg (agglutinative: suffixes, markers), fus (fusional)
    base: str  # the language whose lexicon and grammar it uses (itself, or e.g. hi for hi_rom)
    spaced: bool  # words separated by spaces
    terminator: str  # sentence-final punctuation


# code family script order adjective morphology ; a variant is "code =base script"
_TYPOLOGY = """
en germanic latin SVO AN fus | ru slavic cyrillic SVO AN fus | id austronesian latin SVO NA iso
vi austroasiatic latin_syl SVO NA iso | fa iranian persian SOV NA fus | uk slavic cyrillic SVO AN fus
th tai thai SVO NA iso | ja japonic japanese SOV AN agg | de germanic latin SOV AN fus
ro romance latin SVO NA fus | hu uralic latin SOV AN agg | bg slavic cyrillic SVO AN fus
fr romance latin SVO NA fus | fi uralic latin SVO AN agg | ko koreanic hangul SOV AN agg
es romance latin SVO NA fus | pt romance latin SVO NA fus | no germanic latin SVO AN fus
el hellenic greek SVO AN fus | zh sinitic han SVO AN iso | da germanic latin SVO AN fus
pl slavic latin SVO AN fus | he semitic hebrew SVO NA fus | it romance latin SVO NA fus
nl germanic latin SOV AN fus | ar semitic arabic VSO NA fus | sk slavic latin SVO AN fus
tr turkic latin SOV AN agg | hr slavic latin SVO AN fus | hi indoaryan devanagari SOV AN fus
zh_Hant =zh han_trad | cs slavic latin SVO AN fus | lt baltic latin SVO AN fus
ta dravidian tamil SOV AN agg | sv germanic latin SVO AN fus | sl slavic latin SVO AN fus
ca romance latin SVO NA fus | sr slavic cyrillic SVO AN fus | ka kartvelian georgian SOV AN agg
lv baltic latin SVO AN fus | ms austronesian latin SVO NA iso | bn indoaryan bengali SOV AN fus
ml dravidian malayalam SOV AN agg | az turkic latin SOV AN agg | kk turkic cyrillic SOV AN agg
et uralic latin SVO AN agg | ur indoaryan urdu SOV AN fus | hy armenian armenian SOV AN agg
sq albanian latin SVO NA fus | mk slavic cyrillic SVO AN fus | te dravidian telugu SOV AN agg
be slavic cyrillic SVO AN fus | ne indoaryan devanagari SOV AN fus | si indoaryan sinhala SOV AN fus
kn dravidian kannada SOV AN agg | is germanic latin SVO AN fus | tl austronesian latin VSO NA iso
mn mongolic cyrillic SOV AN agg | gl romance latin SVO NA fus | mr indoaryan devanagari SOV AN fus
la romance latin SOV AN fus | eu basque latin SOV NA agg | gu indoaryan gujarati SOV AN fus
my_zaw =my myanmar_zawgyi | sw bantu latin SVO NA agg | km austroasiatic khmer SVO NA iso
af germanic latin SOV AN fus | ky turkic cyrillic SOV AN agg | eo romance latin SVO AN agg
am semitic ethiopic SOV AN fus | cy celtic latin VSO NA fus | pa indoaryan gurmukhi SOV AN fus
ps iranian persian SOV AN fus | uz turkic latin SOV AN agg | lo tai lao SVO NA iso
or indoaryan oriya SOV AN fus | bn_rom =bn latin | ga celtic latin VSO NA fus
hi_rom =hi latin | ur_rom =ur latin | my sinotibetan myanmar SOV NA agg
sd indoaryan urdu SOV AN fus | so cushitic latin SOV NA agg | ug turkic persian SOV AN agg
ku iranian latin SOV NA fus | sa indoaryan devanagari SOV AN fus | ha chadic latin SVO NA iso
ta_rom =ta latin | te_rom =te latin | yi germanic hebrew SVO AN fus
mg austronesian latin VOS NA iso | fy germanic latin SOV AN fus | jv austronesian latin SVO NA iso
as indoaryan bengali SOV AN fus | br celtic latin VSO NA fus | bs slavic latin SVO AN fus
om cushitic latin SOV NA agg | gd celtic latin VSO NA fus | su austronesian latin SVO NA iso
xh bantu latin SVO NA agg
"""

_UNSPACED = {"zh", "zh_Hant", "ja", "th", "lo", "km", "my", "my_zaw"}
_TERMINATORS = {
    **dict.fromkeys(["hi", "ne", "sa", "bn", "as", "pa", "or"], "\u0964"),  # danda
    "ur": "\u06d4", "am": "\u1362", "my": "\u104b", "my_zaw": "\u104b", "km": "\u17d4", "th": "", "lo": "",
    "zh": "\u3002", "zh_Hant": "\u3002", "ja": "\u3002", "hy": "\u0589",
}


def _parse_typology() -> dict[str, LanguageType]:
    rows: dict[str, tuple[str, ...]] = {}
    for entry in _TYPOLOGY.replace("\n", "|").split("|"):
        fields = entry.split()
        if fields:
            rows[fields[0]] = tuple(fields)
    out: dict[str, LanguageType] = {}
    for code, f in rows.items():
        if f[1].startswith("="):  # a variant: the base's lexicon and grammar in another script
            b = rows[f[1][1:]]
            family, script, order, adj, morph, base = b[1], f[2], b[3], b[4], b[5], b[0]
        else:
            family, script, order, adj, morph, base = f[1], f[2], f[3], f[4], f[5], code
        out[code] = LanguageType(code, family, script, order, adj == "NA", morph, base,
                                 code not in _UNSPACED, _TERMINATORS.get(code, "."))
    return out


TYPOLOGY: dict[str, LanguageType] = _parse_typology()
_FAMILIES = tuple(sorted({t.family for t in TYPOLOGY.values()}))

# Languages whose standard varieties are mutually intelligible (a dialect continuum split by a border or
# a script): one proto-language below the family. Hindi and Urdu are one spoken language (Hindustani) in
# two scripts; Galician and Portuguese, Czech and Slovak, Croatian, Serbian and Bosnian, Indonesian and
# Malay, Danish, Norwegian and Swedish, Bulgarian and Macedonian, Dutch and Afrikaans are read across.
# Looser relatives (ru–uk–be, es–pt, tr–az) stay separate descendants of their family.
SUBGROUPS: dict[str, tuple[str, ...]] = {
    "hindustani": ("hi", "ur"), "west_iberian": ("gl", "pt"), "czecho_slovak": ("cs", "sk"),
    "bcms": ("hr", "sr", "bs"), "malay": ("id", "ms"), "scandinavian": ("da", "no", "sv"),
    "east_south_slavic": ("bg", "mk"), "low_franconian": ("nl", "af"),
}
_SUBGROUP_OF = {code: group for group, members in SUBGROUPS.items() for code in members}

# Languages with a large Arabic loanword layer (Islam, trade and Persian as the carriers): Persian, Urdu,
# Pashto, Sindhi, Uyghur and Kurdish in the Iranian and Indo-Aryan world; Turkish, Azerbaijani and Uzbek
# (Ottoman and Chagatai); Swahili, Hausa and Somali in Africa. With p_arabic_loan > 0 each takes ar's word for
# a share of its content concepts, so that ur and sw (XLM-7's low-resource pair) meet their source when ar
# joins (XLM-15) and share loans with tr in Latin script.
ARABIC_SOURCE = "ar"
ARABIC_BORROWERS = ("fa", "ur", "ps", "sd", "ug", "ku", "tr", "az", "uz", "sw", "ha", "so")
# Perso-Arabic script keeps an Arabic loan's spelling, with the borrower's own code points where its standard
# writes the same letter differently: keheh for kaf, Farsi yeh for /j/ (ar's alef maksura here), Urdu's heh
# goal. Each maps one sound to the borrower's letter for that sound (ar's yeh, /i/ here, is already the
# borrowers' /i/); letters the borrower's own words never use (ghain for /g/, ar's /e/) stay, as loans do.
_ARABIC_SPELLING_IN = {
    "persian": str.maketrans({"ك": "ک", "ى": "ی"}),
    "urdu": str.maketrans({"ك": "ک", "ى": "ی", "ه": "ہ"}),
}


def _language_type(code: str) -> LanguageType:
    if code not in TYPOLOGY or code not in known_codes():
        raise ValueError(f"unknown language code '{code}'; valid: CC-100 codes, see xlmr/data/cc100_stats.tsv "
                         "(e.g. en, fr, zh, zh_Hant, hi_rom, my_zaw)")
    return TYPOLOGY[code]


# ============================================================================================ phonology
# Words are tuples of syllables (onset, vowel, coda); onset/coda index _CONS or are -1 (none).
_CONS = ("p", "t", "k", "b", "d", "g", "m", "n", "s", "z", "f", "v", "l", "r", "h", "j", "w", "ʃ")
_VOWS = ("a", "e", "i", "o", "u")
_CONS_CDF = np.cumsum([4, 6, 6, 3, 4, 3, 5, 6, 5, 1, 2, 2, 5, 5, 2, 2, 2, 1]) / 64.0
_VOWS_CDF = np.cumsum([5, 3, 4, 3, 2]) / 17.0

Syl = tuple[int, int, int]
Word = tuple[Syl, ...]


def _pick(cdf: np.ndarray, u: float) -> int:
    return min(int(np.searchsorted(cdf, u, side="right")), len(cdf) - 1)


def _rand_word(r: np.random.RandomState, n_syl: int, coda_p: float, initial_vowel_p: float = 0.1) -> Word:
    u = r.random_sample(5 * n_syl)  # a fixed number of draws per syllable
    syls = []
    for i in range(n_syl):
        a, b, c, d, e = u[5 * i: 5 * i + 5]
        onset = -1 if (i == 0 and a < initial_vowel_p) else _pick(_CONS_CDF, b)
        coda = _pick(_CONS_CDF, e) if d < coda_p else -1
        syls.append((onset, _pick(_VOWS_CDF, c), coda))
    return tuple(syls)


def _fresh_word(r: np.random.RandomState, n_syl: int, coda_p: float, seen: set) -> Word:
    """A random word not yet in `seen` (a few tries, then one syllable longer)."""
    for attempt in range(8):
        w = _rand_word(r, n_syl + attempt // 4, coda_p)
        if w not in seen:
            break
    seen.add(w)
    return w


_FUNCTION_WORDS = ("art_sg", "art_pl", "plural", "past", "future", "agree", "obj", "adp_in", "adp_to", "conj")
_NUMERALS = 12  # morphemes 0..9, "ten", "hundred" (spelled numbers when anchors are off)


def _kinds(cfg: SyntheticCorpusConfig) -> dict[str, int]:
    return {"noun": cfg.n_nouns, "verb": cfg.n_verbs, "adj": cfg.n_adjectives, "place": cfg.n_places,
            "name": cfg.n_names, "func": len(_FUNCTION_WORDS), "num": _NUMERALS}


def _n_syl(kind: str, rank: int, r: np.random.RandomState) -> int:
    extra = int(r.random_sample() < 0.35)
    if kind in ("func", "num"):
        return 1
    if kind == "name":
        return 2 + extra
    return 1 + min(2, int(math.log2(rank + 2) / 3)) + extra  # frequent words are shorter


@lru_cache(maxsize=4)
def _global_proto(key: tuple) -> dict[str, list[Word]]:
    cfg = SyntheticCorpusConfig(**dict(key))
    out, seen = {}, set()  # one set for all classes: no two concepts share a proto-word
    for kind, n in _kinds(cfg).items():
        r = _rng(cfg.seed, "proto", "global", kind)
        out[kind] = [_fresh_word(r, _n_syl(kind, i, r), 0.25, seen) for i in range(n)]
    return out


@lru_cache(maxsize=64)
def _family_proto(key: tuple, family: str) -> dict[str, list[Word]]:
    cfg = SyntheticCorpusConfig(**dict(key))
    glob = _global_proto(key)
    out, seen = {}, {w for words in glob.values() for w in words}
    for kind, words in glob.items():
        r = _rng(cfg.seed, "proto", "family", family, kind)
        out[kind] = [gw if r.random_sample() < cfg.global_share else _fresh_word(r, _n_syl(kind, i, r), 0.25, seen)
                     for i, gw in enumerate(words)]
    return out


# ============================================================================================ scripts
def _split(s: str) -> list[str]:
    return s.split()


def _alphabet(cons: Sequence[str], vows: Sequence[str], finals: dict[str, str] | None = None,
              syllable_sep: str = "") -> Callable[[Word], str]:
    def write(word: Word) -> str:
        s = syllable_sep.join((cons[o] if o >= 0 else "") + vows[v] + (cons[c] if c >= 0 else "") for o, v, c in word)
        if finals and s[-1:] in finals:
            s = s[:-1] + finals[s[-1]]
        return s
    return write


# Indic abugidas: 18 consonants (in _CONS order), vowel signs e i o u ('a' is inherent),
# independent vowels a e i o u, virama. Code points checked to be assigned (tests check every output char).
_INDIC = {
    "devanagari": ("\u092a\u0924\u0915\u092c\u0926\u0917\u092e\u0928\u0938"
                   "\u091c\u092b\u092d\u0932\u0930\u0939\u092f\u0935\u0936",
                   "\u0947\u093f\u094b\u0941", "\u0905\u090f\u0907\u0913\u0909", "\u094d"),
    "bengali": ("\u09aa\u09a4\u0995\u09ac\u09a6\u0997\u09ae\u09a8\u09b8"
                "\u099c\u09ab\u09ad\u09b2\u09b0\u09b9\u09af\u09af\u09b6",
                "\u09c7\u09bf\u09cb\u09c1", "\u0985\u098f\u0987\u0993\u0989", "\u09cd"),
    "gurmukhi": ("\u0a2a\u0a24\u0a15\u0a2c\u0a26\u0a17\u0a2e\u0a28\u0a38"
                 "\u0a1c\u0a2b\u0a2d\u0a32\u0a30\u0a39\u0a2f\u0a35\u0a36",
                 "\u0a47\u0a3f\u0a4b\u0a41", "\u0a05\u0a0f\u0a07\u0a13\u0a09", "\u0a4d"),
    "gujarati": ("\u0aaa\u0aa4\u0a95\u0aac\u0aa6\u0a97\u0aae\u0aa8\u0ab8"
                 "\u0a9c\u0aab\u0aad\u0ab2\u0ab0\u0ab9\u0aaf\u0ab5\u0ab6",
                 "\u0ac7\u0abf\u0acb\u0ac1", "\u0a85\u0a8f\u0a87\u0a93\u0a89", "\u0acd"),
    "oriya": ("\u0b2a\u0b24\u0b15\u0b2c\u0b26\u0b17\u0b2e\u0b28\u0b38"
              "\u0b1c\u0b2b\u0b2d\u0b32\u0b30\u0b39\u0b2f\u0b35\u0b36",
              "\u0b47\u0b3f\u0b4b\u0b41", "\u0b05\u0b0f\u0b07\u0b13\u0b09", "\u0b4d"),
    "tamil": ("\u0baa\u0ba4\u0b95\u0baa\u0ba4\u0b95\u0bae\u0ba8\u0bb8"
              "\u0b9c\u0baa\u0bb5\u0bb2\u0bb0\u0bb9\u0baf\u0bb5\u0bb6",
              "\u0bc7\u0bbf\u0bcb\u0bc1", "\u0b85\u0b8f\u0b87\u0b93\u0b89", "\u0bcd"),
    "telugu": ("\u0c2a\u0c24\u0c15\u0c2c\u0c26\u0c17\u0c2e\u0c28\u0c38"
               "\u0c1c\u0c2b\u0c2d\u0c32\u0c30\u0c39\u0c2f\u0c35\u0c36",
               "\u0c47\u0c3f\u0c4b\u0c41", "\u0c05\u0c0f\u0c07\u0c13\u0c09", "\u0c4d"),
    "kannada": ("\u0caa\u0ca4\u0c95\u0cac\u0ca6\u0c97\u0cae\u0ca8\u0cb8"
                "\u0c9c\u0cab\u0cad\u0cb2\u0cb0\u0cb9\u0caf\u0cb5\u0cb6",
                "\u0cc7\u0cbf\u0ccb\u0cc1", "\u0c85\u0c8f\u0c87\u0c93\u0c89", "\u0ccd"),
    "malayalam": ("\u0d2a\u0d24\u0d15\u0d2c\u0d26\u0d17\u0d2e\u0d28\u0d38"
                  "\u0d1c\u0d2b\u0d2d\u0d32\u0d30\u0d39\u0d2f\u0d35\u0d36",
                  "\u0d47\u0d3f\u0d4b\u0d41", "\u0d05\u0d0f\u0d07\u0d13\u0d09", "\u0d4d"),
    "sinhala": ("ප ත ක බ ද ග ම න ස ජ ෆ භ ල ර හ ය ව ශ", "ෙ ි ො ු", "අ එ ඉ ඔ උ", "්"),
}


def _indic(cons: str, signs: str, indep: str, virama: str) -> Callable[[Word], str]:
    cons, signs, indep = [c for c in cons if not c.isspace()], [c for c in signs if not c.isspace()], \
        [c for c in indep if not c.isspace()]
    sign = ["", *signs]  # a e i o u: 'a' is the inherent vowel

    def write(word: Word) -> str:
        out = []
        for o, v, c in word:
            out.append(cons[o] + sign[v] if o >= 0 else indep[v])
            if c >= 0:
                out.append(cons[c] + virama)
        return "".join(out)
    return write


def _mainland_se(cons: str, before: Sequence[str], after: Sequence[str], carrier: str, coda_mark: str):
    """Thai, Lao, Khmer, Myanmar: consonant (or vowel carrier) with vowel marks before/after it."""
    cons_l = _split(cons)

    def write(word: Word) -> str:
        return "".join(before[v] + (cons_l[o] if o >= 0 else carrier) + after[v]
                       + (cons_l[c] + coda_mark if c >= 0 else "") for o, v, c in word)
    return write


# Ethiopic: one row per consonant (7 vowel orders); a e i o u -> orders 3 4 2 6 1; a bare consonant is order 5.
_ETHIOPIC_ROWS = (0x1350, 0x1270, 0x12A8, 0x1260, 0x12F0, 0x1308, 0x1218, 0x1290, 0x1230, 0x12D8, 0x1348, 0x1268,
                  0x1208, 0x1228, 0x1200, 0x12E8, 0x12C8, 0x1238)


def _ethiopic(word: Word) -> str:
    order = (3, 4, 2, 6, 1)
    return "".join(chr((_ETHIOPIC_ROWS[o] if o >= 0 else 0x12A0) + order[v])
                   + (chr(_ETHIOPIC_ROWS[c] + 5) if c >= 0 else "") for o, v, c in word)


# Hangul: one block per syllable (initial, medial, final jamo indices); l/r merge as in Korean.
_HANGUL_L = (17, 16, 15, 7, 3, 0, 6, 2, 9, 12, 8, 10, 5, 5, 18, 4, 11, 14)
_HANGUL_V = (0, 5, 20, 8, 13)
_HANGUL_T = (17, 7, 1, 17, 7, 1, 16, 4, 19, 22, 26, 17, 8, 8, 27, 21, 21, 23)


def _hangul(word: Word) -> str:
    return "".join(chr(0xAC00 + ((_HANGUL_L[o] if o >= 0 else 11) * 21 + _HANGUL_V[v]) * 28
                       + (_HANGUL_T[c] if c >= 0 else 0)) for o, v, c in word)


# Kana (hiragana; katakana = +0x60): rows in _CONS order, columns a e i o u; l/r merge as in Japanese.
_KANA_ROWS = {
    "p": "ぱ ぺ ぴ ぽ ぷ", "t": "た て ち と つ", "k": "か け き こ く", "b": "ば べ び ぼ ぶ", "d": "だ で ぢ ど づ",
    "g": "が げ ぎ ご ぐ", "m": "ま め み も む", "n": "な ね に の ぬ", "s": "さ せ し そ す", "z": "ざ ぜ じ ぞ ず",
    "f": "ふぁ ふぇ ふぃ ふぉ ふ", "v": "ゔぁ ゔぇ ゔぃ ゔぉ ゔ", "l": "ら れ り ろ る", "r": "ら れ り ろ る",
    "h": "は へ ひ ほ ふ", "j": "や え い よ ゆ", "w": "わ ゑ ゐ を う", "ʃ": "しゃ しぇ し しょ しゅ",
}
_KANA = [_split(_KANA_ROWS[c]) for c in _CONS]
_KANA_V = _split("あ え い お う")


def _kana(word: Word, katakana: bool = False) -> str:
    s = "".join((_KANA[o][v] if o >= 0 else _KANA_V[v]) + ("" if c < 0 else "ん" if _CONS[c] in "mn" else "っ")
                for o, v, c in word)
    return "".join(chr(ord(ch) + 0x60) if 0x3041 <= ord(ch) <= 0x3096 else ch for ch in s) if katakana else s


# Han: one character per syllable, an injective affine map of the syllable's index into U+4E00..U+9FA2.
# zh_Hant writes ~30% of the syllables with another character (its "traditional" form).
_HAN_P = 20899  # prime; 0x4E00 + 20898 <= 0x9FA5 (all assigned since Unicode 1.1)


def _syllable_index(o: int, v: int, c: int) -> int:
    return ((o + 1) * 5 + v) * 19 + (c + 1)


def _han(word: Word, traditional: bool = False) -> str:
    out = []
    for o, v, c in word:
        k = _syllable_index(o, v, c)
        if traditional and (k * 7) % 10 < 3:
            out.append(chr(0x4E00 + (k * 4093 + 10007) % _HAN_P))
        else:
            out.append(chr(0x4E00 + (k * 7919 + 1234) % _HAN_P))
    return "".join(out)


_ALPHABETS = {
    "cyrillic": ("п т к б д г м н с з ф в л р х й ў ш", "а е и о у", None),
    "greek": ("π τ κ μπ ντ γκ μ ν σ ζ φ β λ ρ χ γ ϝ ξ", "α ε ι ο ου", {"σ": "ς"}),
    "armenian": ("պ տ կ բ դ գ մ ն ս զ ֆ վ լ ր հ յ ւ շ", "ա ե ի ո ու", None),
    "georgian": ("პ ტ კ ბ დ გ მ ნ ს ზ ფ ვ ლ რ ჰ ჲ ჳ შ", "ა ე ი ო უ", None),
    "hebrew": ("פ ת כ ב ד ג מ נ ס ז צ בֿ ל ר ה ײ װ ש", "א ע י אָ ו",
               {"כ": "ך", "מ": "ם", "נ": "ן", "פ": "ף", "צ": "ץ"}),
    "arabic": ("پ ت ك ب د غ م ن س ز ف ڤ ل ر ه ى ۋ ش", "ا ې ي ۆ و", None),
    "persian": ("پ ت ک ب د گ م ن س ز ف ڤ ل ر ه ی ۋ ش", "ا ە ي ۆ و", None),
    # Urdu's alphabet is the Persian one with a few letters of its own, among them heh goal (ہ) and bari ye
    # (ے), its letters for /h/ and /e/ here. The same sound is the same letter in both, so Urdu, Persian and
    # Arabic (but for its code points of kaf and yeh and its letters for g and e) write their shared words alike.
    "urdu": ("پ ت ک ب د گ م ن س ز ف ڤ ل ر ہ ی ۋ ش", "ا ے ي ۆ و", None),
}
_LATIN = ("p", "t", "k", "b", "d", "g", "m", "n", "s", "z", "f", "v", "l", "r", "h", "y", "w", "sh")
_LATIN_J = ("y", "j", "y")
_LATIN_W = ("w", "w", "u")
_LATIN_SH = ("sh", "sch", "ch", "sz", "š", "x", "ş", "sj")
_latin_standard = _alphabet(_LATIN, _VOWS)  # names (anchors) and scripts=False


class _Writer:
    """Writes a word (stem syllables + suffix syllables) in one script; `role` matters for Japanese only."""

    def __init__(self, script: str, ortho: np.random.RandomState):
        u = ortho.random_sample(3)  # a Latin-script language's own spelling of /j/, /w/, /ʃ/
        latin = list(_LATIN)
        latin[15] = _LATIN_J[int(u[0] * len(_LATIN_J))]
        latin[16] = _LATIN_W[int(u[1] * len(_LATIN_W))]
        latin[17] = _LATIN_SH[int(u[2] * len(_LATIN_SH))]
        self.script = script
        self.cased = script in ("latin", "latin_syl", "latin_standard", "cyrillic", "greek", "armenian")
        if script == "latin_standard":
            self.fn = _latin_standard
        elif script in ("latin", "latin_syl"):
            self.fn = _alphabet(latin, _VOWS, syllable_sep=" " if script == "latin_syl" else "")
        elif script in _ALPHABETS:
            cons, vows, finals = _ALPHABETS[script]
            self.fn = _alphabet(_split(cons), _split(vows), finals)
        elif script in _INDIC:
            self.fn = _indic(*_INDIC[script])
        elif script == "thai":
            self.fn = _mainland_se("ป ต ก บ ด ค ม น ส ซ ฟ ฝ ล ร ห ย ว ช", ("", "เ", "", "โ", ""),
                                   ("า", "", "ิ", "", "ุ"), "อ", "")
        elif script == "lao":
            self.fn = _mainland_se("ປ ຕ ກ ບ ດ ຄ ມ ນ ສ ຊ ຟ ຝ ລ ຣ ຫ ຍ ວ ຈ", ("", "ເ", "", "ໂ", ""),
                                   ("າ", "", "ິ", "", "ຸ"), "ອ", "")
        elif script == "khmer":
            self.fn = _mainland_se("ព ត ក ប ដ គ ម ន ស ជ ផ ភ ល រ ហ យ វ ឆ", ("",) * 5,
                                   ("ា", "េ", "ិ", "ោ", "ុ"), "អ", "")
        elif script == "myanmar":  # Unicode: vowel signs stored after the consonant, asat on codas
            self.fn = _mainland_se("ပ တ က ဗ ဒ ဂ မ န စ ဇ ဖ ဘ လ ရ ဟ ယ ဝ သ", ("",) * 5,
                                   ("ာ", "ေ", "ိ", "ော", "ု"), "အ", "\u103a")
        elif script == "myanmar_zawgyi":  # Zawgyi: the e-sign typed before the consonant, another killer mark
            self.fn = _mainland_se("ပ တ က ဗ ဒ ဂ မ န စ ဇ ဖ ဘ လ ရ ဟ ယ ဝ သ", ("", "ေ", "", "ေ", ""),
                                   ("ာ", "", "ိ", "ာ", "ု"), "အ", "\u1039")
        elif script == "ethiopic":
            self.fn = _ethiopic
        elif script == "hangul":
            self.fn = _hangul
        elif script in ("han", "japanese"):
            self.fn = _han
        elif script == "han_trad":
            self.fn = lambda w: _han(w, traditional=True)
        else:  # pragma: no cover - the typology table names only the scripts above
            raise ValueError(f"no writer for script {script!r}")

    def form(self, stem: Word, suffix: Word = (), role: str = "content") -> str:
        if self.script == "japanese":  # kanji stems, hiragana endings and function words, katakana names
            if role == "name":
                return _kana(stem + suffix, katakana=True)
            return _kana(stem + suffix) if role == "function" else _han(stem) + _kana(suffix)
        s = self.fn(stem + suffix)
        return s[:1].upper() + s[1:] if role == "name" and self.cased else s


def _sound_change(r: np.random.RandomState, p: float) -> Callable[[Word], Word]:
    """A language-wide sound change: each consonant and vowel is replaced (everywhere) with P = p."""
    cu, cv, vu, vv = r.random_sample(18), r.random_sample(18), r.random_sample(5), r.random_sample(5)
    cmap = [(_pick(_CONS_CDF, cv[i]) if cu[i] < p else i) for i in range(18)]
    vmap = [(_pick(_VOWS_CDF, vv[i]) if vu[i] < p else i) for i in range(5)]

    def changed(w: Word) -> Word:
        return tuple((cmap[o] if o >= 0 else -1, vmap[v], cmap[c] if c >= 0 else -1) for o, v, c in w)
    return changed


# ============================================================================================ world
_WORLD_KINDS = ("noun", "verb", "adj", "place", "name")
_COMMON_NUMBERS = np.array([2, 3, 4, 5, 6, 7, 8, 10, 12, 20, 50, 100])
_TENSE_CDF = np.array([0.5, 0.8])  # present 0.5, past 0.3, future 0.2


class _World:
    """Topics and concepts (shared by all languages) and the sampler of latent events."""

    def __init__(self, cfg: SyntheticCorpusConfig):
        self.cfg = cfg
        self.T = cfg.n_topics
        r = _rng(cfg.seed, "world")
        sizes = _kinds(cfg)
        self.topic_of: dict[str, np.ndarray] = {}
        self.tables: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
        for kind in _WORLD_KINDS:
            n = sizes[kind]
            if cfg.topic_rank_blocks:  # topic t owns frequency ranks [t n / T, (t + 1) n / T)
                topic_of = np.arange(n) * self.T // n
            else:  # random equal slices of the ranks: topics exchangeable
                topic_of = (np.arange(n) % self.T)[r.permutation(n)]
            weight = (np.arange(n) + 1.0) ** -cfg.zipf_exponent  # id = frequency rank
            table = []
            for t in range(self.T + 1):  # t == T: any topic
                ids = np.arange(n) if t == self.T else np.flatnonzero(topic_of == t)
                cdf = np.cumsum(weight[ids])
                table.append((ids, cdf / cdf[-1]))
            self.topic_of[kind], self.tables[kind] = topic_of, table

    def _draw(self, r: np.random.RandomState, kind: str, topics: np.ndarray, p_on: float) -> np.ndarray:
        n = len(topics)
        eff = np.where(r.random_sample(n) < p_on, topics, self.T)
        u = r.random_sample(n)
        out = np.empty(n, dtype=np.int64)
        for t, (ids, cdf) in enumerate(self.tables[kind]):
            m = eff == t
            if m.any():
                out[m] = ids[np.minimum(np.searchsorted(cdf, u[m], side="right"), len(ids) - 1)]
        return out

    def _noun_phrase(self, r: np.random.RandomState, topics: np.ndarray) -> dict[str, np.ndarray]:
        cfg, n = self.cfg, len(topics)
        noun = self._draw(r, "noun", topics, cfg.p_on_topic)
        pl = r.random_sample(n) < cfg.p_plural
        has_num = pl & (r.random_sample(n) < cfg.p_number)
        common = _COMMON_NUMBERS[r.randint(len(_COMMON_NUMBERS), size=n)]
        value = np.where(r.random_sample(n) < 0.8, common, r.randint(2, 1000, size=n))
        has_adj = r.random_sample(n) < cfg.p_adjective
        adj = self._draw(r, "adj", topics, cfg.p_on_topic)
        return {"noun": noun, "pl": pl, "num": np.where(has_num, value, 0), "adj": adj, "has_adj": has_adj}

    def _clause(self, r: np.random.RandomState, topics: np.ndarray) -> dict[str, Any]:
        cfg, n = self.cfg, len(topics)
        verb = self._draw(r, "verb", topics, 1.0)
        tense = np.searchsorted(_TENSE_CDF, r.random_sample(n), side="right")
        is_name = r.random_sample(n) < cfg.p_name_subject
        name = self._draw(r, "name", topics, cfg.p_on_topic)
        subj = self._noun_phrase(r, topics)
        obj = self._noun_phrase(r, topics)
        has_place = r.random_sample(n) < cfg.p_place
        place = self._draw(r, "place", topics, cfg.p_on_topic)
        rel = (r.random_sample(n) < 0.5).astype(np.int64)
        return {"verb": verb, "tense": tense, "is_name": is_name, "name": name, "subj": subj, "obj": obj,
                "has_place": has_place, "place": place, "rel": rel}

    def events(self, r: np.random.RandomState, topics: np.ndarray) -> dict[str, Any]:
        """Latent events: sentence i has topic topics[i], one clause, and a second one when has2[i]."""
        topics = np.asarray(topics, dtype=np.int64)
        c1 = self._clause(r, topics)
        c2 = self._clause(r, topics)
        has2 = r.random_sample(len(topics)) < self.cfg.p_second_clause
        return {"topic": topics, "c1": c1, "c2": c2, "has2": has2}


@lru_cache(maxsize=4)
def _world(key: tuple) -> _World:
    return _World(SyntheticCorpusConfig(**dict(key)))


# ============================================================================================ languages
# P(feature) by morphological type: articles, plural suffix (else particle), tense suffix (else particle),
# subject-verb agreement suffix, object marker.
_MORPH_P = {
    "fus": {"art": 0.6, "pl_suffix": 0.85, "tense_suffix": 0.75, "agree": 0.6, "obj": 0.3},
    "agg": {"art": 0.15, "pl_suffix": 0.9, "tense_suffix": 0.9, "agree": 0.4, "obj": 0.9},
    "iso": {"art": 0.1, "pl_suffix": 0.0, "tense_suffix": 0.0, "agree": 0.0, "obj": 0.3},
}


class _Language:
    """One language's grammar and its table of precomputed surface forms."""

    def __init__(self, cfg: SyntheticCorpusConfig, code: str):
        t = _language_type(code)
        self.code, self.type, self.cfg = code, t, cfg
        key = _key(cfg)
        group = _SUBGROUP_OF.get(t.base) if cfg.subgroups else None
        # A subgroup descends from its family as one language ("lineage"): its grammar, sound changes and
        # coinages are drawn once for all its members; a language outside a subgroup is its own lineage.
        lineage = group or t.base
        g = _rng(cfg.seed, "lang", lineage, "grammar")
        u = g.random_sample(16)  # fixed draws: grammar choices
        p = _MORPH_P[t.morph]
        shared = cfg.shared_word_order
        self.order = "SVO" if shared else t.order
        self.verb_final = self.order.endswith("V")
        self.adj_after = False if shared else t.adj_after
        self.adp_post = False if shared else self.verb_final
        self.has_art = bool(u[0] < p["art"])
        self.art_post = bool(u[1] < 0.3) and not shared
        self.art_agrees = bool(u[2] < 0.5)
        self.pl_suffix = bool(u[3] < p["pl_suffix"])
        self.plw_post = bool(u[4] < 0.5) and not shared
        self.tense_suffix = bool(u[5] < p["tense_suffix"])
        self.tense_post = bool(u[6] < 0.6) or shared
        self.agree = bool(u[7] < p["agree"])
        self.has_obj = bool(u[8] < p["obj"])
        self.obj_post = (self.adp_post or t.morph == "agg") and not shared
        coda_p = 0.05 + 0.35 * u[9]

        # lexicon: the family's words (sound-changed) with P = cognate_p, else a new word
        changed = _sound_change(_rng(cfg.seed, "lang", lineage, "sound"), cfg.sound_change_p)

        proto = _family_proto(key, t.family)
        # A coined word is new: no proto-word of any family, no inherited word, no other coinage (real
        # languages share far more true cognates than false friends).
        taken = {w for fam in _FAMILIES for words in _family_proto(key, fam).values() for w in words}
        taken |= {w for words in _global_proto(key).values() for w in words}
        taken |= {changed(w) for words in proto.values() for w in words}
        lex: dict[str, list[Word]] = {}
        for kind, words in proto.items():
            r = _rng(cfg.seed, "lang", lineage, "lexicon", kind)
            lex[kind] = [changed(w) if r.random_sample() < cfg.cognate_p else _fresh_word(r, len(w), coda_p, taken)
                         for w in words]
        if group:  # the member's own light sound change, and its own word for a few concepts
            changed = _sound_change(_rng(cfg.seed, "lang", t.base, "member", "sound"), cfg.subgroup_sound_change_p)
            taken |= {w for words in lex.values() for w in words}
            for kind, words in lex.items():
                r = _rng(cfg.seed, "lang", t.base, "member", "lexicon", kind)
                lex[kind] = [changed(w) if r.random_sample() < cfg.subgroup_cognate_p
                             else _fresh_word(r, len(w), coda_p, taken) for w in words]
        # Arabic loans replace the word for a share of the content concepts (after the subgroup step: a
        # member borrows on its own). ar is no borrower, so building it here does not recurse.
        loans = {}
        if cfg.p_arabic_loan > 0 and t.base in ARABIC_BORROWERS:
            source = _language(key, ARABIC_SOURCE).lexicon
            for kind in ("noun", "verb", "adj"):
                loans[kind] = _rng(cfg.seed, "loan", t.base, kind).random_sample(len(lex[kind])) < cfg.p_arabic_loan
                lex[kind] = [source[kind][i] if loan else w for i, (w, loan) in enumerate(zip(lex[kind], loans[kind]))]
        self.subgroup = group
        self.lexicon = lex
        self.loans = loans  # {kind: (n,) bool, True = the Arabic word}; empty without loans
        fw = dict(zip(_FUNCTION_WORDS, lex["func"]))

        script = t.script if cfg.scripts else "latin_standard"  # one spelling for every language
        self.spaced = t.spaced or not cfg.scripts
        # A subgroup shares one written standard: its Latin spelling (hi_rom and ur_rom write Hindustani alike).
        writer = _Writer(script, _rng(cfg.seed, "ortho", group or code))
        terminator = t.terminator if cfg.scripts else "."

        # the form table: index 0 is the empty string (an absent slot)
        forms: list[str] = [""]

        def section(items: list[str]) -> int:
            forms.extend(items)
            return len(forms) - len(items)

        self.writer = writer
        arabic_spelling = _ARABIC_SPELLING_IN.get(script) if loans else None
        if arabic_spelling is not None:
            source_writer = _language(key, ARABIC_SOURCE).writer

        def write(kind: str, i: int, suffix: Word = ()) -> str:
            """Concept i of `kind` with `suffix`; an Arabic loan in Perso-Arabic script keeps its source
            spelling for the stem (these alphabets write letter by letter, so stem and suffix concatenate)."""
            if arabic_spelling is not None and loans[kind][i]:
                return source_writer.form(lex[kind][i]).translate(arabic_spelling) + writer.form((), suffix)
            return writer.form(lex[kind][i], suffix)

        pl_suf = fw["plural"] if self.pl_suffix else ()
        self.o_noun = section([write("noun", i, suf) for i in range(len(lex["noun"])) for suf in ((), pl_suf)])
        verbs = []
        for i in range(len(lex["verb"])):
            for tense in range(3):
                t_suf = (fw["past"], fw["future"])[tense - 1] if (tense and self.tense_suffix) else ()
                for agr in range(2):
                    verbs.append(write("verb", i, t_suf + (fw["agree"] if agr and self.agree else ())))
        self.o_verb = section(verbs)
        self.o_adj = section([write("adj", i) for i in range(len(lex["adj"]))])
        self.o_place = section([writer.form(w) for w in lex["place"]])
        if cfg.anchors:  # the same Latin-script names in every language
            names = [_capitalize(_latin_standard(w)) for w in _global_proto(key)["name"]]
        else:
            names = [writer.form(w, role="name") for w in lex["name"]]
        self.o_name = section(names)
        if cfg.anchors:
            self.o_num = section([str(i) for i in range(1000)])
        else:
            self.o_num = section([writer.form(_spell_number(i, lex["num"])) for i in range(1000)])
        fn = {k: section([writer.form(w, role="function")]) for k, w in fw.items()}
        self.i_art = (fn["art_sg"], fn["art_pl"] if self.art_agrees else fn["art_sg"])
        self.i_plw = fn["plural"]
        self.i_tense = np.array([0, fn["past"], fn["future"]])
        self.i_obj = fn["obj"]
        self.i_adp = np.array([fn["adp_in"], fn["adp_to"]])
        self.i_conj = fn["conj"]
        if self.spaced:  # every word carries its leading space; a sentence drops its first character
            forms = [(" " + f) if f else f for f in forms]
        self.i_term = section([terminator]) if terminator else 0  # attached to the last word
        self.forms = np.array(forms, dtype=object)

    # ---------------------------------------------------------------- realisation (vectorised)
    def _np_cols(self, np_: dict[str, np.ndarray], is_name: np.ndarray | None = None,
                 name: np.ndarray | None = None) -> list[np.ndarray]:
        pl = np_["pl"] if is_name is None else np_["pl"] & ~is_name
        head = self.o_noun + 2 * np_["noun"] + (pl if self.pl_suffix else 0)
        num = np.where(np_["num"] > 0, self.o_num + np_["num"], 0)
        adj = np.where(np_["has_adj"], self.o_adj + np_["adj"], 0)
        art = np.where(pl, self.i_art[1], self.i_art[0]) if self.has_art else None
        if is_name is not None:
            head = np.where(is_name, self.o_name + name, head)
            num, adj = np.where(is_name, 0, num), np.where(is_name, 0, adj)
            art = np.where(is_name, 0, art) if art is not None else None
        plw = None if self.pl_suffix else np.where(pl, self.i_plw, 0)
        # [article] numeral [adjective] [plural particle] HEAD [plural particle] [adjective] [article]
        cols = [art] if art is not None and not self.art_post else []
        cols.append(num)
        if not self.adj_after:
            cols.append(adj)
        if plw is not None and not self.plw_post:
            cols.append(plw)
        cols.append(head)
        if plw is not None and self.plw_post:
            cols.append(plw)
        if self.adj_after:
            cols.append(adj)
        if art is not None and self.art_post:
            cols.append(art)
        return cols

    def _clause_cols(self, c: dict[str, Any]) -> list[np.ndarray]:
        subj = self._np_cols(c["subj"], c["is_name"], c["name"])
        obj = self._np_cols(c["obj"])
        if self.has_obj:
            marker = np.full(len(c["verb"]), self.i_obj)
            obj = obj + [marker] if self.obj_post else [marker] + obj
        agr = (c["subj"]["pl"] & ~c["is_name"]).astype(np.int64)
        verb = [self.o_verb + (c["verb"] * 3 + c["tense"]) * 2 + agr]
        if not self.tense_suffix:
            particle = self.i_tense[c["tense"]]
            verb = verb + [particle] if self.tense_post else [particle] + verb
        place = np.where(c["has_place"], self.o_place + c["place"], 0)
        adp = np.where(c["has_place"], self.i_adp[c["rel"]], 0)
        pp = [place, adp] if self.adp_post else [adp, place]
        blocks = {"S": subj, "O": obj, "V": verb}
        cols: list[np.ndarray] = []
        for b in self.order:
            if b == "V" and self.verb_final:
                cols += pp
            cols += blocks[b]
        return cols if self.verb_final else cols + pp

    def content_slots(self) -> np.ndarray:
        """(len(forms),) bool: which form indices are content words (nouns, verbs, adjectives, places).
        The sections have the same layout in every language, so index k of a section is the same
        concept (and the same inflection slot) everywhere."""
        cfg = self.cfg
        mask = np.zeros(len(self.forms), dtype=bool)
        for start, size in ((self.o_noun, 2 * cfg.n_nouns), (self.o_verb, 6 * cfg.n_verbs),
                            (self.o_adj, cfg.n_adjectives), (self.o_place, cfg.n_places)):
            mask[start: start + size] = True
        return mask

    def realise(self, events: dict[str, Any], switch: Optional["_CodeSwitch"] = None,
                r: Optional[np.random.RandomState] = None,
                latin: Optional[tuple[np.ndarray, np.ndarray]] = None) -> list[str]:
        """The sentences of `events`; with `switch`, each content word is replaced by its English form
        with probability switch.p (draws from r); with `latin` = (forms, rows), the sentences where rows is
        True are written with those forms (the language's Latin-script variant, same form layout)."""
        has2 = events["has2"]
        cols = self._clause_cols(events["c1"])
        cols.append(np.where(has2, self.i_conj, 0))
        cols += [np.where(has2, col, 0) for col in self._clause_cols(events["c2"])]
        if self.i_term:
            cols.append(np.full(len(has2), self.i_term))
        ix = np.stack(cols, axis=1)  # (sentences, slots): form indices, 0 = empty slot
        words = self.forms[ix]
        if latin is not None:
            words = np.where(latin[1][:, None], latin[0][ix], words)
        if switch is not None and switch.p > 0:
            u = r.random_sample(ix.shape)  # drawn for every slot: the stream does not depend on the text
            words = np.where(switch.content[ix] & (u < switch.p), switch.forms[ix], words)
        rows = words.tolist()
        if self.spaced:
            return ["".join(row)[1:] for row in rows]
        return ["".join(row) for row in rows]


class _CodeSwitch(NamedTuple):
    """A language's code-switching table: forms[i] is the English word for form index i (in this
    language's spacing), content[i] says whether index i may switch, p = P(switch) per content word."""
    p: float
    forms: np.ndarray
    content: np.ndarray


@lru_cache(maxsize=128)
def _code_switch(key: tuple, code: str) -> Optional[_CodeSwitch]:
    """English as the web's contact language: None for English itself or p_code_switch = 0."""
    cfg = SyntheticCorpusConfig(**dict(key))
    if code == CONTACT_LANGUAGE or cfg.p_code_switch == 0:
        return None
    lang, en = _language(key, code), _language(key, CONTACT_LANGUAGE)
    content = lang.content_slots()
    # The content sections come first in every form table, with sizes set by the config: index i is the
    # same concept and inflection slot in both languages.
    assert (lang.o_noun, lang.o_place) == (en.o_noun, en.o_place)
    forms = lang.forms.copy()
    slots = np.flatnonzero(content)
    forms[slots] = en.forms[slots]  # with its leading space, in unspaced scripts too ("中文 English"), as on the web
    return _CodeSwitch(cfg.p_code_switch, forms, content)


@lru_cache(maxsize=128)
def _latin_forms(key: tuple, code: str) -> Optional[np.ndarray]:
    """The form table of the language's Latin-script variant (e.g. ur_rom for ur), when it has one and
    p_romanized > 0: the same concepts and inflections at the same indices, written in Latin."""
    cfg = SyntheticCorpusConfig(**dict(key))
    variant = f"{code}_rom"
    if cfg.p_romanized == 0 or variant not in TYPOLOGY:
        return None
    lang, rom = _language(key, code), _language(key, variant)
    assert len(rom.forms) == len(lang.forms) and rom.i_term == lang.i_term and rom.o_noun == lang.o_noun
    return rom.forms


def _capitalize(s: str) -> str:
    return s[:1].upper() + s[1:]


def _spell_number(n: int, morphemes: list[Word]) -> Word:
    """A language's own numeral for n (anchors off): unit/ten/hundred morphemes composed into one word."""
    hundreds, rest = divmod(n, 100)
    tens, units = divmod(rest, 10)
    out: Word = ()
    if hundreds:
        out += (morphemes[hundreds] if hundreds > 1 else ()) + morphemes[11]
    if tens:
        out += (morphemes[tens] if tens > 1 else ()) + morphemes[10]
    if units or not out:
        out += morphemes[units]
    return out


@lru_cache(maxsize=128)
def _language(key: tuple, code: str) -> _Language:
    return _Language(SyntheticCorpusConfig(**dict(key)), code)


# ============================================================================================ texts
def _corpus_chunk(cfg: SyntheticCorpusConfig, code: str, j: int) -> list[list[str]]:
    """Chunk j of a language's corpus: _CHUNK sentences cut into documents (a document never spans chunks)."""
    key = _key(cfg)
    world, lang = _world(key), _language(key, code)
    r = _rng(cfg.seed, "corpus", code, j)
    lens = r.randint(cfg.min_doc_sentences, cfg.max_doc_sentences + 1, size=_CHUNK)
    doc_topic = r.randint(cfg.n_topics, size=_CHUNK)
    keep = r.random_sample(_CHUNK) < cfg.p_doc_topic
    other = r.randint(cfg.n_topics, size=_CHUNK)
    ends = np.cumsum(lens)
    n_docs = int(np.searchsorted(ends, _CHUNK)) + 1
    ends = np.minimum(ends[:n_docs], _CHUNK)
    doc_of = np.repeat(np.arange(n_docs), np.diff(np.concatenate([[0], ends])))
    topics = np.where(keep, doc_topic[doc_of], other)
    latin = _latin_forms(key, code)
    if latin is not None:  # whole documents in Latin script, drawn from their own stream (the rest is unchanged)
        romanized = _rng(cfg.seed, "romanized", code, j).random_sample(n_docs) < cfg.p_romanized
        latin = (latin, romanized[doc_of])
    sentences = lang.realise(world.events(r, topics), _code_switch(key, code), r, latin)
    starts = np.concatenate([[0], ends[:-1]])
    return [sentences[a:b] for a, b in zip(starts.tolist(), ends.tolist())]


@lru_cache(maxsize=8)
def _task_events(key: tuple, split: str) -> dict[str, Any]:
    cfg = SyntheticCorpusConfig(**dict(key))
    n = cfg.task_train_examples if split == "train" else cfg.task_test_examples
    r = _rng(cfg.seed, "task", split)
    labels = (np.arange(n) % cfg.n_topics)[r.permutation(n)]  # balanced labels, shuffled
    return _world(key).events(r, labels)


# ============================================================================================ public API
def task_num_labels(cfg: SyntheticCorpusConfig) -> int:
    """Number of labels of the classification task (= topics)."""
    return cfg.n_topics


def sentence_counts(cfg: SyntheticCorpusConfig, codes: Sequence[str]) -> dict[str, int]:
    """Sentences per language: max(min_sentences, round(total_sentences * GiB_i / GiB of all 100 languages)).
    A language's count does not depend on which other languages are asked for."""
    cfg = _as_config(cfg)
    stats = cc100_stats()
    total_gib = sum(s.size_gib for s in stats.values())
    out = {}
    for code in codes:
        _language_type(code)
        out[code] = max(cfg.min_sentences, round(cfg.total_sentences * stats[code].size_gib / total_gib))
    return out


def write_language(cfg: SyntheticCorpusConfig, code: str, path: Path) -> dict:
    """Write one language's corpus in CC-100's layout (UTF-8, one sentence per line, a blank line between
    documents). Returns {"sentences", "documents", "chars" (sentence characters, newlines excluded),
    "bytes" (file size)}."""
    cfg = _as_config(cfg)
    n = sentence_counts(cfg, [code])[code]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = documents = chars = 0
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        j = 0
        while written < n:
            parts = []
            for doc in _corpus_chunk(cfg, code, j):
                doc = doc[: n - written]
                parts.append("\n".join(doc) + "\n")
                written += len(doc)
                chars += sum(map(len, doc))
                if written == n:
                    break
            f.write(("\n" if documents else "") + "\n".join(parts))
            documents += len(parts)
            j += 1
    return {"sentences": written, "documents": documents, "chars": chars, "bytes": path.stat().st_size}


def write_task(cfg: SyntheticCorpusConfig, code: str, out_dir: Path) -> dict:
    """Write out_dir/<code>.train.tsv and <code>.test.tsv ("label\\ttext", label an int in [0, n_topics)).
    Both splits are parallel across languages: row i is the same latent event in every language."""
    cfg = _as_config(cfg)
    _language_type(code)
    key = _key(cfg)
    lang = _language(key, code)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = {}
    for split in ("train", "test"):
        events = _task_events(key, split)
        texts = lang.realise(events) if len(events["topic"]) else []
        lines = ["label\ttext"] + [f"{label}\t{text}" for label, text in zip(events["topic"].tolist(), texts)]
        (out_dir / f"{code}.{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8", newline="\n")
        counts[split] = len(texts)
    return {"train": counts["train"], "test": counts["test"], "num_labels": task_num_labels(cfg)}


def describe_language(cfg: SyntheticCorpusConfig, code: str) -> dict[str, Any]:
    """The typology and grammar a language was given (for docs, debugging and analysis)."""
    cfg = _as_config(cfg)
    lang = _language(_key(cfg), code)
    t = lang.type
    return {"code": code, "family": t.family, "subgroup": lang.subgroup,
            "script": t.script if cfg.scripts else "latin_standard", "base": t.base,
            "order": lang.order, "adj_after": lang.adj_after, "postpositions": lang.adp_post,
            "spaced": lang.spaced, "articles": lang.has_art, "plural": "suffix" if lang.pl_suffix else "particle",
            "tense": "suffix" if lang.tense_suffix else "particle", "agreement": lang.agree,
            "object_marker": lang.has_obj, "morphology": t.morph,
            # share of its nouns, verbs and adjectives that are Arabic loans (p_arabic_loan)
            "arabic_loans": float(np.concatenate(list(lang.loans.values())).mean()) if lang.loans else 0.0}


def shared_word_forms(cfg: SyntheticCorpusConfig, a: str, b: str) -> dict[str, int]:
    """Content words (nouns, verbs, adjectives, places, in their bare form) written identically in a and b:
    "true_cognates" mean the same concept in both, "false_friends" a different one. Names and digits
    (the anchors) are not counted. Real language pairs share far more of the first than the second."""
    cfg = _as_config(cfg)
    key = _key(cfg)

    def lexicon(code: str) -> dict[str, set[tuple[str, int]]]:
        lang, out = _language(key, code), {}
        for section, n, stride in (("o_noun", cfg.n_nouns, 2), ("o_verb", cfg.n_verbs, 6),
                                   ("o_adj", cfg.n_adjectives, 1), ("o_place", cfg.n_places, 1)):
            for i in range(n):  # stride: the bare form of each concept (singular, present, no agreement)
                out.setdefault(lang.forms[getattr(lang, section) + i * stride].strip(), set()).add((section, i))
        return out

    la, lb = lexicon(a), lexicon(b)
    shared = la.keys() & lb.keys()
    true = sum(1 for w in shared if la[w] & lb[w])
    return {"true_cognates": true, "false_friends": len(shared) - true}
