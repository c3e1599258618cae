"""VBPR: the item vector is [ID embedding ; projected content], and the content is used."""

from pathlib import Path

import pytest
import torch

from searec.data.mmrec import load_mmrec_folder
from searec.errors import ModelConfigError
from searec.models import ModelInputs
from searec.models.vbpr import VBPR


def test_item_vector_is_id_embedding_then_projected_content(tiny_synth: Path) -> None:
    inputs = ModelInputs.from_dataset(load_mmrec_folder(tiny_synth))
    torch.manual_seed(0)
    model = VBPR(inputs, {"embedding_size": 8})
    users, items = model.ranking_representations()
    assert users.shape == (inputs.n_users, 16) and items.shape == (inputs.n_items, 16)
    content = torch.cat([torch.from_numpy(inputs.features[m]) for m in ("image", "text")], dim=1)
    expected = content @ model.content_projection.weight.T + model.content_projection.bias
    torch.testing.assert_close(items[:, 8:], expected)
    torch.testing.assert_close(items[:, :8], model.item_embedding)
    with pytest.raises(ModelConfigError, match="at least one item modality"):
        VBPR(ModelInputs(inputs.n_users, inputs.n_items, inputs.train_users, inputs.train_items), {})

