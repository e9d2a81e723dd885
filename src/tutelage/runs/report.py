"""report.html: one self-contained page (PNG plots and GIFs inlined as data URIs) that opens offline."""
from __future__ import annotations

import base64
import html
import json
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

import tutelage
from tutelage import fileio
from tutelage.runs.context import METRICS_FILE, MetricsLog
from tutelage.runs.plots import make_plots
from tutelage.runs.summary import columns, policy_rows, separation_notes

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


#: general terms of the summary table; each world adds its own metrics (their declarations)
TERMS = {
    "success": "the share of episodes that reached the world's goal (the world's <code>is_success</code> at the "
               "end, e.g. the end of the road without a collision or leaving it); in brackets the 95 % Wilson "
               "interval, in percent",
    "return": "the sum of the rewards of an episode, averaged over the episodes (for driving: metres of road "
              "progress, minus 10 for a collision or for leaving the road)",
    "episodes": "how many held-out episodes each policy played (the same scenarios and seeds for every policy)",
    "parameters": "the model's number of weights and biases; batch-1 inference: the median time of one action",
}


def _how_to_read(summary: dict[str, Any]) -> str:
    """Definitions of every column: success, return and each metric the world declares."""
    items = [f"<dt>{html.escape(term)}</dt><dd>{text}</dd>" for term, text in TERMS.items()]
    declared: dict[str, dict[str, Any]] = {}
    for metrics in summary["policies"].values():
        for metric in metrics.get("metrics", []):
            declared.setdefault(metric["name"], metric)
    for metric in declared.values():
        unit = f" ({metric['unit']})" if metric.get("unit") else " (share of episodes)" if metric.get("reduce") == "any" else ""
        items.append(f"<dt>{html.escape(metric.get('label') or metric['name'])}</dt>"
                     f"<dd>{html.escape((metric.get('description') or '') + unit)}</dd>")
    return f"<dl>{''.join(items)}</dl>"


def _notes(summary: dict[str, Any]) -> str:
    notes = separation_notes(summary)
    return "".join(f'<p class="note">{html.escape(note)}.</p>' for note in notes)


def _label(key: str) -> str:
    """A result key as a heading: ``policy_success_rate`` → ``policy success rate``."""
    return key.replace("_", " ").replace(".", " ")


