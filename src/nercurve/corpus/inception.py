"""INCEpTION / WebAnno: UIMA CAS XMI files (through dkpro-cassis) and export folders.

**An XMI file** is read with its type system: ``TypeSystem.xml`` (or ``typesystem.xml``)
beside it or in a folder above it, up to the export's root (INCEpTION's XMI export puts one
beside every file). The text is the default view's sofa string. The spans are the
annotations of one span layer (``--layer``; :func:`nercurve.corpus.uima.span_layer`): by
default the named-entity layer ``de.tudarmstadt.ukp.dkpro.core.api.ner.type.NamedEntity`` with its
``value`` feature as label, or a custom layer (``webanno.custom.Disease``, or
``webanno.custom.Disease:label`` to name the feature). Other layers are left alone. The
document id is the ``DocumentMetaData`` title (else its id, else the file name); a file
under ``annotation/<doc>/`` or ``curation/<doc>/`` takes ``<doc>``.

**An export folder** (an INCEpTION project export, unpacked, or its ``.zip``) holds
``annotation/<doc>/<user>.xmi`` (or ``.tsv``, WebAnno TSV 3.x: :mod:`nercurve.corpus.webanno`;
or ``<user>.zip`` holding one of them with its type system), one file per annotator, and
``curation/<doc>/CURATION_USER.xmi`` where a document was curated; ``INITIAL_CAS`` files
(the document before annotation) are never read. Each document is read from its curated
file when there is one, else from its one annotator's file; a document that several
annotators annotated and nobody curated is an error naming them, unless ``--annotator NAME``
picks one (``CURATION_USER`` picks the curation). :func:`annotators` lists the users, so that
``nercurve agree FOLDER`` compares them (a document a user did not annotate is left out of
that user's corpus, counted).

Errors (a truncated file, a missing type system, an unknown layer, offsets outside the text)
name the file, and the line where the XML parser stopped.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nercurve.corpus.model import Corpus
from nercurve.corpus.uima import doc_id_of, pick_feature, short_name, span_layer
from nercurve.corpus.validate import Checker, RawSpan
from nercurve.errors import InputError

if TYPE_CHECKING:
    from nercurve.corpus.io import ReadOptions

_METADATA = "de.tudarmstadt.ukp.dkpro.core.api.metadata.type.DocumentMetaData"
_TYPESYSTEMS = ("TypeSystem.xml", "typesystem.xml")
_CURATION = "CURATION_USER"
_INITIAL = "INITIAL_CAS"
_SUFFIXES = (".xmi", ".tsv", ".zip")
# features every annotation has, never a label
_STANDARD = {"sofa", "begin", "end"}


def _typesystem_file(path: Path, root: Path) -> Path | None:
    """``TypeSystem.xml`` beside ``path`` or in a folder above it, up to ``root``."""
    folder = path.parent
    while True:
        for name in _TYPESYSTEMS:
            if (folder / name).is_file():
                return folder / name
        if folder == root or folder.parent == folder or root not in folder.parents:
            return None
        folder = folder.parent


def _line_of(err: Exception) -> int | None:
    position = getattr(err, "position", None)
    return position[0] if position else getattr(err, "lineno", None)


def read_xmi(path: Path, root: Path, checker: Checker) -> tuple[str, str, list[RawSpan]]:
    """One XMI file: its document id, text and the spans of the chosen layer."""
    import cassis
    from lxml import etree

    where = str(path)
    ts_path = _typesystem_file(path, root)
    if ts_path is None:
        raise checker.error(
            "no type system beside the XMI file (TypeSystem.xml)", None,
            "export from INCEpTION as UIMA CAS XMI (it writes TypeSystem.xml beside each "
            "file), or copy the project's TypeSystem.xml next to the file", where)
    try:
        with ts_path.open("rb") as fh:
            typesystem = cassis.load_typesystem(fh)
        with path.open("rb") as fh, warnings.catch_warnings():
            # offsets outside the text: the checker reports them with the file
            warnings.simplefilter("ignore", UserWarning)
            cas = cassis.load_cas_from_xmi(fh, typesystem=typesystem, lenient=False)
    except etree.XMLSyntaxError as err:
        file = err.filename or where
        with Path(file).open("rb") as fh:  # a whole XMI file ends with its root's end tag
            fh.seek(max(0, Path(file).stat().st_size - 200))
            truncated = b"</xmi:XMI>" not in fh.read()
        raise checker.error(
            f"not well-formed XML: {err.msg}" + ("; is the file truncated?" if truncated
                                                 else ""),
            _line_of(err), "export the document again", file) from None
    except cassis.typesystem.TypeNotFoundError as err:
        raise checker.error(
            f"the XMI uses a type its type system lacks: {err}", None,
            f"use the TypeSystem.xml exported with this file ({ts_path} was read)",
            where) from None
    except (ValueError, KeyError, AttributeError, TypeError) as err:
        raise checker.error(f"not a UIMA CAS XMI file: {err}", None,
                            "export the document from INCEpTION as UIMA CAS XMI", where
                            ) from None
    text = cas.sofa_string or ""
    type_name, feature = span_layer(checker.options.layer)

    def error(message: str, hint: str) -> InputError:
        return checker.error(message, None, hint, where)

    if not typesystem.contains_type(type_name):
        layers = sorted(t.name for t in typesystem.get_types()
                        if _is_span_layer(typesystem, t)
                        and t.name not in (_METADATA, "uima.tcas.DocumentAnnotation"))
        raise error(f"unknown layer {type_name}",
                    "the type system's span layers: " + (", ".join(layers) or "none")
                    + "; name one with --layer TYPE[:FEATURE]")
    features = [f.name for f in typesystem.get_type(type_name).all_features
                if f.name not in _STANDARD]
    feature = pick_feature(type_name, feature, features, error)
    doc_id = doc_id_of(path) or _metadata_id(cas, typesystem) or path.stem
    spans = []
    for fs in cas.select(type_name):
        label = fs.get(feature) if feature else short_name(type_name)
        spans.append(RawSpan(fs.begin, fs.end, "" if label is None else str(label), None,
                             None, f"{short_name(type_name)} {fs.xmiID}"))
    return doc_id, text, spans


def _is_span_layer(typesystem: Any, t: Any) -> bool:
    return typesystem.subsumes("uima.tcas.Annotation", t.name)


def _metadata_id(cas: Any, typesystem: Any) -> str | None:
    """The document's title (else id) in its DKPro ``DocumentMetaData``, if any."""
    if not typesystem.contains_type(_METADATA):
        return None
    for fs in cas.select(_METADATA):
        for name in ("documentTitle", "documentId"):
            value = fs.get(name)
            if value:
                return str(value)
    return None


