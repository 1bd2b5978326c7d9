"""Generated protobuf and gRPC code for the flopwatt.v1 API (do not edit: `make proto`)."""
