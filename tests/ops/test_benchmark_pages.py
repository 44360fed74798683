"""The admin page benchmark runs end to end on a small table (it is a tool, kept working).

A table of a few hundred rows is one a 1% TABLESAMPLE may not sample at all: the stored
context size must still be reported (it was None, and the report failed).
"""

from __future__ import annotations

import json

import pytest

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


def test_the_admin_benchmark_reports_a_small_table(tmp_path, capsys) -> None:
    from benchmarks import admin

    output = tmp_path / "admin.json"
    assert admin.main(["--n", "60", "--repeat", "1", "--skip-baseline", "--json", str(output)]) == 0

    report = capsys.readouterr().out
    assert "bytes stored on average" in report
    results = json.loads(output.read_text())["results"]
    assert [row["page"] for row in results][0] == "list"
    assert all(row["ours"]["queries"] > 0 for row in results)
