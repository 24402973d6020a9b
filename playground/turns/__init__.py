"""The turn's domain: what a turn is, how it is stored and started, its errors,
whether it is alive, what a blind comparison hides of it, and the request it is
generated from. Synchronous, database-bound code that every screen and the
streaming runtime use.

Layering (tests/test_layering.py): `turns` imports no screen package
(conversations, compare, api, accounts, prompts) and not `streaming`; `streaming`
depends on `turns` and on no screen package.
"""
