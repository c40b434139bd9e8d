"""One thin module per Lambda function: parse the event, call core, shape the response."""
