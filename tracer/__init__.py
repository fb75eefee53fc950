"""Tracer: a streaming scorer that attaches blueprints to Kafka topics.

The top-level folders of the repository (``agents``, ``blueprints``,
``online_models``, ``schemas``, ``drift``) are installed under this one
namespace, so users write ``from tracer.blueprints import registry`` and no
top-level name collides with other distributions.
"""

__version__ = "0.1.0"
KAFKA_VERSION = "4.1.1"
"""The Apache Kafka version Tracer is tested against: the local broker, docker-compose and CI use it."""

__all__ = ["KAFKA_VERSION", "__version__"]
