"""Hypothesis profiles shared by every property and stateful suite.

``ci`` (the default) runs each stateful machine for at least 200 examples of up
to 50 steps, derandomized so a CI failure reproduces on any machine. ``fuzz``
(``make fuzz``: ``--hypothesis-profile=fuzz``) runs 2,000 examples of up to 100
steps with fresh randomness and the example database, so a long run keeps what
it found. ``dev`` is a quick loop while writing a machine. Tests that set their
own ``max_examples`` keep it; everything else inherits the loaded profile.
"""

from hypothesis import HealthCheck, settings

_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]

settings.register_profile(
    "ci", max_examples=200, stateful_step_count=50, deadline=None, derandomize=True,
    database=None, suppress_health_check=_QUIET, print_blob=True,
)
settings.register_profile(
    "fuzz", max_examples=2_000, stateful_step_count=100, deadline=None,
    suppress_health_check=_QUIET, print_blob=True,
)
settings.register_profile(
    "dev", max_examples=20, stateful_step_count=20, deadline=None, suppress_health_check=_QUIET,
)
# The pytest plugin's --hypothesis-profile (applied after this file) overrides the default.
settings.load_profile("ci")
