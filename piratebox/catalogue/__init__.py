"""The give-box catalogue: offers (give, lend, swap) and requests, with photos.

logic.py holds the rules and never imports Flask; views.py and the API adapt them.
"""
