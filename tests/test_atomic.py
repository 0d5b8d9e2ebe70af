import json
import math

import numpy as np
import torch

from inrkit.atomic import write_json


def test_write_json_is_standard_json_with_null_for_non_finite(tmp_path):
    obj = {"psnr": math.inf, "loss": float("nan"), "low": -math.inf, "np": np.float32(2.5), "t": torch.tensor(1.5),
           "nested": [{"x": np.float64("inf")}, 3, "text"], 7: "int key"}
    write_json(tmp_path / "m.json", obj)
    text = (tmp_path / "m.json").read_text()
    assert "Infinity" not in text and "NaN" not in text
    back = json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))  # strict
    assert back == {"psnr": None, "loss": None, "low": None, "np": 2.5, "t": 1.5,
                    "nested": [{"x": None}, 3, "text"], "7": "int key"}
    assert not list(tmp_path.glob(".m.json.*"))  # no temporary left behind
