"""Retraining: the retrain check, the state machine's steps and the admin API's retraining routes.

- `steps`: the typed payloads of the state machine's steps, the async evaluation run and the schedule.
- `check`: measure the signals, decide (`policies`), start the state machine (one execution at a time).
- `executions`: start an execution, list them; `status`: report one run's status.
- `prepare` (the PrepareData step), from the `base_dataset`, with the training code (`sourcedir`).
- `evaluate` (the Evaluate step) and `evaluations` (asynchronous runs) score (`scoring`) on the `golden` sets.
- `outcome`: the Deploy/Reject/RecordFailure steps and manual deploys, announced on the event bus.
"""
