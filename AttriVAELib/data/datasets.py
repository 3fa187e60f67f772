"""Dataset layouts: folder+CSV (also the synthetic cohort), EMIDEC and ACDC.

Every loader returns a :class:`Cohort`: subjects with an image, an LV label map, a binary class label
(1 = myocardial infarction) and numeric attributes. Folder+CSV schema (docs/data.md, "Data formats")::

    subject,image,mask,label[,image_es,mask_es][,<numeric attribute columns>...]

Paths are relative to the CSV's folder; masks use EMIDEC label values (1 cavity, 2 myocardium,
3 infarct, 4 no-reflow); any numeric column is an attribute.
"""

from __future__ import annotations

__all__ = ["Cohort", "Subject", "load_cohort", "select_attributes"]

import csv
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..choices import DATA_FORMATS
from ..errors import InvalidDatasetError
from .attributes import DEFAULT_ATTRIBUTES, SHAPE_ATTRIBUTES, shape_attributes
from .constants import ATTRIBUTES_CSV, RESERVED_COLUMNS, SYNTHETIC_JSON
from .labels import ACDC_SCHEME, EMIDEC_SCHEME, LabelScheme
from .volumes import read_label_map


@dataclass(frozen=True)
class Subject:
    """One subject of a cohort."""

    subject_id: str
    image: Path  # image fed to the network (end-diastole where there are phases)
    mask: Path  # label map on the image's grid
    label: int  # 1 = myocardial infarction, 0 = healthy / other
    attributes: dict[str, float] = field(default_factory=dict)  # numeric attributes by name
    mask_es: Path | None = None  # end-systolic label map, when known (for EF)


@dataclass(frozen=True)
class Cohort:
    """Subjects of one dataset and its label convention."""

    subjects: tuple[Subject, ...]
    scheme: LabelScheme
    format: str
    root: Path
    non_numeric: dict[str, str] = field(default_factory=dict)  # CSV column → first bad value, for errors
    synthetic: dict[str, Any] | None = None  # how a synthetic cohort was generated (its synthetic.json)

    @property
    def attribute_names(self) -> tuple[str, ...]:
        """Attributes with a finite value for every subject, in first-seen order."""
        names = dict.fromkeys(name for s in self.subjects for name in s.attributes)
        return tuple(n for n in names if all(math.isfinite(s.attributes.get(n, math.nan)) for s in self.subjects))

    @property
    def labels(self) -> np.ndarray:
        """(N,) int64 class labels."""
        return np.array([s.label for s in self.subjects], dtype=np.int64)

    def attribute_matrix(self, names: Sequence[str]) -> np.ndarray:
        """(N, K) float64 attribute values, column k = names[k]."""
        return np.array([[s.attributes[n] for n in names] for s in self.subjects], dtype=np.float64).reshape(
            len(self.subjects), len(names))


def load_cohort(path: Path | str, format: str = "auto") -> Cohort:
    """Read a dataset folder (or a folder+CSV file) in the given ``format``.

    Raises:
        InvalidDatasetError: the layout is not recognised, or a file or column is missing or malformed.
    """
    path = Path(path)
    if format not in DATA_FORMATS:
        raise InvalidDatasetError(f"unknown dataset format {format!r}; choose one of {', '.join(DATA_FORMATS)}")
    if not path.exists():
        raise InvalidDatasetError(f"dataset {path} does not exist; check the --data path")
    if format == "auto":
        format = _detect_format(path)
    loader = {"csv": _load_csv, "emidec": _load_emidec, "acdc": _load_acdc}[format]
    cohort = loader(path)
    _check_unique(cohort.subjects, lambda s: s.subject_id, "the subject id", lambda s: f"image {s.image}",
                  cohort.root)
    if len(cohort.subjects) < 2:
        raise InvalidDatasetError(f"dataset {path} has {len(cohort.subjects)} subject(s); at least 2 are needed")
    return cohort


