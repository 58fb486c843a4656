"""``itdose cohort --scheduler ADDRESS``: patients run on a Dask distributed scheduler give the
same results as local processes (a patient is a function of the seed and its index only), and
a bad or unreachable address is one error line naming ``--scheduler``, exit 2
(docs/cohort-schema.md).

Requirements: REQ-GOV-004 (checked by the independent reference over whole runs)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import distributed
import pytest
from itdose_cohortkit import DAY_S, make_cohort, stable

from itdose.adapters.cli import main
from itdose.adapters.cohort_run import SchedulerError, run_cohort, run_cohort_on_scheduler


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """A local scheduler with two in-process workers (threads: small and quick to start)."""
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    )
    try:
        yield str(cluster.scheduler_address)
    finally:
        cluster.close()


def test_scheduler_results_equal_local_results(tmp_path: Path, scheduler: str) -> None:
    cohort = make_cohort(tmp_path)
    local = run_cohort(cohort, 3, 2 * DAY_S, workers=1)
    remote, workers = run_cohort_on_scheduler(cohort, 3, 2 * DAY_S, scheduler)
    assert workers == 2
    assert [r["index"] for r in remote] == [0, 1, 2]
    assert stable(remote) == stable(local)
    assert all(r["error"] is None for r in remote), [r["error"] for r in remote]
    assert sum(r["boluses_granted"] for r in remote) > 0


def test_cli_runs_on_the_scheduler(
    tmp_path: Path, scheduler: str, capsys: pytest.CaptureFixture[str]
) -> None:
    make_cohort(tmp_path)
    out = tmp_path / "r.json"
    args = ["cohort", str(tmp_path / "tiny.toml"), "--patients", "2", "--years", "0.004"]
    assert main([*args, "--scheduler", scheduler, "--json", str(out), "--no-progress"]) == 0
    report = json.loads(out.read_text())
    assert report["patients"] == 2 and report["workers"] == 2 and report["ok"] is True
    local = tmp_path / "local.json"
    assert main([*args, "--workers", "1", "--json", str(local), "--no-progress"]) == 0
    strip = ("cpu_s", "cpu_s_per_patient_year", "wall_s", "workers")

    def same(r: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in r.items() if k not in strip}

    assert same(report) == same(json.loads(local.read_text()))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # closed again: nothing listens there


@pytest.mark.parametrize(
    "address",
    [
        "not an address",
        "nonsense://x",
        "inproc://nothing",
        "tcp://127.0.0.1:CLOSED",
        "ws://127.0.0.1:CLOSED",
        "tcp://:99999",
    ],
)
def test_bad_scheduler_address_exits_2(
    tmp_path: Path, address: str, capsys: pytest.CaptureFixture[str]
) -> None:
    make_cohort(tmp_path)
    address = address.replace("CLOSED", str(_closed_port()))
    code = main(
        [
            "cohort",
            str(tmp_path / "tiny.toml"),
            "--patients",
            "1",
            "--years",
            "0.004",
            "--scheduler",
            address,
            "--no-progress",
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --scheduler:") and "Traceback" not in err
    assert err.count("\n") == 1, err


def test_workers_and_scheduler_together_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_cohort(tmp_path)
    args = ["cohort", str(tmp_path / "tiny.toml"), "--patients", "1", "--years", "1"]
    assert main([*args, "--workers", "2", "--scheduler", "tcp://127.0.0.1:8786"]) == 2
    assert "--scheduler" in capsys.readouterr().err


def test_unreachable_scheduler_raises_scheduler_error(tmp_path: Path) -> None:
    with pytest.raises(SchedulerError, match="cannot reach"):
        run_cohort_on_scheduler(
            make_cohort(tmp_path), 1, DAY_S, f"tcp://127.0.0.1:{_closed_port()}", timeout_s=2
        )
