"""Verified feedback.

- `prediction_ids`: a `prediction_id` is `<base64url(json claims)>.<base64url(hmac-sha256(claims))>`; the
  claims hold the model version, the predicted category, the sha256 of the normalised headline, the issue time
  and a nonce. Feedback is accepted only when the HMAC verifies and the headline hashes to the value in the
  claims. Pure: the key is an argument.
- `signing_keys`: the HMAC key, a Secrets Manager secret cached with Powertools' parameters utility.
- `messages`: the feedback queue's message, built by the API side and parsed by the consumer.
- `intake`: the API side: verify a request and queue it.
- `storage`: the consumer side: one TransactWriteItems per feedback puts the feedback item, puts a claim item
  keyed by the prediction id (a second feedback for the same prediction is refused) and bumps the counters; a
  redelivered SQS message fails the conditions as a whole, so nothing is counted twice.
- `counters`: totals, live accuracy and served categories read from the counter items.
- `history`: stored feedback read back as records.
"""
