"""The gettext corpus: .mo parsing, cleaning, locale mapping, the corpus build and its manifest.

Every catalog is written here by a tiny .mo writer (checked against Python's own gettext reader), so
the tests need no system tools; one test reads this machine's /usr/share/locale and says so when it
cannot."""

from __future__ import annotations

import gettext as std_gettext
import hashlib
import json
import struct
from pathlib import Path

import pytest

from xlmr.data import gettext as gx
from xlmr.data.gettext import (
    MoError,
    available_languages,
    build_gettext_corpus,
    clean_message,
    english_side,
    expand_locale_roots,
    keep_message,
    locale_to_code,
    read_mo,
    read_pairs,
)

MAGIC = 0x950412DE


# ----------------------------------------------------------------------------------------- a .mo writer


def mo_bytes(messages, charset="UTF-8", big_endian=False, header=True, encoding=None) -> bytes:
    """messages: (msgctxt or None, msgid or (singular, plural), msgstr or [forms]). Written the way msgfmt
    lays a file out (sorted originals, no hash table)."""
    entries = []
    if header:
        entries.append((b"", (f"Project-Id-Version: test 1.0\nContent-Type: text/plain; charset={charset}\n"
                              "Content-Transfer-Encoding: 8bit\nPlural-Forms: nplurals=2; plural=(n != 1);\n"
                              ).encode("ascii")))
    for ctx, msgid, msgstr in messages:
        mid = "\0".join(msgid) if isinstance(msgid, tuple) else msgid
        if ctx is not None:
            mid = f"{ctx}\x04{mid}"
        mstr = "\0".join(msgstr) if isinstance(msgstr, list) else msgstr
        enc = encoding or charset
        entries.append((mid.encode(enc) if isinstance(mid, str) else mid,
                        mstr.encode(enc) if isinstance(mstr, str) else mstr))
    entries.sort(key=lambda e: e[0])
    order = ">" if big_endian else "<"
    n = len(entries)
    orig_off, trans_off = 28, 28 + 8 * n
    pos = trans_off + 8 * n
    table_o, table_t, blob = [], [], b""
    for mid, _ in entries:
        table_o.append((len(mid), pos + len(blob)))
        blob += mid + b"\0"
    for _, mstr in entries:
        table_t.append((len(mstr), pos + len(blob)))
        blob += mstr + b"\0"
    out = struct.pack(order + "7I", MAGIC, 0, n, orig_off, trans_off, 0, pos)
    out += b"".join(struct.pack(order + "2I", *t) for t in table_o + table_t)
    return out + blob


def write_mo(root: Path, folder: str, domain: str, messages, **kw) -> Path:
    path = root / folder / "LC_MESSAGES" / f"{domain}.mo"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(mo_bytes(messages, **kw))
    return path


# Real-looking UI messages (English, French, ...). Long enough to pass the 3-word filter once cleaned.
EN_FR = [
    ("Could not open the file %s for reading", "Impossible d'ouvrir le fichier %s en lecture"),
    ("_Save the document before closing", "_Enregistrer le document avant de fermer"),
    ("Delete %(count)d selected items permanently", "Supprimer définitivement %(count)d éléments sélectionnés"),
    ("<b>Warning:</b> this action cannot be undone", "<b>Attention :</b> cette action est irréversible"),
    ("Welcome to {name}, the free office suite", "Bienvenue dans {name}, la suite bureautique libre"),
    ("Open", "Ouvrir"),  # one word: dropped
    ("The same sentence in both languages", "The same sentence in both languages"),  # untranslated: dropped
]


# ---------------------------------------------------------------------------------------------- parsing


@pytest.mark.parametrize("big_endian", [False, True])
def test_read_mo_contexts_plurals_header_both_byte_orders(tmp_path, big_endian):
    msgs = [
        (None, "Hello world", "Bonjour le monde"),
        ("menu", "File", "Fichier"),
        (None, ("%d file was deleted", "%d files were deleted"), ["%d fichier supprimé", "%d fichiers supprimés"]),
    ]
    path = tmp_path / "t.mo"
    path.write_bytes(mo_bytes(msgs, big_endian=big_endian))
    cat = read_mo(path)
    assert cat.charset == "UTF-8" and cat.n_entries == 4 and cat.undecodable == 0
    assert set(cat.messages) == {
        (None, "%d file was deleted", "%d fichier supprimé"),  # singular msgid, first form
        (None, "Hello world", "Bonjour le monde"),
        ("menu", "File", "Fichier"),
    }
    # the writer is a real .mo: Python's own reader agrees
    with open(path, "rb") as f:
        std = std_gettext.GNUTranslations(f)
    assert std.gettext("Hello world") == "Bonjour le monde"
    assert std.pgettext("menu", "File") == "Fichier"
    assert std.ngettext("%d file was deleted", "%d files were deleted", 2) == "%d fichiers supprimés"
    assert gx.mo_entry_count(path) == 3


