"""A key configured with its own rate (``rate_limit_keys``) may go past the default limit;
every other caller keeps the default."""

from __future__ import annotations

from qala.auth.middleware import RateLimiter


def test_a_configured_key_may_exceed_the_default_rate_while_others_are_held_to_it() -> None:
    limiter = RateLimiter(rate=200, burst=4, per_key={"key:gateway": 10_000})
    others = [limiter.allow("key:other") for _ in range(6)]
    gateway = [limiter.allow("key:gateway") for _ in range(150)]
    assert others[:4] == [0.0] * 4 and all(wait > 0 for wait in others[4:])
    assert gateway == [0.0] * 150  # burst scales with the rate: 4 * 10,000 / 200 = 200
    assert limiter.rate_of("key:gateway") == 10_000
    assert limiter.rate_of("key:other") == 200


def test_the_default_limit_applies_without_configured_keys() -> None:
    limiter = RateLimiter(rate=200, burst=2)
    assert [limiter.allow("jwt:user") for _ in range(2)] == [0.0, 0.0]
    assert limiter.allow("jwt:user") > 0