def _stage_table(summary: dict[str, Any]) -> str:
    rows = []
    for stage in summary["stages"]:
        details = "; ".join(f"{_label(k)}: {_short(v)}" for k, v in stage["result"].items()
                            if not k.endswith("_id") and v not in (None, "", [], {}))
        rows.append(f"<tr><td>{html.escape(stage['name'])}</td><td>{html.escape(stage['type'])}</td>"
                    f'<td class="num">{stage["seconds"]:.1f} s</td><td>{html.escape(details)}</td></tr>')
    return ("<table id=\"stages\"><thead><tr><th>stage</th><th>type</th><th>time</th><th>results</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def _preferences(summary: dict[str, Any]) -> str:
    """Judges (agreement with the oracle, flips, abstentions, speed), reward models, improved policies."""
    def row(cells: list[str]) -> str:
        return "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>"

    def interval(value: Any) -> str:
        return f" [{100 * value['low']:.1f}, {100 * value['high']:.1f}] (n={value['n']})" if value else ""

    tables = {"judge": ("stage", "judge", "pairs", "agreement with the oracle", "position consistency", "abstain rate",
                        "pairs/s"),
              "reward": ("stage", "labels", "held-out accuracy (judge's labels)", "held-out accuracy (oracle)"),
              "improve": ("stage", "method", "win rate vs the start (oracle)", "KL from the start", "action RMS")}
    rows: dict[str, list[str]] = {kind: [] for kind in tables}
    for stage in summary["stages"]:
        r, kind = stage["result"], stage["type"]
        if kind == "judge":
            rows[kind].append(row([stage["name"], r["judge"], str(r["pairs"]), f"{100 * r['agreement']:.1f} %"
                                   + interval(r.get("agreement_interval")), f"{100 * r['position_consistency']:.1f} %",
                                   f"{100 * r['abstain_rate']:.1f} %", f"{r['pairs_per_second']:.1f}"]))
        elif kind == "reward":
            rows[kind].append(row([stage["name"], str(r["labels"]), f"{100 * r.get('val_accuracy', float('nan')):.1f} %",
                                   f"{100 * r['val_oracle_accuracy']:.1f} %"]))
        elif kind == "improve":
            rows[kind].append(row([stage["name"], r["method"], f"{100 * r['win_rate']:.1f} %" + interval(r["win_interval"]),
                                   f"{r['kl']:.3g}", f"{r['action_rms']:.3g}"]))
        elif kind == "text-improve":  # a language model: no action space, so no KL or action RMS here
            rows["reward"].append(row([stage["name"], str(r["reward_labels"]),
                                       f"{100 * r['reward_val_accuracy']:.1f} %", "—"]))
            rows["improve"].append(row([stage["name"], r["method"], f"{100 * r['win_rate']:.1f} %"
                                        + interval(r["win_interval"]), "—", "—"]))
    html_tables = [f"<table><thead><tr>{''.join(f'<th>{html.escape(h)}</th>' for h in tables[kind])}</tr></thead>"
                   f"<tbody>{''.join(rows[kind])}</tbody></table>" for kind in tables if rows[kind]]
    return "".join(html_tables) or '<p class="empty">No judge, reward or improve stage ran.</p>'


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


SAMPLE_KEYS = {"sample": "sample", "sample_before": "before", "sample_after": "after"}


def text_samples(summary: dict[str, Any]) -> str:
    """The language stages' sample texts (a sample, or one before and one after the stage's step on the same
    prompt), each stage with the file that holds all its samples; empty without such a stage."""
    rows = []
    for stage in summary["stages"]:
        result = stage["result"]
        cells = [f"<td><b>{label}</b><pre>{html.escape(result[key])}</pre></td>"
                 for key, label in SAMPLE_KEYS.items() if isinstance(result.get(key), str) and result[key]]
        if cells:
            more = f"<br><code>{html.escape(result['samples'])}</code>" if isinstance(result.get("samples"), str) else ""
            rows.append(f"<tr><td>{html.escape(stage['name'])}{more}</td>{''.join(cells)}"
                        f"{'<td></td>' * (2 - len(cells))}</tr>")
    if not rows:
        return ""
    return ("<h2>Text samples</h2><p class=\"meta\">what each stage's model writes (before and after the stage's step "
            "on the same prompt); the file under the stage name holds all its samples</p>"
            f"<table><thead><tr><th>stage</th><th colspan=\"2\">text</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")


def render(run_dir: Path, summary: dict[str, Any], plots: list[tuple[str, Path]], spec: dict[str, Any] | None = None) -> str:
    """The report page as a string (``spec``: what made it; by default the run's ``spec.json``)."""
    constitution, revised = _constitution(run_dir, summary)
    gifs = [_figure(run_dir / g["path"], g["caption"] or g["stage"]) for g in summary["gifs"] if g["stage"] not in revised]
    minutes, seconds = divmod(summary["stage_seconds"], 60)
    if spec is None:
        spec = json.loads((run_dir / "spec.json").read_text(encoding="utf-8"))
    template = Template((resources.files("tutelage.runs") / "templates" / REPORT_FILE).read_text(encoding="utf-8"))
    return template.substitute(
        name=html.escape(summary["name"]), description=html.escape(summary["description"]),
        world=html.escape(summary["world"]), seed=summary["seed"], run_id=html.escape(summary["run_id"]),
        mode="quick" if summary["quick"] else "full", stage_count=len(summary["stages"]),
        duration=f"{int(minutes)} min {seconds:.0f} s", version=html.escape(summary["tutelage_version"]),
        summary_table=_summary_table(summary), notes=_notes(summary), how_to_read=_how_to_read(summary),
        plots="".join(_figure(path, title) for title, path in plots) or '<p class="empty">Nothing to plot.</p>',
        gifs="".join(gifs) or '<p class="empty">No GIF was recorded.</p>',
        constitution=constitution, texts=text_samples(summary), stage_table=_stage_table(summary),
        artifacts=_artifacts(summary),
        preferences=_preferences(summary),
        spec=html.escape(json.dumps(spec, indent=2)),
    )


def write_report(run_dir: Path, summary: dict[str, Any]) -> Path:
    """Write the plots (PNG) and ``report.html`` into the run folder; return the report's path."""
    plots = make_plots(summary, MetricsLog(run_dir / METRICS_FILE).read(), run_dir / PLOTS_DIR)
    path = run_dir / REPORT_FILE
    fileio.write_text(path, render(run_dir, summary, plots))
    return path


def write_evaluation_report(folder: Path, evaluation: dict[str, Any]) -> Path:
    """``report.html`` (and its plots) in ``folder`` for what ``tutelage evaluate`` measured; return its path."""
    summary = {
        "name": evaluation["name"], "description": "tutelage evaluate: every policy on the same held-out episodes",
        "world": evaluation["world"], "seed": evaluation["seed"], "run_id": "—", "quick": False,
        "tutelage_version": tutelage.__version__, "stage_seconds": 0.0, "stages": [], "gifs": [],
        "models": [], "datasets": [], "policies": evaluation["policies"],
    }
    plots = make_plots(summary, [], folder / PLOTS_DIR)
    path = folder / REPORT_FILE
    spec = {k: evaluation[k] for k in ("world", "seed", "episodes", "edge_cases")}
    fileio.write_text(path, render(folder, summary, plots, spec={**spec, "policies": list(evaluation["policies"])}))
    return path