def test_non_utf8_charset_and_undecodable_entries(tmp_path):
    latin1 = read_mo(mo_bytes([(None, "Network file", "Fichier réseau")], charset="ISO-8859-1"))
    assert latin1.charset == "ISO-8859-1" and latin1.messages == [(None, "Network file", "Fichier réseau")]
    # a catalog that declares UTF-8 but holds Latin-1 bytes in one entry: counted and skipped, no crash
    bad = mo_bytes([(None, b"Bad entry", "Entrée".encode("latin-1")), (None, "Good entry", "Bonne entrée")])
    cat = read_mo(bad)
    assert cat.undecodable == 1 and cat.messages == [(None, "Good entry", "Bonne entrée")]
    # an unknown charset falls back to UTF-8 with a warning
    odd = read_mo(mo_bytes([(None, "One two three", "Un deux trois")], charset="X-NO-SUCH-CHARSET",
                             encoding="utf-8"))
    assert odd.messages and odd.warnings
    binary = read_mo(mo_bytes([(None, "One two three", "Un deux trois")], charset="base64", encoding="utf-8"))
    assert binary.messages and binary.warnings


def test_corrupt_files(tmp_path):
    with pytest.raises(MoError, match="magic"):
        read_mo(b"\x00" * 64)
    with pytest.raises(MoError, match="too short"):
        read_mo(b"\xde\x12")
    good = mo_bytes([(None, "Hello world", "Bonjour le monde")])
    with pytest.raises(MoError, match="runs past the end"):
        read_mo(good[:30])
    # a string offset that points past the end: that entry is counted as corrupt, the rest is read
    order_tbl = 28 + 8 * 2  # translation table; entry 1 = "Hello world"
    broken = bytearray(good)
    struct.pack_into("<2I", broken, order_tbl + 8, 5, 10_000)
    cat = read_mo(bytes(broken))
    assert cat.corrupt == 1 and cat.messages == []
    assert gx.mo_entry_count(tmp_path / "missing.mo") == 0


# --------------------------------------------------------------------------------------------- cleaning


@pytest.mark.parametrize("raw, clean", [
    ("Could not open %s: %s", "Could not open:"),
    ("Copy %1$s to %2$s now", "Copy to now"),
    ("Deleted %(count)d items of %(total)s", "Deleted items of"),
    ("Width %-5.2f and %lu bytes at 0x%08lx", "Width and bytes at"),
    ("Progress: 50%% done", "Progress: 50% done"),
    ("Hello {0}, you have {count} new {kind:>5} messages", "Hello, you have new messages"),
    ("Literal {{braces}} stay", "Literal {braces} stay"),
    ("Replace %1 with %2 everywhere", "Replace with everywhere"),
    ("Welcome to %PRODUCTNAME Writer", "Welcome to LibreOffice Writer"),
    ("Image $(WIDTH) by ${height} of $file$", "Image by of"),
    ("The file “%s” was not found", "The file was not found"),
    ("<b>Bold</b> and <a href=\"x\">a link</a><br/>", "Bold and a link"),
    ("Fish &amp; chips &lt;tag&gt;", "Fish & chips <tag>"),
    ("_File", "File"),
    ("Save _As…", "Save As…"),
    ("Ope_n recent", "Open recent"),
    ("&Edit the file", "Edit the file"),
    ("Tom && Jerry", "Tom & Jerry"),
    ("~Insert a table", "Insert a table"),
    ("文件(_F)", "文件"),
    ("保存(&S)", "保存"),
    ("set LC_ALL before running", "set LC_ALL before running"),  # not an accelerator
    ("snake_case and other_name", "snake_case and other_name"),  # two underscores: identifiers
    ("Line one\nline two\t\ttabbed", "Line one line two tabbed"),
    ("Literal \\n escape and \x1b[1mbold\x1b[0m", "Literal escape and bold"),
    ("  Usage: %s [OPTION]... FILE\n", "Usage: [OPTION]... FILE"),
    ("%s, %s and %s", "and"),
    ("\u200fفائل محفوظ کریں\u200f", "فائل محفوظ کریں"),  # bidi marks go
    ("می\u200cخواهم", "می\u200cخواهم"),  # ZWNJ is Persian spelling: kept
])
def test_clean_message(raw, clean):
    assert clean_message(raw) == clean


