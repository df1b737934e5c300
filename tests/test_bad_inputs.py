"""Every bad input, through the CLI as a user types it: one line naming the key or file, exit status != 0,
before any expensive work (no tokenizer or shards built), and nothing left behind by the rejected run."""

import lzma
import os
from pathlib import Path

import pytest

from _shared import TINY, run_train

DOCS = "\n\n".join("\n".join(f"sentence {d} {i} with some words in it" for i in range(3)) for d in range(50)) + "\n"


def cc100_dir(tmp: Path, en: bytes | None = None, name: str = "en.txt.xz", sw: str = DOCS) -> list[str]:
    corpus = tmp / "cc100"
    corpus.mkdir()
    (corpus / name).write_bytes(lzma.compress(DOCS.encode()) if en is None else en)
    (corpus / "sw.txt").write_text(sw)
    return ["corpus=cc100", f"corpus.path={corpus}", "langs=[en,sw]"]


def truncated(tmp: Path) -> list[str]:
    data = lzma.compress(DOCS.encode())
    return cc100_dir(tmp, data[: len(data) // 2])


def corrupt_inside(tmp: Path) -> list[str]:  # intact header and footer, garbage between: found while counting
    data = lzma.compress(DOCS.encode())
    return cc100_dir(tmp, data[:12] + bytes(range(256)) * 4 + data[-12:])


def one_document(tmp: Path) -> list[str]:
    return cc100_dir(tmp, sw="just one document\nof two lines\n")


def empty_file(tmp: Path) -> list[str]:
    return cc100_dir(tmp, b"", name="en.txt")


def runs_dir_under_a_file(tmp: Path) -> list[str]:
    (tmp / "a_file").write_text("x")
    return [f"paths.runs_dir={tmp / 'a_file' / 'runs'}"]


def cache_dir_under_a_file(tmp: Path) -> list[str]:
    (tmp / "a_file").write_text("x")
    return [f"paths.cache_dir={tmp / 'a_file' / 'cache'}"]


def runs_dir_read_only(tmp: Path) -> list[str]:
    (tmp / "ro").mkdir()
    os.chmod(tmp / "ro", 0o555)
    if os.access(tmp / "ro", os.W_OK) and os.geteuid() == 0:  # root writes anyway: use a read-only mount instead
        return ["paths.runs_dir=/proc/sys/runs"]
    return [f"paths.runs_dir={tmp / 'ro' / 'runs'}"]


CASES = {
    "corpus path missing": (lambda tmp: ["corpus=cc100"], "corpus.path=???"),
    "truncated xz": (truncated, "not a complete .xz file"),
    "corrupt xz stream": (corrupt_inside, "en.txt.xz: cannot be read"),
    "too little text": (one_document, "too little text: 1 document(s)"),
    "empty corpus file": (empty_file, "empty corpus file"),
    "runs dir under a file": (runs_dir_under_a_file, "paths.runs_dir="),
    "runs dir not writable": (runs_dir_read_only, "paths.runs_dir="),
    "cache dir under a file": (cache_dir_under_a_file, "paths.cache_dir="),
    "gettext: too little text": (lambda tmp: ["corpus=gettext", "langs=[en,fr]", "corpus.min_chars_per_lang=1000000000"],
                                 "corpus.min_chars_per_lang=1000000000: gettext corpus: no text for 'fr'"),
    "synthetic range": (lambda tmp: ["corpus.n_topics=1"], "corpus.n_topics=1"),
    "synthetic probability": (lambda tmp: ["corpus.p_code_switch=1.5"], "corpus.p_code_switch=1.5"),
    "synthetic range, plan only": (lambda tmp: ["-m", "corpus.n_topics=1", "plan_only=true"], "corpus.n_topics=1"),
    "eval range": (lambda tmp: ["eval.transfer.steps=0"], "eval.transfer.steps=0"),
    "retrieval layer": (lambda tmp: ["eval.retrieval.layer=0"], "eval.retrieval.layer=0"),
    "train range": (lambda tmp: ["train.adam_beta2=1.0"], "train.adam_beta2=1.0"),
    "trainer range": (lambda tmp: ["trainer.log_every_steps=0"], "trainer.log_every_steps=0"),
    "data range": (lambda tmp: ["data.eval_sequences=-1"], "data.eval_sequences=-1"),
    "model range": (lambda tmp: ["model.dropout=1.0"], "model.dropout=1.0"),
    "launcher time limit": (lambda tmp: ["-m", "hydra/launcher=slurm", "hydra.launcher.timeout_min=-1"],
                            "hydra.launcher.timeout_min=-1"),
    "launcher memory": (lambda tmp: ["-m", "hydra/launcher=slurm", "hydra.launcher.mem_gb=0"], "hydra.launcher.mem_gb=0"),
    "sweep without -m": (lambda tmp: ["sweep=fig2_langs_cpu"], "add -m"),
    "progress mode": (lambda tmp: ["trainer.progress=fancy"], "trainer.progress=fancy: valid: auto, bar, lines, off"),
    "prepare workers": (lambda tmp: ["data.prepare_workers=0"], "data.prepare_workers=0: must be >= 1"),
    "warmup fraction": (lambda tmp: ["train.warmup_fraction=2"], "train.warmup_fraction=2"),
    "budget cap": (lambda tmp: ["data.budget_cap=0.5"], "data.budget_cap=0.5"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_early_and_leaves_nothing(case, tmp_path):
    make, needle = CASES[case]
    if case.startswith("gettext") and not Path("/usr/share/locale/fr/LC_MESSAGES").is_dir():
        pytest.skip("no system gettext catalogs for fr on this machine")
    args = make(tmp_path)
    runs_dir = next((a.split("=", 1)[1] for a in args if a.startswith("paths.runs_dir=")), str(tmp_path / "runs"))
    own_corpus = any(a in args for a in ("corpus=cc100", "corpus=gettext"))
    tiny = [o for o in TINY if not own_corpus or not o.startswith("corpus.")]  # synthetic-only keys
    flags = [a for a in args if a.startswith("-")]  # -m goes before the overrides
    cache_dir = next((a.split("=", 1)[1] for a in args if a.startswith("paths.cache_dir=")), str(tmp_path / "cache"))
    r = run_train(*flags, *tiny, f"paths.cache_dir={cache_dir}", f"paths.runs_dir={runs_dir}",
                  *[a for a in args if a not in flags and not a.startswith("paths.cache_dir=")])
    out = r.stdout + r.stderr
    errors = [line for line in out.splitlines() if line.startswith("error:")]
    assert r.returncode != 0, out[-2000:]
    assert len(errors) == 1 and needle in errors[0], out[-2000:]
    assert "Traceback" not in out, out[-2000:]
    for stage in ("tokenizer", "shards"):  # nothing expensive was started
        assert not list((tmp_path / "cache" / stage).glob("*")), stage
    if Path(runs_dir).exists() and runs_dir.startswith(str(tmp_path)):
        left = [p for p in Path(runs_dir).rglob("*")]
        assert left == [], left


def _errors(r) -> list[str]:
    return [line for line in (r.stdout + r.stderr).splitlines() if line.startswith("error:")]


def test_a_vocab_beyond_what_the_corpus_can_yield_is_refused_before_any_tokenizer(tmp_path):
    common = [*TINY, "langs=[en,sw]", f"paths.cache_dir={tmp_path / 'cache'}", f"paths.runs_dir={tmp_path / 'runs'}"]
    first = run_train(*common, "vocab_size=900000")  # builds the (cheap) corpus, then stops: no tokenizer trained
    assert first.returncode == 2 and len(_errors(first)) == 1 and "can yield at most" in _errors(first)[0]
    sweep = run_train("-m", *common, "vocab_size=900000", "seed=1,2")  # the corpus is cached: refused at the plan
    assert sweep.returncode == 2 and "can yield at most" in sweep.stderr and "nothing was launched" in sweep.stderr
    assert not list((tmp_path / "cache" / "tokenizer").glob("*"))  # no tokenizer was trained, or remembered
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").rglob("result.json"))


def test_a_vocab_too_large_for_the_tokenizer_is_found_once_then_at_plan_time(tmp_path):
    # below the corpus's upper bound (~61k pieces) but above what SentencePiece finds in the sample
    common = [*TINY, "vocab_size=20000", "langs=[en,sw]", f"paths.cache_dir={tmp_path / 'cache'}",
              f"paths.runs_dir={tmp_path / 'runs'}"]
    first = run_train(*common)  # the tokenizer finds it (seconds of work), and the cache remembers it
    assert first.returncode == 2 and len(_errors(first)) == 1 and "vocab_size=20000" in _errors(first)[0], \
        first.stderr[-2000:]
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").rglob("result.json"))
    sweep = run_train("-m", *common, "seed=1,2")  # other seeds share the tokenizer: refused at the plan
    assert sweep.returncode == 2 and "found by an earlier build" in sweep.stderr and "nothing was launched" in sweep.stderr
    assert "Traceback" not in sweep.stdout + sweep.stderr


def test_a_prepare_only_sweep_reports_a_build_time_refusal_in_one_line(tmp_path):
    common = [*TINY, "vocab_size=20000", "langs=[en,sw]", f"paths.cache_dir={tmp_path / 'cache'}",
              f"paths.runs_dir={tmp_path / 'runs'}"]
    r = run_train("-m", *common, "prepare_only=true")  # found while the tokenizer is built, in the sweeper
    assert r.returncode == 2 and "Traceback" not in r.stdout + r.stderr, r.stderr[-2000:]
    assert len(_errors(r)) == 1 and "vocab_size=20000" in _errors(r)[0]
