"""report.html: one self-contained page (PNG plots and GIFs inlined as data URIs) that opens offline."""
from __future__ import annotations

import base64
import html
import json
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

from tutelage import fileio
from tutelage.runs.context import METRICS_FILE, MetricsLog
from tutelage.runs.plots import make_plots
from tutelage.runs.summary import columns, policy_rows

REPORT_FILE = "report.html"
PLOTS_DIR = "plots"


def data_uri(path: Path) -> str:
    mime = {".png": "image/png", ".gif": "image/gif"}[path.suffix.lower()]
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _figure(path: Path, caption: str) -> str:
    return (f'<figure><img src="{data_uri(path)}" alt="{html.escape(caption)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _summary_table(summary: dict[str, Any]) -> str:
    rows = policy_rows(summary)
    if not rows:
        return '<p class="empty">No evaluation stage ran, so there is nothing to compare.</p>'
    shown = columns(summary)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in ("policy", "role", *(title for _, title, _, _ in shown)))
    body = []
    for label, role, cells in rows:
        tds = "".join(f'<td class="num" data-key="{key}">{html.escape(cell)}</td>' for (key, *_), cell in zip(shown, cells))
        body.append(f'<tr class="{html.escape(role)}" data-policy="{html.escape(label)}">'
                    f"<td>{html.escape(label)}</td><td>{html.escape(role)}</td>{tds}</tr>")
    return f'<table id="summary"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _stage_table(summary: dict[str, Any]) -> str:
    rows = []
    for stage in summary["stages"]:
        details = ", ".join(f"{k}: {_short(v)}" for k, v in stage["result"].items())
        rows.append(f"<tr><td>{html.escape(stage['name'])}</td><td>{html.escape(stage['type'])}</td>"
                    f'<td class="num">{stage["seconds"]:.1f} s</td><td>{html.escape(details)}</td></tr>')
    return ("<table><thead><tr><th>stage</th><th>type</th><th>time</th><th>results</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    text = json.dumps(value) if isinstance(value, (dict, list)) else str(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _artifacts(summary: dict[str, Any]) -> str:
    items = [f"<li>model <code>{html.escape(m['path'])}</code> (id <code>{html.escape(str(m['id']))}</code>, "
             f"stage {html.escape(m['stage'])})</li>" for m in summary["models"]]
    items += [f"<li>dataset <code>{html.escape(d['path'])}</code> (stage {html.escape(d['stage'])})</li>"
              for d in summary["datasets"]]
    return f"<ul>{''.join(items)}</ul>" if items else '<p class="empty">No models or datasets.</p>'


def _constitution(run_dir: Path, summary: dict[str, Any]) -> tuple[str, set[str]]:
    """The constitution section: violations per principle of each critique stage, critique sentences
    verbatim, success, and the revise stages' before/after GIFs; empty without a critique stage."""
    critiques = [s for s in summary["stages"] if isinstance(s["result"].get("violations"), dict)]
    if not critiques:
        return "", set()
    first = critiques[0]["result"]["violations"]
    names = list(first["principles"])
    head = "".join(f"<th>{html.escape(h)}</th>" for h in ("stage", "policy", "episodes", "success",
                                                            f"severity-weighted per {first['unit']}", *names))
    rows = []
    for stage in critiques:
        v = stage["result"]["violations"]
        cells = [stage["name"], stage["result"].get("policy", ""), str(v["episodes"]), f"{v['success_rate']:.0%}",
                 f"{v['weighted_per_unit']:.1f}", *(f"{v['principles'].get(n, {}).get('per_unit', 0.0):.1f}" for n in names)]
        rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    quotes = [f"<li><b>{html.escape(n)}</b>: {html.escape(e['examples'][0])}</li>"
              for n, e in first["principles"].items() if e.get("examples")]
    revised = {s["name"] for s in summary["stages"] if s["type"] == "revise"}
    gifs = [_figure(run_dir / g["path"], g["caption"] or g["stage"]) for g in summary["gifs"] if g["stage"] in revised]
    section = ("<h2>Constitution: violations before and after revision</h2>"
               f"<p class=\"meta\">{html.escape(first['constitution'])}; violations begun per {html.escape(first['unit'])}, "
               "judged by each stage's critic</p>"
               f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
               f"<h3>Critiques, verbatim ({html.escape(critiques[0]['name'])})</h3><ul>{''.join(quotes)}</ul>"
               + "".join(gifs))
    return section, revised


def render(run_dir: Path, summary: dict[str, Any], plots: list[tuple[str, Path]]) -> str:
    """The report page as a string."""
    constitution, revised = _constitution(run_dir, summary)
    gifs = [_figure(run_dir / g["path"], g["caption"] or g["stage"]) for g in summary["gifs"] if g["stage"] not in revised]
    minutes, seconds = divmod(summary["stage_seconds"], 60)
    spec = json.loads((run_dir / "spec.json").read_text(encoding="utf-8"))
    template = Template((resources.files("tutelage.runs") / "templates" / REPORT_FILE).read_text(encoding="utf-8"))
    return template.substitute(
        name=html.escape(summary["name"]), description=html.escape(summary["description"]),
        world=html.escape(summary["world"]), seed=summary["seed"], run_id=html.escape(summary["run_id"]),
        mode="quick" if summary["quick"] else "full", stage_count=len(summary["stages"]),
        duration=f"{int(minutes)} min {seconds:.0f} s", version=html.escape(summary["tutelage_version"]),
        summary_table=_summary_table(summary),
        plots="".join(_figure(path, title) for title, path in plots) or '<p class="empty">Nothing to plot.</p>',
        gifs="".join(gifs) or '<p class="empty">No GIF was recorded.</p>',
        constitution=constitution, stage_table=_stage_table(summary), artifacts=_artifacts(summary),
        spec=html.escape(json.dumps(spec, indent=2)),
    )


def write_report(run_dir: Path, summary: dict[str, Any]) -> Path:
    """Write the plots (PNG) and ``report.html`` into the run folder; return the report's path."""
    plots = make_plots(summary, MetricsLog(run_dir / METRICS_FILE).read(), run_dir / PLOTS_DIR)
    path = run_dir / REPORT_FILE
    fileio.write_text(path, render(run_dir, summary, plots))
    return path
