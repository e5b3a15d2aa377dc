"""kubediag.text: the edit-distance helpers behind near-miss suggestions."""

from __future__ import annotations

import itertools
import random

from kubediag.text import _within, edit_distance, is_close


def test_within_is_edit_distance_at_most_k() -> None:
    # the banded, capped computation answers exactly `edit_distance <= k`, for every pair of a table of short
    # strings (empty ones, equal ones, lengths that differ by more than k) and random edits of longer ones
    words = ["", "a", "ab", "ba", "abc", "acb", "web", "wbe", "front-end", "frontend", "api-1", "api-2", "xyz"]
    rng = random.Random(14)
    pairs: list[tuple[str, str]] = []
    for _ in range(300):
        source = rng.choice(["orders-service-0012", "billing-api", "kubediag"])
        w = list(source)
        for _ in range(rng.randint(0, 4)):
            i = rng.randrange(len(w))
            op = rng.randint(0, 2)
            if op == 0:
                del w[i]
            elif op == 1:
                w.insert(i, rng.choice("ab-0"))
            else:
                w[i] = rng.choice("ab-0")
        words.append("".join(w))
        pairs.append((source, "".join(w)))
    for a, b in itertools.product(words[:13], words):
        for k in range(4):
            assert _within(a, b, k) == (edit_distance(a, b) <= k), (a, b, k)
    for a, b in [*pairs, *itertools.pairwise(words[13:])]:
        for k in range(4):
            assert _within(a, b, k) == (edit_distance(a, b) <= k), (a, b, k)


def test_is_close() -> None:
    assert is_close("front-end", "frontend")
    assert is_close("Web", "web")
    assert is_close("orders", "ordres")
    assert not is_close("web", "web")
    assert not is_close("web", "database")
