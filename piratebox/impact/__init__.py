"""The impact figures: exchanges, purchases avoided, kilos and CO₂e, for the box and, at a
hub, for the network.

logic.py computes them and never imports Flask; views.py shows them, as a page, JSON
and CSV, and takes the mediator's weekly tally.
"""
