"""``ddlab run``'s closing summary and when its progress bar shows."""

from __future__ import annotations

import io

import pytest

import ddlab
from ddlab.cli import main
from ddlab.cli._run import summary


def test_summary_has_a_line_per_width_of_each_sweep_point(config):
    exp = ddlab.load_experiment(config)
    ds = ddlab.run({**exp.to_dict(), "data": {**exp.to_dict()["data"], "noise": [0.1, 1.5]}},
                   device="cpu", progress=False)
    lines = summary(ds).splitlines()
    assert lines[0].split()[:2] == ["noise", "width"]
    rows = [line.split() for line in lines[1:-1]]
    assert [r[:2] for r in rows] == [[n, w] for n in ("0.1", "1.5") for w in ("1", "3", "5")]
    last = ds.test_loss.isel(epoch=-1).mean(["data_seed", "init_seed"])
    column = lines[0].split().index("test_loss")
    for row in rows:  # each sweep point's own mean, not one over the noise levels
        expected = float(last.sel(noise=float(row[0]), width=int(row[1])))
        assert float(row[column]) == pytest.approx(expected, abs=1e-4)
    assert lines[-1].startswith("diverged cells: 0;")


def test_summary_of_an_unswept_run_has_a_line_per_width(stored):
    lines = summary(ddlab.open_results(stored)).splitlines()
    assert lines[0].split() == ["width", *(v for v in ddlab.results.METRICS
                                           if v in ddlab.open_results(stored))]
    assert [line.split()[0] for line in lines[1:-1]] == ["1", "3", "5"]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("flags", "terminal", "bar"), [
    ([], False, False),               # a batch job's log: no \r updates
    ([], True, True),                 # a terminal
    (["--progress"], False, True),    # forced on
    (["--no-progress"], True, False),  # forced off
    (["--quiet", "--progress"], True, False),
])
def test_progress_bar_only_on_a_terminal_unless_asked(capsys, monkeypatch, tmp_path, config,
                                                      flags, terminal, bar):
    err = _Terminal() if terminal else io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    assert main(["run", str(config), "--device", "cpu", "--out", str(tmp_path / "t.zarr"),
                 *flags]) == 0
    assert ("tiny: 100%" in err.getvalue()) == bar, err.getvalue()
    assert ("results:" in capsys.readouterr().out) == ("--quiet" not in flags)


def test_api_progress_defaults_to_terminals_only(monkeypatch, config):
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    ddlab.run(config, device="cpu")
    assert err.getvalue() == ""
    ddlab.run(config, device="cpu", progress=True)
    assert "tiny: 100%" in err.getvalue()