def select_attributes(cohort: Cohort, requested: Sequence[str] | None = None) -> tuple[Cohort, tuple[str, ...]]:
    """Resolve the regularised attributes (latent dim k ↔ k-th name).

    With no request, the :data:`~AttriVAELib.data.attributes.DEFAULT_ATTRIBUTES` the cohort has. Shape
    attributes missing from a CSV are measured on the masks. Returns the cohort (with measured values
    added) and the names.

    Raises:
        InvalidDatasetError: unknown or non-numeric attribute, or none available.
    """
    available = set(cohort.attribute_names)
    wanted = tuple(requested) if requested else DEFAULT_ATTRIBUTES
    measurable = [n for n in wanted if n not in available and n in SHAPE_ATTRIBUTES]
    if measurable and cohort.format == "csv":
        cohort = _with_measured_shapes(cohort)
        available = set(cohort.attribute_names)
    if not requested:
        incomplete = [n for n in DEFAULT_ATTRIBUTES if n in cohort.non_numeric]
        if incomplete:  # dropping it would silently move every later attribute to another latent dim
            raise InvalidDatasetError(f"default attribute column {incomplete[0]!r} of {cohort.root} has a value that "
                                      f"is not a finite number ({cohort.non_numeric[incomplete[0]]}); fix it or "
                                      f"name the attributes with --attributes")
        names = tuple(n for n in DEFAULT_ATTRIBUTES if n in available)
        if not names:
            raise InvalidDatasetError(
                f"dataset {cohort.root} has none of the default attributes; name some with --attributes "
                f"(available: {', '.join(cohort.attribute_names) or 'none'})")
        return cohort, names
    if len(set(wanted)) != len(wanted):
        raise InvalidDatasetError(f"--attributes {','.join(wanted)} names an attribute twice")
    for name in wanted:
        if name in cohort.non_numeric:
            raise InvalidDatasetError(f"column {name!r} of {cohort.root} has a value that is not a finite number "
                                      f"({cohort.non_numeric[name]}); fix the CSV or choose another attribute")
        if name not in available:
            raise InvalidDatasetError(f"unknown attribute {name!r}; available in {cohort.root}: "
                                      f"{', '.join(cohort.attribute_names) or 'none'}")
    return cohort, wanted


def _detect_format(path: Path) -> str:
    if (path.is_file() and path.suffix.lower() == ".csv") or (path / ATTRIBUTES_CSV).is_file():
        return "csv"
    if path.is_dir() and any(p.is_file() for p in path.glob("**/Info.cfg")):
        return "acdc"
    if path.is_dir() and any(p.is_dir() and (p / "Images").is_dir() for p in path.glob("Case_*")):
        return "emidec"
    raise InvalidDatasetError(
        f"cannot recognise the layout of {path}: expected {ATTRIBUTES_CSV} (folder+CSV), Case_*/Images "
        f"(EMIDEC) or patient*/Info.cfg (ACDC); pass --format")


# ---------------------------------------------------------------------------------------------- CSV
def _load_csv(path: Path) -> Cohort:
    csv_path = path if path.is_file() else path / ATTRIBUTES_CSV
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as handle:  # -sig: spreadsheet programs add a BOM
            reader = csv.reader(handle)
            columns = [c.strip() for c in next(reader, [])]
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise InvalidDatasetError(f"cannot read {csv_path}: {err}") from err
    _check_header(columns, csv_path)
    attribute_columns = [c for c in columns if c not in RESERVED_COLUMNS]
    non_numeric: dict[str, str] = {}
    subjects = []
    for line, fields in enumerate(rows, start=2):
        if not any(f.strip() for f in fields):
            continue  # a blank line
        where = f"{csv_path} line {line}"
        if len(fields) != len(columns):
            raise InvalidDatasetError(f"{where} has {len(fields)} fields but the header has {len(columns)}; "
                                      f"quote values that contain commas")
        row = dict(zip(columns, fields))
        attributes = {}
        for column in attribute_columns:
            try:
                value = float(row[column])
            except ValueError:
                value = math.nan
            if math.isfinite(value):
                attributes[column] = value
            else:  # empty, text, nan or inf
                non_numeric.setdefault(column, f"{row[column]!r} at line {line}")
        subjects.append(Subject(
            subject_id=_required(row, "subject", where),
            image=_existing(csv_path.parent / _required(row, "image", where), f"image of {where}"),
            mask=_existing(csv_path.parent / _required(row, "mask", where), f"mask of {where}"),
            label=_binary_label(row["label"], where),
            attributes=attributes,
            mask_es=_existing(csv_path.parent / row["mask_es"], f"mask_es of {where}") if row.get("mask_es") else None,
        ))
    for column in ("image", "mask"):
        _check_unique(subjects, lambda s, c=column: str(getattr(s, c).resolve()), f"the {column} file",
                      lambda s: f"subject {s.subject_id!r}", csv_path)
    return Cohort(tuple(subjects), EMIDEC_SCHEME, "csv", csv_path, non_numeric, _synthetic_record(csv_path.parent))


