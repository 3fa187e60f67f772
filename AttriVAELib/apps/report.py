"""The evaluation report: ``metrics.json``, ``report.html`` and its PNG figures (drawn with matplotlib)."""

from __future__ import annotations

__all__ = ["require_plotting", "write_evaluation", "write_report"]

import html
from pathlib import Path
from typing import Any

import numpy as np

from ..choices import ATTRIBUTION, DEFAULT_METHOD
from ..data.attributes import STRUCTURE_OF_ATTRIBUTE, attribute_unit
from ..data.constants import CLASS_NAMES
from ..data.datasets import load_cohort
from ..data.decoded import decoded_labels
from ..data.prepared import PreparedData, prepare_data, with_attributes
from ..errors import AttriVAEError, InvalidConfigError
from ..evaluation.evaluate import Evaluation, evaluate_model
from ..evaluation.fidelity import TRAVERSAL_STEPS
from ..files import require_new_folder, staged_directory, to_json
from ..interpretation.attention import attention
from ..interpretation.codes import INTERVAL_LEVEL, UNCALIBRATED, interval_calibration, is_training_cohort
from ..interpretation.inference import card_entry, decode
from ..interpretation.traversal import sweep
from ..metrics import DISENTANGLEMENT_METRICS, SUBSAMPLE_SUBJECTS
from ..modelfile.bundle import ModelBundle, load_model
from ..modelfile.calibration import expected_coverage
from ..progress import Progress, ProgressEvent
from ..training.cohort_calibration import calibration_source
from .console import format_metric


