"""Reading and writing annotated corpora: options, format detection and the format registry.

``read_corpus(path)`` detects the format from the file when none is given and returns a
:class:`~nercurve.corpus.model.Corpus` whose ``notices`` list every repair made while
reading. ``write_corpus(docs, path)`` picks the format from the file suffix. Each format
lives in its own module (``pubtator``, ``conll``, ``brat``, ``jsonl``, ``docbin``, ``bioc``,
``hfdatasets``, the i2b2/n2c2 releases ``i2b2concepts`` (2010) and ``i2b2deid`` (2014), and for
text classification ``table`` (CSV/TSV), ``textdirs`` (a folder of text files per class) and
``i2b2smoking`` (2006)) with a ``read(path, options) -> Corpus`` function and, where the format can
hold documents, a ``write(docs, path) -> None`` function. Annotation tools' exports:
``labelstudio`` (Label Studio JSON and JSON-MIN), ``inception`` (UIMA CAS XMI, one file or an
INCEpTION export folder) and ``webanno`` (WebAnno TSV 3.x); an export that holds several
annotators gives one corpus per annotator through :func:`read_annotations`.

When the format was guessed, an error met while reading says which format was assumed and
that ``--format`` names another.
"""

from __future__ import annotations

import importlib
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any, Literal, get_args

from nercurve.corpus.model import Corpus, Doc
from nercurve.errors import InputError

#: The formats a corpus can be read from (the CLI's --format choices and the config's).
ReadFormat = Literal[
    "pubtator", "conll", "brat", "jsonl", "docbin", "bioc", "hfdatasets", "table", "textdirs",
    "i2b2smoking", "i2b2concepts", "i2b2deid",
    "labelstudio", "inception", "webanno",
]
#: The formats a corpus can be written to (the CLI's --to choices).
WriteFormat = Literal["jsonl", "conll", "docbin", "pubtator", "bioc", "labelstudio"]
READ_FORMATS: tuple[str, ...] = get_args(ReadFormat)
WRITE_FORMATS: tuple[str, ...] = get_args(WriteFormat)
FOLDER_FORMATS = ("brat", "hfdatasets", "textdirs", "i2b2concepts", "i2b2deid", "inception")

# The reading policies, declared here once: ReadOptions, the CLI's flags and the study
# config's [corpus] section take their choices from these (the first is the default).
OverlapPolicy = Literal["error", "longest", "first"]
MismatchPolicy = Literal["error", "strip", "skip", "relocate"]
DuplicateIdPolicy = Literal["error", "keep-first"]
EmptyDocPolicy = Literal["error", "skip"]
DiscontinuousPolicy = Literal["error", "hull", "first-fragment", "split"]
TagScheme = Literal["auto", "iob1", "iob2", "bioes"]

#: ReadOptions field -> the policy it takes.
POLICIES: dict[str, Any] = {
    "overlap": OverlapPolicy,
    "mismatch": MismatchPolicy,
    "duplicate_ids": DuplicateIdPolicy,
    "empty_docs": EmptyDocPolicy,
    "discontinuous": DiscontinuousPolicy,
    "scheme": TagScheme,
}

_SUFFIX_FORMATS = {
    ".jsonl": "jsonl",
    ".conll": "conll",
    ".iob": "conll",
    ".bio": "conll",
    ".tsv": "conll",
    ".spacy": "docbin",
    ".pubtator": "pubtator",
    ".txt": "pubtator",
    ".xml": "bioc",
    ".json": "bioc",
    ".parquet": "hfdatasets",
    ".csv": "table",
    ".xmi": "inception",
}
# files a Hugging Face datasets folder (save_to_disk) holds
_HF_MARKERS = ("dataset_info.json", "state.json", "dataset_dict.json")


