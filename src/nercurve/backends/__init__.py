"""Backend registry: one line per backend, imported lazily so heavy libraries load when used."""

from __future__ import annotations

from importlib import import_module

from nercurve.backends.base import Backend, BackendParams, Model, TrainResult
from nercurve.errors import ConfigError

_REGISTRY: dict[str, str] = {
    "spacy": "nercurve.backends.spacy_ner:SpacyBackend",
    "pretrained": "nercurve.backends.pretrained:PretrainedBackend",
    "hf": "nercurve.backends.hf:HFBackend",
}


def backend_names() -> list[str]:
    """Names a study config may use under ``[[backends]] type = ...``."""
    return sorted(_REGISTRY)


def get_backend(name: str) -> Backend:
    """An instance of the backend registered under ``name``."""
    try:
        target = _REGISTRY[name]
    except KeyError:
        raise ConfigError(
            f"unknown backend {name!r}",
            hint=f"choose one of: {', '.join(backend_names())}",
        ) from None
    module, cls = target.split(":")
    return getattr(import_module(module), cls)()


__all__ = ["Backend", "BackendParams", "Model", "TrainResult", "backend_names", "get_backend"]
