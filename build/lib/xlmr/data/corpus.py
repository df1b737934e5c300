"""① Corpus sources. Every source ends as one text file per language in CC-100's layout (one sentence per
line, blank line between documents) plus its sentence count; the later stages read only that.

  synthetic  the embedded default: generated languages (xlmr/data/synthetic.py), materialised into the
             cache, one artifact per language, so `en` is generated once for every language set
  cc100      a directory in CC-100's own layout: `<lang>.txt` or `<lang>.txt.xz`, read as a stream
  hf         a Hugging Face `datasets` dataset (hub, local files, save_to_disk), streamed (xlmr/data/hf_source.py)
  gettext    real human-written text from gettext translation catalogs (xlmr/data/gettext.py), one
             artifact per language; `scripts/fetch-gettext.sh` adds Debian translation packages
"""

from __future__ import annotations

import dataclasses
import lzma
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from omegaconf import MISSING

from xlmr.console import bar, say
from xlmr.fields import ConfigError, bounded, implementation

from .cache import get_or_build, is_built
from .synthetic import SyntheticCorpusConfig
from .text import count_text

CORPUS_VERSION = 2  # layout of a corpus artifact's manifest


# ------------------------------------------------------------------------- schemas (conf/corpus/*.yaml)
@dataclass
class CorpusConfig:
    name: str = MISSING


@dataclass
class SyntheticCorpus(SyntheticCorpusConfig):
    """The embedded generated languages (xlmr/data/synthetic.py, docs/synthetic-corpus.md)."""

    name: str = "synthetic"


@dataclass
class CC100Corpus(CorpusConfig):
    """A directory in CC-100's layout: <lang>.txt or <lang>.txt.xz, documents separated by blank lines."""

    name: str = "cc100"
    path: str = MISSING


@dataclass
class GettextCorpus(CorpusConfig):
    """Real text from gettext catalogs (docs/gettext-corpus.md). Roots that do not exist are ignored."""

    name: str = "gettext"
    # where catalogs are searched (a machine's layout; the corpus artifact's key holds the text's identity)
    locale_roots: list[str] = implementation(default_factory=lambda: ["/usr/share/locale", "cache/gettext-debs/root"])
    min_chars_per_lang: int = bounded(10_000, ge=1)  # a language with less clean text is an error


@dataclass(frozen=True)
class LanguageText:
    lang: str
    path: Path  # the language's text file
    sentences: int  # n_i for sampling, in sentences (non-empty lines)
    key: str  # content key of this text (cache key of the artifact, or of the file's identity)
    task_dir: Path | None = None  # labelled task files <lang>.{train,test}.tsv, when the source has them
    max_pieces: int | None = None  # upper bound on its SentencePiece pieces (text.TextStats); None: unknown


class CorpusSource(Protocol):
    name: str

    def check(self, codes: list[str]) -> None:
        """Cheap checks (no reading of text); raise ConfigError naming the key or file."""

    def prepare(self, codes: list[str], cache_dir: Path) -> dict[str, LanguageText]:
        """Make each language's text available (building cached artifacts when needed)."""

    def cached(self, codes: list[str], cache_dir: Path) -> dict[str, bool]:
        """Per language: is its text already prepared?"""


def _config_dict(cfg: Any) -> dict[str, Any]:
    from omegaconf import DictConfig, OmegaConf

    if isinstance(cfg, DictConfig):
        return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
    return dataclasses.asdict(cfg)


class GeneratedSource:
    """A source whose text is materialised into the cache, one artifact per language (so a language is
    built once for every language set). Subclasses give the artifact's spec and how to build it."""

    name: str

    def _spec(self, lang: str) -> dict[str, Any]:
        raise NotImplementedError

    def _build(self, tmp: Path, lang: str) -> tuple[Path, int, dict[str, Any]]:
        """Write the language's text under tmp; return (text path relative to tmp, sentences, manifest info)."""
        raise NotImplementedError

    def cached(self, codes: list[str], cache_dir: Path) -> dict[str, bool]:
        return {c: is_built(cache_dir, "corpus", self._spec(c)) for c in codes}

    def prepare(self, codes: list[str], cache_dir: Path) -> dict[str, LanguageText]:
        out = {}
        for lang in bar(codes, desc=f"{self.name} corpus", unit="lang"):
            def build(tmp: Path, lang: str = lang) -> dict[str, Any]:
                text, sentences, info = self._build(tmp, lang)
                return {"lang": lang, "text": str(text), "sentences": sentences,
                        "max_pieces": count_text(tmp / text).max_pieces, **info}

            art = get_or_build(cache_dir, "corpus", self._spec(lang), build)
            task_dir = art.path / "task"
            out[lang] = LanguageText(lang, art.path / art.manifest["text"], int(art.manifest["sentences"]), art.key,
                                     task_dir if task_dir.is_dir() else None, art.manifest.get("max_pieces"))
        return out


