"""`nimbus ingest` and `nimbus eval` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nimbus.cli import app
from nimbus.ingest_client import ingest
from tests.conftest import LiveServer, free_port
from tests.knowledge.test_evaluation import tiny_beir  # noqa: F401  (fixture)
from tests.pdfs import make_pdf


def test_ingest_waits_until_ready_and_exits_0(
    live_api: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pdf = tmp_path / "harbour.pdf"
    pdf.write_bytes(make_pdf(["The harbour was built in 1652.", "The lighthouse has 212 steps."]))
    assert ingest(live_api.url, tmp_path / "data", str(pdf), poll_seconds=0.05) == 0
    assert "ready" in capsys.readouterr().err
    assert ingest(live_api.url, tmp_path / "data", str(pdf), poll_seconds=0.05) == 0
    assert "Already in your library" in capsys.readouterr().err


def test_ingest_exits_non_zero_with_the_reason(
    live_api: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(make_pdf(["", ""]))
    assert ingest(live_api.url, tmp_path / "data", str(scan), poll_seconds=0.05) == 1
    assert "no_text" in capsys.readouterr().err
    assert ingest(live_api.url, tmp_path / "data", str(tmp_path / "missing.pdf")) == 1
    assert "neither a file" in capsys.readouterr().err
    assert ingest(f"http://127.0.0.1:{free_port()}", tmp_path / "data", str(scan)) == 1
    assert "Cannot reach" in capsys.readouterr().err


def test_eval_prints_metrics_with_json_last(
    tiny_beir: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    result = CliRunner().invoke(app, ["eval", str(tiny_beir), "--mode", "lexical"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"ndcg@10", "recall@10", "recall@100", "mrr@10"} <= set(metrics)
    assert all(0 <= metrics[key] <= 1 for key in ("ndcg@10", "recall@10", "recall@100", "mrr@10"))
    bad = CliRunner().invoke(app, ["eval", str(tiny_beir), "--mode", "fuzzy"])
    assert bad.exit_code != 0
