"""What the café prints: the poster (wifi QR, site QR, three steps) and QR labels.

logic.py draws the pages and writes the PDF, qr.py draws the codes; neither imports Flask.
views.py serves them, drawing a poster in a child process; routes.py names their addresses
(views.py is read at the first request to one of them).
"""
