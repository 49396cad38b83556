"""The dashboard benchmark runs end to end on a small model and times every list endpoint."""

from ledgerlearn.bench import dashboard as dash


def test_dashboard_bench_small():
    res = dash.run(40, backend="fast", repeats=2)
    rows = {t.endpoint: t for t in res.timings}
    assert res.contributions == 40 and len(rows) == 10
    assert rows["contributions, page 1"].total == 40 and rows["contributions, page 1"].items == 40
    assert rows["one author's, page 1"].total == 40 // dash.AUTHORS
    assert all(t.median_ms > 0 and t.after_new_ms is not None for t in rows.values())
