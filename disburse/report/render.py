"""The budget report as text, JSON, CSV, and one self-contained HTML file.

The HTML file asks for nothing: its styles are inline and its charts are inline SVG (no script
at all), so it opens on an air-gapped machine and can be filed as an audit record. Every chart
has its numbers in a table beside it.
"""

from __future__ import annotations

import csv
import html
import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import IO, Any

from disburse._format import format_amount, table, when
from disburse.analytics.evm import EvmPoint
from disburse.analytics.rollup import GroupRollup, Totals
from disburse.report.model import BudgetReport, ProgramView

SEVERITY_ORDER = {"red": 0, "amber": 1}


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _index(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _money(report: BudgetReport, ids: Sequence[int], units: int) -> str:
    token = report.decimals_of(ids)
    if token is None:
        return f"{units:,} base units (mixed tokens)"
    decimals, symbol = token
    return f"{format_amount(units, decimals)} {symbol}"


def _alerts(report: BudgetReport) -> list[Any]:
    return sorted(
        report.alerts,
        key=lambda a: (SEVERITY_ORDER.get(a.severity, 9), a.program_id or 0, a.kind),
    )


def _stamp_line(report: BudgetReport) -> str:
    s = report.stamp
    head = "" if s.chain_head is None else f"; chain head {s.chain_head:,}"
    return (
        f"chain {s.chain_id}, escrow {s.escrow}, block {s.block:,} ({s.block_hash}) of "
        f"{when(s.block_time)}{head}; made {when(s.made_at)}"
    )


def _reconciliation_line(report: BudgetReport) -> str:
    r = report.reconciliation
    if r is None:
        return "not checked (--no-reconcile)"
    if not r.checked:
        return f"not checked: {r.note}"
    if r.ok:
        return f"OK: the index's ledger matches the chain at block {report.stamp.block:,}"
    return f"FAILED: {len(r.differences)} difference(s): " + "; ".join(r.differences)


# ---------------------------------------------------------------------------------------- text


def _group_rows(report: BudgetReport, groups: Sequence[GroupRollup]) -> list[list[str]]:
    rows = []
    for g in groups:
        t = g.totals
        ids = list(g.program_ids)
        rows.append(
            [
                g.key,
                str(t.programs),
                _money(report, ids, t.baseline),
                _money(report, ids, t.funded),
                _money(report, ids, t.committed),
                _money(report, ids, t.paid),
                _money(report, ids, t.available),
                _pct(t.execution_rate),
                _pct(t.year_elapsed),
            ]
        )
    return rows


GROUP_HEADERS = (
    "",
    "programs",
    "baseline",
    "funded",
    "committed",
    "paid",
    "available",
    "executed",
    "year elapsed",
)


PROGRAM_HEADERS = (
    "program",
    "organisation / category / year",
    "baseline",
    "paid",
    "executed",
    "SPI",
    "CPI",
    "SPI(t)",
    "BEI",
)


def write_text(report: BudgetReport, out: IO[str]) -> None:
    w = out.write
    w("Budget report\n")
    w(f"  {_stamp_line(report)}\n\n")
    for title, groups in (
        ("By organisation", report.by_organisation),
        ("By category", report.by_category),
        ("By fiscal year", report.by_fiscal_year),
    ):
        w(f"{title}\n")
        w(table(GROUP_HEADERS, _group_rows(report, groups), align="<>>>>>>>>") + "\n\n")
    w("Programs (earned value on the 0/100 milestone method)\n")
    rows = []
    for v in report.programs:
        p, e = v.facts, v.now
        ids = [p.program_id]
        rows.append(
            [
                f"{p.program_id} {p.title}",
                f"{p.organisation} / {p.category} / FY{p.fiscal_year}",
                _money(report, ids, p.baseline_current),
                _money(report, ids, p.paid),
                _pct(v.rollup.totals.execution_rate),
                _index(e.spi),
                _index(e.cpi),
                _index(e.spi_t),
                _index(e.bei),
            ]
        )
    w(
        table(
            PROGRAM_HEADERS,
            rows,
            align="<<>>>>>>>",
        )
        + "\n\n"
    )
    alerts = _alerts(report)
    w(f"Alerts ({len(alerts)})\n")
    for a in alerts:
        where = f"program {a.program_id}" if a.program_id is not None else "portfolio"
        w(f"  [{a.severity}] {a.kind} ({where}): {a.message}\n")
    if not alerts:
        w("  none\n")
    w("\nForecasts of open milestones (advice only)\n")
    forecasts = sorted(report.forecasts, key=lambda f: -f.p_miss)
    for f in forecasts:
        expected = "—" if f.expected_completion is None else when(f.expected_completion)
        w(
            f"  {f.milestone_id[:10]}… program {f.program_id}: {f.p_miss:.0%} likely to miss "
            f"{when(f.deadline)}; expected {expected}. {'; '.join(f.reasons)}\n"
        )
    if not forecasts:
        w("  none open\n")
    w(f"\nReconciliation: {_reconciliation_line(report)}\n")


# ---------------------------------------------------------------------------------------- JSON


def _jsonable(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, float | str):
        return value
    if isinstance(value, int):
        return str(value) if abs(value) >= 2**53 else value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return str(value)


def _amounts_as_strings(doc: dict[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    return {k: (str(v) if k in keys and isinstance(v, int) else v) for k, v in doc.items()}


AMOUNT_KEYS = (
    "baseline",
    "baseline_original",
    "baseline_current",
    "funded",
    "committed",
    "paid",
    "refunded",
    "withdrawn",
    "available",
    "amount",
    "open_amount",
    "bac_original",
    "bac_current",
    "pv",
    "ev",
    "ac",
    "sv",
    "cv",
)


def _totals_json(t: Totals) -> dict[str, Any]:
    doc = _amounts_as_strings(asdict(t), AMOUNT_KEYS)
    doc["top_recipients"] = [
        {"beneficiary": r.beneficiary, "paid": str(r.paid), "share": r.share}
        for r in t.top_recipients
    ]
    return doc


def _evm_json(e: EvmPoint) -> dict[str, Any]:
    return _amounts_as_strings(asdict(e), AMOUNT_KEYS)


def to_json(report: BudgetReport) -> dict[str, Any]:
    s = report.stamp
    return {
        "report": "disburse budget report",
        "amounts": "strings of integers, in each token's smallest unit",
        "stamp": asdict(s),
        "programs": [
            {
                "facts": _amounts_as_strings(asdict(v.facts), AMOUNT_KEYS),
                "totals": _totals_json(v.rollup.totals),
                "earned_value": _evm_json(v.now),
                "series": [_evm_json(e) for e in v.series],
            }
            for v in report.programs
        ],
        "by_organisation": [
            {"key": g.key, "programs": list(g.program_ids), "totals": _totals_json(g.totals)}
            for g in report.by_organisation
        ],
        "by_category": [
            {"key": g.key, "programs": list(g.program_ids), "totals": _totals_json(g.totals)}
            for g in report.by_category
        ],
        "by_fiscal_year": [
            {"key": g.key, "programs": list(g.program_ids), "totals": _totals_json(g.totals)}
            for g in report.by_fiscal_year
        ],
        "by_beneficiary": [
            _amounts_as_strings(asdict(b), AMOUNT_KEYS) for b in report.by_beneficiary
        ],
        "alerts": [_jsonable(asdict(a)) for a in _alerts(report)],
        "forecasts": [_jsonable(asdict(f)) for f in report.forecasts],
        "reconciliation": None
        if report.reconciliation is None
        else _jsonable(asdict(report.reconciliation)),
        "thresholds": asdict(report.thresholds),
    }


def write_json(report: BudgetReport, out: IO[str]) -> None:
    json.dump(to_json(report), out, indent=2)
    out.write("\n")


# ---------------------------------------------------------------------------------------- CSV

CSV_COLUMNS = (
    "program_id",
    "title",
    "organisation",
    "category",
    "fiscal_year",
    "token",
    "baseline_original",
    "baseline_current",
    "funded",
    "committed",
    "paid",
    "refunded",
    "available",
    "execution_rate",
    "year_elapsed",
    "pv",
    "ev",
    "ac",
    "spi",
    "cpi",
    "spi_t",
    "bei",
    "tcpi",
    "alerts",
)


def write_csv(report: BudgetReport, out: IO[str]) -> None:
    """One row per program; amounts in the token's smallest unit."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    alerts: dict[int | None, int] = {}
    for a in report.alerts:
        alerts[a.program_id] = alerts.get(a.program_id, 0) + 1
    for v in report.programs:
        p, t, e = v.facts, v.rollup.totals, v.now
        writer.writerow(
            [
                p.program_id,
                p.title,
                p.organisation,
                p.category,
                p.fiscal_year,
                p.token_symbol,
                p.baseline_original,
                p.baseline_current,
                p.funded,
                p.committed,
                p.paid,
                p.refunded,
                p.available,
                "" if t.execution_rate is None else f"{t.execution_rate:.4f}",
                "" if t.year_elapsed is None else f"{t.year_elapsed:.4f}",
                e.pv,
                e.ev,
                e.ac,
                "" if e.spi is None else f"{e.spi:.4f}",
                "" if e.cpi is None else f"{e.cpi:.4f}",
                "" if e.spi_t is None else f"{e.spi_t:.4f}",
                "" if e.bei is None else f"{e.bei:.4f}",
                "" if e.tcpi is None else f"{e.tcpi:.4f}",
                alerts.get(p.program_id, 0),
            ]
        )


# ---------------------------------------------------------------------------------------- HTML

_CSS = " ".join(
    (
        "body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;",
        "color:#1b1f24;padding:0 1rem}",
        "h1{font-size:1.5rem;margin:0 0 .25rem}",
        "h2{font-size:1.15rem;margin:2rem 0 .5rem;border-bottom:1px solid #ccd}",
        "h3{font-size:1rem;margin:1.25rem 0 .25rem}",
        ".stamp{color:#444;font-size:.85rem}",
        "table{border-collapse:collapse;margin:.25rem 0 1rem;font-size:.85rem}",
        "th,td{padding:.2rem .55rem;border-bottom:1px solid #e2e4e8;text-align:right;",
        "vertical-align:top}",
        "th:first-child,td:first-child{text-align:left}th{background:#f3f4f6}",
        ".red{color:#a30d0d;font-weight:600}.amber{color:#8a5300;font-weight:600}",
        ".ok{color:#17632a;font-weight:600}",
        ".chart{display:flex;gap:1.5rem;flex-wrap:wrap;align-items:flex-start}",
        ".legend span{margin-right:1rem}.pv{color:#555}.ev{color:#1f6feb}.ac{color:#c2410c}",
    )
)


def _e(text: object) -> str:
    return html.escape(str(text))


def _html_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th scope=col>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _band_class(value: float | None, report: BudgetReport) -> str:
    t = report.thresholds
    if value is None:
        return ""
    if t.index_green_low <= value <= t.index_green_high:
        return "ok"
    if t.index_amber_low <= value <= t.index_amber_high:
        return "amber"
    return "red"


def _s_curve(view: ProgramView) -> str:
    """PV, EV and AC over time as an inline SVG (no script)."""
    points = view.series
    width, height, pad = 520, 220, 36
    if not points:
        return ""
    t0, t1 = points[0].time, points[-1].time
    top = max([1, *(max(p.pv, p.ev, p.ac, p.bac_current) for p in points)])

    def xy(p: EvmPoint, value: int) -> str:
        x = pad + (width - 2 * pad) * ((p.time - t0) / max(1, t1 - t0))
        y = height - pad - (height - 2 * pad) * (value / top)
        return f"{x:.1f},{y:.1f}"

    lines = []
    for name, colour in (("pv", "#555"), ("ev", "#1f6feb"), ("ac", "#c2410c")):
        path = " ".join(xy(p, int(getattr(p, name))) for p in points)
        lines.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}">'
            f"<title>{name.upper()}</title></polyline>"
        )
    axis = (
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" '
        f'stroke="#999"/><line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="#999"/>'
        f'<text x="{pad}" y="{height - 10}" font-size="11">{_e(when(t0)[:10])}</text>'
        f'<text x="{width - pad}" y="{height - 10}" font-size="11" text-anchor="end">'
        f"{_e(when(t1)[:10])}</text>"
    )
    label = f"PV, EV and AC of program {view.facts.program_id} over time"
    return (
        f'<svg role="img" aria-label="{_e(label)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">{axis}{"".join(lines)}</svg>'
    )


def write_html(report: BudgetReport, out: IO[str]) -> None:
    s = report.stamp
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        "<meta name=viewport content='width=device-width,initial-scale=1'>",
        f"<title>Budget report — chain {s.chain_id}, block {s.block}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Budget report</h1>",
        f"<p class=stamp>{_e(_stamp_line(report))}</p>",
    ]
    rec = report.reconciliation
    css = "ok" if rec is not None and rec.checked and rec.ok else "red"
    parts.append(
        f"<p>Reconciliation: <span class={css}>{_e(_reconciliation_line(report))}</span></p>"
    )
    for title, groups in (
        ("By organisation", report.by_organisation),
        ("By category", report.by_category),
        ("By fiscal year", report.by_fiscal_year),
    ):
        parts.append(f"<h2>{_e(title)}</h2>")
        rows = [[_e(c) for c in row] for row in _group_rows(report, groups)]
        parts.append(_html_table(GROUP_HEADERS, rows))
    alerts = _alerts(report)
    parts.append(f"<h2>Alerts ({len(alerts)})</h2>")
    parts.append(
        _html_table(
            ("severity", "kind", "program", "what the numbers say"),
            [
                [
                    f"<span class={_e(a.severity)}>{_e(a.severity)}</span>",
                    _e(a.kind),
                    _e("portfolio" if a.program_id is None else a.program_id),
                    _e(a.message),
                ]
                for a in alerts
            ],
        )
        if alerts
        else "<p>None.</p>"
    )
    parts.append("<h2>Programs</h2>")
    for v in report.programs:
        p, e = v.facts, v.now
        ids = [p.program_id]
        parts.append(
            f"<h3>{_e(p.program_id)} — {_e(p.title)} "
            f"<small>({_e(p.organisation)}, {_e(p.category)}, FY{_e(p.fiscal_year)})</small></h3>"
        )
        money = [_money(report, ids, x) for x in (e.bac_original, e.bac_current, e.pv, e.ev, e.ac)]
        progress = v.rollup.totals
        figures = [
            ["BAC (original / current)", _e(f"{money[0]} / {money[1]}")],
            ["PV / EV / AC", _e(f"{money[2]} / {money[3]} / {money[4]}")],
            ["SPI", f"<span class={_band_class(e.spi, report)}>{_index(e.spi)}</span>"],
            ["CPI", f"<span class={_band_class(e.cpi, report)}>{_index(e.cpi)}</span>"],
            ["SPI(t)", f"<span class={_band_class(e.spi_t, report)}>{_index(e.spi_t)}</span>"],
            ["BEI", _e(_index(e.bei))],
            ["TCPI", _e(_index(e.tcpi))],
            [
                "executed / year elapsed",
                _e(f"{_pct(progress.execution_rate)} / {_pct(progress.year_elapsed)}"),
            ],
        ]
        series_rows = [
            [
                _e(when(pt.time)[:10]),
                _e(_money(report, ids, pt.pv)),
                _e(_money(report, ids, pt.ev)),
                _e(_money(report, ids, pt.ac)),
            ]
            for pt in v.series[:: max(1, len(v.series) // 8)]
        ]
        parts.append(
            "<div class=chart>"
            + _s_curve(v)
            + _html_table(("figure", "value"), figures)
            + "</div>"
            + "<p class=legend><span class=pv>— PV planned</span><span class=ev>— EV earned</span>"
            + "<span class=ac>— AC paid</span></p>"
            + "<details><summary>The curves' numbers</summary>"
            + _html_table(("date", "PV", "EV", "AC"), series_rows)
            + "</details>"
        )
    parts.append("<h2>Forecasts of open milestones (advice only)</h2>")
    forecasts = sorted(report.forecasts, key=lambda f: -f.p_miss)
    parts.append(
        _html_table(
            ("milestone", "program", "deadline", "chance to miss", "expected", "why"),
            [
                [
                    _e(f.milestone_id[:18] + "…"),
                    _e(f.program_id),
                    _e(when(f.deadline)),
                    _e(f"{f.p_miss:.0%}"),
                    _e("—" if f.expected_completion is None else when(f.expected_completion)),
                    _e("; ".join(f.reasons)),
                ]
                for f in forecasts
            ],
        )
        if forecasts
        else "<p>No open milestone.</p>"
    )
    parts.append("</body></html>\n")
    out.write("".join(parts))
