"""The Faust app, the CLI, HTTP views, metrics and the local Kafka manager: the only layer with I/O."""