class SyntheticSource(GeneratedSource):
    name = "synthetic"

    def __init__(self, cfg: SyntheticCorpus):
        from .synthetic import SyntheticCorpusConfig

        fields = {f.name for f in dataclasses.fields(SyntheticCorpusConfig)}
        self.params = {k: v for k, v in _config_dict(cfg).items() if k in fields}
        self.gen_cfg = SyntheticCorpusConfig(**self.params)

    def _spec(self, lang: str) -> dict[str, Any]:
        from .synthetic import GENERATOR_VERSION

        return {"source": "synthetic", "lang": lang, "params": self.params, "version": CORPUS_VERSION,
                "generator_version": GENERATOR_VERSION}

    def check(self, codes: list[str]) -> None:
        pass  # every CC-100 code can be generated; codes are validated by the config

    def _build(self, tmp: Path, lang: str) -> tuple[Path, int, dict[str, Any]]:
        from .synthetic import write_language, write_task

        stats = write_language(self.gen_cfg, lang, tmp / f"{lang}.txt")
        task = write_task(self.gen_cfg, lang, tmp / "task")  # the labelled task, for zero-shot transfer
        return Path(f"{lang}.txt"), int(stats["sentences"]), {"stats": stats, "task": task, "count_unit": "sentences"}


def cc100_file(root: Path, lang: str) -> Path | None:
    """CC-100's file for a language: <lang>.txt(.xz); `zh` is also found as CC-100's zh-Hans."""
    names = [lang] + (["zh-Hans", "zh_Hans"] if lang == "zh" else []) + (["zh-Hant"] if lang == "zh_Hant" else [])
    for name in names:
        for suffix in (".txt", ".txt.xz"):
            path = Path(root) / f"{name}{suffix}"
            if path.is_file():
                return path
    return None


XZ_MAGIC, XZ_FOOTER_MAGIC = b"\xfd7zXZ\x00", b"YZ"


def xz_looks_complete(path: Path) -> bool:
    """An .xz file starts with the stream header magic and ends with the stream footer's (xz spec §2.1.2.4):
    a cheap test that catches truncated downloads without decompressing anything."""
    with open(path, "rb") as f:
        head = f.read(len(XZ_MAGIC))
        f.seek(max(0, os.path.getsize(path) - 64))
        tail = f.read().rstrip(b"\0")  # stream padding: null bytes after the footer
        return head == XZ_MAGIC and tail.endswith(XZ_FOOTER_MAGIC)


