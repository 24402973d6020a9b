"""The playground's settings, for the test process and the servers the tests start.

Only what no test is about changes here. Django's PBKDF2 hasher spends ~0.5 s of
CPU on every password it makes or checks (its point: slowing an attacker); the
suite makes and checks a few hundred (users per test, every browser test's log-in
through the form, in its server), minutes of CPU spent on nothing under test.
MD5 is Django's own advice for tests; every path that makes and checks passwords
still runs, with a cheap hash."""

from playground.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
