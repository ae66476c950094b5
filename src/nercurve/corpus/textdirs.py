"""A folder of text files per class, for text classification: ``ROOT/<CLASS>/<name>.txt``.

Each subfolder of the root names a class, and each ``.txt`` file in it (at any depth) is a
document of that class, read as UTF-8, with the file name without ``.txt`` as its id. The
same file name under several class folders is one document with several classes
(multi-label data); its texts must then be the same. Files that are not ``.txt`` and files
directly in the root are left out, with a counted notice. Folder and file order is sorted,
so a corpus reads the same on every machine.

Errors name the file: text that is not UTF-8 (with its line), one id with different texts in
two classes. An empty file follows ``empty_docs``; a class outside ``labels`` is dropped and
counted (an error under ``strict``), and a document left without a class is then left out.

Format detection reads a folder as text files per class when it holds no ``.ann`` files and
no Hugging Face datasets markers, and its subfolders hold ``.txt`` files.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from nercurve.corpus.model import Corpus
from nercurve.corpus.validate import Checker, read_text

if TYPE_CHECKING:
    from nercurve.corpus.io import ReadOptions

SUFFIX = ".txt"


def is_textdirs(root: Path) -> bool:
    """Whether a folder looks like text files per class (subfolders holding ``.txt`` files)."""
    return any(
        sub.is_dir() and any(sub.rglob(f"*{SUFFIX}")) for sub in root.iterdir()
    )


def read(path: Path, options: ReadOptions) -> Corpus:
    """Read a folder of text files per class (see the module docstring)."""
    checker = Checker(path, options)
    texts: dict[str, tuple[str, Path]] = {}
    classes: dict[str, list[str]] = {}
    for item in sorted(path.iterdir()):
        if not item.is_dir():
            checker.notice("file-skipped", f"{item.name} lies in the root, not in a class "
                           "folder; left out", file=str(item))
            continue
        for file in sorted(p for p in item.rglob("*") if p.is_file()):
            if file.suffix.lower() != SUFFIX:
                checker.notice("file-skipped", f"{file.relative_to(path)} is not a {SUFFIX} "
                               "file; left out", file=str(file))
                continue
            doc_id, text = file.stem, read_text(file)
            if doc_id in texts and texts[doc_id][0] != text:
                raise checker.error(
                    f"document {doc_id!r} is in class folders {texts[doc_id][1].parent.name!r} "
                    f"and {item.name!r} with different texts",
                    hint="rename one of the files (a file name is the document id); the same "
                    "file in two class folders is one document with both classes",
                    file=str(file),
                )
            texts.setdefault(doc_id, (text, file))
            classes.setdefault(doc_id, []).append(item.name)
    if not texts:
        raise checker.error(
            f"the folder holds no {SUFFIX} files in class subfolders",
            hint=f"lay the corpus out as ROOT/<CLASS>/<name>{SUFFIX}",
        )
    for doc_id, (text, file) in texts.items():
        checker.add_doc(doc_id, text, [], file=str(file),
                        cats=dict.fromkeys(classes[doc_id], 1.0))
    checker.skip_unclassified()
    return checker.corpus(source=str(path))
