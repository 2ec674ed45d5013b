"""Type-checked by mypy, never run: pins what users' type checkers see."""

from __future__ import annotations

from typing import assert_type

from hardpoint.cache import CacheStrategy, cached

__test__ = False  # not a test module for pytest; mypy checks it


@cached("t:price", ttl=30)
def price(sku: str, qty: int = 1) -> float:
    return 1.0


@cached("t:user", ttl=CacheStrategy.API_MEDIUM)
async def get_user(user_id: int) -> dict[str, str]:
    return {}


class Repo:
    @cached("t:m", ttl=30)
    def get(self, user_id: int) -> str:
        return ""

    @cached("t:am", ttl=30)
    async def aget(self, user_id: int) -> list[int]:
        return []

    @cached("t:s", ttl=30)
    @staticmethod
    def static(x: int) -> int:
        return x


async def check() -> None:
    assert_type(price("a"), float)
    assert_type(price("a", qty=2), float)
    assert_type(price.key("a"), str)
    assert_type(price.invalidate("a"), bool)
    assert_type(price.uncached("a"), float)
    assert_type(await get_user(1), dict[str, str])
    assert_type(await get_user.invalidate(1), bool)
    assert_type(await get_user.uncached(1), dict[str, str])
    assert_type(get_user.key(1), str)
    repo = Repo()
    assert_type(repo.get(1), str)
    assert_type(repo.get.key(1), str)
    assert_type(await repo.aget(1), list[int])
    assert_type(Repo.static(1), int)
    price(1)  # type: ignore[arg-type]  # the exact signature is kept: sku is a str
    repo.get("x")  # type: ignore[arg-type]  # and methods keep theirs minus self
    await get_user()  # type: ignore[call-arg]  # missing argument is caught