def is_export(path: Path) -> bool:
    """Whether a folder is an INCEpTION/WebAnno export (or a folder of XMI files)."""
    return (path / "annotation").is_dir() or (path / "curation").is_dir() or any(
        path.rglob("*.xmi"))


def _files(path: Path) -> dict[str, dict[str, Path]]:
    """document -> user -> file of an export folder (curation under ``CURATION_USER``)."""
    docs: dict[str, dict[str, Path]] = {}
    for top in ("annotation", "curation"):
        for file in sorted((path / top).glob("*/*")):
            if file.suffix.lower() in _SUFFIXES and file.stem != _INITIAL:
                user = _CURATION if top == "curation" else file.stem
                docs.setdefault(file.parent.name, {})[user] = file
    if not docs:  # a plain folder of XMI files: one document each
        for file in sorted(path.rglob("*.xmi")):
            docs[file.relative_to(path).with_suffix("").as_posix()] = {"": file}
    return docs


@contextmanager
def _unpacked(archive: Path, checker: Checker) -> Iterator[Path]:
    """A zip archive's members in a temporary folder; the errors and notices raised while it
    is read name the archive (``export.zip/annotation/...``), not the folder."""
    import tempfile
    import zipfile

    with tempfile.TemporaryDirectory(prefix="nercurve-zip-") as tmp:
        folder = Path(tmp).resolve()
        try:
            with zipfile.ZipFile(archive) as zf:
                for member in zf.namelist():
                    if folder not in (folder / member).resolve().parents:
                        raise checker.error(f"the archive holds a member outside itself: "
                                            f"{member!r}", None, "unpack it by hand and check "
                                            "it", str(archive))
                zf.extractall(folder)
        except (zipfile.BadZipFile, EOFError) as err:
            raise checker.error(f"not a readable zip archive ({err}); is it truncated?", None,
                                "export the project again", str(archive)) from None
        known = len(checker.notices)
        try:
            yield folder
        except InputError as err:
            err.file = _shown(err.file, folder, archive)
            err.message = err.message.replace(str(folder), str(archive))
            raise
        finally:
            for i in range(known, len(checker.notices)):
                notice = checker.notices[i]
                checker.notices[i] = replace(notice, file=_shown(notice.file, folder, archive),
                                             message=notice.message.replace(str(folder),
                                                                            str(archive)))


