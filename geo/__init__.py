"""Geography: regions, hospital lookup, distances, geofences and ETAs."""

# first: it decides, for this package too, whether the compiled modules or the sources run
import pathways  # noqa: F401