def require_plotting() -> Any:
    """matplotlib's pyplot on its file-only backend; commands that end in a report call this before any work.

    Raises:
        AttriVAEError: matplotlib cannot be imported (it is a dependency of the attrivae package; a Python
            environment that holds the package without its dependencies lacks it).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise AttriVAEError(f"the report needs matplotlib, which cannot be imported here ({err}); install it "
                            f"with pip install matplotlib") from err
    return plt


def write_evaluation(model_path: Path | str, data_path: Path | str, out_dir: Path | str, format: str = "auto",
                     subjects: str = "auto", device: str = "auto", progress: Progress | None = None,
                     prepared: PreparedData | None = None) -> Path:
    """Evaluate a model bundle on a dataset and write the report folder; returns its ``report.html``.

    ``subjects``: ``test`` evaluates the model's test split (an error when the dataset does not hold it),
    ``all`` every subject, ``auto`` the test split when the dataset holds it, else every subject.
    ``prepared`` reuses a :func:`~AttriVAELib.data.prepared.prepare_data` of the dataset with the model's config (the
    one its training made). Everything that can fail on the inputs fails before the evaluation starts.
    """
    from ..method.acceleration import resolve_device

    require_new_folder(out_dir, "report folder")
    require_plotting()
    torch_device = resolve_device(device)
    bundle = load_model(model_path, torch_device)
    cohort, config = with_attributes(load_cohort(data_path, format), bundle.card.config)
    test_ids = bundle.card.data.split.test
    training_cohort = is_training_cohort(bundle.card.data, cohort)
    if subjects == "test" and not training_cohort:  # before the data are prepared
        raise InvalidConfigError(f"--subjects test: {data_path} is not the model's training cohort, so it has no "
                                 f"test split; use all")
    if prepared is not None and (tuple(prepared.attribute_names) != tuple(config.attributes)
                                 or prepared.volumes.shape[-1] != config.model.input_size):
        raise InvalidConfigError(f"the prepared data hold {prepared.attribute_names} in "
                                 f"{prepared.volumes.shape[-1]}³ cubes; the model needs {config.attributes} in "
                                 f"{config.model.input_size}³ cubes")
    if prepared is not None and prepared.subject_ids != [subject.subject_id for subject in cohort.subjects]:
        raise InvalidConfigError(f"the prepared data hold other subjects than {data_path}; prepare that dataset")
    data = prepared if prepared is not None else prepare_data(cohort, config, progress)
    use_test = subjects == "test" or (subjects == "auto" and training_cohort)
    if progress:
        progress(ProgressEvent("note", text=f"evaluating on {len(test_ids) if use_test else len(data.subject_ids)} "
                                            f"subjects ({'the test split' if use_test else 'all'})"))
    evaluation = evaluate_model(bundle, data, "test" if use_test else "all", torch_device, progress=progress)
    return write_report(evaluation, bundle, data.volumes[data.indices(evaluation.subject_ids)][:, 0].numpy(), out_dir,
                        f"AttriVAE evaluation of {Path(model_path).name} on {cohort.root.name}")


def write_report(evaluation: Evaluation, bundle: ModelBundle, volumes: np.ndarray, out_dir: Path | str,
                 title: str) -> Path:
    """Write the report folder (appears only when complete) and return its ``report.html``.

    Args:
        evaluation: the metrics and per-subject arrays of one split.
        bundle: the evaluated model.
        volumes: (N, S, S, S) preprocessed cubes of the same subjects, in the same order.
        out_dir: new folder.
        title: heading of the page.
    """
    plt = require_plotting()
    if tuple(evaluation.attribute_names) != tuple(bundle.attribute_names):
        raise InvalidConfigError(f"the evaluation's attributes {evaluation.attribute_names} are not the model's "
                                 f"{tuple(bundle.attribute_names)}, in its order")
    calibration = interval_calibration(bundle, volumes, evaluation.attributes)
    with staged_directory(out_dir, "report folder") as folder:
        metrics = {**evaluation.metrics, "interval_coverage": calibration}
        (folder / "metrics.json").write_text(to_json(metrics, indent=2) + "\n")
        figures = {"ROC curve": _roc(plt, evaluation, folder),
                   "Attributes against their latent dimensions": _attribute_scatter(plt, evaluation, folder),
                   "Regularised latent dimensions by class": _latent_scatter(plt, evaluation, folder)}
        subject = _example_subject(evaluation)
        for name in evaluation.attribute_names:
            figures[f"Traversal of {name} ({evaluation.subject_ids[subject]})"] = _traversal(
                plt, bundle, evaluation, subject, volumes[subject], name, folder)
        figures[f"Attention maps, {DEFAULT_METHOD} ({evaluation.subject_ids[subject]}): "
                f"{_attention_caption(DEFAULT_METHOD)}"] = _attention(
            plt, bundle, volumes[subject], evaluation.attribute_names, folder)
        (folder / "report.html").write_text(_html(title, evaluation, bundle, figures, calibration))
    return Path(out_dir) / "report.html"


def _example_subject(evaluation: Evaluation) -> int:
    """The first infarcted subject (its attention maps are the interesting ones), else the first."""
    infarcted = np.flatnonzero(evaluation.labels == 1)
    return int(infarcted[0]) if len(infarcted) else 0


def _save(plt: Any, figure: Any, folder: Path, name: str) -> str:
    figure.savefig(folder / name, dpi=90, bbox_inches="tight")
    plt.close(figure)
    return name


def _mid_slices(volume: np.ndarray) -> list[np.ndarray]:
    """Axial, coronal and sagittal mid-slices of a (k, j, i) cube (cube axes; oriented like the image)."""
    k, j, i = (n // 2 for n in volume.shape)
    return [volume[k], volume[:, j, :], volume[:, :, i]]


def _traversal(plt: Any, bundle: ModelBundle, evaluation: Evaluation, subject: int, volume: np.ndarray, name: str,
               folder: Path) -> str:
    """The subject's input and each decoded step of a sweep over the training range: short-axis and long-axis
    mid-slices with the decoded anatomy's contours (bright pool red, myocardium yellow), the value asked for and
    the value measured on the decoded anatomy, then each step's signed difference from the subject's own
    reconstruction (red brighter, blue darker, one colour scale for the sweep)."""
    entry = bundle.card.attributes[bundle.attribute_names.index(name)]
    values = np.linspace(entry.minimum, entry.maximum, TRAVERSAL_STEPS)
    geometry = evaluation.geometries[subject]
    swept = sweep(bundle, evaluation.mu[subject], name, values, geometry)
    decoded = swept.volumes[:, 0].cpu().numpy()
    own = decode(bundle, np.asarray(evaluation.mu[subject])[None])[0, 0].cpu().numpy()
    differences = decoded - own
    scale = max(float(np.abs(differences).max()), 1e-6)
    columns = TRAVERSAL_STEPS + 1
    figure, axes = plt.subplots(3, columns, figsize=(2.3 * columns, 7.4))
    unit = f" {entry.unit}" if entry.unit else ""
    for column, cube in enumerate([volume, *decoded]):
        anatomy = decoded_labels(cube)
        for row, (view, labels) in enumerate(zip(_mid_slices(cube)[:2], _mid_slices(anatomy)[:2])):
            axis = axes[row, column]
            axis.imshow(view, cmap="gray", vmin=0, vmax=1, origin="lower")
            axis.contour(labels == 1, levels=[0.5], colors="red", linewidths=0.8, origin="lower")
            axis.contour(labels > 0, levels=[0.5], colors="yellow", linewidths=0.8, origin="lower")
    axes[0, 0].set_title(f"input\n{evaluation.attributes[subject, entry.dim]:.3g}{unit}", fontsize=9)
    for column, (asked, shown, difference) in enumerate(zip(swept.requested, swept.measured, differences), start=1):
        measured = f"shows {shown:.3g}{unit}" if np.isfinite(shown) else "not measurable"
        axes[0, column].set_title(f"asked {asked:.3g}{unit}\n{measured}", fontsize=9,
                                  color="darkred" if swept.clamped[column - 1] else "black")
        axes[2, column].imshow(_mid_slices(difference)[0], cmap="RdBu_r", vmin=-scale, vmax=scale, origin="lower")
    for axis in axes.flat:
        axis.axis("off")
    how = ("calibrated on the decoded anatomy (red titles: clamped to what the decoder draws)"
           if swept.units == "decoded" else "encoder units: a decoded volume does not show this attribute")
    figure.suptitle(f"{name}: latent dim {entry.dim}, {how}\nrows: short axis, long axis with the decoded bright "
                    f"pool (red) and LV (yellow) outlines; difference from the reconstruction (±{scale:.2f})",
                    fontsize=10)
    return _save(plt, figure, folder, f"traversal_{name}.png")


def _attention_caption(method: str) -> str:
    if ATTRIBUTION[method].signed:
        return "red voxels raise the attribute's latent value, blue ones lower it; scaled to the largest |value|"
    return "heat: voxels whose encoder features raise the attribute's latent value; scaled to the maximum"


def _attention(plt: Any, bundle: ModelBundle, volume: np.ndarray, names: tuple[str, ...], folder: Path) -> str:
    maps = attention(bundle, volume, list(names), method=DEFAULT_METHOD)
    signed = ATTRIBUTION[DEFAULT_METHOD].signed
    figure, axes = plt.subplots(len(names), 3, figsize=(5.4, 1.8 * len(names)), squeeze=False)
    for row, name in enumerate(names):
        for column, (image, heat) in enumerate(zip(_mid_slices(volume), _mid_slices(maps[name]))):
            axes[row, column].imshow(image, cmap="gray", vmin=0, vmax=1, origin="lower")
            faint = np.ma.masked_where(np.abs(heat) < 0.05, heat)  # the image shows through near-zero values
            axes[row, column].imshow(faint, cmap="RdBu_r" if signed else "jet", alpha=0.7,
                                     vmin=-1 if signed else 0, vmax=1, origin="lower")
            axes[row, column].axis("off")
        axes[row, 0].set_title(name, fontsize=8, loc="left")
    return _save(plt, figure, folder, "attention.png")


def _attribute_scatter(plt: Any, evaluation: Evaluation, folder: Path) -> str:
    count = len(evaluation.attribute_names)
    figure, axes = plt.subplots(1, count, figsize=(2.6 * count, 2.6), squeeze=False)
    for k, name in enumerate(evaluation.attribute_names):
        axis = axes[0, k]
        axis.scatter(evaluation.mu[:, k], evaluation.attributes[:, k], c=evaluation.labels, cmap="coolwarm", s=12)
        axis.set_xlabel(f"μ dim {k}")
        axis.set_ylabel(f"{name} ({attribute_unit(name)})" if attribute_unit(name) else name, fontsize=8)
        axis.set_title(f"ρ = {evaluation.metrics['spearman'][name]:.2f}", fontsize=9)
    figure.tight_layout()
    return _save(plt, figure, folder, "attributes_vs_latent.png")


def _latent_scatter(plt: Any, evaluation: Evaluation, folder: Path) -> str:
    count = len(evaluation.attribute_names)
    pairs = [(a, b) for a in range(count) for b in range(a + 1, count)][:3] or [(0, 1)]
    figure, axes = plt.subplots(1, len(pairs), figsize=(3.0 * len(pairs), 3.0), squeeze=False)
    for axis, (a, b) in zip(axes[0], pairs):
        for label, colour in ((0, "tab:blue"), (1, "tab:red")):
            chosen = evaluation.labels == label
            axis.scatter(evaluation.mu[chosen, a], evaluation.mu[chosen, b], s=12, c=colour, label=CLASS_NAMES[label])
        axis.set_xlabel(_dim_label(evaluation, a), fontsize=8)
        axis.set_ylabel(_dim_label(evaluation, b), fontsize=8)
    axes[0, 0].legend(fontsize=8)
    figure.tight_layout()
    return _save(plt, figure, folder, "latent_scatter.png")


def _dim_label(evaluation: Evaluation, dim: int) -> str:
    names = evaluation.attribute_names
    return f"dim {dim} ({names[dim]})" if dim < len(names) else f"dim {dim}"


def _roc(plt: Any, evaluation: Evaluation, folder: Path) -> str:
    order = np.argsort(-evaluation.probabilities, kind="stable")
    labels = evaluation.labels[order].astype(bool)
    positives, negatives = max(labels.sum(), 1), max((~labels).sum(), 1)
    tpr = np.concatenate([[0.0], np.cumsum(labels) / positives])
    fpr = np.concatenate([[0.0], np.cumsum(~labels) / negatives])
    figure, axis = plt.subplots(figsize=(3.2, 3.2))
    axis.plot(fpr, tpr, drawstyle="steps-post")
    axis.plot([0, 1], [0, 1], "k:", linewidth=0.8)
    axis.set_xlabel("false positive rate")
    axis.set_ylabel("true positive rate")
    axis.set_title(f"AUC = {evaluation.metrics['classification']['auc']:.3f}", fontsize=9)
    return _save(plt, figure, folder, "roc.png")


def _html(title: str, evaluation: Evaluation, bundle: ModelBundle, figures: dict[str, str],
          calibration: dict[str, dict[str, float]]) -> str:
    m = evaluation.metrics
    rows = "".join(_row(k, html.escape(name), m["interpretability"][name]["dim"],
                        format_metric(m["interpretability"][name]["r2"]), format_metric(m["spearman"][name]))
                   for k, name in enumerate(evaluation.attribute_names))
    ceiling, matched = m["ceiling"], m["ceiling_at_precision"]
    summary = {"interpretability (mean R²)": (m["interpretability_mean"], 1.0, None),
               **{name: (m[key], ceiling[key], matched[key]) for key, name in DISENTANGLEMENT_METRICS.items()},
               **{f"{DISENTANGLEMENT_METRICS[key]}, {SUBSAMPLE_SUBJECTS}-subject subsamples (mean ± sd)":
                  (m["subsampled"][key], None, None) for key in m.get("subsampled", {})},
               "reconstruction MSE": (m["reconstruction"]["mse"], None, None),
               "reconstruction Dice": (m["reconstruction"]["dice"], None, None),
               "MMD²": (m["reconstruction"]["mmd"], None, None),
               "accuracy": (m["classification"]["accuracy"], None, None),
               "ROC-AUC": (m["classification"]["auc"], None, None)}
    summary_rows = "".join(_row(html.escape(k), *map(_cell, values)) for k, values in summary.items())
    images = "".join(f"<h3>{html.escape(caption)}</h3><img src='{html.escape(name)}' alt='{html.escape(caption)}'>"
                     for caption, name in figures.items())
    config = bundle.card.config
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}td,th{{padding:2px 10px;text-align:left}}
table{{border-collapse:collapse}}tr:nth-child(even){{background:#f3f3f3}}img{{max-width:100%}}</style></head>
<body><h1>{html.escape(title)}</h1>
<p>{m['subjects']} subjects; model preset <b>{html.escape(config.preset)}</b>, input
{config.model.input_size}³, latent size {config.model.latent_size}; metrics on the posterior mean μ.</p>
<h2>Attributes</h2><table><tr><th>dim</th><th>attribute</th><th>max-MI dim</th><th>interpretability R²</th>
<th>Spearman ρ (dim k)</th></tr>{rows}</table>
<h2>Summary</h2><p>Ceiling: the same metric of the ground-truth code on the same {m['subjects']} subjects (its
first dims the standardised true attributes, the others noise), a reference rather than a bound: correlated
attributes keep it below 1, and the KSG MIG grows with the number of subjects. At this precision: the same code
blurred so that each attribute's dim is as precise as this model's (its interpretability R²) and otherwise
perfect: MIG and SAP below it measure disentanglement, below the ceiling alone they may only measure precision.
MIG is scikit-learn's estimator as the AR-VAE evaluation calls it, on N = {m['subjects']}.</p>
<table><tr><th>metric</th><th>this model</th><th>ceiling</th><th>at this precision</th></tr>{summary_rows}</table>
{_precision_html(m["precision"])}
{_decoder_html(m["decoder"])}
{_calibration_html(calibration, bundle)}
{_localisation_html(m.get("localisation", {}))}
{_fidelity_html(m.get("traversal_fidelity", {}))}
<h2>Figures</h2>{images}
</body></html>
"""