def test_keep_message_thresholds():
    assert keep_message("Could not open the file", "fr")
    assert not keep_message("Open file", "fr")  # two words
    assert not keep_message("1 2 3 4 5 six", "fr")  # digits are not words; mostly digits
    assert not keep_message("--foo=BAR /usr/lib/x86_64", "fr")
    assert keep_message("无法打开文件", "zh") and not keep_message("打开", "zh")  # characters, not words
    assert keep_message("ไม่สามารถเปิดแฟ้มได้", "th") and not keep_message("เปิด", "th")
    assert not keep_message("", "en")


# -------------------------------------------------------------------------------------- locale folders


@pytest.mark.parametrize("folder, code", [
    ("fr", "fr"), ("pt_BR", "pt"), ("pt-BR", "pt"), ("zh_CN", "zh"), ("zh_SG", "zh"), ("zh_Hans", "zh"),
    ("zh_TW", "zh_Hant"), ("zh_HK", "zh_Hant"), ("zh-TW", "zh_Hant"), ("zh_Hant", "zh_Hant"),
    ("nb", "no"), ("nn", "no"), ("nb_NO", "no"), ("fil", "tl"), ("iw", "he"), ("he", "he"), ("in", "id"),
    ("id", "id"), ("kmr", "ku"), ("kmr@latin", "ku"), ("ca@valencia", "ca"), ("ca-valencia", "ca"),
    ("de_CH", "de"), ("bn_IN", "bn"), ("sr", "sr"), ("my", "my"), ("fr_CA.UTF-8", "fr"),
    ("sr@latin", None), ("sr-Latn", None), ("sr@ije", None), ("be@latin", None), ("uz@cyrillic", None),
    ("pa_PK", None), ("az_IR", None), ("ckb", None), ("en", None), ("en_GB", None), ("en@quot", None),
    ("ast", None), ("oc", None),  # not CC-100 languages
])
def test_locale_to_code(folder, code):
    got = locale_to_code(folder)
    assert (got[0] if got else None) == code


def test_plain_folder_ranks_before_regional_variants():
    rank = lambda f: locale_to_code(f)[1]  # noqa: E731
    assert rank("pt") < rank("pt_BR") and rank("pt") < rank("pt_PT")
    assert rank("zh_CN") < rank("zh_SG") and rank("zh_TW") < rank("zh_HK")
    assert rank("nb") < rank("nn") and rank("id") < rank("in") and rank("ca") < rank("ca@valencia")
    assert locale_to_code("ast", {"ast"}) == ("ast", 0)  # other languages: only when asked for


# ------------------------------------------------------------------------------------------ the corpus


def make_tree(root: Path) -> Path:
    """A small locale root: fr in two domains, pt plain + pt_BR, zh_CN/zh_TW, Serbian Latin, Norwegian,
    an iso-codes catalog, an English variant, a corrupt catalog and a language outside CC-100."""
    loc = root / "share" / "locale"
    write_mo(loc, "fr", "editor", [(None, e, f) for e, f in EN_FR] + [
        ("menu", "Insert a new table here", "Insérer un nouveau tableau ici"),
        (None, ("Removed one old file", "Removed %d old files"), ["Un ancien fichier supprimé", "%d supprimés"]),
    ])
    write_mo(loc, "fr", "viewer", [
        (None, "Could not open the file %s for reading", "Impossible d'ouvrir le fichier %s en lecture"),  # dup
        (None, "Zoom in on the current page", "Zoomer sur la page courante"),
    ], charset="ISO-8859-1")
    write_mo(loc, "fr", "iso_3166", [(None, "United States of America", "États-Unis d'Amérique du Nord")])
    write_mo(loc, "fr", "broken", [(None, "x", "y")])
    (loc / "fr" / "LC_MESSAGES" / "broken.mo").write_bytes(b"not a catalog at all, sorry")
    write_mo(loc, "pt", "editor", [(None, "Save the document before closing", "Guardar o documento antes de fechar")])
    write_mo(loc, "pt_BR", "editor", [(None, "Save the document before closing", "Salvar o documento antes de fechar")])
    write_mo(loc, "pt_BR", "viewer", [(None, "Zoom in on the current page", "Ampliar a página atual agora")])
    write_mo(loc, "zh_CN", "editor", [(None, "Could not open the file %s for reading", "无法打开文件 %s 进行读取")])
    write_mo(loc, "zh_TW", "editor", [(None, "Could not open the file %s for reading", "無法開啟檔案 %s 進行讀取")])
    write_mo(loc, "sr@latin", "editor", [(None, "Zoom in on the current page", "Uvećaj trenutnu stranicu sada")])
    write_mo(loc, "sr", "editor", [(None, "Zoom in on the current page", "Увећај тренутну страницу сада")])
    write_mo(loc, "nb", "editor", [(None, "Zoom in on the current page", "Zoom inn på den gjeldende siden")])
    write_mo(loc, "en_GB", "editor", [(None, "Zoom in on the current page", "Zoom in on the current page")])
    write_mo(loc, "ast", "editor", [(None, "Zoom in on the current page", "Averar na páxina actual agora")])
    return loc


