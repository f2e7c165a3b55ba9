"""Sizes, in bytes: the one home of the kilobyte and the megabyte."""

KB = 1024
MB = 1024 * KB
GB = 1024 * MB
