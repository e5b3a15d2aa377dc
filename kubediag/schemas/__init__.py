"""JSON Schemas of kubediag's outputs, shipped with the package."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any


def load(name: str) -> dict[str, Any]:
    """`load("svc-report")` -> the parsed schema."""
    text = resources.files(__package__).joinpath(f"{name}.schema.json").read_text()
    result: dict[str, Any] = json.loads(text)
    return result