def _synthetic_record(folder: Path) -> dict[str, Any] | None:
    """The generation record :func:`~AttriVAELib.data.synthetic.make_cohort` wrote beside the index, if any. Only
    provenance: an unreadable record is left out of the model card, not an error."""
    try:
        record = json.loads((folder / SYNTHETIC_JSON).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _check_header(columns: list[str], csv_path: Path) -> None:
    """Raise unless the header has the required columns, each column once."""
    missing = [c for c in ("subject", "image", "mask", "label") if c not in columns]
    if missing:
        hint = ("; it looks separated by semicolons: save it comma-separated" if ";" in ",".join(columns)
                else "; the header must have subject,image,mask,label")
        raise InvalidDatasetError(f"{csv_path} lacks column(s) {', '.join(missing)}{hint}")
    twice = sorted({c for c in columns if columns.count(c) > 1})
    if twice:
        raise InvalidDatasetError(f"{csv_path} has column {twice[0]!r} more than once; rename or remove one")


def _check_unique(subjects: Sequence[Subject], key: Callable[[Subject], str], what: str,
                  describe: Callable[[Subject], str], source: Path) -> None:
    """Raise when two subjects share ``key``: one subject in two places could be trained and tested on."""
    seen: dict[str, Subject] = {}
    for subject in subjects:
        value = key(subject)
        if value in seen:
            raise InvalidDatasetError(f"{source}: {what} {value!r} appears twice ({describe(seen[value])} and "
                                      f"{describe(subject)}); every subject needs its own")
        seen[value] = subject


def _required(row: dict[str, str | None], column: str, where: str) -> str:
    value = (row.get(column) or "").strip()
    if not value:
        raise InvalidDatasetError(f"{where}: column {column!r} is empty; fill it in")
    return value


def _existing(path: Path, what: str) -> Path:
    if path.is_dir():
        raise InvalidDatasetError(f"{what}: {path} is a folder, not a file; name the image file")
    if not path.is_file():
        raise InvalidDatasetError(f"{what}: file {path} does not exist; paths are relative to the CSV's folder")
    return path


def _binary_label(value: str | None, where: str) -> int:
    if (value or "").strip() not in ("0", "1"):
        raise InvalidDatasetError(f"{where}: label {value!r} is not 0 or 1 (1 = myocardial infarction)")
    return int(value)  # type: ignore[arg-type]


def _with_measured_shapes(cohort: Cohort) -> Cohort:
    subjects = []
    for subject in cohort.subjects:
        es = read_label_map(subject.mask_es, "mask_es") if subject.mask_es else None
        measured = shape_attributes(read_label_map(subject.mask), cohort.scheme, es, name=str(subject.mask))
        subjects.append(replace(subject, attributes={**measured, **subject.attributes}))
    return replace(cohort, subjects=tuple(subjects))


# ------------------------------------------------------------------------------------------- EMIDEC
_EMIDEC_CLINICAL = {  # normalised key in the case .txt → (attribute name, value parser)
    "sex": ("sex", {"F": 1.0, "M": 0.0}),  # 1 = female, 0 = male
    "age": ("age", float),
    "tobacco": ("tobacco", float),  # raw code of the file (1, 2, 3), meaning as in the EMIDEC readme
    "overweight": ("overweight", {"Y": 1.0, "N": 0.0}),
    "arterialhypertension": ("arterial_hypertension", {"Y": 1.0, "N": 0.0}),
    "diabetes": ("diabetes", {"Y": 1.0, "N": 0.0}),
    "familialhistoryofcoronaryarterydisease": ("family_history_cad", {"Y": 1.0, "N": 0.0}),
    "ecgst": ("ecg_st_elevation", {"Y": 1.0, "N": 0.0}),
    "troponin": ("troponin", float),
    "killipmax": ("killip_max", float),
    "fevg": ("lvef_pct", float),  # clinical LV ejection fraction (French: FEVG)
    "ntprobnp": ("nt_probnp", float),
}


def _load_emidec(root: Path) -> Cohort:
    subjects = []
    for case in sorted(p for p in root.glob("Case_*") if p.is_dir()):
        case_id = case.name[len("Case_"):]
        image = _existing(case / "Images" / f"{case.name}.nii.gz", f"EMIDEC case {case.name}")
        mask = _existing(case / "Contours" / f"{case.name}.nii.gz", f"EMIDEC case {case.name}")
        clinical = _emidec_clinical(root, case)
        shapes = shape_attributes(read_label_map(mask), EMIDEC_SCHEME, name=str(mask))
        if case_id[:1] not in ("N", "P"):
            raise InvalidDatasetError(f"EMIDEC case {case.name}: name must start with Case_N (normal) or Case_P (MI)")
        subjects.append(Subject(case.name, image, mask, int(case_id.startswith("P")), {**shapes, **clinical}))
    if not subjects:
        raise InvalidDatasetError(f"{root} has no Case_* folders; it is not an EMIDEC dataset")
    return Cohort(tuple(subjects), EMIDEC_SCHEME, "emidec", root)


def _emidec_clinical(root: Path, case: Path) -> dict[str, float]:
    """Parse the 12 clinical variables of ``Case X.txt`` (dataset root, or inside the case folder)."""
    candidates = [root / f"{case.name.replace('_', ' ')}.txt", root / f"{case.name}.txt", case / f"{case.name}.txt"]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        raise InvalidDatasetError(f"EMIDEC case {case.name}: clinical file {candidates[0]} is missing")
    values: dict[str, float] = {}
    try:
        text = path.read_bytes().decode("latin-1")
    except OSError as err:
        raise InvalidDatasetError(f"cannot read {path} ({err.strerror}); check its permissions") from err
    for line in text.splitlines():
        key, _, raw = line.replace("\xa0", " ").partition(":")
        key = re.sub(r"[^a-z]", "", key.lower())
        if key not in _EMIDEC_CLINICAL:
            continue
        name, parser = _EMIDEC_CLINICAL[key]
        raw = raw.strip()
        try:
            values[name] = parser[raw.upper()] if isinstance(parser, dict) else parser(raw)
        except (KeyError, ValueError) as err:
            raise InvalidDatasetError(f"{path}: cannot read {line.strip()!r}; expected a number or Y/N, F/M") from err
        if not math.isfinite(values[name]):
            raise InvalidDatasetError(f"{path}: {line.strip()!r} is not a finite number; fill in the value")
    missing = [name for name, _ in _EMIDEC_CLINICAL.values() if name not in values]
    if missing:
        raise InvalidDatasetError(f"{path}: missing clinical variable(s) {', '.join(missing)}")
    return values


# --------------------------------------------------------------------------------------------- ACDC
def _load_acdc(root: Path) -> Cohort:
    subjects = []
    for info_path in sorted(p for p in root.glob("**/Info.cfg") if p.is_file()):
        folder, patient = info_path.parent, info_path.parent.name
        info = _read_info(info_path)
        frames = {}
        for phase in ("ED", "ES"):
            stem = folder / f"{patient}_frame{int(info[phase]):02d}"
            frames[phase] = (_existing(Path(f"{stem}.nii.gz"), f"ACDC {patient} {phase} image"),
                             _existing(Path(f"{stem}_gt.nii.gz"), f"ACDC {patient} {phase} mask"))
        es_mask = read_label_map(frames["ES"][1])
        shapes = shape_attributes(read_label_map(frames["ED"][1]), ACDC_SCHEME, es_mask, name=str(frames["ED"][1]))
        clinical = {"height_cm": float(info["Height"]), "weight_kg": float(info["Weight"])}
        subjects.append(Subject(patient, frames["ED"][0], frames["ED"][1], int(info["Group"] == "MINF"),
                                {**shapes, **clinical}, mask_es=frames["ES"][1]))
    return Cohort(tuple(subjects), ACDC_SCHEME, "acdc", root)


def _read_info(path: Path) -> dict[str, str]:
    info = {}
    try:
        text = path.read_text(errors="replace")
    except OSError as err:
        raise InvalidDatasetError(f"cannot read {path} ({err.strerror}); check its permissions") from err
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            info[key.strip()] = value.strip()
    missing = [k for k in ("ED", "ES", "Group", "Height", "Weight") if k not in info]
    if missing:
        raise InvalidDatasetError(f"{path} lacks {', '.join(missing)}; expected lines like 'ED: 1'")
    try:
        int(info["ED"]), int(info["ES"])
        finite = math.isfinite(float(info["Height"])) and math.isfinite(float(info["Weight"]))
    except ValueError as err:
        raise InvalidDatasetError(f"{path}: ED/ES must be frame numbers and Height/Weight numbers ({err})") from err
    if not finite:
        raise InvalidDatasetError(f"{path}: Height {info['Height']!r} and Weight {info['Weight']!r} must be finite "
                                  f"numbers; fill in the values")
    return info
