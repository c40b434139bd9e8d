"""Retraining: the retrain check, the state machine's steps and the admin API's retraining routes.

- `check`: measure the signals, decide (`policies`), start the state machine (one execution at a time).
- `executions`: start an execution, report its status.
- `prepare`, `sourcedir`: the PrepareData step and the training job's code.
- `evaluate`: the Evaluate step (candidate vs active); `evaluations`: asynchronous evaluation runs.
- `outcome`: the Deploy/Reject/RecordFailure steps and manual deploys, announced on the event bus.
"""
