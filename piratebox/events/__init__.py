"""The local agenda: repair cafés, swaps, Disco Soupe, meetings, markets."""
