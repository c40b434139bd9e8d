"""The model registry.

- `versions`: `ModelRegistry`, one item per version in the models table and the active pointer: register,
  activate (conditional on the pointer's revision), reject, record evaluations, load a version to serve.
- `artifacts`: a version's files in the artifacts bucket (bundle and model.tar.gz) and S3 URIs.
- `archives`: model.tar.gz and the model directory inside it (pure file work).
- `active_model`: the active version and its categories, cached for a minute (Powertools parameters), for
  the feedback API, which checks corrections against them but never loads the model.
- `retraining_lock`: one retraining at a time, a conditional lock item in the models table.
"""
