"""Sweeps and packs at their limits: more same-shape points than a pack holds, fields that cannot vary."""
from __future__ import annotations

import pytest

from nnintro.config import MAX_MEMBERS, ConfigError, load_config, validate
from nnintro.training.packs import pack_groups


def test_more_same_shape_points_than_a_pack_holds_train_as_several_packs():
    base = validate({}).model_dump(mode="json")
    configs = []
    for index in range(MAX_MEMBERS + 76):
        base["optimizer"]["lr"] = 1e-4 * (index + 1)
        configs.append(validate(base))
    assert [len(group) for group in pack_groups(configs)] == [MAX_MEMBERS, 76]


def test_a_field_that_cannot_vary_says_so_in_one_line():
    with pytest.raises(ConfigError) as caught:
        load_config(None, ["train.members=2", "train.vary={model.hidden: [[8], [16]]}"])
    message = str(caught.value)
    assert "model.hidden: cannot differ between members" in message and "and 1 more" not in message
