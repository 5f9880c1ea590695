"""Private, account-less sessions identified by an opaque bearer token."""
