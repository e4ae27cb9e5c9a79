"""A permutation builder: see README.md."""
