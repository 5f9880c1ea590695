"""Chats and their messages: storage, conversation memory and streaming answers."""
