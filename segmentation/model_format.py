"""A fitted frequency model as portable bytes: a JSON document, never a pickle.

The GLM is its coefficients and its inputs' vocabulary, in JSON (floats written to the last
bit, so a model read back predicts exactly what it did). Boosted trees are serialised with
skops (a format for scikit-learn models that loads only the types it is told to trust), its
bytes in the JSON document as base64.

Models stored by the versions before this format were pickles; loading one would run
whatever code it holds, and it breaks across scikit-learn upgrades. They are recognised by
their first byte and never loaded (LegacyModelFormat): the caller refits.
"""

from __future__ import annotations

import base64
import json

from .glm import GlmTable

FORMAT = "crm-frequency-model"
FORMAT_VERSION = 2
# What skops may build when loading boosted trees, besides numpy and scikit-learn's own
# estimators: the types HistGradientBoostingRegressor holds once fitted.
TRUSTED = frozenset(
    {
        "functools.partial",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.utils.validation.check_array",
    }
)
_FIELDS = (
    "version",
    "kind",
    "data_window",
    "n_rows",
    "n_policies",
    "portfolio_rate",
    "reference_frequency",
    "credibility_k",
    "metrics",
    "note",
    "inputs",
    "vocabulary",
    "product_mix",
)


class LegacyModelFormat(ValueError):
    """The bytes are a model stored by an older version (a pickle): not loaded, to be refitted."""


def is_legacy(data: bytes) -> bool:
    """Whether stored model bytes are an older version's pickle (protocol 2+ starts with 0x80)."""
    return bytes(data[:1]) == b"\x80"


def dumps(model) -> bytes:
    """The model as a JSON document (UTF-8 bytes)."""
    doc = {"format": FORMAT, "format_version": FORMAT_VERSION, **{name: getattr(model, name) for name in _FIELDS}}
    doc["inputs"], doc["product_mix"] = list(model.inputs), list(model.product_mix)
    doc["glm"] = model.glm.to_dict() if model.glm is not None else None
    doc["trees_skops"] = None
    if model.estimator is not None:
        import skops.io  # only for trees: importing it took 3 s of a worker's first partition (see loads)

        doc["trees_skops"] = base64.b64encode(skops.io.dumps(model.estimator)).decode("ascii")
    return json.dumps(doc, default=_plain, ensure_ascii=False, allow_nan=True).encode("utf-8")


def _plain(value):
    """numpy scalars and arrays in metrics, as JSON's numbers and lists."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON: {type(value).__name__}")


def loads(data: bytes) -> dict:
    """The FittedModel's fields of dumps' bytes (risk_model.FittedModel.from_bytes builds it).
    Raises LegacyModelFormat on an older version's pickle (which is not loaded), ValueError on
    anything else that is not this format."""
    data = bytes(data)
    if is_legacy(data):
        raise LegacyModelFormat("the model was stored by an older version (a pickle); it is not loaded")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a stored frequency model: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError("not a stored frequency model")
    if doc.get("format_version") != FORMAT_VERSION:
        raise LegacyModelFormat(f"stored model format {doc.get('format_version')} is not {FORMAT_VERSION}")
    trees = None
    if doc.get("trees_skops"):
        # Imported only for trees: a GLM is plain JSON, and skops' import (it walks every
        # loaded module) took 3.4 s of each worker's first partition at 1M under load.
        import skops.io

        raw = base64.b64decode(doc["trees_skops"])
        untrusted = set(skops.io.get_untrusted_types(data=raw))
        if untrusted - TRUSTED:
            raise ValueError(f"stored trees hold untrusted types: {sorted(untrusted - TRUSTED)}")
        trees = skops.io.loads(raw, trusted=sorted(untrusted))
    values = {name: doc[name] for name in _FIELDS}
    values["inputs"], values["product_mix"] = tuple(doc["inputs"]), tuple(doc["product_mix"])
    glm = GlmTable.from_dict(doc["glm"]) if doc.get("glm") else None
    return {**values, "estimator": trees, "glm": glm}
