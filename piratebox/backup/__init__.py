"""The mediator's backup on a stick, and the restore that rebuilds a box from it.

logic.py writes a backup, restore.py reads one back; neither imports Flask. views.py holds
the sync page's backup actions, read at the first request to one of routes.py's addresses.
"""
