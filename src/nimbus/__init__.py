"""Nimbus: a self-hostable chatbot that answers from your own documents and videos."""