def test_build_corpus_text_pairs_manifest(tmp_path):
    loc = make_tree(tmp_path)
    out = tmp_path / "out"
    m = build_gettext_corpus([loc], ["en", "fr", "pt", "zh", "zh_Hant", "sr", "no"], out, min_chars_per_lang=10)

    fr = (out / "fr.txt").read_text(encoding="utf-8")
    docs = [d.splitlines() for d in fr.strip("\n").split("\n\n")]
    assert [set(d) for d in docs] == [  # one document per catalog, in domain order
        {"Impossible d'ouvrir le fichier en lecture", "Enregistrer le document avant de fermer",
         "Supprimer définitivement éléments sélectionnés", "Attention : cette action est irréversible",
         "Bienvenue dans, la suite bureautique libre", "Insérer un nouveau tableau ici",
         "Un ancien fichier supprimé"},
        {"Zoomer sur la page courante"},  # viewer (Latin-1): the duplicate line is gone
    ]
    lines = [ln for d in docs for ln in d]
    assert "Ouvrir" not in fr and "The same sentence in both languages" not in fr  # short, untranslated
    assert "États-Unis" not in fr  # iso-codes excluded
    assert len(lines) == len(set(lines)) == m["languages"]["fr"]["lines"] == 8
    assert m["languages"]["fr"]["documents"] == 2 and m["languages"]["fr"]["chars"] == sum(map(len, lines))
    assert m["languages"]["fr"]["dropped"] == {"duplicate": 1, "short": 1, "untranslated": 1}

    pairs = read_pairs(out, "fr")
    assert (out / "pairs" / "fr.tsv").read_text(encoding="utf-8").startswith("msgid_en\ttext\n")
    assert ("Could not open the file for reading", "Impossible d'ouvrir le fichier en lecture") in pairs
    assert ("Warning: this action cannot be undone", "Attention : cette action est irréversible") in pairs
    assert m["languages"]["fr"]["pairs"] == len(pairs) == 8

    # plain pt wins its domain; pt_BR fills the domain pt lacks
    assert (out / "pt.txt").read_text(encoding="utf-8").split() == (
        "Guardar o documento antes de fechar Ampliar a página atual agora".split())
    assert "无法打开文件 进行读取" in (out / "zh.txt").read_text(encoding="utf-8")
    assert "無法開啟檔案 進行讀取" in (out / "zh_Hant.txt").read_text(encoding="utf-8")
    assert (out / "sr.txt").read_text(encoding="utf-8").strip() == "Увећај тренутну страницу сада"  # not sr@latin
    assert "Zoom inn" in (out / "no.txt").read_text(encoding="utf-8")

    # English: msgids, cleaned, deduplicated; no pairs file for it
    en = (out / "en.txt").read_text(encoding="utf-8").split("\n")
    assert "Could not open the file for reading" in en and "Zoom in on the current page" in en
    assert "Open" not in en and len([x for x in en if x]) == len({x for x in en if x})
    assert not (out / "pairs" / "en.tsv").exists()
    assert english_side(out)["Zoom in on the current page"] == {
        "fr": "Zoomer sur la page courante", "pt": "Ampliar a página atual agora",
        "sr": "Увећај тренутну страницу сада", "no": "Zoom inn på den gjeldende siden"}

    # manifest: every source with sha256 and size; the corrupt one recorded with its error
    on_disk = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert on_disk == json.loads(json.dumps(m))
    srcs = {Path(s["path"]).relative_to(loc).as_posix(): s for s in m["sources"]}
    assert "fr/LC_MESSAGES/iso_3166.mo" not in srcs and "sr@latin/LC_MESSAGES/editor.mo" not in srcs
    broken = srcs["fr/LC_MESSAGES/broken.mo"]
    assert "magic" in broken["error"] and m["languages"]["fr"]["unreadable_catalogs"] == 1
    viewer = srcs["fr/LC_MESSAGES/viewer.mo"]
    data = (loc / "fr/LC_MESSAGES/viewer.mo").read_bytes()
    assert viewer["size"] == len(data) and viewer["charset"] == "ISO-8859-1"
    assert viewer["sha256"] == hashlib.sha256(data).hexdigest()
    assert viewer["package"] is None and viewer["version"] is None  # not a Debian package's file
    assert set(m["languages"]) == {"en", "fr", "pt", "zh", "zh_Hant", "sr", "no"} and m["skipped"] == {}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]  # no temp dirs left


