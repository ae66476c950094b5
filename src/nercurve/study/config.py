"""Study configuration: a TOML file validated with pydantic.

Unknown keys and bad values are :class:`~nercurve.errors.ConfigError` naming the
key (as a dotted path) and the file. Relative paths in the file are resolved
against the file's folder.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from nercurve.corpus.io import MismatchPolicy, OverlapPolicy
from nercurve.errors import ConfigError

if TYPE_CHECKING:
    from nercurve.corpus.io import ReadOptions
    from nercurve.tasks import Task

#: The Majdik et al. (2024) design: five strata of documents.
MAJDIK_STRATA: tuple[tuple[int, int], ...] = ((1, 40), (41, 80), (81, 120), (121, 160), (161, 200))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CorpusSection(_Strict):
    """Where the annotated documents come from and how labels are mapped.

    ``options`` passes any other reader option by name (e.g. ``discontinuous``,
    ``sentences_per_doc``, ``duplicate_ids``; see ``nercurve.corpus.io.ReadOptions``).
    """

    path: Path
    format: str | None = None
    label_map: dict[str, str] = Field(default_factory=dict)
    labels: list[str] | None = None
    overlap: OverlapPolicy = "error"
    mismatch: MismatchPolicy = "error"
    options: dict[str, Any] = Field(default_factory=dict)


def corpus_section(path: Path, fmt: str | None, options: ReadOptions) -> dict[str, Any]:
    """The ``[corpus]`` table that reads ``path`` as ``fmt`` with the reader ``options``."""
    rest = dataclasses.asdict(options)
    labels = rest.pop("labels")
    return {
        "path": str(path), "format": fmt, "label_map": rest.pop("label_map"),
        "labels": sorted(labels) if labels is not None else None,
        "overlap": rest.pop("overlap"), "mismatch": rest.pop("mismatch"), "options": rest,
    }


class SplitSection(_Strict):
    """How the corpus is split into a training pool, a dev set and a test set.

    Fractions are of the whole corpus; the pool is what remains. Alternatively give
    existing split files (``train``, ``test`` and optionally ``dev``), read with the
    corpus section's format options.
    """

    test: float = Field(0.3, gt=0, lt=1)
    dev: float = Field(0.1, ge=0, lt=1)
    seed: int = 0
    stratify: bool = False
    select_on: Literal["dev", "test"] = "dev"
    train_file: Path | None = None
    dev_file: Path | None = None
    test_file: Path | None = None

    @model_validator(mode="after")
    def _check(self) -> SplitSection:
        if self.test + self.dev >= 1:
            raise ValueError("test + dev must leave a training pool (their sum must be below 1)")
        if (self.train_file is None) != (self.test_file is None):
            raise ValueError("give both train_file and test_file, or neither")
        if self.select_on == "dev" and self.dev == 0 and self.dev_file is None:
            raise ValueError('select_on = "dev" needs dev > 0 or a dev_file')
        return self


class AdaptiveSection(_Strict):
    """An adaptive design: after the first (stratified) wave, waves of ``wave`` subsets are
    placed where they most narrow the CI of the ``target`` estimate, until its width is at
    most ``ci_width`` sentences or ``max_runs`` runs of the driving arm are planned (see
    docs/adaptive.md). ``target_f1`` goes with ``target = "target_f1"``; ``backend`` names
    the arm whose estimate drives the design (default: the first arm; name it when that is a
    baseline that trains on nothing);
    ``spread`` is the share of each wave drawn over the whole range of sizes.
    """

    target: Literal["threshold", "target_f1"] = "threshold"
    ci_width: float = Field(gt=0)
    wave: int = Field(10, ge=1)
    max_runs: int = Field(ge=1)
    target_f1: float | None = Field(None, gt=0, lt=1)
    backend: str | None = None
    family: Literal["hinge", "upperhinge", "segmented"] = "upperhinge"
    spread: float = Field(0.1, ge=0, le=1)
    n_boot: int = Field(1000, ge=100)
    level: float = Field(0.95, gt=0, lt=1)

    @model_validator(mode="after")
    def _target(self) -> AdaptiveSection:
        if (self.target == "target_f1") != (self.target_f1 is not None):
            raise ValueError('target_f1 is needed with target = "target_f1", and only then')
        return self


#: The selection strategies a design may name (one arm per strategy; see docs/selection.md).
SELECTION_STRATEGIES: tuple[str, ...] = ("random", "uncertainty", "diversity")
#: The uncertainty measures of each task's models (``[design.uncertainty] measure``).
UNCERTAINTY_MEASURES: dict[str, tuple[str, ...]] = {
    "ner": ("least_confidence", "entropy"),
    "classify": ("margin", "entropy"),
}


class UncertaintySection(_Strict):
    """How an uncertainty subset is selected (``[design.uncertainty]``): a random seed set of
    ``seed_docs`` documents, then rounds that train the ``selector`` arm's backend on what is
    selected so far and add the ``batch_docs`` pool documents its model is least sure of,
    until the subset reaches its size. ``measure``: NER ``"least_confidence"`` (of the
    predicted sequence) or ``"entropy"`` (mean token entropy); classification ``"margin"``
    or ``"entropy"`` (default: the task's first). ``candidates`` caps how many pool
    documents, drawn at random each round, the model scores (default: all of the pool).
    ``selector`` names the arm whose backend trains during selection (default: the first
    arm that trains); ``seed`` is the training seed of those runs (default: the study's
    first seed)."""

    seed_docs: int = Field(10, ge=1)
    batch_docs: int = Field(10, ge=1)
    measure: str | None = None
    candidates: int | None = Field(None, ge=1)
    selector: str | None = None
    seed: int | None = None


class DesignSection(_Strict):
    """Stratified random subsets of the training pool.

    ``unit`` says whether strata and sizes count documents or sentences. Either
    ``strata`` (size drawn uniformly within each) with ``subsets_per_stratum``, or an
    explicit ``sizes`` list with ``subsets_per_size``. With ``adaptive``, that design is
    the first wave and later waves are placed by the data (:class:`AdaptiveSection`).
    ``stratify_labels`` (classification studies) keeps each subset's class shares close to
    the pool's. ``selection`` names one strategy or several (one arm per strategy, each
    with the design's sizes and replicates): ``"random"`` (the draw above), ``"uncertainty"``
    (:class:`UncertaintySection`, ``[design.uncertainty]``) or ``"diversity"`` (k-means++
    seeding over MiniLM document embeddings); see docs/selection.md.
    """

    unit: Literal["documents", "sentences"] = "documents"
    strata: list[tuple[int, int]] = Field(default_factory=lambda: list(MAJDIK_STRATA))
    subsets_per_stratum: int = Field(500, ge=1)
    sizes: list[int] | None = None
    subsets_per_size: int = Field(1, ge=1)
    seed: int = 0
    adaptive: AdaptiveSection | None = None
    stratify_labels: bool = False
    selection: str | list[str] = "random"
    uncertainty: UncertaintySection | None = None

    @field_validator("selection")
    @classmethod
    def _selection(cls, value: str | list[str]) -> str | list[str]:
        names = [value] if isinstance(value, str) else value
        if not names:
            raise ValueError("selection must name at least one strategy")
        unknown = [n for n in names if n not in SELECTION_STRATEGIES]
        if unknown:
            raise ValueError(f"unknown selection strategy {unknown[0]!r}; choose from: "
                             + ", ".join(SELECTION_STRATEGIES))
        if len(set(names)) != len(names):
            raise ValueError("selection strategies must not repeat")
        return value

    @property
    def strategies(self) -> tuple[str, ...]:
        """The selection strategies of the design, in the order given."""
        return (self.selection,) if isinstance(self.selection, str) else tuple(self.selection)

    @property
    def uncertainty_settings(self) -> UncertaintySection:
        """``[design.uncertainty]``, its defaults where the config gives none."""
        return self.uncertainty or UncertaintySection()

    @field_validator("strata")
    @classmethod
    def _strata(cls, value: list[tuple[int, int]]) -> list[tuple[int, int]]:
        for low, high in value:
            if low < 1 or high < low:
                raise ValueError(f"stratum [{low}, {high}] must satisfy 1 <= low <= high")
        return value

    @field_validator("sizes")
    @classmethod
    def _sizes(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and (not value or min(value) < 1):
            raise ValueError("sizes must be a non-empty list of positive integers")
        return value

    @model_validator(mode="after")
    def _one_kind_of_design(self) -> DesignSection:
        given = self.model_fields_set
        if self.sizes is not None and given & {"strata", "subsets_per_stratum"}:
            raise ValueError("give either sizes (with subsets_per_size) or strata (with "
                             "subsets_per_stratum), not both")
        if self.sizes is None and "subsets_per_size" in given:
            raise ValueError("subsets_per_size goes with sizes; with strata use "
                             "subsets_per_stratum")
        if self.uncertainty is not None and "uncertainty" not in self.strategies:
            raise ValueError('[design.uncertainty] goes with selection = "uncertainty" '
                             "(or a list naming it)")
        if self.adaptive is not None and self.strategies != ("random",):
            raise ValueError("an adaptive design draws random subsets only; leave selection "
                             'at "random" or drop [design.adaptive]')
        return self

    def identity(self) -> dict[str, Any]:
        """The design's settings that stored rows depend on: all but the counts that only
        add subsets (``subsets_per_*``) and an adaptive design's stopping rule
        (``ci_width``, ``max_runs``: tightening or relaxing it continues the same study);
        ``adaptive`` only when set."""
        exclude: dict[str, Any] = {"subsets_per_stratum": True, "subsets_per_size": True,
                                   "adaptive": {"ci_width", "max_runs"}}
        if self.adaptive is None:
            exclude["adaptive"] = True
        if not self.stratify_labels:
            exclude["stratify_labels"] = True
        if self.strategies == ("random",):  # a design without selection keeps its identity
            exclude["selection"] = True
        if "uncertainty" not in self.strategies:
            exclude["uncertainty"] = True
        identity = self.model_dump(mode="json", exclude=exclude)
        if "selection" in identity:
            identity["selection"] = list(self.strategies)
        if "uncertainty" in identity:
            identity["uncertainty"] = self.uncertainty_settings.model_dump(mode="json")
        return identity


class BackendEntry(_Strict):
    """One model arm of the study: a registered backend type with its parameters."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.+-]+$")
    type: str
    params: dict[str, Any] = Field(default_factory=dict)