def _precision_html(precision: dict[str, dict[str, float]]) -> str:
    """Own-dim precision and leakage per attribute."""
    body = "".join(_row(html.escape(name), format_metric(p["precision"]), format_metric(p["leakage"]))
                   for name, p in precision.items())
    return ("<h2>Disentanglement per attribute</h2><p>Precision: adjusted R² of the attribute from a cubic in its "
            "own dim. Leakage: the adjusted R² every other dim adds beyond that (0: nothing of the attribute lives "
            "elsewhere); it needs more subjects than latent dims + 3 (– otherwise).</p><table><tr>"
            f"<th>attribute</th><th>precision</th><th>leakage</th></tr>{body}</table>")


def _decoder_html(decoder: dict[str, Any]) -> str:
    """What the reconstruction keeps of the input's anatomy."""
    rows = {**{f"{name} Dice": summary for name, summary in decoder["dice"].items()},
            "infarct contrast retained": decoder["infarct_contrast"]}
    body = "".join(_row(html.escape(name), s["subjects"], format_metric(s["median"]),
                        f"{format_metric(s['p10'])}–{format_metric(s['p90'])}") for name, s in rows.items())
    return ("<h2>Decoder fidelity</h2><p>The reconstruction of μ and the input, each segmented as a decoded volume "
            "(foreground above 0.05, bright pool above its Otsu threshold). Cavity: bright pool against bright "
            "pool; myocardium: dark wall against dark wall; infarct: bright voxels inside the labelled myocardium, "
            "on infarcted subjects. Infarct contrast retained: mean reconstructed intensity in the labelled "
            "infarct ÷ the input's (1: the scar kept as bright).</p><table><tr><th>measure</th><th>N</th>"
            f"<th>median</th><th>10th–90th percentile</th></tr>{body}</table>")


