"""The commented example config of a text-classification study (``nercurve init-study --task
classify``, ``nercurve demo --task classify``)."""

EXAMPLE_CLASSIFY_STUDY = """\
# nercurve text-classification study config. Relative paths are relative to this file.
# Run it with:  nercurve run study.toml
# Analyse it:   nercurve report runs/smoking -o report.html
name = "smoking-demo"
output = "runs/smoking"      # one folder per study: results.sqlite, design.csv, ...
task = "classify"            # document classes instead of entity spans
metric = "macro_f1"          # the outcome: "macro_f1", "micro_f1" or "accuracy"
seeds = [0]                  # training seeds; [0, 1, 2] trains every subset three times

[corpus]
path = "smoking.jsonl"       # JSONL ("label", "labels" or "cats"), CSV/TSV, DocBin, or a folder
                             # of .txt files per class
# labels = ["CURRENT", "PAST", "NEVER", "UNKNOWN"]  # keep only these classes
# options = { text_column = "note", label_column = "status" }  # CSV/TSV column names

[split]
test = 0.3                   # fraction of documents held out for the test set
dev = 0.1                    # fraction used as the fixed dev set for model selection
seed = 0
stratify = true              # every part gets the class shares of the whole corpus

[design]
unit = "documents"           # examples: a classification study draws documents
strata = [[20, 60], [61, 120], [121, 180], [181, 240], [241, 300]]
subsets_per_stratum = 3
seed = 0
# stratify_labels = true     # each subset keeps the pool's class shares (then the
                             # minority-class share hardly varies and is not modelled)

[[backends]]
name = "tfidf"               # the label this arm gets in results and figures
type = "tfidf"               # TF-IDF + logistic regression: the fast, strong floor

[[backends]]
name = "spacy-bow"
type = "spacy"               # a spaCy textcat; architecture "ensemble" (bag of words + CNN)
                             # or "bow"
[backends.params]
architecture = "bow"
max_steps = 600
eval_frequency = 100
patience = 300
batch_start = 1000           # words per batch (about 10 notes)
batch_stop = 1000

# [[backends]]
# name = "minilm"
# type = "hf"                # a transformer with a classification head
# params = { model = "minilm", epochs = 4, learning_rate = 2e-4, batch_size = 16, max_length = 256 }

[run]
# workers = 2                # default: number of cores (GPUs when an arm uses one)
timeout_s = 3600             # a job running longer is stopped and recorded as failed
# keep = "final"             # keep models: "best" (per stratum and arm) or "final"
                             # (one per arm on the whole pool); see `nercurve predict`
"""