@dataclass(frozen=True)
class ReadOptions:
    """How a reader checks and repairs what it reads (the same flags on every command).

    - ``label_map``: rename labels (applied first), e.g. ``{"Modifier": "Disease"}``.
    - ``labels``: keep only spans with these (mapped) labels; others are dropped with a
      counted notice, or are an error under ``strict``.
    - ``overlap``: overlapping or nested spans are an ``error``, or only the ``longest``
      (ties: the one first in the file) or the ``first`` in the file is kept.
    - ``mismatch``: a mention text that differs from the text at its offsets is an
      ``error`` (all of them reported at once), or (``strip``) whitespace at the mention
      edges is stripped, offsets are moved inwards past whitespace, and the span is accepted
      when they then agree; ``skip`` drops it; ``relocate`` strips, keeps a mention that
      differs in letter case only at its offsets, else moves it to the nearest occurrence
      of its text within ``validate.RELOCATE_WINDOW`` (100) characters, else drops it (an
      error under ``strict``). Every repair is counted.
    - ``strict``: repairs without a policy of their own (a dangling ``I-`` tag, a label
      outside ``labels``, an exactly repeated span) become errors.
    - ``duplicate_ids``: a repeated document id is an ``error`` or the first is kept.
    - ``empty_docs``: a document without text is an ``error`` or skipped.
    - ``discontinuous`` (brat): a discontinuous span is an ``error``, becomes its
      ``hull`` (first start to last end), its ``first-fragment``, or is ``split`` into
      one span per fragment.
    - ``token_col``, ``tag_col``, ``scheme``, ``sentences_per_doc`` (CoNLL/IOB): the
      0-based token and tag columns (negative counts from the end), the tag scheme
      (``auto`` reads BIOES when E-/S- tags occur, else IOB2), and, for files without
      ``-DOCSTART-`` lines, how many consecutive sentences make one document (also the
      rows of a Hugging Face dataset).
    - ``tag_names`` (Hugging Face datasets): the tag of each class number of ``ner_tags``,
      in order (``("O", "B-Gene", "I-Gene")``), for files that do not name their classes.
    - ``text_column``, ``label_column``, ``id_column``, ``label_sep`` (CSV/TSV tables): the
      header names of the text, class and (optional) id columns, and the separator of several
      classes in one cell (multi-label data; ``None``: one class per cell). Label Studio
      reads the text from ``data[text_column]``, the document id from ``data[id_column]``
      and, in JSON-MIN, a class given as a plain string from ``label_column``.
    - ``annotator`` (Label Studio, INCEpTION/WebAnno export folders): read this annotator's
      annotations (its e-mail or user id; an INCEpTION user name).
    - ``layer`` (INCEpTION XMI, WebAnno TSV): the span layer read as entities, as
      ``type`` or ``type:feature`` (default: the named-entity layer
      ``de.tudarmstadt.ukp.dkpro.core.api.ner.type.NamedEntity``, feature ``value``); a custom
      layer's type name is enough when it has one feature (its label), or none (its spans
      take the layer's name, ``Disease``, as label).

    Document classes (``cats``) follow ``label_map`` and ``labels`` as spans do: a class
    outside ``labels`` is dropped and counted, or is an error under ``strict``.
    """

    label_map: dict[str, str] = field(default_factory=dict)
    labels: frozenset[str] | None = None
    overlap: OverlapPolicy = "error"
    mismatch: MismatchPolicy = "error"
    strict: bool = False
    duplicate_ids: DuplicateIdPolicy = "error"
    empty_docs: EmptyDocPolicy = "error"
    discontinuous: DiscontinuousPolicy = "error"
    token_col: int = 0
    tag_col: int = -1
    scheme: TagScheme = "auto"
    sentences_per_doc: int = 1
    tag_names: tuple[str, ...] | None = None
    text_column: str = "text"
    label_column: str = "label"
    id_column: str = "id"
    label_sep: str | None = None
    annotator: str | None = None
    layer: str | None = None

    def __post_init__(self) -> None:
        for name, policy in POLICIES.items():
            value, choices = getattr(self, name), get_args(policy)
            if value not in choices:
                raise InputError(
                    f"unknown {name.replace('_', '-')} policy {value!r}",
                    hint=f"choose one of: {', '.join(choices)}",
                )
        if self.sentences_per_doc < 1:
            raise InputError(
                f"sentences per document must be at least 1, not {self.sentences_per_doc}",
                hint="pass --sentences-per-doc 1 (each sentence a document) or more",
            )
        if self.labels is not None:
            object.__setattr__(self, "labels", frozenset(self.labels))
        if self.tag_names is not None:
            object.__setattr__(self, "tag_names", tuple(self.tag_names))


def parse_label_map(text: str | None) -> dict[str, str]:
    """Parse ``"A=B,C=B"`` into ``{"A": "B", "C": "B"}`` (``None`` or ``""`` gives ``{}``)."""
    mapping: dict[str, str] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        old, sep, new = item.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise InputError(
                f"bad label map entry {item!r}",
                hint="write OLD=NEW pairs separated by commas, e.g. "
                "--label-map SpecificDisease=Disease,Modifier=Disease",
            )
        if old.strip() in mapping and mapping[old.strip()] != new.strip():
            raise InputError(
                f"label {old.strip()!r} is mapped twice in the label map",
                hint="map each label to one target",
            )
        mapping[old.strip()] = new.strip()
    return mapping


