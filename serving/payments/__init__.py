"""The payments domain: pure decisions (`decisions`) and the service that carries them
out through explicit ports (`service`)."""