class ExternalTestSection(CorpusSection):
    """A test set from another corpus that every trained model is also scored on.

    Its labels are mapped onto the study's with ``label_map``; spans whose (mapped) label
    the study does not have are dropped (counted). Results carry ``f1_<name>``,
    ``precision_<name>`` and ``recall_<name>``.
    """

    name: str = Field(min_length=1, pattern=r"^[A-Za-z][A-Za-z0-9_]*$")


#: The roles of a ``[[corpora]]`` entry (see :class:`CorporaEntry`).
CorpusRole = Literal["target", "auxiliary", "test-only"]
#: The training arms of a multi-corpus study (``[multitask] arms``).
TRAININGS: tuple[str, ...] = ("single", "multi")
#: The suffix of a backend entry's multi-task arm: entry ``X`` gives the arm ``X+multi``.
MULTI_SUFFIX = "+multi"


class CorporaEntry(ExternalTestSection):
    """One corpus of a multi-corpus study (``[[corpora]]``), read with its own options and
    label map. ``role``: ``"target"`` (exactly one: sized by ``[design]``, split by
    ``[split]``), ``"auxiliary"`` (split like the target: the same test fraction and the
    study's split seed; its training part is added to the multi-task arms, all of it or
    ``size`` documents drawn with that seed) or ``"test-only"`` (an unseen corpus: all of it
    is a test set). Every auxiliary and test-only corpus's test set gives the result
    columns ``f1_<name>``, ``precision_<name>`` and ``recall_<name>``.
    """

    role: CorpusRole
    size: int | None = Field(None, ge=1)

    @field_validator("size")
    @classmethod
    def _size(cls, value: int | None, info: ValidationInfo) -> int | None:
        role = info.data.get("role")
        if value is not None and role != "auxiliary":
            raise ValueError(f'size is for role = "auxiliary" (this corpus is a {role} corpus)')
        return value


