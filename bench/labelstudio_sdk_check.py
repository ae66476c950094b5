"""Does label-studio-sdk's own parsing accept the Label Studio tasks nercurve writes? (issue 22)

Run by hand: label-studio-sdk 2.1.2 pins numpy < 2.3 (through opencv-python-headless), so it
cannot join nercurve's environment; it lives in a virtualenv of its own, whose Python this
script is given::

    python -m venv /tmp/lsvenv && /tmp/lsvenv/bin/pip install label-studio-sdk==2.1.2
    python bench/labelstudio_sdk_check.py --sdk-python /tmp/lsvenv/bin/python

In this environment it writes documents (spans, classes, an emoji before a span) as tasks
with annotations and as tasks with predictions, and the labeling config they fit
(``labelstudio.write``, ``labelstudio.labeling_config``). The sdk's interpreter then checks
them with ``LabelInterface``: the config validates, every task's data has the config's
``$text``, every annotation and prediction validates (and a prediction with a label outside
the config is refused, so the check can fail), and the sdk's ``Converter`` turns the tasks,
stamped as an export (task ids, annotators), into its JSON and JSON-MIN exports. Back here,
nercurve reads both exports and must get the documents it wrote. Exit 0 and one line per
step when everything holds.

``--batch TASKS.json`` checks what ``nercurve next-batch --to labelstudio`` wrote instead:
the labeling config beside it (``TASKS.labeling_config.xml``) validates, every task loads
with the config's ``$text`` and every prediction (``--pre-annotate``) validates::

    nercurve next-batch runs/coi --pool unlabeled.jsonl --pre-annotate -o batch.json
    python bench/labelstudio_sdk_check.py --sdk-python /tmp/lsvenv/bin/python --batch batch.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from nercurve.corpus.io import ReadOptions, read_corpus, write_corpus
from nercurve.corpus.labelstudio import labeling_config
from nercurve.corpus.model import Doc, Span

DOCS = [
    Doc("d1", "Aspirin helps Ann Lee. 👍 Ibuprofen too.",
        (Span(0, 7, "Chemical"), Span(14, 21, "Person"), Span(25, 34, "Chemical"))),
    Doc("d2", "Good news & <xml>.", cats={"positive": 1.0, "negative": 0.0}),
]

SDK_SIDE = r'''
import json, sys
from pathlib import Path
from label_studio_sdk.converter import Converter
from label_studio_sdk.label_interface import LabelInterface

folder = Path(sys.argv[1])
config = (folder / "config.xml").read_text(encoding="utf-8")
li = LabelInterface(config)
li.validate()
for name, key in (("tasks.json", "annotations"), ("pre.json", "predictions")):
    tasks = json.loads((folder / name).read_text(encoding="utf-8"))
    for task in tasks:
        assert all(task["data"].get(o.value_name) is not None for o in li.objects), task
        li.load_task(task)
        for item in task[key]:
            errors = li._validate_object(item, return_errors=True)
            assert not errors, errors
    print(f"sdk: {len(tasks)} tasks of {name} valid ({key})")
bad = json.loads((folder / "pre.json").read_text(encoding="utf-8"))[0]["predictions"][0]
bad["result"][0]["value"]["labels"] = ["NotALabel"]
assert li.validate_prediction(bad, return_errors=True), "a wrong label passed"
print("sdk: a prediction with a label outside the config is refused")
tasks = json.loads((folder / "tasks.json").read_text(encoding="utf-8"))
for i, task in enumerate(tasks, 1):
    task["id"] = i
    for ann in task["annotations"]:
        ann.update({"id": 10 * i, "completed_by": {"id": 1, "email": "ann@lab.org"},
                    "created_at": "2026-01-01T00:00:00Z", "lead_time": 1.0})
(folder / "stamped.json").write_text(json.dumps(tasks), encoding="utf-8")
converter = Converter(config, project_dir=None)
converter.convert_to_json(str(folder / "stamped.json"), str(folder / "full"), is_dir=False)
converter.convert_to_json_min(str(folder / "stamped.json"), str(folder / "min"), is_dir=False)
print("sdk: JSON and JSON-MIN exports written by its Converter")
'''

BATCH_SIDE = r'''
import json, sys
from pathlib import Path
from label_studio_sdk.label_interface import LabelInterface

tasks_path, config_path = Path(sys.argv[1]), Path(sys.argv[2])
li = LabelInterface(config_path.read_text(encoding="utf-8"))
li.validate()
tasks = json.loads(tasks_path.read_text(encoding="utf-8"))
predictions = 0
for task in tasks:
    assert all(task["data"].get(o.value_name) is not None for o in li.objects), task
    li.load_task(task)
    for item in task.get("predictions", []):
        errors = li._validate_object(item, return_errors=True)
        assert not errors, errors
        predictions += 1
print(f"sdk: the config validates; {len(tasks)} tasks load, {predictions} predictions valid")
'''


def check_batch(sdk_python: Path, tasks: Path) -> None:
    """Check a ``next-batch`` output with the sdk (see the module docstring)."""
    stem = tasks.with_suffix("")
    config = stem.with_name(stem.name + ".labeling_config.xml")
    if not config.is_file():
        raise SystemExit(f"{config} is missing: give the tasks file next-batch wrote")
    subprocess.run([str(sdk_python), "-c", BATCH_SIDE, str(tasks), str(config)], check=True)


def main() -> None:
    """Write tasks here, check them with the sdk there, read its exports back here."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sdk-python", required=True, type=Path,
                        help="the Python of a virtualenv with label-studio-sdk installed")
    parser.add_argument("--batch", type=Path,
                        help="check these Label Studio tasks written by next-batch instead")
    args = parser.parse_args()
    if args.batch is not None:
        check_batch(args.sdk_python, args.batch)
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_corpus(DOCS, folder / "tasks.json", "labelstudio")
        write_corpus(DOCS, folder / "pre.json", "labelstudio", as_predictions=True,
                     model_version="spacy-200")
        (folder / "config.xml").write_text(labeling_config(DOCS), encoding="utf-8")
        subprocess.run([str(args.sdk_python), "-c", SDK_SIDE, str(folder)], check=True)
        full = read_corpus(folder / "full" / "result.json")
        assert full.docs == DOCS and [d.cats for d in full] == [{}, {"positive": 1.0}]
        print("nercurve: the sdk's JSON export reads back as the documents written")
        minimal = read_corpus(folder / "min" / "result.json",
                              options=ReadOptions(label_column="class"))
        assert [(d.text, d.spans) for d in minimal] == [(d.text, d.spans) for d in DOCS]
        assert minimal[1].cats == {"positive": 1.0}
        print("nercurve: the sdk's JSON-MIN export reads back (task ids as document ids)")
    json.dump({"ok": True}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
