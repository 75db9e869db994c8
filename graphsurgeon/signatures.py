"""SignatureDefs: which tensors a SavedModel (or a MetaGraphDef) serves."""
from __future__ import annotations

from .errors import NotFoundError, UsageError

DEFAULT_SIGNATURE = "serving_default"


def signature_outputs(g, signature: str | None = None) -> list[str]:
    """The output tensor names of SignatureDef ``signature`` (``serving_default`` unless told).

    Raises:
        UsageError: the graph has no signatures, or the signature no outputs.
        NotFoundError: no signature of that name (with the closest names).
    """
    signatures = g.signatures
    if not signatures:
        raise UsageError(f"{g.where}: has no signatures; name the outputs with --outputs")
    key = signature or DEFAULT_SIGNATURE
    if key not in signatures:
        raise NotFoundError("signature", key, signatures.keys(), where=g.where)
    outs = [info["name"] for info in signatures[key]["outputs"].values() if info["name"]]
    if not outs:
        raise UsageError(f"signature {key!r} has no outputs")
    return outs
