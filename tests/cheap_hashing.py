"""Argon2id with small cost parameters, for tests that sign in many times.

The hashes are real argon2id hashes (the parameters travel inside each
hash); only the work factor is lowered, so a test run stays fast.
"""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from app import auth


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    hasher = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    monkeypatch.setattr(auth, "_hasher", hasher)
    monkeypatch.setattr(auth, "_DUMMY_HASH", hasher.hash("eclor-dummy-password"))