def parse_labels(text: str | None) -> frozenset[str] | None:
    """Parse ``"A,B"`` into ``frozenset({"A", "B"})`` (``None`` or ``""`` keeps every label)."""
    if text is None or not text.strip():
        return None
    return frozenset(t.strip() for t in text.split(",") if t.strip())


def _module(fmt: str) -> ModuleType:
    return importlib.import_module(f"nercurve.corpus.{fmt}")


def detect_format(path: str | Path) -> str:
    """Tell a corpus file's format from its suffix or, failing that, its first lines."""
    path = Path(path)
    if path.is_dir():
        if any((path / name).is_file() for name in _HF_MARKERS):
            return "hfdatasets"
        if _module("inception").is_export(path):
            return "inception"
        if any(path.rglob("*.ann")):
            return "brat"
        if any(path.rglob("*.con")):
            return "i2b2concepts"
        first_xml = next(iter(sorted(path.rglob("*.xml"))), None)
        if first_xml is not None and _xml_format(_head(first_xml)) == "i2b2deid":
            return "i2b2deid"
        if _module("textdirs").is_textdirs(path):
            return "textdirs"
        raise InputError(
            "a folder is read as brat standoff, but it holds no .ann files",
            file=path,
            hint="point at a folder of .txt + .ann pairs, a Hugging Face datasets folder "
            "(save_to_disk), a folder of .txt files per class, i2b2 .txt + .con files or "
            "i2b2 2014 .xml files, or at a corpus file",
        )
    if not path.exists():
        raise InputError("no such file", file=path, hint="check the path")
    suffix = path.suffix.lower()
    if suffix in (".spacy", ".docbin"):
        return "docbin"
    if suffix == ".ann" or (suffix == ".txt" and path.with_suffix(".ann").is_file()):
        return "brat"
    if suffix == ".con" or (suffix == ".txt" and path.with_suffix(".con").is_file()):
        return "i2b2concepts"
    if suffix == ".csv":
        return "table"
    if suffix == ".zip":
        return "inception"
    with path.open("rb") as fh:
        head = fh.read(65536)
    if head[:4] == b"PAR1":
        return "hfdatasets"
    if head[:1] == b"\x78":  # zlib stream: spaCy's DocBin.to_bytes()
        try:
            head.decode("utf-8")
        except UnicodeDecodeError:
            return "docbin"
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    if "http://www.omg.org/XMI" in text:
        return "inception"
    if text.startswith("#FORMAT=WebAnno TSV"):
        return "webanno"
    if re.match(r"\s*\[\s*[{\]]", text):  # a JSON list of objects: Label Studio tasks
        return "labelstudio"
    if _is_bioc(text):
        return "bioc"
    if xml_format := _xml_format(text):
        return xml_format
    lines = re.split(r"\r\n|\r|\n", text)
    if len(head) == 65536 and len(lines) > 1:
        lines.pop()  # possibly cut short
    lines = [ln for ln in lines if ln.strip()][:20]
    if not lines:
        raise InputError("the file is empty", file=path, hint="check the path")
    if lines[0].lstrip().startswith("{"):
        return "jsonl"
    if re.match(r"^[^|\t]+\|[ta]\|", lines[0]):
        return "pubtator"
    tag = re.compile(r"^(O|[BIESUL]-\S.*)$")
    if all(
        ln.startswith("-DOCSTART-") or tag.match(ln.split("\t" if "\t" in ln else None)[-1])
        for ln in lines
    ):
        return "conll"
    if suffix in (".tsv", ".tab") and "text" in (c.strip().lower() for c in lines[0].split("\t")):
        return "table"  # a header row naming a text column: a classification table
    if suffix in _SUFFIX_FORMATS:
        return _SUFFIX_FORMATS[suffix]
    raise InputError(
        "cannot tell the corpus format from the file",
        file=path,
        hint=f"name it with --format ({', '.join(READ_FORMATS)})",
    )


def _head(path: Path) -> str:
    """A file's first characters (for telling its format)."""
    with path.open("rb") as fh:
        return fh.read(4096).decode("utf-8", errors="replace").lstrip("\ufeff")


def _xml_format(head: str) -> str | None:
    """The i2b2 XML format whose root a file's first characters open, if any."""
    if _module("i2b2smoking").is_smoking_xml(head):
        return "i2b2smoking"
    if _module("i2b2deid").is_deid_xml(head):
        return "i2b2deid"
    return None