def _calibration_html(calibration: dict[str, dict[str, float]], bundle: ModelBundle) -> str:
    """How often the measured attribute lies inside the interval of its encoded value, and where the model's
    intervals were calibrated."""
    percent = f"{100 * INTERVAL_LEVEL:g} %"
    rows = []
    for name, c in calibration.items():
        if c["calibrated"]:
            low, high = expected_coverage(c["calibration_subjects"], INTERVAL_LEVEL)
            source = calibration_source(card_entry(bundle, name))
            kind = html.escape(f"calibrated on {source} (expected {low:.2f}–{high:.2f})")
        else:
            kind = html.escape(UNCALIBRATED)
        rows.append(_row(html.escape(name), c["subjects"], format_metric(c["coverage"]),
                         f"{format_metric(c['mean_width'])} {html.escape(attribute_unit(name))}", kind))
    return (f"<h2>Intervals: coverage</h2><p>Each encoded attribute value comes with a {percent} interval (as "
            f"<code>attrivae encode</code> and the Slicer table show it): split-conformal on held-out subjects (the "
            f"model's validation split, or a cohort given to <code>attrivae calibrate</code>) where the model is "
            f"calibrated. Coverage: the share of measured values inside their interval. "
            f"With n calibration subjects the coverage on new subjects varies around {INTERVAL_LEVEL:g} by chance: "
            f"'expected' is its 5th–95th percentile (Beta distribution of split-conformal coverage).</p><table><tr>"
            f"<th>attribute</th><th>N</th><th>coverage</th><th>mean width</th><th>interval</th></tr>"
            f"{''.join(rows)}</table>")


