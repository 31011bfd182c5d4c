"""The agent runtime: agents as plain objects (no Faust here); `pads_stream.engine` drives them."""
