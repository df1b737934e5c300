"""Real human-written multilingual text, offline: the gettext translation catalogs (`.mo`) of Debian packages.

Every translated message of a catalog is a human translation of an English message (its msgid), so the
catalogs give both monolingual text per language and English↔X parallel pairs. See docs/gettext-corpus.md.

  read_mo(path)                   parse one binary .mo file (our own parser; both byte orders)
  clean_message(s)                strip format codes, markup, accelerators, escapes; collapse whitespace
  keep_message(s, code)           is a cleaned message long enough to be text (words, or characters for
                                  scripts written without spaces)?
  locale_to_code(folder)          locale folder name (pt_BR, zh_TW, sr@latin, pt-BR, ...) -> our code
  expand_locale_roots(paths)      /usr/share/locale, or a fetch-gettext.sh tree -> its locale roots
  available_languages(roots)      code -> number of messages (from the .mo headers: cheap)
  fingerprint(roots, codes)       cache key of the catalogs a build would read (stat only)
  build_gettext_corpus(...)       <code>.txt (CC-100 layout), pairs/<code>.tsv, manifest.json, atomically
  read_pairs / english_side       read the parallel pairs back

Choices (documented in docs/gettext-corpus.md):
- One catalog per (language, domain): folders are ranked (plain language folder first, then regional
  variants, then script/modifier fallbacks); the best-ranked folder that has the domain wins, so regional
  variants only fill domains the plain folder lacks and no domain is counted twice.
- `en` is the English side: the msgids of, per domain, the catalog with the most messages (en_GB, en@quot
  etc. are not read). It does not depend on the other requested languages.
- Latin-script Serbian (sr@latin, sr-Latn, sr@ije), be@latin, uz@cyrillic, pa_PK (Shahmukhi), az_IR
  (Arabic script) are skipped: CC-100's sr, be, uz, pa, az are the other script. ca@valencia is a
  last-rank fallback for ca.
"""

from __future__ import annotations

import codecs
import fnmatch
import hashlib
import html
import json
import os
import re
import shutil
import struct
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xlmr.console import say

from .languages import known_codes

GETTEXT_CORPUS_VERSION = 1
MO_MAGIC = 0x950412DE
DEFAULT_EXCLUDE = ("iso_*", "xkeyboard-config")  # lists of country/language/keyboard-layout names
DEFAULT_MIN_CHARS = 10_000
MIN_WORDS = 3
# Scripts written without spaces between words: a character threshold (non-space characters) replaces the
# word threshold. Roughly the length of three words.
NO_SPACE_MIN_CHARS = {"zh": 5, "zh_Hant": 5, "ja": 6, "th": 10, "lo": 10, "km": 10, "my": 10, "my_zaw": 10}
PROVENANCE_FILE = "gettext-debs.tsv"  # written by scripts/fetch-gettext.sh at the top of its tree
# Where locale folders live inside an unpacked tree (fetch-gettext.sh's DEST, or /).
LOCALE_SUBDIRS = ("usr/share/locale", "usr/lib/libreoffice/program/resource")


class MoError(ValueError):
    """A file that is not a readable .mo catalog."""


# --------------------------------------------------------------------------------------------- .mo parsing


@dataclass
class MoCatalog:
    path: str
    charset: str
    messages: list[tuple[str | None, str, str]]  # (msgctxt, msgid, msgstr): singular forms, header skipped
    n_entries: int  # entries in the file, header included
    undecodable: int = 0  # entries whose bytes are not valid in the declared charset (skipped)
    corrupt: int = 0  # entries whose offsets point outside the file (skipped)
    warnings: list[str] = field(default_factory=list)


def _byte_order(data: bytes) -> str | None:
    for order in "<>":
        if struct.unpack_from(order + "I", data, 0)[0] == MO_MAGIC:
            return order
    return None


def _mo_layout(data: bytes) -> tuple[str, int, int, int]:
    """Byte order, number of entries and the offsets of the two string tables; MoError when not a .mo."""
    if len(data) < 20:
        raise MoError(f"too short for a .mo file ({len(data)} bytes)")
    order = _byte_order(data)
    if order is None:
        raise MoError(f"bad magic number 0x{data[:4].hex()} (expected 0x{MO_MAGIC:08x}, either byte order)")
    revision, n, orig_off, trans_off = struct.unpack_from(order + "4I", data, 4)
    if revision >> 16 > 1:
        raise MoError(f"unsupported major revision {revision >> 16}")
    for name, off in (("original", orig_off), ("translation", trans_off)):
        if off + 8 * n > len(data):
            raise MoError(f"{name} table ({n} entries at offset {off}) runs past the end of the file "
                          f"({len(data)} bytes)")
    return order, n, orig_off, trans_off


