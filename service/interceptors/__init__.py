"""Server interceptors, in chain order: the stream writer (first, so its writer is what grpc runs),
metrics (so it sees every outcome), admission (stream and RPC budgets; its refusals are counted),
auth, errors (domain exceptions become rich statuses before metrics read the code), decoding."""