def _is_bioc(head: str) -> bool:
    """Whether a file's first characters open a BioC collection (XML or JSON)."""
    start = head.lstrip()
    if start.startswith("<"):
        return "<collection" in head
    return start.startswith("{") and bool(
        re.search(r'"documents"\s*:\s*\[', head) and '"passages"' in head
    )


def read_corpus(
    path: str | Path, fmt: str | None = None, options: ReadOptions | None = None
) -> Corpus:
    """Read an annotated corpus; ``fmt`` is detected from the file when ``None``.

    Raises :class:`~nercurve.errors.InputError` (with file, line and a hint) for input
    that breaks a rule and has no repair policy; every repair made is a
    :class:`~nercurve.corpus.model.Notice` in ``corpus.notices``.
    """
    path = Path(path)
    guessed = fmt is None
    fmt = fmt or detect_format(path)
    if fmt not in READ_FORMATS:
        raise InputError(
            f"unknown corpus format {fmt!r}", hint=f"choose one of: {', '.join(READ_FORMATS)}"
        )
    if not path.exists():
        raise InputError("no such file or folder", file=path, hint="check the path")
    if path.is_dir() and fmt not in FOLDER_FORMATS:
        raise InputError(
            f"a folder cannot be read as {fmt}", file=path, hint="point at the corpus file"
        )
    try:
        return _module(fmt).read(path, options or ReadOptions())
    except InputError as err:
        if guessed:
            said = f"read as {fmt}, the format guessed from the file: if it is another, name "
            said += f"it with --format ({', '.join(READ_FORMATS)})"
            err.hint = f"{err.hint}; {said}" if err.hint else said
        raise
    except OSError as err:
        raise InputError(
            f"cannot read: {err.strerror or err}",
            file=err.filename or path,
            hint="check that the file exists and is readable",
        ) from None


def read_annotations(
    path: str | Path, fmt: str | None = None, options: ReadOptions | None = None
) -> list[Corpus]:
    """One corpus per annotator of an export that holds several (a Label Studio export, an
    INCEpTION export folder; each corpus's ``source`` names its annotator), else the one
    corpus :func:`read_corpus` reads. ``options.annotator`` names one: its corpus alone."""
    path = Path(path)
    options = options or ReadOptions()
    if options.annotator is not None or not path.exists():
        return [read_corpus(path, fmt, options)]
    named = fmt or detect_format(path)
    module = _module(named) if named in READ_FORMATS else None
    if not hasattr(module, "annotators"):
        return [read_corpus(path, fmt, options)]
    try:
        names = module.annotators(path, options)  # type: ignore[union-attr]
    except (InputError, OSError):  # a broken export: read_corpus reports it, as for any file
        return [read_corpus(path, fmt, options)]
    if len(names) < 2:
        return [read_corpus(path, fmt, options)]
    corpora = []
    for name in names:
        corpus = read_corpus(path, fmt, replace(options, annotator=name))
        corpus.source = f"{path} ({name})"
        corpora.append(corpus)
    return corpora


def format_for_output(path: str | Path) -> str:
    """The writer format a file suffix names."""
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIX_FORMATS:
        raise InputError(
            f"cannot tell the output format from the suffix {suffix!r}",
            file=path,
            hint="use .jsonl, .conll/.iob/.tsv, .spacy, .pubtator or .xml/.json (BioC), or "
            "name the format",
        )
    return _SUFFIX_FORMATS[suffix]


def write_corpus(
    corpus_or_docs: Corpus | Iterable[Doc],
    path: str | Path,
    fmt: str | None = None,
    **writer_options: Any,
) -> None:
    """Write documents in ``fmt`` (from the suffix of ``path`` when ``None``); the options
    go to the format's writer (Label Studio: ``as_predictions``, ``model_version``).

    The file is written next to its destination and moved into place only when complete,
    so a document that the format cannot hold never leaves a half-written file behind.
    """
    path = Path(path)
    fmt = fmt or format_for_output(path)
    if fmt not in WRITE_FORMATS:
        raise InputError(
            f"cannot write the format {fmt!r}", hint=f"choose one of: {', '.join(WRITE_FORMATS)}"
        )
    docs = list(corpus_or_docs)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # the suffix kept: a writer may tell a variant by it (BioC: .json or XML)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    except OSError as err:
        raise InputError(
            f"cannot write: {err.strerror or err}", file=path, hint="check the output folder"
        ) from None
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        _module(fmt).write(docs, Path(tmp), **writer_options)
        os.replace(tmp, path)
    except InputError as err:
        err.file = str(path)  # name the destination, not the temporary file
        raise
    except OSError as err:
        raise InputError(
            f"cannot write: {err.strerror or err}", file=path, hint="check the output folder"
        ) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