def mo_entry_count(path: Path) -> int:
    """Number of messages in a .mo file, header excluded, from its first 20 bytes (0 when unreadable)."""
    try:
        with open(path, "rb") as f:
            head = f.read(20)
        if len(head) < 20:
            return 0
        order = _byte_order(head)
        if order is None:
            return 0
        return max(0, struct.unpack_from(order + "I", head, 8)[0] - 1)
    except OSError:
        return 0


def parse_header(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip().lower()] = value.strip()
    return out


def header_charset(header: dict[str, str]) -> str:
    m = re.search(r"charset\s*=\s*([-\w.:]+)", header.get("content-type", ""), re.I)
    cs = m.group(1) if m else "UTF-8"
    return "UTF-8" if cs.upper() == "CHARSET" else cs  # "CHARSET": the unfilled template value


def read_mo(source: Path | str | bytes) -> MoCatalog:
    """Parse a binary .mo catalog. Contexts (`msgctxt\\x04msgid`) are split off; plural entries keep their
    first (singular) form on both sides; the header entry (empty msgid) gives the charset and is not a
    message. Entries that do not decode in the catalog's charset are counted and skipped."""
    if isinstance(source, bytes):
        data, path = source, "<bytes>"
    else:
        path = str(source)
        try:
            data = Path(source).read_bytes()
        except OSError as e:
            raise MoError(f"cannot read: {e}") from e
    order, n, orig_off, trans_off = _mo_layout(data)
    raw: list[tuple[bytes, bytes]] = []
    corrupt = 0
    for i in range(n):
        olen, ooff = struct.unpack_from(order + "2I", data, orig_off + 8 * i)
        tlen, toff = struct.unpack_from(order + "2I", data, trans_off + 8 * i)
        if ooff + olen > len(data) or toff + tlen > len(data):
            corrupt += 1
            continue
        raw.append((data[ooff:ooff + olen], data[toff:toff + tlen]))

    charset, warnings = "UTF-8", []
    for msgid, msgstr in raw:
        if msgid == b"":
            charset = header_charset(parse_header(msgstr.decode("latin-1")))
            break
    try:
        if not getattr(codecs.lookup(charset), "_is_text_encoding", True):  # base64, zlib, ...
            raise LookupError(charset)
    except LookupError:
        warnings.append(f"unknown charset {charset!r}; read as UTF-8")
        charset = "UTF-8"

    messages: list[tuple[str | None, str, str]] = []
    undecodable = 0
    for msgid, msgstr in raw:
        if msgid == b"":
            continue  # the header: metadata, not a message
        ctx_b = None
        if b"\x04" in msgid:
            ctx_b, msgid = msgid.split(b"\x04", 1)
        msgid = msgid.split(b"\x00", 1)[0]
        msgstr = msgstr.split(b"\x00", 1)[0]
        try:
            ctx = None if ctx_b is None else ctx_b.decode(charset)
            item = (ctx, msgid.decode(charset), msgstr.decode(charset))
        except UnicodeDecodeError:
            undecodable += 1
            continue
        if item[1] and item[2]:
            messages.append(item)
    return MoCatalog(path, charset, messages, n, undecodable, corrupt, warnings)


# ------------------------------------------------------------------------------------------------ cleaning

