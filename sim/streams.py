"""One random stream per activity, spawned from the run's seed (common random numbers).

Each activity draws from its own generator, keyed by name, so two scenarios run with the same seed see
the same citizens and the same draws wherever the scenario did not change that activity. Adding an
activity appends a name: existing streams keep their numbers.
"""

from __future__ import annotations

import hashlib

import numpy as np

ACTIVITIES = (
    "arrivals",
    "procedures",
    "geography",
    "segments",
    "channels",
    "reception",
    "effort",
    "supplements",
    "approval",
    "payment",
    "results_return",
    "post",
    "sync",
    "interlinked",
    "digitisation",
    "backlog",
)


class RandomStreams:
    def __init__(self, seed: int, replication: int = 0) -> None:
        self.seed = seed
        self.replication = replication
        # Replication r of seed s is the r-th child of s: replications are independent, runs reproducible.
        root = np.random.SeedSequence(seed).spawn(replication + 1)[replication]
        self._sequences = dict(zip(ACTIVITIES, root.spawn(len(ACTIVITIES)), strict=True))
        self._generators = {name: np.random.default_rng(seq) for name, seq in self._sequences.items()}

    def __getitem__(self, activity: str) -> np.random.Generator:
        try:
            return self._generators[activity]
        except KeyError:
            raise KeyError(f"no random stream for activity {activity!r}; known: {ACTIVITIES}") from None

    def substream(self, activity: str, key: str) -> np.random.Generator:
        """A stream of ``activity`` reserved for ``key`` (e.g. one procedure group), so that a change in
        one group's volume does not shift the draws of any other group."""
        parent = self._sequences[activity]
        key_number = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
        child = np.random.SeedSequence(parent.entropy, spawn_key=(*parent.spawn_key, key_number))
        return np.random.default_rng(child)
