"""The store (MongoDB, or FerretDB in development): client, indexes, bulk upserts."""
