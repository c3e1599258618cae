"""Recommenders behind one interface (:class:`~searec.models.base.Recommender`), by name.

Each model is the file ``searec/models/<name>.py``; ``get_model_class("lightgcn")`` imports just
that one, ``model_classes()`` all of them, ``model_names()`` lists them without importing any.
"""

from searec.models.base import (
           ModelConfigError,
           Recommender,
           get_model_class,
           model_classes,
           model_names,
           register_model,
           resolve_params,
)
from searec.models.inputs import ModelInputs

__all__ = ["ModelConfigError", "ModelInputs", "Recommender", "get_model_class", "model_classes", "model_names",
           "register_model", "resolve_params"]
