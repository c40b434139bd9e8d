"""The model registry: versions' artifacts in S3, their metadata and the active pointer in DynamoDB."""
