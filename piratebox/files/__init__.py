"""The file share: files any phone shares with the village, streamed to disk on upload.

logic.py holds the rules and never imports Flask; names.py says what a file is called and
contains; views.py serves the pages.
"""
