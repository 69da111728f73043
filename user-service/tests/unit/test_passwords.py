"""Password hashing: argon2id, verification, the dummy hash for unknown users, upgrades."""

from __future__ import annotations

from user_service.passwords import Passwords
from user_service.settings import Settings

CHEAP = {"argon2_time_cost": 1, "argon2_memory_cost_kib": 1024, "argon2_parallelism": 1}


async def test_hash_verifies_only_the_right_password() -> None:
    passwords = Passwords(Settings(**CHEAP))
    stored = await passwords.hash("correct horse")
    assert stored.startswith("$argon2id$")
    assert await passwords.verify(stored, "correct horse")
    assert not await passwords.verify(stored, "wrong horse")


async def test_unknown_user_is_refused_after_the_same_work() -> None:
    passwords = Passwords(Settings(**CHEAP))
    assert not await passwords.verify(None, "feedline-dummy-password")
    assert not await passwords.verify(None, "anything")


async def test_garbage_hash_is_a_refusal_not_an_error() -> None:
    assert not await Passwords(Settings(**CHEAP)).verify("not-a-hash", "x")


async def test_hashes_with_old_parameters_are_flagged_for_upgrade() -> None:
    old = await Passwords(Settings(**CHEAP)).hash("pw")
    stronger = Passwords(Settings(**{**CHEAP, "argon2_time_cost": 2}))
    assert await stronger.verify(old, "pw")
    assert stronger.needs_rehash(old)
    assert not stronger.needs_rehash(await stronger.hash("pw"))


async def test_default_costs_hash_with_argon2_recommended_parameters() -> None:
    defaults = {
        name: Settings.model_fields[name].default
        for name in ("argon2_time_cost", "argon2_memory_cost_kib", "argon2_parallelism")
    }
    assert defaults == {
        "argon2_time_cost": 3,
        "argon2_memory_cost_kib": 65536,
        "argon2_parallelism": 4,
    }
    stored = await Passwords(Settings(**defaults)).hash("pw")
    assert "$m=65536,t=3,p=4$" in stored
