"""The board: short messages from the village, the PirateBox shoutbox grown up."""
