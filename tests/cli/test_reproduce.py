"""``ddlab reproduce --quick``: every figure and number of the paper, and a second call that
recomputes nothing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import ROOT, digest

import ddlab
from ddlab.cli import main
from ddlab.cli._paperfile import read_paper_file


def _cache(tmp_path_factory) -> str:
    """The cache of the module's reproduce calls: a user's second call finds the first's."""
    return str(tmp_path_factory.getbasetemp() / "reproduce-cache")


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("reproduce")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DDLAB_CACHE_DIR", _cache(tmp_path_factory))
        assert main(["reproduce", "--quick", "--out", str(out),
                     "--paper-file", str(ROOT / "experiments/paper.toml")]) == 0
    return out


@pytest.mark.slow
def test_every_figure_and_paper_input_exists(quick, capsys):
    paper = read_paper_file(ROOT / "experiments/paper.toml")
    for entry in paper.entries:
        assert (quick / f"{entry.name}.zarr").is_dir()
        for fig in entry.figures:
            for ext in ("png", "pdf"):
                path = quick / "figures" / f"{fig.name}.{ext}"
                assert path.is_file() and path.stat().st_size > 1000, path
    tex = (ROOT / "paper/main.tex").read_text()
    numbers = (quick / "generated" / "numbers.tex").read_text()
    graphics = re.findall(r"\\includegraphics(?:\[[^\]]*\])?\{\\ddfigures/([^}]+)\}", tex)
    assert graphics and len(graphics) == len(re.findall(r"\\includegraphics", tex))
    for name in graphics:
        assert (quick / "figures" / f"{name}.pdf").stat().st_size > 1000, name
    inputs = re.findall(r"\\input\{([^}]+)\}", tex)
    assert inputs == [r"\ddgenerated/numbers.tex"]
    defined = set(re.findall(r"\\newcommand\{\\([A-Za-z]+)\}", numbers))
    used = set(re.findall(r"\\([A-Z][A-Za-z]+)", tex)) - {"E", "R"}
    missing = {m for m in used if m not in defined and not m[0].islower()
               and m not in ("Figure", "FloatBarrier")}
    assert not missing, f"paper macros not written by reproduce: {sorted(missing)}"
    assert r"\newcommand{\ReproduceQuick}{quick}" in numbers
    capsys.readouterr()


@pytest.mark.slow
def test_a_second_call_recomputes_nothing(quick, capsys, tmp_path_factory, monkeypatch):
    monkeypatch.setenv("DDLAB_CACHE_DIR", _cache(tmp_path_factory))  # the best-in-class fits
    def arrays(store: Path) -> dict[str, str]:  # data only: the history attr gains a line
        return {q.name: digest(q) for q in store.iterdir() if q.is_dir()}

    stores = {p.name: arrays(p) for p in quick.glob("*.zarr")}
    figures = {p.name: p.read_bytes() for p in (quick / "figures").iterdir()}
    capsys.readouterr()
    assert main(["reproduce", "--quick", "--out", str(quick),
                 "--paper-file", str(ROOT / "experiments/paper.toml")]) == 0
    printed = capsys.readouterr().out
    assert printed.count("computed 0 of") == len(stores), printed
    assert "0 computed" in printed.splitlines()[-1]
    assert stores == {p.name: arrays(p) for p in quick.glob("*.zarr")}
    for name, data in figures.items():  # figures redrawn byte for byte
        assert (quick / "figures" / name).read_bytes() == data, name


def test_bad_input_gets_one_line_and_exit_2(tmp_path, capsys):
    args = ["--paper-file", str(ROOT / "experiments/paper.toml")]
    assert main(["reproduce", "--quick", "--only", "nonsense", "--out", str(tmp_path),
                 *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--only = 'nonsense'" in err
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["reproduce", "--quick", "--out", str(blocker / "sub"), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot write there" in err
    bad = tmp_path / "paper.toml"
    bad.write_text('[[experiments]]\nname = "x"\nfile = "x.toml"\nfigures = '
                   '[{ name = "a", kind = "pie" }]\n')
    (tmp_path / "x.toml").write_text("")
    assert main(["reproduce", "--paper-file", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "kind = 'pie'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_stores_of_another_version_or_experiment_are_not_reused(stored, config):
    import zarr

    from ddlab.cli._reproduce import _stale

    exp = ddlab.load_experiment(config)
    assert _stale(stored, exp) == ""
    assert _stale(stored, exp.replace(train={"lr": 0.02})) == "experiment changed"
    zarr.open_group(stored, mode="r+").attrs["ddlab_version"] = "0.0.1"
    assert _stale(stored, exp) == "computed by ddlab 0.0.1"
