"""The reference launchpad on a dev chain: deploy the factory, create curves, trade."""
