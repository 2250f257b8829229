"""The Kafka side: Faust app, agents, topics, CLI; wiring around `pathways` and `geo`."""

# first: it decides, for this package too, whether the compiled modules or the sources run
import pathways  # noqa: F401