def _localisation_html(localisation: dict[str, dict[str, dict[str, float]]]) -> str:
    """One table per attribution method: how much of each attribute's map lies on its defining structure."""
    if not localisation:
        return ""
    parts = ["<h2>Where the attention lands</h2><p>Per attribute, against the structure that defines it: "
             "enrichment = share of |map| inside the structure ÷ the structure's share of the cube (1: no better "
             "than uniform); pointing = share of subjects whose map peak lies in the structure (±1 voxel); outside "
             "LV = share of |map| outside the LV mask dilated by one voxel; IoU as the official code.</p>"]
    for method, rows in localisation.items():
        body = "".join(_row(html.escape(name), STRUCTURE_OF_ATTRIBUTE[name], s["subjects"],
                            format_metric(s["enrichment"]), format_metric(s["pointing"]),
                            f"{format_metric(s['outside_lv'])} (max {format_metric(s['outside_lv_max'])})",
                            format_metric(s["iou"])) for name, s in rows.items())
        parts.append(f"<h3>{html.escape(method)}{' (default)' if method == DEFAULT_METHOD else ''}</h3><table><tr>"
                     f"<th>attribute</th><th>structure</th><th>N</th><th>enrichment</th><th>pointing</th>"
                     f"<th>outside LV</th><th>IoU</th></tr>{body}</table>")
    return "".join(parts)


