"""The classifier that scores a functaset: one MLP recipe for modulations, latents and pixels.

Functa sec. 4.2 classifies modulations with an MLP; the same MLP on raw pixels is the
baseline. Training runs through :func:`inrkit.train.fit`: :class:`EpochBatches` as the
sampler, :class:`NoisyClassification` as the objective, a cosine schedule stepped per epoch.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..batch import Batch
from ..nn import init as I
from ..train import schedules
from ..train.fit import fit
from ..train.progress import Progress
from .epochs import EpochBatches


class NoisyClassification:
    """Cross-entropy with label smoothing on inputs with Gaussian noise added (a data augmentation).

    Reads ``batch.coords (B, D)`` (standardised inputs) and ``batch.targets (B,)`` (class
    indices). The noise ``noise * N(0, I)`` is drawn from torch's global generator, as are
    the model's dropout masks, so a run is fixed by seeding it (``torch.manual_seed``).
    """

    def __init__(self, noise: float = 0.5, label_smoothing: float = 0.1):
        self.noise, self.label_smoothing = noise, label_smoothing

    def __call__(self, net: nn.Module, batch: Batch) -> dict[str, Tensor]:
        x = batch.coords
        if self.noise > 0:
            x = x + self.noise * torch.randn_like(x)
        loss = nn.functional.cross_entropy(net(x), batch.targets, label_smoothing=self.label_smoothing)
        return {"loss": loss}


def mlp(in_dim: int, classes: int, hidden: int = 1024, dropout: float = 0.5,
        generator: torch.Generator | None = None) -> nn.Sequential:
    """Two hidden ReLU layers of ``hidden`` units, dropout after each; torch's default init from ``generator``."""
    net = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Dropout(dropout),
                        nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout),
                        nn.Linear(hidden, classes))
    for m in net:
        if isinstance(m, nn.Linear):
            I.torch_default_linear_(m.weight, m.bias, generator)
    return net


def mlp_accuracy(xtr: Tensor, ytr: Tensor, xte: Tensor, yte: Tensor, hidden: int = 1024, epochs: int = 100,
                 seed: int = 0, dropout: float = 0.5, noise: float = 0.5, label_smoothing: float = 0.1,
                 weight_decay: float = 1e-4, batch_size: int = 128, progress: bool = False,
                 label: str = "classifier") -> float:
    """Test accuracy of an MLP with two hidden ReLU layers, the same recipe for every input.

    Inputs are standardised on the training split; training adds Gaussian noise of std
    ``noise`` to the standardised inputs (a data augmentation that works on any vector
    input), dropout after each hidden layer, label smoothing, AdamW 1e-3 with a cosine
    decay over ``epochs`` (stepped once per epoch), batches of 128. On 4,000 MNIST training
    digits this recipe took modulations from 93.8 % (plain 2 x 256, 40 epochs) to 95.7 %,
    pixels from 93.6 % to 94.8 % (docs/benchmarks.md).

    ``seed`` fixes the initial weights and the epoch permutations (a ``torch.Generator``) and,
    through a forked global generator, the noise and dropout masks; the caller's global
    random state is left as it was.
    """
    g = torch.Generator().manual_seed(seed)
    mu, sd = xtr.mean(0), xtr.std(0).clamp_min(1e-6)
    xtr, xte = (xtr - mu) / sd, (xte - mu) / sd
    classes = int(max(int(ytr.max()), int(yte.max())) + 1)
    with torch.random.fork_rng():
        net = mlp(xtr.shape[1], classes, hidden, dropout, g)  # nn.Linear's own init draws from the global generator
        opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=weight_decay)
        batches = EpochBatches(xtr, ytr, batch_size)
        sched = schedules.per_epoch(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, epochs), opt,
                                    len(batches))
        torch.manual_seed(seed)  # dropout masks and input noise
        fit(net, batches, NoisyClassification(noise, label_smoothing), steps=epochs * len(batches), optimizer=opt,
            scheduler=sched, generator=g, callbacks=[Progress(label, progress)])
    net.eval()
    with torch.no_grad():
        return float((net(xte).argmax(1) == yte).float().mean())
