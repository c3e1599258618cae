"""Recommenders behind one interface (:class:`~searec.models.base.Recommender`), by name.

Importing this package registers every model; ``get_model_class("lightgcn")`` finds one.
"""

from searec.models import bm3, bpr, dragon, dualgnn, freedom, grcn, lattice, lgmrec, lightgcn, mgcn, mmgcn, sea, slmrec, vbpr  # noqa: F401  (import registers the models)
from searec.models.base import (
    MODEL_REGISTRY,
    ModelConfigError,
    ModelInputs,
    Recommender,
    get_model_class,
    register_model,
    resolve_params,
)

__all__ = ["MODEL_REGISTRY", "ModelConfigError", "ModelInputs", "Recommender", "get_model_class",
           "register_model", "resolve_params"]
