"""Server interceptors, in chain order: metrics (outermost, so it sees every outcome), auth,
errors (innermost, so domain exceptions become rich statuses before metrics read the code)."""
