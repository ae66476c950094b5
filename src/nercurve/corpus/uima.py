"""What the INCEpTION XMI and WebAnno TSV readers share: the span layer that ``--layer``
names, the feature that holds its labels, and the document of a file in an export folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from nercurve.errors import InputError

NAMED_ENTITY = "de.tudarmstadt.ukp.dkpro.core.api.ner.type.NamedEntity"
"""The named-entity layer, read by default (label: its ``value`` feature)."""


def span_layer(option: str | None) -> tuple[str, str | None]:
    """The layer type and feature (None: to be found) that ``--layer`` names."""
    if not option:
        return NAMED_ENTITY, "value"
    name, _, feature = option.partition(":")
    if name == NAMED_ENTITY and not feature:
        return NAMED_ENTITY, "value"
    return name.strip(), feature.strip() or None


def pick_feature(type_name: str, feature: str | None, features: list[str],
                 error: Callable[[str, str], InputError]) -> str | None:
    """The label feature of a layer: the one named, else the one feature it has (the
    standard ``identifier`` of named entities aside); None for a layer without features of
    its own, whose spans take the layer's name (:func:`short_name`) as label."""
    if feature is not None:
        if feature not in features:
            raise error(f"layer {type_name} has no feature {feature!r}",
                        f"its features: {', '.join(features) or 'none'}")
        return feature
    own = [f for f in features if f != "identifier"]
    if not own:
        return None
    if len(own) != 1:
        raise error(f"layer {type_name} has {len(own)} features ({', '.join(own) or 'none'}): "
                    "which holds the label?",
                    f"name it: --layer {type_name}:FEATURE")
    return own[0]


def doc_id_of(path: Path) -> str | None:
    """``<doc>`` of a file at ``annotation/<doc>/<user>`` or ``curation/<doc>/<user>``."""
    if path.parent.parent.name in ("annotation", "curation"):
        return path.parent.name
    return None


def short_name(type_name: str) -> str:
    """A layer's name without its package: the label of a layer without features."""
    return type_name.rsplit(".", 1)[-1]
