"""Physics-informed solving: A(f) = the PDE residual and its conditions (Raissi et al. 2019).

A problem is data (:class:`Problem`: a :class:`Box` domain, a residual written with
:class:`Derivatives`, conditions, an optional hard constraint, observations, a reference); the
objective is :class:`inrkit.objectives.pde.PDEResidual`; collocation points come from
:class:`CollocationSampler`; :func:`solve` runs Adam then L-BFGS through the one loop
``inrkit.train.fit``. Built-in problems (``PROBLEMS``) carry DeepXDE's example settings.
"""

from .builtins import PROBLEMS, get_problem
from .derivatives import Derivatives, diagonal_jet, supports_forward
from .domains import Box, Interval, Rectangle
from .model import ARCHS, PINN, build_field, build_model
from .problem import Dirichlet, HardConstraint, Initial, Neumann, Observations, Periodic, Problem
from .reference import burgers_cole_hopf, burgers_finite_difference
from .sampling import CollocationSampler, ResidualRefinement
from .solve import RECIPES, SolveConfig, SolveResult, StallDetector, deepxde_config, predict, recipe, relative_l2, solve

__all__ = ["Box", "Interval", "Rectangle", "Problem", "Dirichlet", "Neumann", "Periodic", "Initial",
           "HardConstraint", "Observations", "Derivatives", "diagonal_jet", "supports_forward", "PINN", "ARCHS",
           "build_field", "build_model", "CollocationSampler", "ResidualRefinement", "SolveConfig", "SolveResult",
           "StallDetector", "deepxde_config", "solve", "recipe", "RECIPES", "predict", "relative_l2", "PROBLEMS", "get_problem",
           "burgers_cole_hopf", "burgers_finite_difference"]
