"""`make bench`: our model against the reference scikit-learn models on the standard splits.

run.py orchestrates; every measurement runs in a fresh single-threaded subprocess (worker.py).
"""