class CC100Source:
    name = "cc100"

    def __init__(self, cfg: CC100Corpus):
        self.root = Path(os.path.expanduser(str(cfg.path)))

    def _file(self, lang: str) -> Path:
        if not self.root.is_dir():
            raise ConfigError("corpus.path", self.root, "not a directory; expected CC-100's layout: <lang>.txt or <lang>.txt.xz per language")
        path = cc100_file(self.root, lang)
        if path is None:
            raise ConfigError("corpus.path", self.root, f"no file for language '{lang}' (looked for {lang}.txt and {lang}.txt.xz)")
        if path.stat().st_size == 0:
            raise ConfigError("corpus.path", path, "empty corpus file")
        if path.suffix == ".xz" and not xz_looks_complete(path):
            raise ConfigError("corpus.path", path, "not a complete .xz file (truncated or not xz; `xz -t` checks "
                              "it): download it again or decompress it to <lang>.txt")
        return path

    def _spec(self, path: Path) -> dict[str, Any]:
        st = path.stat()  # the file's identity: re-count when it changes
        return {"source": "cc100", "file": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
                "version": CORPUS_VERSION}

    def check(self, codes: list[str]) -> None:
        for lang in codes:
            self._file(lang)

    def cached(self, codes: list[str], cache_dir: Path) -> dict[str, bool]:
        return {c: is_built(cache_dir, "corpus-index", self._spec(self._file(c))) for c in codes}

    def prepare(self, codes: list[str], cache_dir: Path) -> dict[str, LanguageText]:
        out = {}
        for lang in bar(codes, desc="count text", unit="lang"):
            path = self._file(lang)

            def build(tmp: Path, path: Path = path) -> dict[str, Any]:
                try:
                    stats = count_text(path)  # one streaming pass
                except (EOFError, lzma.LZMAError, OSError) as err:  # a corrupt stream inside the file
                    raise ConfigError("corpus.path", path, f"cannot be read ({type(err).__name__}: {err}); "
                                      "`xz -t` checks a compressed file") from None
                if stats.documents < 2:  # the held-out split takes whole documents (xlmr/data/shards.py)
                    raise ConfigError("corpus.path", path, f"too little text: {stats.documents} document(s), "
                                      "at least 2 are needed (documents are separated by blank lines)")
                return {"stats": dataclasses.asdict(stats), "count_unit": "sentences"}

            art = get_or_build(cache_dir, "corpus-index", self._spec(path), build)
            bad = art.manifest["stats"]["undecodable_lines"]
            if bad:
                say(f"[corpus] {path}: {bad} line(s) had bytes that are not UTF-8 (read as U+FFFD)")
            out[lang] = LanguageText(lang, path, int(art.manifest["stats"]["sentences"]), art.key,
                                     max_pieces=art.manifest["stats"].get("max_pieces"))
        return out


class GettextSource(GeneratedSource):
    name = "gettext"

    def __init__(self, cfg: GettextCorpus):
        roots = [Path(os.path.expanduser(str(r))) for r in cfg.locale_roots]
        self.roots = [r for r in roots if r.exists()]  # the fetched tree is optional
        self.min_chars = cfg.min_chars_per_lang
        self._available: dict[str, int] | None = None

    def available(self) -> dict[str, int]:
        from .gettext import available_languages

        if self._available is None:
            self._available = available_languages(self.roots) if self.roots else {}
        return self._available

    def check(self, codes: list[str]) -> None:
        if not self.roots:
            raise ConfigError("corpus.locale_roots", "", "none of the locale roots exists")
        missing = [c for c in codes if c not in self.available()]
        if missing:
            have = ", ".join(sorted(self.available()))
            raise ConfigError("langs", missing[0], f"no gettext catalogs for this language here; languages with text: "
                              f"{have} (scripts/fetch-gettext.sh adds more)")

    def prepare(self, codes: list[str], cache_dir: Path) -> dict[str, LanguageText]:
        """The languages with the fewest catalog strings are built first: one with too little clean text
        stops the run before the larger ones are built, with one line naming it."""
        counts = self.available()
        try:
            texts = super().prepare(sorted(codes, key=lambda c: counts.get(c, 0)), cache_dir)
        except ConfigError:
            raise
        except ValueError as err:  # gettext.build_gettext_corpus: a language without enough clean text
            raise ConfigError("corpus.min_chars_per_lang", self.min_chars,
                              str(err).splitlines()[0] + " (lower it, or leave that language out of langs)") from None
        return {c: texts[c] for c in codes}

    def _spec(self, lang: str) -> dict[str, Any]:
        from .gettext import GETTEXT_CORPUS_VERSION, fingerprint

        return {"source": "gettext", "lang": lang, "fingerprint": fingerprint(self.roots, [lang]),
                "min_chars": self.min_chars, "version": CORPUS_VERSION, "gettext_version": GETTEXT_CORPUS_VERSION}

    def _build(self, tmp: Path, lang: str) -> tuple[Path, int, dict[str, Any]]:
        from .gettext import build_gettext_corpus

        manifest = build_gettext_corpus(self.roots, [lang], tmp / "gettext", self.min_chars)
        return (Path("gettext") / f"{lang}.txt", int(manifest["languages"][lang]["lines"]),
                {"count_unit": "sentences (cleaned catalog strings)"})
