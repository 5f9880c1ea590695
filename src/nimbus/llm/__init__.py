"""Language models behind one interface: `ChatModel`."""