_PERCENT = "\ue000"  # stands for a literal "%%" while format codes are stripped
_CODE = "\ue002"  # where a format code was
_CODE_BEFORE_PUNCT = re.compile("[ \t]*\ue002+(?=[ \t\ue002]*[.,:;!?)\\]])")
_UPPER_PLACEHOLDER = re.compile(r"%[A-Z][A-Z0-9_]{2,}%?")  # LibreOffice %PRODUCTNAME, Windows %VAR%
_PRINTF = re.compile(
    r"(?:\b0x)?%(?:\d+\$)?(?:\([^()\s]{0,40}\))?[-+#0']*(?:\d+|\*(?:\d+\$)?)?(?:\.(?:\d+|\*(?:\d+\$)?)?)?"
    r"(?:hh|h|ll|l|L|q|j|z|Z|t|I)?(?:<PRI\w+>|p[A-Z]|[A-Za-z@])"
)
_QT_ARG = re.compile(r"%L?\d+")  # Qt/LibreOffice positional %1, %L1 (after printf's %1$s)
_BRACE = re.compile(r"\{\{|\}\}|\{(?:\d*|[A-Za-z_][\w.\[\]-]*)(?:[:!][^{}]*)?\}")
_DOLLAR = re.compile(r"\$\w+\$|\$\{[^{}\s]*\}|\$\(\w+\)|\$[A-Z_][A-Z0-9_]+\b|\$\d+\b")  # ${x}, $(ARG1), $HOME, $1
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_LITERAL_ESCAPE = re.compile(r"\\[\\ntrvfabe\"']|\\x[0-9a-fA-F]{2}|\\u[0-9a-fA-F]{4}|\\0[0-7]*")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u2028\u2029]")
# invisible formatting: zero-width space, BOM, bidi marks/embeddings/isolates (ZWJ/ZWNJ are spelling: kept)
_INVISIBLE = re.compile(r"[\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_TAG = re.compile(r"</?[A-Za-z][\w:.-]*(?:\s+[^<>]*?)?/?>")
_ACCEL_PAREN = re.compile(r"\s?[(（]\s*[_&~][^\s()（）]\s*[)）]")  # "文件(_F)", "(&F)": CJK-style accelerators
_ACCEL_AMP = re.compile(r"&(?=[^\W_])(?![A-Za-z]{2,8};|#\d+;|#x[0-9a-fA-F]+;)")
_EMPTY_PAIR = re.compile(
    r"'\s*'|\"\s*\"|`\s*'|“\s*”|‘\s*’|„\s*“|‚\s*‘|«\s*»|»\s*«|‹\s*›|「\s*」|『\s*』|\(\s*\)|\[\s*\]|（\s*）|<\s*>"
)
_SPACE_BEFORE = re.compile(r"\s+([.,)\]])")
_SPACE_AFTER = re.compile(r"([(\[])\s+")
_PUNCT_RUN = re.compile(r"\s*([,;:])(?:\s*[,;:])+")
_EDGE_PUNCT = re.compile(r"^[\s,;:.)\]]+|[\s,;(\[]+$")
_WS = re.compile(r"\s+")
_LETTER_WORD = re.compile(r"[^\W\d_]")
_ASCII_NONLETTER = re.compile(r"[0-9!-/:-@\[-`{-~]")


def _strip_accelerators(s: str) -> str:
    """Keyboard accelerators: GTK `_File`/`Ope_n`, Qt/Windows `&File`, LibreOffice `~File`, CJK `文件(_F)`.
    A label has one accelerator, so a marker is removed only when it occurs once (several underscores are
    an identifier; `LC_ALL`-like upper_UPPER and `x_1`-like ones are kept)."""
    s = _ACCEL_PAREN.sub("", s)
    if s.count("_") == 1:
        i = s.index("_")
        prev, nxt = s[i - 1:i], s[i + 1:i + 2]
        if nxt.isalnum() and not (prev.isupper() and nxt.isupper()) and not (prev.isalnum() and nxt.isdigit()):
            s = s[:i] + s[i + 1:]
    if s.count("~") == 1:
        i = s.index("~")
        if s[i + 1:i + 2].isalnum():
            s = s[:i] + s[i + 1:]
    s = s.replace("&&", "\ue001")  # a literal "&" in accelerator syntax
    if s.count("&") == 1:
        s = _ACCEL_AMP.sub("", s)
    return s.replace("\ue001", "&")


def clean_message(s: str) -> str:
    """One message as one line of plain text: format codes, markup, keyboard accelerators, escape
    sequences and control characters removed; empty quotes/brackets left by removed codes dropped;
    whitespace collapsed."""
    s = _ANSI.sub(" ", s)
    s = _LITERAL_ESCAPE.sub(" ", s)
    s = _CONTROL.sub(" ", s)
    s = _INVISIBLE.sub("", s)
    s = s.replace("%%", _PERCENT)
    s = s.replace("%PRODUCTNAME", "LibreOffice")
    s = _DOLLAR.sub(_CODE, s)
    s = _UPPER_PLACEHOLDER.sub(_CODE, s)
    s = _PRINTF.sub(_CODE, s)
    s = _QT_ARG.sub(_CODE, s)
    s = s.replace(_PERCENT, "%")
    s = _BRACE.sub(lambda m: {"{{": "{", "}}": "}"}.get(m.group(0), _CODE), s)
    s = _CODE_BEFORE_PUNCT.sub("", s)  # "open %s: %s" -> "open:", but "ouvrir %s : erreur" -> "ouvrir : erreur"
    s = s.replace(_CODE, " ")
    s = _COMMENT.sub(" ", s)
    s = _TAG.sub(" ", s)
    s = _strip_accelerators(s)
    s = html.unescape(s)
    s = _CONTROL.sub(" ", s)
    s = _WS.sub(" ", s)
    for _ in range(3):  # nested leftovers: "('')"
        t = _EMPTY_PAIR.sub("", s)
        if t == s:
            break
        s = t
    s = _PUNCT_RUN.sub(r"\1", s)
    s = _SPACE_BEFORE.sub(r"\1", s)
    s = _SPACE_AFTER.sub(r"\1", s)
    s = _EDGE_PUNCT.sub("", s)
    return _WS.sub(" ", s).strip()


def count_words(s: str) -> int:
    """Whitespace tokens with at least one letter."""
    return sum(1 for t in s.split() if _LETTER_WORD.search(t))


def keep_message(s: str, code: str, min_words: int = MIN_WORDS) -> bool:
    """Is a cleaned message text: at least `min_words` words (for scripts without spaces, at least
    NO_SPACE_MIN_CHARS[code] non-space characters), and mostly not digits/ASCII symbols?"""
    if not s:
        return False
    dense = s.replace(" ", "")
    if len(_ASCII_NONLETTER.findall(dense)) * 2 > len(dense):
        return False
    if code in NO_SPACE_MIN_CHARS:
        return len(dense) >= NO_SPACE_MIN_CHARS[code] and _LETTER_WORD.search(s) is not None
    return count_words(s) >= min_words


def is_untranslated(en: str, text: str) -> bool:
    return en.casefold() == text.casefold()


# ------------------------------------------------------------------------------------------ locale folders

# Language parts that are other names of our codes.
LANG_ALIASES = {
    "nb": "no", "nn": "no", "fil": "tl", "iw": "he", "in": "id", "ji": "yi", "jw": "jv", "kmr": "ku",
    "mo": "ro", "zsm": "ms", "pes": "fa", "cmn": "zh", "uzn": "uz", "khk": "mn", "swh": "sw", "arb": "ar",
}
# Explicit folder orders where "plain first" is not enough (earlier = preferred).
PREFERRED_FOLDERS = {
    "zh": ("zh_CN", "zh_Hans", "zh", "zh_SG", "zh_Hans_CN", "zh_Hans_SG"),
    "zh_Hant": ("zh_TW", "zh_Hant", "zh_HK", "zh_MO", "zh_Hant_TW", "zh_Hant_HK"),
    "no": ("nb", "no", "nb_NO", "no_NO", "nn", "nn_NO"),
}
ZH_HANT_REGIONS = {"TW", "HK", "MO"}
# Folders whose script differs from CC-100's for the language (skipped).
SKIP_FOLDERS = {"pa_PK", "pa_Arab", "az_IR", "az_Arab", "sd_Deva", "ku_IQ", "uz_Cyrl", "sr_Latn", "be_Latn",
                "mn_Mong", "ms_Arab"}
# Modifiers (@x) kept (as fallbacks ranked after every plain/regional folder): Valencian Catalan, and
# `@latin` where Latin is CC-100's script (LibreOffice's kmr@latin, uz@latin). Every other modifier is
# skipped (sr@latin, sr@ije, be@latin, uz@cyrillic, en@quot, tt@iqtelif, ...).
FALLBACK_MODIFIERS = {("ca", "valencia"), ("kmr", "latin"), ("ku", "latin"), ("uz", "latin")}


class _AnyCode:
    """`allowed=ANY_CODE`: every language, CC-100's or not."""

    def __contains__(self, code: object) -> bool:
        return True

    def __repr__(self) -> str:
        return "ANY_CODE"


ANY_CODE = _AnyCode()


def _allowed(allowed: Iterable[str] | _AnyCode | None) -> frozenset[str] | _AnyCode:
    if allowed is None:
        return known_codes()
    return allowed if isinstance(allowed, _AnyCode) else frozenset(allowed)


def _normalise_folder(folder: str) -> tuple[str, str, str]:
    """(language, rest, modifier) of a locale folder: `pt_BR.UTF-8@euro` -> ("pt", "BR", "euro");
    LibreOffice's `pt-BR`, `ca-valencia`, `sr-Latn` are read like `pt_BR`, `ca@valencia`, `sr_Latn`."""
    name, _, modifier = folder.partition("@")
    name = name.split(".", 1)[0].replace("-", "_")
    lang, _, rest = name.partition("_")
    if rest.lower() == "valencia":
        rest, modifier = "", "valencia"
    return lang.lower(), rest, modifier


def locale_to_code(folder: str, allowed: Iterable[str] | _AnyCode | None = None) -> tuple[str, int] | None:
    """Our code for a locale folder and its rank among the folders of that code (0 = preferred), or None
    when the folder is not one of our languages. `allowed`: the codes to accept (default CC-100's 100);
    other languages are accepted only when listed there explicitly. English folders are never text:
    the English side comes from the msgids."""
    allowed = _allowed(allowed)
    lang, rest, modifier = _normalise_folder(folder)
    if not lang or lang == "en":
        return None
    if f"{lang}_{rest}" in SKIP_FOLDERS or (rest and f"{lang}_{rest.split('_')[0]}" in SKIP_FOLDERS):
        return None
    if modifier and (lang, modifier) not in FALLBACK_MODIFIERS:
        return None
    if lang == "zh":
        parts = set(rest.split("_"))
        code = "zh_Hant" if "Hant" in parts or parts & ZH_HANT_REGIONS else "zh"
    else:
        code = LANG_ALIASES.get(lang, lang)
    if code not in allowed:
        return None
    plain = f"{lang}_{rest}" if rest else lang
    if code in PREFERRED_FOLDERS:
        order = PREFERRED_FOLDERS[code]
        rank = order.index(plain) if plain in order else len(order)
    else:
        # the plain folder first, then the language's own name before aliases (id before in), regions after
        rank = (0 if not rest else 2) + (0 if lang == code else 1)
    return code, rank + (10 if modifier else 0)


# ----------------------------------------------------------------------------------------- finding catalogs


@dataclass(frozen=True)
class CatalogFile:
    path: Path
    root: Path  # the locale root it was found under
    folder: str  # locale folder name (pt_BR)
    code: str
    rank: int  # folder preference for the code (lower wins)
    domain: str  # file name without .mo


def _is_locale_root(path: Path) -> bool:
    return any(True for _ in path.glob("*/LC_MESSAGES/*.mo"))


def expand_locale_roots(paths: Sequence[Path | str]) -> list[Path]:
    """Each path is either a locale root (`<locale>/LC_MESSAGES/*.mo` below it) or the top of an unpacked
    tree (`/`, fetch-gettext.sh's DEST) whose LOCALE_SUBDIRS are used. Order is kept; duplicates dropped."""
    out: list[Path] = []
    for p in map(Path, paths):
        p = Path(os.path.expanduser(str(p)))
        found = [p] if p.is_dir() and _is_locale_root(p) else [p / s for s in LOCALE_SUBDIRS if (p / s).is_dir()]
        if not found and not p.is_dir():
            raise FileNotFoundError(f"gettext corpus: locale root {p} does not exist")
        for f in found:
            if f.resolve() not in {o.resolve() for o in out}:
                out.append(f)
    return out


def _excluded(domain: str, exclude: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(domain, pat) for pat in exclude)


def scan_catalogs(locale_roots: Sequence[Path | str], allowed: Iterable[str] | _AnyCode | None = None,
                  exclude: Sequence[str] = DEFAULT_EXCLUDE, domains: Sequence[str] | None = None,
                  include_english: bool = False) -> list[CatalogFile]:
    """Every catalog under the roots whose folder maps to an allowed code (default: CC-100's codes; ANY_CODE
    for every language), minus excluded domains. With include_english, the English folders are listed
    too, under code "en" (used only as candidates for the English side's msgids)."""
    out = []
    allowed_set = _allowed(allowed)
    for root in expand_locale_roots(locale_roots):
        for folder in sorted(os.listdir(root)):
            msgdir = root / folder / "LC_MESSAGES"
            if not msgdir.is_dir():
                continue
            mapped = locale_to_code(folder, allowed_set)
            if mapped is None:
                if not (include_english and _normalise_folder(folder)[0] == "en"):
                    continue
                mapped = ("en", 99)
            for name in sorted(os.listdir(msgdir)):
                if not name.endswith(".mo"):
                    continue
                domain = name[:-3]
                if _excluded(domain, exclude) or (domains is not None and domain not in domains):
                    continue
                out.append(CatalogFile(msgdir / name, root, folder, mapped[0], mapped[1], domain))
    return out


def select_catalogs(files: Sequence[CatalogFile]) -> dict[str, list[CatalogFile]]:
    """Per code, one catalog per domain: the best-ranked folder, then the earlier root. Sorted by domain."""
    roots: dict[Path, int] = {}
    for f in files:
        roots.setdefault(f.root, len(roots))
    best: dict[tuple[str, str], CatalogFile] = {}
    for f in files:
        key = (f.code, f.domain)
        cur = best.get(key)
        if cur is None or (f.rank, roots[f.root], f.folder) < (cur.rank, roots[cur.root], cur.folder):
            best[key] = f
    out: dict[str, list[CatalogFile]] = {}
    for (code, _), f in sorted(best.items()):
        out.setdefault(code, []).append(f)
    return out


def english_catalogs(locale_roots: Sequence[Path | str], exclude: Sequence[str] = DEFAULT_EXCLUDE,
                     domains: Sequence[str] | None = None) -> list[CatalogFile]:
    """The English side's sources: per domain, the catalog with the most messages among every language
    folder (CC-100's or not, English variants included); ties go to the smaller path. Sorted by domain."""
    best: dict[str, tuple[int, str, CatalogFile]] = {}
    for f in scan_catalogs(locale_roots, ANY_CODE, exclude, domains, include_english=True):
        key = (-mo_entry_count(f.path), str(f.path))
        if f.domain not in best or key < best[f.domain][:2]:
            best[f.domain] = (*key, f)
    return [best[d][2] for d in sorted(best)]


def available_languages(locale_roots: Sequence[Path | str], include_other: bool = False,
                        exclude: Sequence[str] = DEFAULT_EXCLUDE,
                        domains: Sequence[str] | None = None) -> dict[str, int]:
    """code -> number of messages of its selected catalogs (header counts: uncleaned, cheap), largest first.
    `en` counts the English side. include_other: also languages outside CC-100's 100 codes."""
    allowed = ANY_CODE if include_other else None
    files = scan_catalogs(locale_roots, allowed, exclude, domains)
    counts = {code: sum(mo_entry_count(f.path) for f in fs) for code, fs in select_catalogs(files).items()}
    counts["en"] = sum(mo_entry_count(f.path) for f in english_catalogs(locale_roots, exclude, domains))
    return dict(sorted(((c, n) for c, n in counts.items() if n > 0), key=lambda kv: (-kv[1], kv[0])))


def fingerprint(locale_roots: Sequence[Path | str], codes: Sequence[str], exclude: Sequence[str] = DEFAULT_EXCLUDE,
                domains: Sequence[str] | None = None) -> str:
    """A cheap content key for the catalogs `build_gettext_corpus(locale_roots, codes, ...)` would read:
    sha256 over their paths, sizes and mtimes (no file is read) and GETTEXT_CORPUS_VERSION. Use it in a
    cache key so that installing or fetching packages rebuilds the corpus."""
    roots = expand_locale_roots(locale_roots)
    others = [c for c in codes if c != "en"]
    files = [f for fs in select_catalogs(scan_catalogs(roots, others, exclude, domains)).values() for f in fs]
    if "en" in codes:
        files += english_catalogs(roots, exclude, domains)
    h = hashlib.sha256(f"gettext-corpus v{GETTEXT_CORPUS_VERSION} {sorted(codes)} {list(exclude)} "
                       f"{None if domains is None else sorted(domains)}\n".encode())
    for f in sorted(files, key=lambda f: str(f.path)):
        try:
            st = f.path.stat()
            h.update(f"{f.path}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
        except OSError:
            h.update(f"{f.path}\tmissing\n".encode())
    return h.hexdigest()


# -------------------------------------------------------------------------------------------- provenance


def _provenance_tables(roots: Iterable[Path]) -> dict[str, tuple[str, str]]:
    """path -> (package, version) from fetch-gettext.sh's PROVENANCE_FILE at the top of each unpacked tree
    (found in a root or one of its ancestors)."""
    out: dict[str, tuple[str, str]] = {}
    done: set[Path] = set()
    for root in roots:
        for top in [root, *list(Path(root).resolve().parents)[:6]]:
            table = Path(top) / PROVENANCE_FILE
            if table in done or not table.is_file():
                continue
            done.add(table)
            with open(table, encoding="utf-8") as f:
                for line in f:
                    parts = line.rstrip("\n").split("\t")
                    if len(parts) >= 3 and parts[0] != "path":
                        out[str((Path(top) / parts[0]).resolve())] = (parts[1], parts[2])
    return out


def dpkg_owners(paths: Sequence[Path]) -> dict[str, tuple[str, str | None]] | None:
    """path -> (package, version) of the installed Debian package that owns it, from one `dpkg-query -S`
    over all paths (chunked only when the argument list would be too long) and one `dpkg-query -W`.
    None when dpkg is not available; paths owned by no package are absent."""
    exe = shutil.which("dpkg-query")
    if exe is None or not paths:
        return None if exe is None else {}
    owners: dict[str, str] = {}
    names = [str(p) for p in paths]
    chunks, cur, size = [], [], 0
    for n in names:
        if cur and size + len(n) > 500_000:
            chunks.append(cur)
            cur, size = [], 0
        cur.append(n)
        size += len(n) + 1
    chunks.append(cur)
    try:
        for chunk in chunks:
            res = subprocess.run([exe, "-S", *chunk], capture_output=True, text=True, errors="replace")
            for line in res.stdout.splitlines():
                pkgs, sep, path = line.partition(": /")
                if sep and not line.startswith("diversion "):
                    owners["/" + path] = pkgs.split(",")[0].strip().split(":")[0]
        res = subprocess.run([exe, "-W", "-f", "${Package}\\t${Version}\\n"], capture_output=True, text=True,
                             errors="replace")
    except OSError:
        return None
    versions = dict(line.split("\t", 1) for line in res.stdout.splitlines() if "\t" in line)
    return {p: (pkg, versions.get(pkg)) for p, pkg in owners.items()}


def package_of(paths: Sequence[Path], roots: Sequence[Path], use_dpkg: bool = True) -> dict[str, dict[str, Any]]:
    """path -> {"package", "version"} (both None when unknown); fetched trees first, then dpkg."""
    fetched = _provenance_tables(roots)
    rest = [p for p in paths if str(Path(p).resolve()) not in fetched]
    owned = dpkg_owners(rest) if use_dpkg and rest else {}
    out = {}
    for p in paths:
        hit = fetched.get(str(Path(p).resolve())) or (owned or {}).get(str(p))
        out[str(p)] = {"package": hit[0] if hit else None, "version": hit[1] if hit else None}
    return out


# ------------------------------------------------------------------------------------------------- build


@dataclass
class _LangStats:
    lines: int = 0
    chars: int = 0
    bytes: int = 0
    documents: int = 0
    pairs: int = 0
    catalogs: int = 0
    messages: int = 0
    undecodable: int = 0
    unreadable_catalogs: int = 0
    dropped: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k != "dropped"}
        d["dropped"] = dict(sorted(self.dropped.items()))
        return d


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _replace_dir(tmp: Path, out_dir: Path) -> None:
    """Move a finished tmp dir into place: readers see the old or the new directory, never a half one."""
    old = None
    if out_dir.exists():
        old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        os.rename(out_dir, old)
    try:
        os.rename(tmp, out_dir)
    except OSError:
        if old is not None:
            os.rename(old, out_dir)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _languages_line(avail: dict[str, int]) -> str:
    if not avail:
        return "none (no catalogs found)"
    return ", ".join(f"{c} ({n:,} messages)" for c, n in avail.items())


def build_gettext_corpus(
    locale_roots: Sequence[Path | str],
    codes: Sequence[str],
    out_dir: Path | str,
    min_chars_per_lang: int = DEFAULT_MIN_CHARS,
    *,
    skip_missing: bool = False,
    exclude: Sequence[str] = DEFAULT_EXCLUDE,
    domains: Sequence[str] | None = None,
    min_words: int = MIN_WORDS,
    use_dpkg: bool = True,
) -> dict[str, Any]:
    """Write the gettext corpus of `codes` into out_dir (replaced atomically) and return its manifest.

    out_dir/<code>.txt        CC-100 layout: one cleaned message per line, one document (blank-line
                              separated) per source catalog; deduplicated within the language
    out_dir/pairs/<code>.tsv  header `msgid_en<TAB>text`, cleaned English↔X pairs (no quoting: fields
                              never contain tabs or newlines); not written for `en`
    out_dir/manifest.json     sources (path, package, version, sha256, size), per-language counts

    Codes outside CC-100's 100 are read only because they are listed here. A language with no catalog,
    or with fewer than `min_chars_per_lang` characters of clean text, raises ValueError naming it and the
    languages that do have text; with skip_missing it is left out and listed under "skipped".
    `domains` restricts the catalogs read (file names without .mo), e.g. for quick checks."""
    codes = list(dict.fromkeys(codes))
    if not codes:
        raise ValueError("gettext corpus: no languages requested")
    out_dir = Path(out_dir)
    roots = expand_locale_roots(locale_roots)
    t0 = time.time()
    others = [c for c in codes if c != "en"]
    selected = select_catalogs(scan_catalogs(roots, others, exclude, domains)) if others else {}
    en_files = english_catalogs(roots, exclude, domains) if "en" in codes else []
    where = ", ".join(map(str, roots)) or "(no locale roots)"

    def fail_or_skip(problems: dict[str, str]) -> dict[str, str]:
        if problems and not skip_missing:
            what = "; ".join(f"{c!r} ({why})" for c, why in problems.items())
            avail = available_languages(roots, include_other=any(c not in known_codes() for c in codes),
                                        exclude=exclude, domains=domains)
            raise ValueError(f"gettext corpus: no text for {what} under {where}; languages with text here: "
                             f"{_languages_line(avail)}")
        for c, why in problems.items():
            say(f"[gettext] skipped {c!r}: {why}")
        return problems

    skipped = fail_or_skip({c: "found 0 strings: no catalog for this language" for c in codes
                            if (c == "en" and not en_files) or (c != "en" and c not in selected)})

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    (tmp / "pairs").mkdir(parents=True)
    try:
        sources: dict[str, dict[str, Any]] = {}
        en_cache: dict[str, str] = {}
        stats: dict[str, _LangStats] = {}

        def load(cat: CatalogFile, code: str, st: _LangStats) -> MoCatalog | None:
            key = str(cat.path)
            try:
                data = cat.path.read_bytes()
            except OSError as e:
                data, err = b"", f"cannot read: {e}"
            else:
                err = None
            rec = sources.setdefault(key, {
                "path": key, "root": str(cat.root), "folder": cat.folder, "domain": cat.domain, "used_for": [],
                "size": len(data), "sha256": _sha256(data), "entries": None, "messages": None,
                "undecodable": 0, "corrupt_entries": 0, "error": err,
            })
            rec["used_for"].append(code)
            st.catalogs += 1
            if err is None:
                try:
                    mo = read_mo(data)
                    mo.path = key
                except MoError as e:
                    err = rec["error"] = str(e)
            if err is not None:
                st.unreadable_catalogs += 1
                say(f"[gettext] skipped unreadable catalog {key}: {err}")
                return None
            rec.update(entries=mo.n_entries, messages=len(mo.messages), undecodable=mo.undecodable,
                       corrupt_entries=mo.corrupt, charset=mo.charset)
            if mo.warnings:
                rec["warnings"] = mo.warnings
            st.undecodable += mo.undecodable
            st.messages += len(mo.messages)
            return mo

        def clean_en(msgid: str) -> str:
            e = en_cache.get(msgid)
            if e is None:
                e = en_cache[msgid] = clean_message(msgid)
            return e

        for code in codes:
            if code in skipped:
                continue
            st = stats[code] = _LangStats()
            seen: set[str] = set()
            seen_pairs: set[tuple[str, str]] = set()
            with open(tmp / f"{code}.txt", "w", encoding="utf-8", newline="\n") as out_txt, \
                    open(tmp / "pairs" / f"{code}.tsv", "w", encoding="utf-8", newline="\n") as out_pairs:
                out_pairs.write("msgid_en\ttext\n")
                for cat in (en_files if code == "en" else selected[code]):
                    mo = load(cat, code, st)
                    if mo is None:
                        continue
                    doc: list[str] = []
                    for _ctx, msgid, msgstr in mo.messages:
                        if code == "en":
                            text = clean_en(msgid)
                            if not keep_message(text, code, min_words):
                                st.dropped["short"] += 1
                                continue
                        else:
                            text = clean_message(msgstr)
                            if not keep_message(text, code, min_words):
                                st.dropped["short"] += 1
                                continue
                            en = clean_en(msgid)
                            if is_untranslated(en, text):
                                st.dropped["untranslated"] += 1
                                continue
                            if keep_message(en, "en", min_words) and (en, text) not in seen_pairs:
                                seen_pairs.add((en, text))
                                out_pairs.write(f"{en}\t{text}\n")
                                st.pairs += 1
                        if text in seen:
                            st.dropped["duplicate"] += 1
                            continue
                        seen.add(text)
                        doc.append(text)
                    if doc:
                        block = "\n".join(doc) + "\n\n"
                        out_txt.write(block)
                        st.documents += 1
                        st.lines += len(doc)
                        st.chars += sum(map(len, doc))
                        st.bytes += len(block.encode("utf-8")) - len(doc) - 1
            if code == "en":
                (tmp / "pairs" / "en.tsv").unlink()

        too_small = {c: f"found {s.lines:,} strings, {s.chars:,} chars < min_chars_per_lang={min_chars_per_lang:,}"
                     for c, s in stats.items() if s.chars < min_chars_per_lang}
        for c in fail_or_skip(too_small):
            stats.pop(c)
            skipped[c] = too_small[c]
            (tmp / f"{c}.txt").unlink()
            (tmp / "pairs" / f"{c}.tsv").unlink(missing_ok=True)

        owners = package_of([Path(p) for p in sources], roots, use_dpkg)
        for p, rec in sources.items():
            rec.update(owners[p])
        manifest = {
            "kind": "gettext-corpus",
            "version": GETTEXT_CORPUS_VERSION,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "seconds": round(time.time() - t0, 2),
            "locale_roots": [str(r) for r in roots],
            "codes": [c for c in codes if c not in skipped],
            "skipped": skipped,
            "params": {"min_chars_per_lang": min_chars_per_lang, "min_words": min_words,
                       "no_space_min_chars": NO_SPACE_MIN_CHARS, "exclude": list(exclude),
                       "domains": None if domains is None else list(domains)},
            "dpkg": use_dpkg and shutil.which("dpkg-query") is not None,
            "languages": {c: s.as_dict() for c, s in stats.items()},
            "sources": sorted(sources.values(), key=lambda r: r["path"]),
        }
        with open(tmp / "manifest.json", "w", encoding="utf-8") as f:
            json.dump(manifest, f, ensure_ascii=False, indent=1)
            f.write("\n")
        _replace_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


# ------------------------------------------------------------------------------------------ reading back


def read_pairs(out_dir: Path | str, code: str) -> list[tuple[str, str]]:
    """The (English, X) pairs of one language from a built corpus."""
    path = Path(out_dir) / "pairs" / f"{code}.tsv"
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n")
        if header != "msgid_en\ttext":
            raise ValueError(f"{path}: unexpected header {header!r}")
        return [tuple(line.rstrip("\n").split("\t", 1)) for line in f if "\t" in line]  # type: ignore[misc]


def english_side(out_dir: Path | str) -> dict[str, dict[str, str]]:
    """English message -> {code: its (first) translation} over every language of a built corpus: the
    table a Tatoeba-style retrieval evaluation splits by English string."""
    out: dict[str, dict[str, str]] = {}
    manifest = json.loads((Path(out_dir) / "manifest.json").read_text(encoding="utf-8"))
    for code in manifest["codes"]:
        if code == "en":
            continue
        for en, text in read_pairs(out_dir, code):
            out.setdefault(en, {}).setdefault(code, text)
    return out
