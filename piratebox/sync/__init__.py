"""Sync between a box and its hub by USB stick: bundles, enrolment, records set aside.

Its logic is several modules, none importing Flask: bundle.py (the file), records.py (which
records travel, how one is merged), engine.py (export, import), enrolment.py, history.py,
quarantine.py, stick.py (the whole round trip). views.py is the mediator's sync page,
routes.py its addresses (views.py is read at the first request to one of them).
"""
