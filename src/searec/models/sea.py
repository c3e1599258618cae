"""SEA: separate learning of generic and unique item representations per modality.

Zhuangzhuang He et al., "It is Never Too Late to Mend: Separate Learning for Multimedia
Recommendation", arXiv 2406.08270; ../shared/docs/SEA.md states the model exactly. Per modality m
(any two item modalities; ``visual`` gets the ``mm_image_weight`` share of the item graph):

* E_m = Linear(d_m → d_m)(F_m) of the frozen raw features; the graph encoder takes
  x_m = Linear(256 → e)(LeakyReLU(Linear(d_m → 256)(E_m))) for items and a free matrix P_m for
  users, row-normalises [P_m; x_m] and sums the layers 0..L of Â propagation: Z_m.
* Items r_i = [Z_v,i; Z_t,i], users r_u = [w_u,v Z_v,u; w_u,t Z_t,u]; then one hop (or
  ``n_mm_layers``) over the frozen kNN item graph S = w S_v + (1 − w) S_t: r_i ← r_i + (S r)_i.
* ``split: input`` (released code): generic G_m / unique Q_m = the two column halves of E_m;
  ``split: output`` (paper text): the two halves of Z_m's item rows.
* Loss = BPR (log base 2) + ureg · mean_m D(G_m, Q_m) + α · InfoNCE(Head_t(G_t), Head_v(G_v)),
  D = max(0, CLUB/2) with a separately trained Gaussian variational net (``club_steps`` Adam
  steps after each backward, on detached inputs, at ``club_learning_rate``: by default the
  training learning rate, as the released trainer) or, with ``distance: neg_l2``, −mean ‖a − b‖²/2.
* Which pairs that net is fitted on (SEA.md): ``club_fit: cross_modal`` (released code, the
  default) fits q(image-generic | text-generic) and q(image-unique | text-unique) although the
  loss evaluates CLUB within each modality; ``within_modality`` (paper text) fits q(unique_m |
  generic_m), the pairs it is evaluated on.

Not copied from the released code (SEA.md): an all-zero feature row gets similarity 0 (there it
divides by a zero norm and the NaN row makes that item every item's kNN neighbour), and the item
graph is keyed by the features' content (there any ``mm_adj_<k>.pt`` in the folder is reused).

Exact shortcut (SEA.md, "Where the time goes"): every consumer of E_m is linear, so E_m need
not be formed; the consumers' outputs are F_m (W_k W_E)ᵀ + (W_k b_E + b_k) with all consumer
weights stacked (width w = Σ_k w_k ≈ 384 instead of d_m = 4096; consumer k reads d_k columns of
E_m, so its part is W_k W_E[columns of k], w_k d_k d multiply-adds). Same parameters, same gradients
up to rounding (a test compares the two). Which order is cheaper depends on the shape: per batch
(forward + backward) the factored order costs ≈ 3 (Σ_k w_k d_k) d + 2 I d w multiply-adds, the
direct one (E_m formed, as the released code does) ≈ 2 I d² + 3 I Σ_k w_k d_k, so ``projection:
auto`` (the default) factors only when I, the item count, is large against w (Baby's 7,050 items:
6.9× fewer; the sample's 238: the direct order is 1.7× cheaper).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import nn
from torch.optim import adam as torch_adam
from torch.profiler import record_function

from searec.models.backbone import GraphModalityEncoder, ModalityGraphModel
from searec.models.base import register_model
from searec.models.declaration import (
    HyperParameter,
    embedding_size,
    knn_k,
    layer_count,
    mm_image_weight,
    modality_roles,
    temperature,
)
from searec.models.inputs import ModelInputs
from searec.models.losses import GaussianVariationalNet, info_nce, pairwise_bpr
from searec.sections import section_defaults

Pair = tuple[torch.Tensor, torch.Tensor]
"""(x, y) rows of the CLUB variational net q(y | x)."""


class ModalityBranch(GraphModalityEncoder):
    """The backbone's modality encoder plus SEA's projection E_m, Solosim head and CLUB projections."""

    def __init__(self, n_users: int, feature_dim: int, params: Mapping[str, Any]) -> None:
        super().__init__(n_users, feature_dim, params["embedding_size"])
        size = params["embedding_size"]
        self.split_input = params["split"] == "input"
        self.projection_order = params["projection"]
        split_width = feature_dim if self.split_input else size
        self.generic_width = split_width // 2
        self.unique_width = split_width - self.generic_width
        self.projection = nn.Linear(feature_dim, feature_dim)
        hidden, out = params["head_hidden"], params["head_out"]
        self.head_in = nn.Linear(self.generic_width, hidden)
        self.head_rest = nn.Sequential(nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                                       nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, out))
        self.generic_to_club = nn.Linear(self.generic_width, params["club_dim"])
        self.unique_to_club = nn.Linear(self.unique_width, params["club_dim"])

    def _linear_consumers(self) -> list[tuple[nn.Linear, slice]]:
        """The linear maps that read E_m, with the columns of E_m each reads."""
        consumers = [(self.encoder_in, slice(0, None))]
        if self.split_input:
            g = self.generic_width
            consumers += [(self.head_in, slice(0, g)), (self.generic_to_club, slice(0, g)),
                          (self.unique_to_club, slice(g, None))]
        return consumers

    def projection_multiply_adds(self, n_items: int) -> dict[str, int]:
        """Multiply-adds of the E_m path per batch, forward + backward, in each order (see the module doc)."""
        d = self.projection.in_features
        consumers = self._linear_consumers()
        width = sum(layer.out_features for layer, _ in consumers)
        read = sum(layer.out_features * layer.in_features for layer, _ in consumers)  # Σ_k w_k d_k
        return {"direct": 2 * n_items * d * d + 3 * n_items * read,
                "factored": 3 * read * d + 2 * n_items * d * width}

    def factored_is_cheaper(self, n_items: int) -> bool:
        """Whether the factored order needs fewer multiply-adds per batch than forming E_m."""
        cost = self.projection_multiply_adds(n_items)
        return cost["factored"] < cost["direct"]

    def uses_factored_order(self, n_items: int) -> bool:
        """The order ``projection`` takes for ``n_items`` items (auto: the cheaper one)."""
        return self.projection_order == "factored" or (self.projection_order == "auto"
                                                       and self.factored_is_cheaper(n_items))

    def consumer_outputs(self, features: torch.Tensor) -> list[torch.Tensor]:
        """Outputs of every linear consumer of E_m = projection(F_m), in :meth:`_linear_consumers` order."""
        consumers = self._linear_consumers()
        if not self.uses_factored_order(features.shape[0]):
            projected = self.projection(features)
            return [layer(projected[:, columns]) for layer, columns in consumers]
        combined, combined_bias = self._combined_map(consumers)
        outputs = torch.addmm(combined_bias, features, combined.T)  # never I × d
        return list(torch.split(outputs, [layer.out_features for layer, _ in consumers], dim=1))

    def _combined_map(self, consumers: list[tuple[nn.Linear, slice]]) -> tuple[torch.Tensor, torch.Tensor]:
        """(W, b) with W = [W_k W_E[columns of k]]_k stacked (Σ w_k × d) and b = [W_k b_E[columns of k] + b_k]_k.

        W_k reads E[:, columns] = F W_E[columns]ᵀ + b_E[columns], so its part costs w_k d_k d multiply-adds,
        not the w_k d² of W_k padded with zero columns to act on all of E. The rows of W_E are split once
        at the consumers' column boundaries into blocks; each block is multiplied once by the stacked
        column pieces of every consumer that reads it (one matmul a block, and W_E's gradient is the
        blocks' gradients put together, never a d × d zero tensor per consumer).
        """
        projection = self.projection
        dim = projection.in_features
        ranges = [columns.indices(dim)[:2] for _, columns in consumers]
        edges = sorted({edge for edge_pair in ranges for edge in edge_pair})
        blocks = list(zip(edges, edges[1:]))
        weight_blocks = torch.split(projection.weight, [stop - start for start, stop in blocks])
        bias_blocks = torch.split(projection.bias, [stop - start for start, stop in blocks])
        parts: list[list[torch.Tensor]] = [[] for _ in consumers]
        bias_parts: list[list[torch.Tensor]] = [[] for _ in consumers]
        for (start, stop), weight_block, bias_block in zip(blocks, weight_blocks, bias_blocks):
            readers = [k for k, (low, high) in enumerate(ranges) if low <= start and stop <= high]
            pieces = [consumers[k][0].weight[:, start - ranges[k][0]: stop - ranges[k][0]] for k in readers]
            stacked = torch.cat(pieces)
            product, bias_product = stacked @ weight_block, stacked @ bias_block
            for k, rows in zip(readers, torch.split(product, [p.shape[0] for p in pieces])):
                parts[k].append(rows)
            for k, rows in zip(readers, torch.split(bias_product, [p.shape[0] for p in pieces])):
                bias_parts[k].append(rows)
        combined = torch.cat([sum(p[1:], p[0]) for p in parts])
        combined_bias = torch.cat([sum(b[1:], b[0]) + layer.bias for b, (layer, _) in zip(bias_parts, consumers)])
        return combined, combined_bias

    def encode(self, features: torch.Tensor, adjacency: torch.Tensor, n_layers: int) -> tuple[torch.Tensor, dict]:
        """Z_m = Σ_{l=0..L} Â^l normalise([P_m; x_m]) and the generic/unique inputs of the auxiliary losses."""
        outputs = self.consumer_outputs(features)
        z = self.propagate(outputs[0], adjacency, n_layers)
        if self.split_input:
            head_pre, club_generic, club_unique = outputs[1], outputs[2], outputs[3]
        else:
            item_z = z[self.user_embedding.shape[0]:]
            generic, unique = item_z[:, : self.generic_width], item_z[:, self.generic_width:]
            head_pre, club_generic, club_unique = (self.head_in(generic), self.generic_to_club(generic),
                                                   self.unique_to_club(unique))
        return z, {"head_pre": head_pre, "a": club_generic, "b": club_unique}


@register_model
class SEA(ModalityGraphModel):
    name = "sea"
    uses_features = True
    hyperparameters = (
        embedding_size(),
        HyperParameter("split", "input", "where generic and unique parts are cut: input = released code (halves "
                                         "of E_m), output = paper text (halves of Z_m)", choices=("input", "output")),
        HyperParameter("distance", "club", "the distance D(G_m, Q_m): CLUB upper bound or -L2/2",
                       choices=("club", "neg_l2")),
        HyperParameter("alpha", 0.012, "weight of the Solosim InfoNCE between the generic parts", minimum=0.0),
        HyperParameter("ureg", 0.006, "weight of the generic-unique distance", minimum=0.0),
        temperature("tau", 0.2, "Solosim InfoNCE temperature"),
        HyperParameter("club_steps", 50, "Adam steps of the CLUB variational net after each batch", minimum=0),
        HyperParameter("club_learning_rate", None, "learning rate of the CLUB variational net (null: the training "
                                                   "learning rate, as the released trainer)", minimum=0.0,
                       exclusive_minimum=True, kind="number", nullable=True),
        HyperParameter("club_fit", "cross_modal", "pairs the CLUB net is fitted on: cross_modal = released code "
                                                  "(q(image part | text part)), within_modality = paper text "
                                                  "(q(unique | generic) per modality)",
                       choices=("cross_modal", "within_modality")),
        HyperParameter("club_dim", 32, "width of the CLUB projections", minimum=1),
        HyperParameter("club_hidden", 8, "hidden width of the CLUB variational net", minimum=1),
        HyperParameter("head_hidden", 64, "hidden width of the Solosim heads", minimum=1),
        HyperParameter("head_out", 32, "output width of the Solosim heads", minimum=1),
        knn_k(), mm_image_weight(),
        layer_count("n_ui_layers", 2, "propagation layers over the user-item graph"),
        layer_count("n_mm_layers", 1, "hops over the frozen item graph"), *modality_roles(),
        HyperParameter("projection", "auto", "how E_m's linear consumers are computed (the same math): factored "
                                             "never forms E_m, direct forms it, auto takes the order with fewer "
                                             "multiply-adds for the item count",
                       choices=("auto", "factored", "direct")))
    # SEA.md: alpha and ureg were never published per dataset
    reference_grid = {"alpha": [0.01, 0.05, 0.1, 0.5, 1.0], "ureg": [0.001, 0.006, 0.01, 0.1]}

    def __init__(self, inputs: ModelInputs, params: Mapping[str, Any]) -> None:
        super().__init__(inputs, params)
        p = self.params
        self.build_backbone(inputs, lambda feature_dim: ModalityBranch(self.n_users, feature_dim, p))
        self.variational_net = GaussianVariationalNet(p["club_dim"], p["club_dim"], p["club_hidden"])
        # lr until the trainer gives its own (use_training_learning_rate): the declared training default
        club_lr = p["club_learning_rate"]
        if club_lr is None:
            club_lr = section_defaults("training")["learning_rate"]
        self.variational_optimizer = torch.optim.Adam(self.variational_net.parameters(), lr=club_lr,
                                                    fused=True)  # as the trainer's (see there)
        self._club_inputs: list[Pair] = []

    # ----------------------------------------------------------------- forward
    def _forward(self) -> tuple[torch.Tensor, torch.Tensor, dict[str, dict]]:
        outputs, zs = {}, []
        for modality in self.modalities:
            z, aux = self.branches[modality].encode(self.modality_features(modality), self.adjacency,
                                                    self.params["n_ui_layers"])
            zs.append(z)
            outputs[modality] = aux
        users, items = self.fuse(zs)
        return users, items, outputs

    def _distance(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if self.params["distance"] == "neg_l2":
            return -((a - b) ** 2).sum(dim=1).mean() / 2
        permutation = torch.randperm(a.shape[0], device=a.device)
        return torch.clamp(self.variational_net.club(a, b, permutation) / 2, min=0.0)

    def loss_terms(self, users: torch.Tensor, pos_items: torch.Tensor, neg_items: torch.Tensor) -> dict[str, torch.Tensor]:
        # record_function labels cost nothing unless a profiler runs (benchmarks/sea_speed.py).
        with record_function("sea.encode"):
            user_repr, item_repr, aux = self._forward()
        with record_function("sea.bpr"):
            user_e = user_repr[users]
            terms = {"bpr": pairwise_bpr(user_e, item_repr[pos_items], item_repr[neg_items], log_base=2)}
        with record_function("sea.solosim"):
            heads = {m: self.branches[m].head_rest(aux[m]["head_pre"]) for m in self.modalities}
            terms["solo"] = self.params["alpha"] * info_nce(heads[self.textual], heads[self.visual], self.params["tau"])
        with record_function("sea.distance"):
            for modality in self.modalities:
                distance = self._distance(aux[modality]["a"], aux[modality]["b"])
                terms[f"{self.params['distance']}_{modality}"] = self.params["ureg"] * distance / 2
        self._club_inputs = self.club_fit_pairs({m: (aux[m]["a"].detach(), aux[m]["b"].detach())
                                                 for m in self.modalities})
        return terms

    def club_fit_pairs(self, parts: Mapping[str, Pair]) -> list[Pair]:
        """The (x, y) pairs the variational net q(y | x) is fitted on, from each modality's (generic, unique)
        CLUB projections: released code (``cross_modal``) [(a_t, a_v), (b_t, b_v)], text to image, generic
        with generic and unique with unique (its trainer.py fits learning_loss(t_trans1, v_trans1) +
        learning_loss(t_trans2, v_trans2)); paper text (``within_modality``) [(a_m, b_m) per modality]."""
        if self.params["club_fit"] == "within_modality":
            return [parts[m] for m in self.modalities]
        (a_t, b_t), (a_v, b_v) = parts[self.textual], parts[self.visual]
        return [(a_t, a_v), (b_t, b_v)]

    def use_training_learning_rate(self, learning_rate: float) -> None:
        if self.params["club_learning_rate"] is None:
            for group in self.variational_optimizer.param_groups:
                group["lr"] = learning_rate

    def after_backward(self) -> dict[str, float]:
        """``club_steps`` maximum-likelihood steps of the variational net on this batch's detached inputs."""
        if self.params["distance"] != "club" or not self._club_inputs:
            return {}
        # Σ_k loglik(x_k, y_k) over pairs with the same row count (all items) equals
        # n_pairs · loglik of the stacked rows: one call per step instead of one per pair. The rows are
        # stacked feature-major (fit_gradients' fast layout): a = a_t.T, read as N × club_dim.
        a = torch.cat([x.T for x, _ in self._club_inputs], dim=1).T
        b = torch.cat([y.T for _, y in self._club_inputs], dim=1).T
        n_pairs = len(self._club_inputs)
        log_likelihood = torch.zeros(())
        steps = self.params["club_steps"]
        for step in range(steps):
            gradients, value = self.variational_net.fit_gradients(a, b, n_pairs, with_value=step == steps - 1)
            if value is not None:  # logged: the fit at the last step's start
                log_likelihood = value
            self._club_adam_step(gradients)
        return {"club_net_loglik": float(log_likelihood)}

    def _club_adam_step(self, gradients: list[torch.Tensor]) -> None:
        """One step of the variational net's Adam with these gradients (of ``variational_net.parameters()``).

        The optimiser's own update, ``torch.optim.adam.adam`` (the function ``Adam.step`` calls), on the
        optimiser's own state and settings, so its state_dict, checkpoints and learning rate stay the
        optimiser's; called directly it skips ``step()``'s per-call bookkeeping (grad lookup, hooks,
        state grouping), which cost several times the update of these ~1,100 numbers. The first step
        goes through ``step()`` to create that state in the optimiser's format.
        """
        optimizer = self.variational_optimizer
        (group,) = optimizer.param_groups
        params = group["params"]
        if not optimizer.state:
            for parameter, gradient in zip(params, gradients):
                parameter.grad = gradient
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            return
        states = [optimizer.state[parameter] for parameter in params]
        with torch.no_grad():
            torch_adam.adam(
                params, gradients, [s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states], [],
                [s["step"] for s in states], foreach=group["foreach"], capturable=group["capturable"],
                differentiable=group["differentiable"], fused=group["fused"], has_complex=False,
                decoupled_weight_decay=group["decoupled_weight_decay"], amsgrad=group["amsgrad"],
                beta1=group["betas"][0], beta2=group["betas"][1], lr=group["lr"], weight_decay=group["weight_decay"],
                eps=group["eps"], maximize=group["maximize"])

    @torch.no_grad()
    def item_parts(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Each modality's (generic, unique) item representations, as the split reads them (eval mode).

        ``split: input``: the two column halves of E_m = projection(F_m); ``split: output``: the
        halves of Z_m's item rows (SEA.md; the paper's Figure 5 draws these).
        """
        self.eval()
        parts = {}
        for modality in self.modalities:
            branch = self.branches[modality]
            features = self.modality_features(modality)
            if branch.split_input:
                represented = branch.projection(features)
            else:
                represented = branch.encode(features, self.adjacency, self.params["n_ui_layers"])[0][self.n_users:]
            parts[modality] = (represented[:, : branch.generic_width], represented[:, branch.generic_width:])
        return parts

    def trainable_parameters(self) -> Iterable[nn.Parameter]:
        own = {id(p) for p in self.variational_net.parameters()}
        return [p for p in self.parameters() if id(p) not in own]

    def ranking_representations(self) -> tuple[torch.Tensor, torch.Tensor]:
        users, items, _ = self._forward()
        return users, items

    # -------------------------------------------- the inner optimiser is model state
    def get_extra_state(self) -> dict[str, Any]:
        return {"variational_optimizer": self.variational_optimizer.state_dict()}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.variational_optimizer.load_state_dict(state["variational_optimizer"])
