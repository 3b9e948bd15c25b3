"""Which configs can train together as the members of one pack (sweep's grid points, tune's trials), and the
one config that trains them."""
from __future__ import annotations

import json

from nnintro.config import MAX_MEMBERS, PER_MEMBER, Config, validate


def pack_groups(configs: list[Config]) -> list[list[int]]:
    """Indices of the configs that can train as one pack: equal in everything but the per-member values (a
    config that trains one model at a time, such as the numpy engine's, is a group of its own)."""
    groups: dict[str, list[int]] = {}
    for index, config in enumerate(configs):
        if not config.packable:
            groups[f"alone {index}"] = [index]
            continue
        document = config.model_dump(mode="json")
        document.pop("name")
        for key in PER_MEMBER:
            section, _, field = key.rpartition(".")
            (document[section] if section else document).pop(field)
        groups.setdefault(json.dumps(document, sort_keys=True), []).append(index)
    return [group[start:start + MAX_MEMBERS] for group in groups.values()
            for start in range(0, len(group), MAX_MEMBERS)]  # a pack holds at most MAX_MEMBERS


def pack_config(configs: list[Config], name: str) -> Config:
    """One run training these configs as its members (member k = configs[k]); a single config as it is."""
    if len(configs) == 1:
        return configs[0]
    vary = {key: [config.value(key) for config in configs] for key in PER_MEMBER}
    document = configs[0].model_dump(mode="json")
    document["name"] = name
    document["train"].update(members=len(configs), vary={k: v for k, v in vary.items() if k == "seed" or len(set(v)) > 1})
    return validate(document)