class MultitaskSection(_Strict):
    """The arms of a multi-corpus study (``[multitask]``): ``arms`` names ``"single"`` (each
    backend entry ``X`` trained on the target subset alone) and/or ``"multi"`` (the arm
    ``X+multi``: the target subset plus the auxiliary corpora's training documents, labels
    merged). ``share``: ``"proportional"`` (the corpora's documents as they are) or
    ``"equal"`` (each corpus contributes as many training documents as the largest, the
    smaller ones repeated)."""

    arms: list[Literal["single", "multi"]] = Field(default_factory=lambda: list(TRAININGS),
                                                   min_length=1)
    share: Literal["proportional", "equal"] = "proportional"

    @field_validator("arms")
    @classmethod
    def _unique_arms(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("arms must not repeat")
        return value


def _invalid(key: str, message: str, value: Any) -> ValidationError:
    """A validation error at the top-level ``key`` (so the ConfigError names it)."""
    from pydantic_core import PydanticCustomError

    return ValidationError.from_exception_data("StudyConfig", [
        {"type": PydanticCustomError("value_error", message), "loc": (key,), "input": value}])


class RunSection(_Strict):
    """Execution settings (not part of any job's identity).

    ``executor`` names one of :data:`nercurve.study.executors.EXECUTORS` (``"local"``,
    ``"ray"``, ``"slurm"``); an executor with settings of its own reads them from its table
    ``[run.<executor>]`` (e.g. ``[run.slurm]``), validated by its own model.
    ``executor = "ray"`` runs the jobs on a Ray cluster: ``ray_address`` is ``"auto"`` (the
    cluster this machine belongs to), an address such as ``"10.0.0.5:6379"``, or unset (a
    private Ray started on this machine for the run). ``cpus_per_job`` and
    ``memory_mb_per_job`` are the Ray resources each job asks for; ``max_retries`` bounds
    how often a job whose worker or node died is run again (Ray and SLURM; the local
    executor records such a job as failed with how its worker died).
    ``keep`` says which trained models the study keeps in ``models/`` of its folder
    (:mod:`nercurve.study.keep`): ``"none"``, ``"best"`` (the best run's model per stratum
    and arm, by test F1) or ``"final"`` (after the runs, one model per arm trained on the
    whole training pool, :mod:`nercurve.study.final`).
    """

    model_config = ConfigDict(extra="allow")  # the executors' own tables: [run.<executor>]

    workers: int | None = Field(None, ge=1)
    timeout_s: float = Field(3600.0, gt=0)
    executor: str = "local"
    runs_per_gpu: int = Field(1, ge=1)
    ray_address: str | None = Field(None, min_length=1)
    cpus_per_job: float = Field(1.0, gt=0)
    memory_mb_per_job: int | None = Field(None, ge=1)
    max_retries: int = Field(2, ge=0)
    keep: Literal["none", "best", "final"] = "none"

    @field_validator("executor")
    @classmethod
    def _known_executor(cls, value: str) -> str:
        from nercurve.study.executors import EXECUTORS

        if value not in EXECUTORS:
            raise ValueError(f"unknown executor {value!r}; choose one of: "
                             + ", ".join(sorted(EXECUTORS)))
        return value

    @model_validator(mode="after")
    def _executor_tables(self) -> RunSection:
        """Each table ``[run.<name>]`` validated by its executor's model."""
        from nercurve.study.executors import EXECUTORS

        extra = self.model_extra or {}
        for key, value in list(extra.items()):
            entry = EXECUTORS.get(key)
            model = None if entry is None else entry.section_model()
            if model is None:  # as any unknown key
                raise ValidationError.from_exception_data(
                    "RunSection", [{"type": "extra_forbidden", "loc": (key,), "input": value}])
            try:
                extra[key] = model.model_validate(value)
            except ValidationError as err:  # the same errors, under run.<name>
                raise ValidationError.from_exception_data(err.title, [
                    {"type": e["type"], "loc": (key, *e["loc"]), "input": e["input"],
                     **({"ctx": e["ctx"]} if "ctx" in e else {})} for e in err.errors()
                ]) from None
        return self

    def table(self, executor: str) -> Any:
        """The validated ``[run.<executor>]`` table, or None when the config has none."""
        return (self.model_extra or {}).get(executor)


class TrackingSection(_Strict):
    """Experiment tracking (off by default): one MLflow parent run per study, one child run
    per job. ``uri`` defaults to a SQLite store in the study folder (``mlflow.db``, with
    artifacts in ``mlartifacts/``); ``experiment`` defaults to the study's name."""

    mlflow: bool = False
    uri: str | None = Field(None, min_length=1)
    experiment: str | None = Field(None, min_length=1)


class StudyConfig(_Strict):
    """A whole sample-size study.

    ``task`` names a registered task (:func:`nercurve.tasks.task_names`): ``"ner"`` (entity
    spans, scored by strict entity F1) or ``"classify"`` (document classes, scored by
    ``metric``: ``"macro_f1"`` by default, ``"micro_f1"`` or ``"accuracy"``).
    """

    name: str = "study"
    output: Path = Path("runs/study")
    #: The corpus that the design sizes: ``[corpus]``, or the target of ``[[corpora]]``.
    corpus: CorpusSection
    corpora: list[CorporaEntry] = Field(default_factory=list)
    multitask: MultitaskSection | None = None
    split: SplitSection = Field(default_factory=SplitSection)
    design: DesignSection = Field(default_factory=DesignSection)
    backends: list[BackendEntry] = Field(min_length=1)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    run: RunSection = Field(default_factory=RunSection)
    tracking: TrackingSection = Field(default_factory=TrackingSection)
    external_tests: list[ExternalTestSection] = Field(default_factory=list)
    task: str = "ner"
    metric: str | None = None

    @field_validator("task")
    @classmethod
    def _known_task(cls, value: str) -> str:
        from nercurve.tasks import task_names

        if value not in task_names():
            raise ValueError(f"unknown task {value!r}; known tasks: {', '.join(task_names())}")
        return value

    @model_validator(mode="before")
    @classmethod
    def _target_as_corpus(cls, data: Any) -> Any:
        """With ``[[corpora]]``, ``corpus`` is its target's section (the one place that picks
        the target), so that every single-corpus path reads the target."""
        if not isinstance(data, dict) or not data.get("corpora"):
            return data
        corpora = data["corpora"]
        if "corpus" in data:
            raise _invalid("corpus", "[corpus] and [[corpora]] exclude each other: give the "
                           'study\'s corpus as a [[corpora]] entry with role = "target"',
                           data["corpus"])
        if not isinstance(corpora, list) or not all(isinstance(c, dict) for c in corpora):
            return data  # the field's own validation says what is wrong
        targets = [c for c in corpora if c.get("role") == "target"]
        if len(targets) != 1:
            raise _invalid("corpora", f'exactly one corpus must have role = "target" (found '
                           f"{len(targets)})", corpora)
        own = set(CorporaEntry.model_fields) - set(CorpusSection.model_fields)
        return {**data, "corpus": {k: v for k, v in targets[0].items() if k not in own}}

    @model_validator(mode="after")
    def _corpora(self) -> StudyConfig:
        if not self.corpora:
            if self.multitask is not None:
                raise _invalid("multitask", "[multitask] goes with [[corpora]] that has an "
                               'auxiliary corpus (role = "auxiliary")', None)
            return self
        if self.task != "ner":
            raise _invalid("corpora", '[[corpora]] is for task = "ner"', None)
        names = [c.name for c in self.corpora]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise _invalid("corpora", f"corpus names must be unique; repeated: "
                           f"{', '.join(repeated)}", names)
        clash = sorted(set(names) & {t.name for t in self.external_tests})
        if clash:
            raise _invalid("external_tests", f"external test names must differ from the "
                           f"[[corpora]] names; both use: {', '.join(clash)}", clash)
        if self.multitask is not None and not self.auxiliaries:
            raise _invalid("multitask", "[multitask] needs a [[corpora]] entry with role = "
                           '"auxiliary" (the multi-task arms train on it)', None)
        if "multi" in self.trainings:
            arms = {b.name for b in self.backends}
            taken = sorted(n for n in arms if n.endswith(MULTI_SUFFIX)
                           and n[: -len(MULTI_SUFFIX)] in arms)
            if taken:
                raise _invalid("backends", f"backend name(s) {', '.join(taken)} are the "
                               "multi-task arm of another entry; rename them", taken)
        return self

    @property
    def target(self) -> CorporaEntry | None:
        """The target of ``[[corpora]]`` (``corpus`` holds its section); None: ``[corpus]``."""
        return next((c for c in self.corpora if c.role == "target"), None)

    @property
    def auxiliaries(self) -> list[CorporaEntry]:
        """The auxiliary corpora of ``[[corpora]]``, in the config's order."""
        return [c for c in self.corpora if c.role == "auxiliary"]

    @property
    def trainings(self) -> tuple[str, ...]:
        """The training arms each backend entry gives: ``("single",)`` without auxiliary
        corpora, else ``[multitask] arms`` (default both)."""
        if not self.auxiliaries:
            return ("single",)
        return tuple((self.multitask or MultitaskSection()).arms)

    @property
    def share(self) -> str:
        """How the multi-task arms mix the corpora (``[multitask] share``)."""
        return (self.multitask or MultitaskSection()).share

    @model_validator(mode="after")
    def _task(self) -> StudyConfig:
        from nercurve.tasks import get_task

        task = get_task(self.task)
        if self.metric is not None and task.metrics and self.metric not in task.metrics:
            raise ValueError(f"unknown metric {self.metric!r} for task = {self.task!r}; "
                             f"choose one of: {', '.join(task.metrics)}")
        task.check_config(self)
        return self

    def study_task(self) -> Task:
        """The study's task, with its metric as the outcome."""
        from nercurve.tasks import get_task

        return get_task(self.task, self.metric)

    @model_validator(mode="after")
    def _unique(self) -> StudyConfig:
        names = [b.name for b in self.backends]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"backend names must be unique; repeated: {', '.join(dupes)}")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError("seeds must not repeat")
        if "uncertainty" in self.design.strategies:
            self._check_uncertainty()
        tests = [t.name for t in self.external_tests]
        repeated = sorted({n for n in tests if tests.count(n) > 1})
        if repeated:
            raise ValueError(f"external test names must be unique; repeated: "
                             f"{', '.join(repeated)}")
        return self


    def _check_uncertainty(self) -> None:
        """``[design.uncertainty]`` fits the task and names an arm of the study."""
        settings = self.design.uncertainty_settings
        measures = UNCERTAINTY_MEASURES.get(self.task, ())
        if not measures:
            raise ValueError(f'task = "{self.task}" has no uncertainty measure; use another '
                             "selection strategy")
        if settings.measure is not None and settings.measure not in measures:
            raise ValueError(f"design.uncertainty.measure {settings.measure!r} does not fit "
                             f'task = "{self.task}"; choose one of: {", ".join(measures)}')
        names = [b.name for b in self.backends]
        if settings.selector is not None and settings.selector not in names:
            raise ValueError(f"design.uncertainty.selector {settings.selector!r} names no "
                             f"backend arm; the arms are: {', '.join(names)}")


