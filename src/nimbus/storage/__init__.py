"""Where original files are kept: the `BlobStore` interface and its implementations."""
