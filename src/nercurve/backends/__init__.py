"""Backend registry: one line per backend, imported lazily so heavy libraries load when used."""

from __future__ import annotations

from importlib import import_module

from nercurve.backends.base import Backend, BackendParams, Model, TrainResult
from nercurve.errors import ConfigError

_REGISTRY: dict[str, str] = {
    "spacy": "nercurve.backends.spacy_ner:SpacyBackend",
    "pretrained": "nercurve.backends.pretrained:PretrainedBackend",
    "hf": "nercurve.backends.hf:HFBackend",
    "gazetteer": "nercurve.backends.gazetteer:GazetteerBackend",
    "llm": "nercurve.backends.llm:LLMBackend",
}


def backend_names() -> list[str]:
    """Names a study config may use under ``[[backends]] type = ...``."""
    return sorted(_REGISTRY)


def get_backend(name: str) -> Backend:
    """An instance of the backend registered under ``name``.

    ``name`` may also be ``"package.module:Class"``: a backend of the user's own,
    importable in the worker processes, that follows the protocol in ``base``.
    """
    target = _REGISTRY.get(name)
    if target is None and ":" in name:
        target = name
    if target is None:
        raise ConfigError(
            f"unknown backend {name!r}",
            hint=f"choose one of: {', '.join(backend_names())}, or give 'module:Class'",
        )
    module, _, cls = target.partition(":")
    try:
        backend_cls = getattr(import_module(module), cls)
    except (ImportError, AttributeError) as err:
        if target in _REGISTRY.values():
            raise
        raise ConfigError(
            f"cannot import backend {name!r}: {err}",
            hint="make the module importable (installed or on PYTHONPATH)",
        ) from None
    return backend_cls()


__all__ = ["Backend", "BackendParams", "Model", "TrainResult", "backend_names", "get_backend"]