def _shown(file: str | None, folder: Path, archive: Path) -> str | None:
    if file is None or not file.startswith(str(folder)):
        return file
    return str(archive) + file[len(str(folder)):]


def annotators(path: Path, options: ReadOptions) -> list[str]:
    """The users of an export folder or zip (curation aside), sorted; none for a file."""
    if path.suffix.lower() == ".zip":
        with _unpacked(path, Checker(path, options)) as folder:
            return annotators(folder, options)
    if not path.is_dir():
        return []
    return sorted({u for users in _files(path).values() for u in users} - {"", _CURATION})


def read(path: Path, options: ReadOptions) -> Corpus:
    """Read an XMI file, an INCEpTION export folder or its zip (see the module doc)."""
    checker = Checker(path, options)
    if path.suffix.lower() == ".zip":
        with _unpacked(path, checker) as folder:
            _read_export(folder, checker)
            return checker.corpus(str(path))
    if not path.is_dir():
        root = path.parent.parent.parent if doc_id_of(path) else path.parent
        _read_file(path, root, checker, None)
        return checker.corpus(str(path))
    _read_export(path, checker)
    return checker.corpus(str(path))


def _read_export(path: Path, checker: Checker) -> None:
    """Read an export folder's documents (see the module doc)."""
    options = checker.options
    files = _files(path)
    if not files:
        raise checker.error(
            "the folder holds no annotation/<doc>/<user>.xmi (or .tsv) and no .xmi file",
            hint="point at an unpacked INCEpTION project export or a folder of XMI files")
    wanted = options.annotator
    if wanted is not None and not any(wanted in users for users in files.values()):
        names = sorted({u for users in files.values() for u in users} - {""})
        raise checker.error(f"no annotation by {wanted!r}",
                            hint=f"the export holds annotations by: {', '.join(names)}")
    for doc, users in files.items():
        if wanted is not None:
            if wanted not in users:
                checker.notice("not-annotated-by", f"document {doc!r} has no annotation by "
                               f"{wanted!r}: left out", doc_id=doc)
                continue
            file = users[wanted]
        elif _CURATION in users:
            file = users[_CURATION]
        elif len(users) == 1:
            file = next(iter(users.values()))
        else:
            raise checker.error(
                f"document {doc!r} has annotations by {len(users)} annotators "
                f"({', '.join(users)}) and no curation", None,
                "read one annotator's with --annotator NAME, or compare them: nercurve agree "
                "FOLDER", str(path / "annotation" / doc))
        _read_file(file, path, checker, doc if file.parent.name == doc else None)


def _read_file(file: Path, root: Path, checker: Checker, doc: str | None) -> None:
    if file.suffix.lower() == ".zip":  # one user's document zipped with its type system
        with _unpacked(file, checker) as folder:
            inner = sorted(f for f in folder.rglob("*") if f.suffix.lower() in (".xmi", ".tsv"))
            if len(inner) != 1:
                raise checker.error(f"the archive holds {len(inner)} .xmi or .tsv files, not "
                                    "one", None, "export the project again", str(file))
            _read_file(inner[0], folder, checker, doc or doc_id_of(file))
        return
    if file.suffix.lower() == ".tsv":
        from nercurve.corpus import webanno

        text, spans, sentences = webanno.parse(file, checker)
        checker.add_doc(doc or doc_id_of(file) or file.stem, text, spans, file=str(file),
                        sentences=sentences)
        return
    doc_id, text, spans = read_xmi(file, root, checker)
    checker.add_doc(doc or doc_id, text, spans, file=str(file))