def test_missing_language_is_a_clear_error_and_leaves_output_alone(tmp_path):
    loc = make_tree(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("previous build")
    with pytest.raises(ValueError) as e:
        build_gettext_corpus([loc], ["fr", "sw"], out, min_chars_per_lang=10)
    msg = str(e.value)
    assert "\n" not in msg and "'sw'" in msg and "found 0 strings" in msg
    assert "languages with text here:" in msg and "fr (" in msg and "'fr'" not in msg.split(";")[0]
    # too little text: named with what was found
    with pytest.raises(ValueError, match=r"'pt' \(found 2 strings, \d+ chars < min_chars_per_lang=10,000\)"):
        build_gettext_corpus([loc], ["fr", "pt"], out, min_chars_per_lang=10_000)
    assert (out / "keep.txt").read_text() == "previous build" and not (out / "fr.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "share"]


def test_skip_missing_reports_and_skips(tmp_path, caplog):
    loc = make_tree(tmp_path)
    m = build_gettext_corpus([loc], ["fr", "sw", "pt"], tmp_path / "out", min_chars_per_lang=100, skip_missing=True)
    assert set(m["skipped"]) == {"sw", "pt"} and m["codes"] == ["fr"]
    assert "0 strings" in m["skipped"]["sw"] and "min_chars_per_lang=100" in m["skipped"]["pt"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["fr.txt", "manifest.json", "pairs"]
    assert sorted(p.name for p in (tmp_path / "out" / "pairs").iterdir()) == ["fr.tsv"]
    assert "skipped 'sw'" in caplog.text


def test_rebuild_replaces_atomically_and_failure_keeps_old(tmp_path, monkeypatch):
    loc = make_tree(tmp_path)
    out = tmp_path / "out"
    build_gettext_corpus([loc], ["fr", "pt"], out, min_chars_per_lang=10)
    (out / "stale.txt").write_text("from an older build")
    build_gettext_corpus([loc], ["fr"], out, min_chars_per_lang=10)
    assert sorted(p.name for p in out.iterdir()) == ["fr.txt", "manifest.json", "pairs"]
    before = (out / "fr.txt").read_bytes()

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(gx, "package_of", boom)  # fails after the text is written, before the rename
    with pytest.raises(RuntimeError, match="disk full"):
        build_gettext_corpus([loc], ["fr", "zh"], out, min_chars_per_lang=10)
    assert (out / "fr.txt").read_bytes() == before and not (out / "zh.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "share"]


def test_fetched_tree_roots_and_provenance(tmp_path):
    """A fetch-gettext.sh tree: two locale roots under DEST (LibreOffice's folders use pt-BR style) and a
    provenance table mapping each catalog to its package and version."""
    dest = tmp_path / "root"
    a = write_mo(dest / "usr/share/locale", "fr", "gtk40",
                 [(None, "Select a file to open", "Choisir un fichier à ouvrir")])
    b = write_mo(dest / "usr/lib/libreoffice/program/resource", "pt-BR", "sw",
                 [("STR_X", "Insert ~table of contents", "Inserir ~sumário do documento")])
    (dest / gx.PROVENANCE_FILE).write_text(
        "path\tpackage\tversion\tdeb\tdeb_sha256\n"
        f"{a.relative_to(dest)}\tlibgtk-4-common\t4.8.3\tx.deb\t0\n"
        f"{b.relative_to(dest)}\tlibreoffice-l10n-pt-br\t4:7.4.7\ty.deb\t0\n")
    assert expand_locale_roots([dest]) == [dest / "usr/share/locale", dest / "usr/lib/libreoffice/program/resource"]
    assert available_languages([dest]) == {"en": 2, "fr": 1, "pt": 1}
    m = build_gettext_corpus([dest], ["fr", "pt"], tmp_path / "out", min_chars_per_lang=5)
    pkgs = {Path(s["path"]).name: (s["package"], s["version"]) for s in m["sources"]}
    assert pkgs == {"gtk40.mo": ("libgtk-4-common", "4.8.3"), "sw.mo": ("libreoffice-l10n-pt-br", "4:7.4.7")}
    assert (tmp_path / "out" / "pt.txt").read_text(encoding="utf-8").strip() == "Inserir sumário do documento"
    with pytest.raises(FileNotFoundError, match="does not exist"):
        expand_locale_roots([tmp_path / "nope"])


def test_fingerprint_changes_with_the_catalogs_read(tmp_path):
    loc = make_tree(tmp_path)
    fp = gx.fingerprint([loc], ["fr"])
    assert fp == gx.fingerprint([loc], ["fr"]) and fp != gx.fingerprint([loc], ["fr", "pt"])
    pt_only = gx.fingerprint([loc], ["pt"])
    write_mo(loc, "fr", "viewer", [(None, "Zoom out of the current page", "Dézoomer la page courante")])
    assert gx.fingerprint([loc], ["fr"]) != fp and gx.fingerprint([loc], ["pt"]) == pt_only


def test_other_languages_only_when_asked(tmp_path):
    loc = make_tree(tmp_path)
    assert "ast" not in available_languages([loc])
    assert "ast" in available_languages([loc], include_other=True)
    m = build_gettext_corpus([loc], ["ast"], tmp_path / "out", min_chars_per_lang=5)
    assert m["languages"]["ast"]["lines"] == 1
    langs = available_languages([loc])
    assert list(langs) == sorted(langs, key=lambda c: (-langs[c], c)) and langs["fr"] == 11  # editor 9 + viewer 2


# ------------------------------------------------------------------------------ this machine's catalogs

SYSTEM_LOCALE = Path("/usr/share/locale")
MIN_SYSTEM_CATALOGS = 100


def _system_catalogs() -> list[Path]:
    return sorted(SYSTEM_LOCALE.glob("*/LC_MESSAGES/*.mo")) if SYSTEM_LOCALE.is_dir() else []


def test_real_system_catalogs(tmp_path):
    cats = _system_catalogs()
    if len(cats) < MIN_SYSTEM_CATALOGS:
        pytest.skip(f"{SYSTEM_LOCALE} has {len(cats)} .mo catalogs (< {MIN_SYSTEM_CATALOGS}): "
                    "this machine has too few translations installed to check the real parser")
    # our parser agrees with Python's gettext on real files
    for path in cats[:: max(1, len(cats) // 15)][:15]:
        with open(path, "rb") as f:
            std = std_gettext.GNUTranslations(f)._catalog  # type: ignore[attr-defined]
        for ctx, msgid, msgstr in read_mo(path).messages[:200]:
            key = msgid if ctx is None else f"{ctx}\x04{msgid}"
            assert std.get(key, std.get((key, 0))) == msgstr, (path, msgid)
    # a quick build over the two largest domains shared by fr and ru
    def domains(folder: str) -> dict[str, int]:
        return {p.stem: p.stat().st_size for p in (SYSTEM_LOCALE / folder / "LC_MESSAGES").glob("*.mo")
                if not p.stem.startswith("iso_")}
    fr, ru = domains("fr"), domains("ru")
    shared = sorted(set(fr) & set(ru), key=lambda d: -min(fr[d], ru[d]))[:2]
    if not shared:
        pytest.skip(f"{SYSTEM_LOCALE}: no domain translated into both fr and ru")
    m = build_gettext_corpus([SYSTEM_LOCALE], ["en", "fr", "ru"], tmp_path / "out", min_chars_per_lang=100,
                             domains=shared)
    for code in ("en", "fr", "ru"):
        assert m["languages"][code]["lines"] > 10, code
    assert m["languages"]["fr"]["pairs"] > 10 and read_pairs(tmp_path / "out", "ru")
    if m["dpkg"]:
        assert all(s["package"] for s in m["sources"]), "dpkg should know the system's catalogs"
