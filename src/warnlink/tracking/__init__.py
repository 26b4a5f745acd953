"""Multi-target ballistic missile tracking: motion models, Kalman filters, measurement models,
association and metrics. Knows nothing of NATS or files: reports in, tracks out."""