def _dotted(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + item)
    return "".join(parts) or "(top level)"


def parse_config(data: dict[str, Any], *, source: str | Path = "<config>") -> StudyConfig:
    """Validate a config mapping; errors name the offending key."""
    try:
        return StudyConfig.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        key = _dotted(tuple(first["loc"]))
        problems = "; ".join(f"{_dotted(tuple(e['loc']))}: {e['msg']}" for e in err.errors())
        raise ConfigError(
            f"invalid study config at key '{key}': {problems}",
            file=source,
            hint="fix the key named above; `nercurve init-study` writes a commented example",
        ) from None


def load_config(path: str | Path) -> StudyConfig:
    """Read and validate a study TOML file; relative paths resolve against its folder."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise ConfigError(f"cannot read study config: {err.strerror}", file=path) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError("study config is not UTF-8 text", file=path) from None
    except tomllib.TOMLDecodeError as err:
        found = re.search(r"\(at line (\d+), column \d+\)", str(err))
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(err))
        raise ConfigError(
            f"not valid TOML: {message}",
            file=path,
            line=int(found.group(1)) if found else None,
            hint="check quoting and brackets",
        ) from None
    config = parse_config(data, source=path)
    return resolve_paths(config, path.parent)


def resolve_paths(config: StudyConfig, base: Path) -> StudyConfig:
    """A copy of ``config`` whose relative paths are made absolute against ``base``."""

    def fix(p: Path | None) -> Path | None:
        if p is None:
            return None
        return p if p.is_absolute() else (base / p).resolve()

    corpus = config.corpus.model_copy(update={"path": fix(config.corpus.path)})
    split = config.split.model_copy(
        update={
            "train_file": fix(config.split.train_file),
            "dev_file": fix(config.split.dev_file),
            "test_file": fix(config.split.test_file),
        }
    )
    external = [t.model_copy(update={"path": fix(t.path)}) for t in config.external_tests]
    corpora = [c.model_copy(update={"path": fix(c.path)}) for c in config.corpora]
    return config.model_copy(
        update={"corpus": corpus, "split": split, "output": fix(config.output),
                "external_tests": external, "corpora": corpora}
    )
