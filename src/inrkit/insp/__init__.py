"""INSP: processing an implicit representation without decoding it (Xu et al. 2022, NeurIPS).

An operator is a pointwise function ``Pi`` of the frozen field's jet (``inrkit.ops.taylor``):
:class:`JetReadout` is ``Pi`` (learned MLP or hand-set closed form), :class:`INSPOperator` the
resulting field. :mod:`inrkit.insp.tasks` holds the tasks' pixel maths and the classical methods;
the workflows (fitting, training, applying, the benchmark) live in :mod:`inrkit.apps.insp`.
"""

from .operator import INSPOperator, JetReadout, order_norms, scaled_jet, scaled_jet_map, unit_scales
from .tasks import TASKS

__all__ = ["INSPOperator", "JetReadout", "order_norms", "scaled_jet", "scaled_jet_map", "unit_scales", "TASKS"]
