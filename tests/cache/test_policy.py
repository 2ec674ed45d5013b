from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardpoint.cache._policy import jittered_ttl, should_refresh_early


@given(
    ttl=st.floats(min_value=0.001, max_value=1e7),
    jitter=st.floats(min_value=0, max_value=0.5),
    rand=st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_jitter_never_lengthens_and_never_takes_more_than_the_fraction(
    ttl: float, jitter: float, rand: float
) -> None:
    result = jittered_ttl(ttl, jitter, rand)
    assert ttl * (1 - jitter) - 1e-9 <= result <= ttl


def test_zero_jitter_is_exact() -> None:
    assert jittered_ttl(300, 0) == 300


def test_xfetch_refreshes_earlier_for_slow_functions_and_near_expiry() -> None:
    # With U = e^-1, the refresh window is exactly compute_time * beta before expiry.
    u = math.exp(-1)
    assert should_refresh_early(now=99.5, expires_at=100, compute_time=1.0, rand=u)
    assert not should_refresh_early(now=98.5, expires_at=100, compute_time=1.0, rand=u)
    assert not should_refresh_early(now=99.5, expires_at=100, compute_time=0.1, rand=u)
    assert should_refresh_early(now=99.5, expires_at=100, compute_time=0.1, beta=10, rand=u)


def test_xfetch_edges() -> None:
    assert should_refresh_early(now=100, expires_at=100, compute_time=0)
    assert not should_refresh_early(now=99, expires_at=100, compute_time=0)
    assert should_refresh_early(now=0, expires_at=100, compute_time=1, rand=0.0)


@given(
    now=st.floats(min_value=0, max_value=1e6),
    compute=st.floats(min_value=0, max_value=100),
)
def test_xfetch_probability_grows_towards_expiry(now: float, compute: float) -> None:
    expires = 1e6
    trials = [i / 50 for i in range(1, 51)]
    earlier = sum(
        should_refresh_early(now=now, expires_at=expires, compute_time=compute, rand=r)
        for r in trials
    )
    later = sum(
        should_refresh_early(
            now=min(now + 1, expires), expires_at=expires, compute_time=compute, rand=r
        )
        for r in trials
    )
    assert later >= earlier


@pytest.mark.parametrize("rand", [1.0, 0.5])
def test_far_from_expiry_is_never_refreshed(rand: float) -> None:
    assert not should_refresh_early(now=0, expires_at=1e6, compute_time=0.05, rand=rand)