def _fidelity_html(fidelity: dict[str, dict[str, Any]]) -> str:
    """Traversal fidelity: the attribute measured on decoded volumes against the value the sweep asks for."""
    if not fidelity:
        return ""

    def line(summary: dict[str, float]) -> tuple[str, str]:
        return (format_metric(summary["spearman"]), f"{format_metric(summary['slope'])} "
                f"({format_metric(summary['slope_p10'])}–{format_metric(summary['slope_p90'])})")

    def check(entry: dict[str, Any]) -> str:
        measured = entry.get("measure_check", {})
        return f"{format_metric(measured.get('spearman'))} / {format_metric(measured.get('slope'))}"

    body = "".join(_row(html.escape(name), f["calibrated"]["subjects"], *line(f["encoder"]), *line(f["calibrated"]),
                        format_metric(f["calibrated"]["clamped"]), check(f)) for name, f in fidelity.items())
    return ("<h2>Traversal fidelity</h2><p>Each attribute a decoded volume shows, swept over its training range "
            f"({TRAVERSAL_STEPS} steps) on every subject and measured on each decoded volume (foreground above "
            "0.05, bright pool above its Otsu threshold; in the data's units through the model's decoded-measure "
            "line). Encoder: the dim set through the training line alone; calibrated: the traversal the tool "
            "makes (the subject's decoded response measured and inverted), scored on the steps it could draw. ρ: "
            "Spearman per subject, mean; slope: measured change per requested change, mean (10th–90th "
            "percentile); 1 means the anatomy moves by what the slider says. Clamped: share of steps beyond what "
            "the decoder draws, shown to the user as clamped. Measure check: the same measurement on the real "
            "inputs against the recorded values (ρ / slope over subjects).</p><table><tr><th>attribute</th>"
            "<th>N</th><th>encoder ρ</th><th>encoder slope</th><th>calibrated ρ</th><th>calibrated slope</th>"
            f"<th>clamped</th><th>measure check</th></tr>{body}</table>")


def _row(*cells: object) -> str:
    """One HTML table row of ``cells`` (text already escaped where it needs to be)."""
    return "<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"


def _cell(value: float | dict[str, float] | None) -> str:
    """A number, or a {"mean", "sd"} as mean ± sd."""
    if isinstance(value, dict):
        return f"{format_metric(value['mean'])} ± {format_metric(value['sd'])}"
    return format_metric(value)
