"""Backend registry: one line per backend, imported lazily so heavy libraries load when used.

NER backends (``task = "ner"``) predict entity spans; text-classification backends
(``task = "classify"``) predict document classes (the protocols of both:
:mod:`nercurve.backends.base`). A type name may stand for one backend of each task
(``spacy``: a ner pipeline or a textcat pipeline).
"""

from __future__ import annotations

from importlib import import_module

from nercurve.backends.base import Backend, BackendParams, Model, TrainResult
from nercurve.errors import ConfigError

_REGISTRY: dict[str, str] = {
    "spacy": "nercurve.backends.spacy.ner:SpacyBackend",
    "pretrained": "nercurve.backends.spacy.pretrained:PretrainedBackend",
    "hf": "nercurve.backends.hf.ner:HFBackend",
    "gazetteer": "nercurve.backends.gazetteer:GazetteerBackend",
    "llm": "nercurve.backends.llm.ner:LLMBackend",
}
_CLASSIFY_REGISTRY: dict[str, str] = {
    "tfidf": "nercurve.backends.tfidf:TfidfBackend",
    "spacy": "nercurve.backends.spacy.textcat:TextcatBackend",
    "hf": "nercurve.backends.hf.classify:HFClassifyBackend",
    "llm": "nercurve.backends.llm.classify:LLMClassifyBackend",
}
_REGISTRIES = {"ner": _REGISTRY, "classify": _CLASSIFY_REGISTRY}


def backend_names(task: str = "ner") -> list[str]:
    """Names a study config of this ``task`` may use under ``[[backends]] type = ...``."""
    return sorted(_REGISTRIES[task])


def get_backend(name: str, task: str = "ner") -> Backend:
    """An instance of the backend registered under ``name`` for ``task`` (ner or classify).

    ``name`` may also be ``"package.module:Class"``: a backend of the user's own,
    importable in the worker processes, that follows the protocol in ``base`` (``Backend``
    for NER, ``ClassifyBackend`` for classification).
    """
    registry = _REGISTRIES[task]
    target = registry.get(name)
    if target is None and ":" in name:
        target = name
    if target is None:
        raise ConfigError(
            f"unknown backend {name!r}" + (f" for task {task!r}" if task != "ner" else ""),
            hint=f"choose one of: {', '.join(backend_names(task))}, or give 'module:Class'",
        )
    module, _, cls = target.partition(":")
    try:
        backend_cls = getattr(import_module(module), cls)
    except (ImportError, AttributeError) as err:
        if target in registry.values():
            raise
        raise ConfigError(
            f"cannot import backend {name!r}: {err}",
            hint="make the module importable (installed or on PYTHONPATH)",
        ) from None
    return backend_cls()


__all__ = ["Backend", "BackendParams", "Model", "TrainResult", "backend_names", "get_backend"]
