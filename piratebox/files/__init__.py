"""The file share: files any phone shares with the village, streamed to disk on upload.

logic.py holds the rules and never imports Flask; names.py says what a file is called and
contains; views.py serves the pages. stick_views.py is the mediator's page that brings a
stick's folder into the share, read at its first request (stick_routes.py).
"""
